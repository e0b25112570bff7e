-- contractor_verify 0.1.0 -> 0.2.0
--   * answers are cached per API (api_url): a server pointing elsewhere never
--     feeds anyone else's lookups;
--   * the history records which API and key (a fingerprint) each lookup was
--     charged to, and how many lookups each row counts against the quota;
--   * the storage functions that ran SQL as the owner are replaced by code in
--     the library; every remaining definition is schema-qualified.
\echo Use "ALTER EXTENSION contractor_verify UPDATE" to load this file. \quit

-- The API's answers are UTF-8 and are kept as they came.
DO $$
BEGIN
    IF pg_catalog.getdatabaseencoding() OPERATOR(pg_catalog.<>) 'UTF8' THEN
        RAISE EXCEPTION 'contractor_verify 0.2.0 needs a database in the UTF8 encoding, not %',
                        pg_catalog.getdatabaseencoding()
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Dump the database and restore it into one created WITH ENCODING ''UTF8''.';
    END IF;
END $$;

DROP FUNCTION contractor_verify.record_observations(text, name, jsonb, integer);
DROP FUNCTION contractor_verify.observations_of(jsonb);
DROP FUNCTION contractor_verify.fresh_results(text[], text[], text[], interval);
DROP FUNCTION contractor_verify.result_of(contractor_verify.license_cache, text, text, text, text, text, jsonb, boolean);
DROP FUNCTION contractor_verify.lookups_this_month(text);
DROP FUNCTION contractor_verify.batch_plan(interval);
DROP FUNCTION contractor_verify.normalize_input(text, text, text);
-- Answers are recorded by the database's worker in transactions of its own:
-- nothing is left behind to recover.
DROP FUNCTION contractor_verify.recover_answers();

CREATE FUNCTION contractor_verify.canonical_url(url text) RETURNS text
AS 'MODULE_PATHNAME', 'cv_canonical_url' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The API each existing row came from: its server's url (the default URL
-- when the server no longer exists or names none).
CREATE TEMP TABLE cv_server_api_url AS
SELECT s.srvname::text AS server_name,
       contractor_verify.canonical_url(COALESCE(
           (SELECT pg_catalog.substr(o, 5) FROM pg_catalog.unnest(s.srvoptions) AS o
             WHERE o OPERATOR(pg_catalog.~~) 'url=%' LIMIT 1),
           'https://api.contractorverify.io/v1')) AS api_url
  FROM pg_catalog.pg_foreign_server s;

ALTER TABLE contractor_verify.license_cache ADD COLUMN api_url text;
UPDATE contractor_verify.license_cache c
   SET api_url = COALESCE(
       (SELECT u.api_url FROM pg_temp.cv_server_api_url u WHERE u.server_name OPERATOR(pg_catalog.=) c.server_name),
       contractor_verify.canonical_url('https://api.contractorverify.io/v1'));
ALTER TABLE contractor_verify.license_cache ALTER COLUMN api_url SET NOT NULL;
ALTER TABLE contractor_verify.license_cache
    DROP CONSTRAINT license_cache_pkey,
    ADD CONSTRAINT license_cache_pkey PRIMARY KEY (api_url, state, license_number);
COMMENT ON TABLE contractor_verify.license_cache IS
    'latest known-good answer per (api_url, state, license_number); an error never overwrites a verified record';

ALTER TABLE contractor_verify.verification_history
    ADD COLUMN api_url text,
    ADD COLUMN api_key_id text,
    ADD COLUMN charged integer NOT NULL DEFAULT 0;
ALTER TABLE contractor_verify.verification_history DISABLE TRIGGER append_only;
UPDATE contractor_verify.verification_history h
   SET api_url = COALESCE(
       (SELECT u.api_url FROM pg_temp.cv_server_api_url u WHERE u.server_name OPERATOR(pg_catalog.=) h.server_name),
       contractor_verify.canonical_url('https://api.contractorverify.io/v1')),
       charged = CASE WHEN billable THEN 1 ELSE 0 END;
ALTER TABLE contractor_verify.verification_history ENABLE TRIGGER append_only;
ALTER TABLE contractor_verify.verification_history ALTER COLUMN api_url SET NOT NULL;
DROP INDEX contractor_verify.verification_history_billable;
CREATE INDEX verification_history_charged
    ON contractor_verify.verification_history (api_url, api_key_id, observed_at) WHERE charged > 0;
DROP TABLE pg_temp.cv_server_api_url;

CREATE TABLE contractor_verify.unrecorded_answers (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    set_aside_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    reason       text NOT NULL,
    server_name  text,
    role_name    name,
    api_url      text,
    answers      integer NOT NULL,  -- answers in the message (failed attempts not counted)
    payload      bytea NOT NULL     -- the message as the backend handed it over (JSON)
);
COMMENT ON TABLE contractor_verify.unrecorded_answers IS
    'answers the worker could not record, kept for inspection with the reason';
SELECT pg_catalog.pg_extension_config_dump('contractor_verify.unrecorded_answers', '');
SELECT pg_catalog.pg_extension_config_dump('contractor_verify.unrecorded_answers_id_seq', '');

CREATE OR REPLACE FUNCTION contractor_verify.history_is_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'contractor_verify.verification_history is append-only'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Rows are never updated or deleted; the table owner can TRUNCATE it to discard the whole trail.';
END $$;

CREATE OR REPLACE FUNCTION contractor_verify.is_compliant(license_status text, expiration_date date)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT COALESCE(license_status OPERATOR(pg_catalog.=) 'ACTIVE'
           AND (expiration_date IS NULL OR expiration_date OPERATOR(pg_catalog.>=) CURRENT_DATE), false);
END;

CREATE OR REPLACE VIEW contractor_verify.licenses AS
SELECT c.state,
       c.license_number,
       c.outcome,
       c.license_status,
       c.license_type,
       c.classifications,
       c.business_name,
       c.issue_date,
       c.expiration_date,
       c.expiration_date OPERATOR(pg_catalog.-) CURRENT_DATE AS days_to_expiration,
       c.bond_amount_cents,
       c.insurance_required,
       c.has_disciplinary_actions,
       c.disciplinary_actions,
       c.address,
       contractor_verify.is_compliant(c.license_status, c.expiration_date) AS compliant,
       CASE
           WHEN c.outcome IS NULL THEN 'UNVERIFIED'
           WHEN c.outcome OPERATOR(pg_catalog.<>) 'VERIFIED' THEN c.outcome
           WHEN c.license_status IS DISTINCT FROM 'ACTIVE' THEN COALESCE(c.license_status, 'NO_STATUS')
           WHEN c.expiration_date OPERATOR(pg_catalog.<) CURRENT_DATE THEN 'EXPIRED'
           ELSE 'COMPLIANT'
       END AS compliance_reason,
       c.fetched_at AS verified_at,
       c.expires_at,
       c.expires_at IS NULL OR c.expires_at OPERATOR(pg_catalog.<=) pg_catalog.now() AS stale,
       c.last_attempt_at,
       c.last_error_code,
       c.last_error_message,
       c.consecutive_timeouts,
       c.next_attempt_at,
       c.needs_review,
       c.review_reason,
       c.server_name,
       c.api_url
FROM contractor_verify.license_cache c;
