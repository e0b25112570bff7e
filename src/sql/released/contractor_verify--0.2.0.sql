-- The foreign data wrapper carries the configuration: SERVER options (url,
-- timeouts, cache TTLs, rate limits) and the API key in a USER MAPPING.
-- Every name in these scripts is schema-qualified: @extschema@ (the schema
-- given to CREATE EXTENSION), contractor_verify (the extension's data) or
-- pg_catalog.
\echo Use "CREATE EXTENSION contractor_verify" to load this file. \quit

-- The API's answers are UTF-8 and are kept as they came.
DO $$
BEGIN
    IF pg_catalog.getdatabaseencoding() OPERATOR(pg_catalog.<>) 'UTF8' THEN
        RAISE EXCEPTION 'contractor_verify needs a database in the UTF8 encoding, not %',
                        pg_catalog.getdatabaseencoding()
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Create the database WITH ENCODING ''UTF8'' (and a matching locale).';
    END IF;
END $$;

CREATE FUNCTION @extschema@.contractor_verify_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE FUNCTION @extschema@.contractor_verify_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER contractor_verify
  HANDLER @extschema@.contractor_verify_fdw_handler
  VALIDATOR @extschema@.contractor_verify_fdw_validator;

CREATE FUNCTION @extschema@.cv_version()
RETURNS text
AS 'MODULE_PATHNAME', 'cv_version' LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION @extschema@.cv_version() IS 'extension and libcurl versions';
-- The extension's own data: the cache of the latest known-good answer per
-- license and API, and the append-only history of every API observation.

CREATE SCHEMA contractor_verify;
COMMENT ON SCHEMA contractor_verify IS 'contractor_verify: cache, history and views of license verifications';

-- One verification result: the row every cv_verify* function returns.
CREATE TYPE @extschema@.cv_result AS (
    id                       text,         -- the caller's id (batch); NULL for single lookups
    state                    text,
    license_number           text,
    license_status           text,         -- ACTIVE, EXPIRED, SUSPENDED, REVOKED, CANCELLED, PENDING, INACTIVE
    license_type             text,
    classifications          text[],
    business_name            text,
    issue_date               date,
    expiration_date          date,
    bond_amount_cents        bigint,
    insurance_required       boolean,
    has_disciplinary_actions boolean,
    disciplinary_actions     jsonb,
    address                  jsonb,
    compliant                boolean,      -- ACTIVE and not expired as of today
    error_code               text,         -- NULL on success
    error_message            text,
    candidates               jsonb,        -- MULTIPLE_CANDIDATES
    verified_at              timestamptz,  -- when the API gave the record shown
    from_cache               boolean,
    needs_review             boolean,      -- NOT_FOUND, or STATE_TIMEOUT three times in a row
    next_attempt_at          timestamptz,  -- STATE_TIMEOUT: when to try again
    record                   jsonb         -- the record as the API sent it, extra fields kept
);

CREATE TABLE contractor_verify.license_cache (
    state                    text NOT NULL,
    license_number           text NOT NULL,
    -- The latest authoritative answer: VERIFIED, NOT_FOUND or INVALID_STATE_FORMAT;
    -- NULL while every attempt so far failed (STATE_TIMEOUT).
    outcome                  text,
    license_status           text,
    license_type             text,
    classifications          text[],
    business_name            text,
    issue_date               date,
    expiration_date          date,
    bond_amount_cents        bigint,
    insurance_required       boolean,
    has_disciplinary_actions boolean,
    disciplinary_actions     jsonb,
    address                  jsonb,
    error_code               text,         -- the answer's error code (NOT_FOUND, ...)
    error_message            text,
    record                   jsonb,
    server_name              text,
    fetched_at               timestamptz,  -- when the API gave the answer
    expires_at               timestamptz,  -- fresh until then
    last_attempt_at          timestamptz,
    last_error_code          text,         -- the latest attempt's error, kept beside good data
    last_error_message       text,
    consecutive_timeouts     integer NOT NULL DEFAULT 0,
    next_attempt_at          timestamptz,
    needs_review             boolean NOT NULL DEFAULT false,
    review_reason            text,
    -- The canonical base URL of the API that gave the answer: a cached answer
    -- only ever serves lookups through a server of the same API.
    api_url                  text NOT NULL,
    CONSTRAINT license_cache_pkey PRIMARY KEY (api_url, state, license_number)
);
CREATE INDEX license_cache_expires_at ON contractor_verify.license_cache (expires_at);
CREATE INDEX license_cache_next_attempt ON contractor_verify.license_cache (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
COMMENT ON TABLE contractor_verify.license_cache IS
    'latest known-good answer per (api_url, state, license_number); an error never overwrites a verified record';

CREATE TABLE contractor_verify.verification_history (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    observed_at     timestamptz NOT NULL,  -- when the answer arrived
    role_name       name NOT NULL,         -- who asked
    server_name     text NOT NULL,
    request_kind    text NOT NULL,         -- single or batch
    caller_id       text,                  -- the id the record was sent with in a batch call
    batch_id        text,                  -- the API's batch id
    state           text NOT NULL,
    license_number  text,
    lookup_name     text,
    http_status     integer,
    outcome         text NOT NULL,         -- VERIFIED, a per-record error code, or a failed attempt
    error_code      text,
    error_message   text,
    license_status  text,
    billable        boolean NOT NULL DEFAULT false,  -- counted by the API against the monthly quota
    payload         jsonb,                 -- the record or error body as sent
    api_url         text NOT NULL,         -- the canonical base URL of the API
    api_key_id      text,                  -- fingerprint of the key used (never the key)
    charged         integer NOT NULL DEFAULT 0  -- lookups this observation counts against the quota
);
CREATE INDEX verification_history_license
    ON contractor_verify.verification_history (state, license_number, observed_at);
-- Rows arrive in time order: a BRIN index serves time ranges at a fraction of
-- a btree's upkeep on every insert.
CREATE INDEX verification_history_observed_at
    ON contractor_verify.verification_history USING brin (observed_at);
CREATE INDEX verification_history_charged
    ON contractor_verify.verification_history (api_url, api_key_id, observed_at) WHERE charged > 0;
COMMENT ON TABLE contractor_verify.verification_history IS
    'append-only audit trail: every API observation, success or error';

CREATE FUNCTION contractor_verify.history_is_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'contractor_verify.verification_history is append-only'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Rows are never updated or deleted; the table owner can TRUNCATE it to discard the whole trail.';
END $$;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON contractor_verify.verification_history
    FOR EACH ROW EXECUTE FUNCTION contractor_verify.history_is_append_only();

-- Answers the worker could not record (a value no column can hold, a broken
-- message): kept here with the reason, never retried on their own.
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

-- pg_dump keeps the cache, the history and what was set aside.
SELECT pg_catalog.pg_extension_config_dump('contractor_verify.license_cache', '');
SELECT pg_catalog.pg_extension_config_dump('contractor_verify.verification_history', '');
SELECT pg_catalog.pg_extension_config_dump('contractor_verify.verification_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('contractor_verify.unrecorded_answers', '');
SELECT pg_catalog.pg_extension_config_dump('contractor_verify.unrecorded_answers_id_seq', '');
-- ACTIVE and not expired as of today (a license that expired yesterday is not
-- compliant today, whatever the cache says). A standard SQL body: bound when
-- created, so no caller's search_path changes what it calls.
CREATE FUNCTION contractor_verify.is_compliant(license_status text, expiration_date date)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT COALESCE(license_status OPERATOR(pg_catalog.=) 'ACTIVE'
           AND (expiration_date IS NULL OR expiration_date OPERATOR(pg_catalog.>=) CURRENT_DATE), false);
END;

-- The canonical form of an API base URL, as the cache keys answers by it
-- (scheme and host in lower case, no default port, credentials, query or
-- trailing slash): WHERE api_url = contractor_verify.canonical_url('...').
CREATE FUNCTION contractor_verify.canonical_url(url text) RETURNS text
AS 'MODULE_PATHNAME', 'cv_canonical_url' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- Single lookups.

CREATE FUNCTION @extschema@.cv_verify(state text, license_number text,
                                      max_age interval DEFAULT NULL, server name DEFAULT NULL)
RETURNS @extschema@.cv_result
AS 'MODULE_PATHNAME', 'cv_verify' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_verify(text, text, interval, name) IS
    'verify one license: from the cache when fresh (max_age asks for fresher; 0 always calls), else GET /verify';

CREATE FUNCTION @extschema@.cv_verify_by_name(state text, name text, server name DEFAULT NULL)
RETURNS @extschema@.cv_result
AS 'MODULE_PATHNAME', 'cv_verify_by_name' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_verify_by_name(text, text, name) IS
    'look a license up by business name; several matches give MULTIPLE_CANDIDATES with the candidates';
-- For analysts: the latest state of every license, with compliance computed
-- at query time.
CREATE VIEW contractor_verify.licenses AS
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
COMMENT ON VIEW contractor_verify.licenses IS
    'latest known state of every license; compliant = ACTIVE and not expired as of today';
-- Batches: a whole roster in one statement.

CREATE FUNCTION @extschema@.cv_verify_batch(roster text, max_age interval DEFAULT NULL,
                                            server name DEFAULT NULL, all_or_nothing boolean DEFAULT false)
RETURNS SETOF @extschema@.cv_result
AS 'MODULE_PATHNAME', 'cv_verify_batch_query' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_verify_batch(text, interval, name, boolean) IS
    'verify a roster given as a query returning (id, state, license_number[, name]): one result row per input row';

CREATE FUNCTION @extschema@.cv_verify_batch(roster jsonb, max_age interval DEFAULT NULL,
                                            server name DEFAULT NULL, all_or_nothing boolean DEFAULT false)
RETURNS SETOF @extschema@.cv_result
AS 'MODULE_PATHNAME', 'cv_verify_batch_json' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_verify_batch(jsonb, interval, name, boolean) IS
    'verify a roster given as a JSON array of {"id", "state", "license_number" | "name"}';

-- Running batches, in the spirit of pg_stat_progress_*: another role's batch
-- shows only its pid and phase.
CREATE FUNCTION contractor_verify.batch_progress_rows(
    OUT pid integer, OUT datname name, OUT usename name, OUT server_name text, OUT phase text,
    OUT started_at timestamptz, OUT records_total bigint, OUT records_invalid bigint,
    OUT records_from_cache bigint, OUT lookups_needed bigint, OUT records_sent bigint,
    OUT records_done bigint, OUT records_failed bigint, OUT calls bigint, OUT retries bigint,
    OUT rate_limited bigint, OUT next_call_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'cv_batch_progress' LANGUAGE C VOLATILE;

CREATE VIEW contractor_verify.batch_progress AS
SELECT * FROM contractor_verify.batch_progress_rows();
COMMENT ON VIEW contractor_verify.batch_progress IS
    'one row per running cv_verify_batch: records total / from cache / sent / done / failed, calls, 429s, and when the rate limiter next lets it call';

-- Every role may use the functions and watch batches; the tables themselves
-- stay the owner's (grant SELECT on contractor_verify.licenses to analysts).
GRANT USAGE ON SCHEMA contractor_verify TO PUBLIC;
GRANT SELECT ON contractor_verify.batch_progress TO PUBLIC;
