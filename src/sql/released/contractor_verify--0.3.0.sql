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

-- Verification jobs: a roster snapshotted at submit and verified by the
-- database's worker in the background, each chunk's answers committed as
-- they arrive. Only the extension's owner writes these tables (the worker,
-- and cv_job_submit / cv_job_cancel as the owner); roles read them through
-- the views below, which show each role the jobs it may see.
CREATE TABLE contractor_verify.job_queue (
    id                   bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    label                text,
    submitted_by         name NOT NULL,         -- the role that submitted it, as it was named then
    submitter            oid NOT NULL,          -- that role: the job is its, whatever its name becomes
    submitter_cluster    bigint NOT NULL,       -- the cluster submitter is an OID of (after a restore
                                                -- into another cluster, the name decides)
    server_name          text NOT NULL,
    api_url              text NOT NULL,         -- canonical, when submitted
    api_key_id           text NOT NULL,         -- fingerprint of the key (never the key)
    max_age              interval,
    status               text NOT NULL DEFAULT 'queued',
    cancel_requested     boolean NOT NULL DEFAULT false,
    runs                 integer NOT NULL DEFAULT 0,  -- times a worker started it (after a restart too)
    total_entities       bigint NOT NULL,       -- roster rows
    invalid_entities     bigint NOT NULL,       -- rows answered at submit with INVALID_INPUT
    processed_entities   bigint NOT NULL DEFAULT 0,
    completed_entities   bigint NOT NULL DEFAULT 0,
    failed_entities      bigint NOT NULL DEFAULT 0,
    lookups_total        bigint NOT NULL,       -- distinct lookups of the valid rows
    lookups_needed       bigint NOT NULL,       -- not answered by the cache (at submit, then as run)
    lookups_done         bigint NOT NULL DEFAULT 0,  -- answered by the API
    answered_from_cache  bigint NOT NULL DEFAULT 0,  -- lookups answered by the cache
    calls                bigint NOT NULL DEFAULT 0,
    rate_limited         bigint NOT NULL DEFAULT 0,  -- 429s received
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at           timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    completed_at         timestamptz,
    estimated_completion timestamptz,
    error_code           text,
    error_message        text,
    CONSTRAINT job_queue_status_check
        CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'cancelled'))
);
CREATE INDEX job_queue_unfinished ON contractor_verify.job_queue (id)
    WHERE status IN ('queued', 'processing');
CREATE INDEX job_queue_completed_at ON contractor_verify.job_queue (completed_at)
    WHERE completed_at IS NOT NULL;
COMMENT ON TABLE contractor_verify.job_queue IS
    'verification jobs, one row each; SELECT on it lets a role read every job';

-- One row per distinct lookup of a job; answered_at IS NULL while pending.
CREATE TABLE contractor_verify.job_lookups (
    job_id         bigint NOT NULL,
    lookup_no      integer NOT NULL,
    state          text NOT NULL,
    license_number text,                 -- NULL for a lookup by name
    lookup_name    text,
    roster_rows    integer NOT NULL,     -- roster rows that share this lookup
    answered_at    timestamptz,
    result         @extschema@.cv_result,
    CONSTRAINT job_lookups_pkey PRIMARY KEY (job_id, lookup_no)
);
COMMENT ON TABLE contractor_verify.job_lookups IS 'the distinct lookups of each job and their answers';

-- One row per roster row, in input order, with the caller's id.
CREATE TABLE contractor_verify.job_rows (
    job_id         bigint NOT NULL,
    row_no         integer NOT NULL,
    caller_id      text,
    lookup_no      integer,              -- NULL: the row could not be looked up
    state          text,                 -- as given, for a row that could not be looked up
    license_number text,
    error_message  text,
    CONSTRAINT job_rows_pkey PRIMARY KEY (job_id, row_no)
);
COMMENT ON TABLE contractor_verify.job_rows IS 'the roster rows of each job, in input order';

-- Cancel requests. cv_job_cancel only adds a row here, so a caller who keeps
-- its transaction open holds no lock the worker needs (a row lock on the job
-- would stall the worker, and with it the recording of every session's
-- answers); the worker applies a request once it is committed, within a
-- second, in a transaction of its own.
CREATE TABLE contractor_verify.job_cancels (
    job_id       bigint NOT NULL,
    requested_by name NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX job_cancels_job_id ON contractor_verify.job_cancels (job_id);
COMMENT ON TABLE contractor_verify.job_cancels IS 'cancel requests the worker applies to queued and running jobs';

SELECT pg_catalog.pg_extension_config_dump('contractor_verify.job_queue', '');
SELECT pg_catalog.pg_extension_config_dump('contractor_verify.job_queue_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('contractor_verify.job_lookups', '');
SELECT pg_catalog.pg_extension_config_dump('contractor_verify.job_rows', '');
SELECT pg_catalog.pg_extension_config_dump('contractor_verify.job_cancels', '');

-- This cluster's system identifier: whether a job's submitter OID is one of its roles.
CREATE FUNCTION contractor_verify.cluster_id() RETURNS bigint
AS 'MODULE_PATHNAME', 'cv_cluster_id' LANGUAGE C STABLE PARALLEL SAFE;

-- The role a job belongs to: its submitter, followed by OID (a renamed role
-- keeps its jobs, a new role with a dropped one's name gets none); in a
-- database restored into another cluster, by name. NULL once the role is gone.
CREATE FUNCTION contractor_verify.job_owner(submitted_by name, submitter oid, submitter_cluster bigint)
RETURNS oid LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN submitter_cluster OPERATOR(pg_catalog.=) contractor_verify.cluster_id()
                THEN (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) submitter)
                ELSE (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) submitted_by) END;
END;

-- Whether the current role may read a job of `owner`: its own, those of roles
-- whose privileges it has, and every job with SELECT on
-- contractor_verify.job_queue (pg_read_all_data has it).
CREATE FUNCTION contractor_verify.job_visible(owner oid) RETURNS boolean
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT COALESCE(pg_catalog.pg_has_role(owner, 'USAGE'), false)
        OR pg_catalog.has_table_privilege('contractor_verify.job_queue'::pg_catalog.regclass, 'SELECT');
END;

CREATE VIEW contractor_verify.jobs WITH (security_barrier) AS
SELECT j.id AS job_id,
       j.label,
       j.status AS job_status,
       j.submitted_by,
       j.server_name,
       j.total_entities,
       j.processed_entities,
       j.completed_entities,
       j.failed_entities,
       j.invalid_entities,
       j.lookups_total,
       j.lookups_needed,
       j.lookups_done,
       j.answered_from_cache,
       j.calls,
       j.rate_limited,
       j.created_at,
       j.started_at,
       j.updated_at,
       j.completed_at,
       CASE WHEN j.status OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'processing'])
            THEN j.estimated_completion END AS estimated_completion,
       j.cancel_requested OR EXISTS (SELECT FROM contractor_verify.job_cancels c
                                     WHERE c.job_id OPERATOR(pg_catalog.=) j.id) AS cancel_requested,
       j.runs,
       j.error_code,
       j.error_message,
       j.max_age,
       j.api_url
FROM contractor_verify.job_queue j
WHERE contractor_verify.job_visible(contractor_verify.job_owner(j.submitted_by, j.submitter, j.submitter_cluster));
COMMENT ON VIEW contractor_verify.jobs IS
    'every job the current role may read: its own, those of roles whose privileges it has, all with SELECT on contractor_verify.job_queue';

-- One cv_result per roster row of every job the current role may read.
CREATE VIEW contractor_verify.job_results WITH (security_barrier) AS
SELECT r.job_id,
       r.row_no,
       r.caller_id AS id,
       COALESCE((l.result).state, l.state, r.state) AS state,
       COALESCE((l.result).license_number, l.license_number, r.license_number) AS license_number,
       (l.result).license_status,
       (l.result).license_type,
       (l.result).classifications,
       (l.result).business_name,
       (l.result).issue_date,
       (l.result).expiration_date,
       (l.result).bond_amount_cents,
       (l.result).insurance_required,
       (l.result).has_disciplinary_actions,
       (l.result).disciplinary_actions,
       (l.result).address,
       COALESCE((l.result).compliant, false) AS compliant,
       CASE WHEN r.lookup_no IS NULL THEN 'INVALID_INPUT'
            WHEN l.answered_at IS NOT NULL THEN (l.result).error_code
            WHEN j.status OPERATOR(pg_catalog.=) 'cancelled' THEN 'CANCELLED'
            WHEN j.status OPERATOR(pg_catalog.=) 'failed' THEN 'JOB_FAILED'
            ELSE 'PENDING' END AS error_code,
       CASE WHEN r.lookup_no IS NULL THEN r.error_message
            WHEN l.answered_at IS NOT NULL THEN (l.result).error_message
            WHEN j.status OPERATOR(pg_catalog.=) 'cancelled' THEN 'the job was cancelled before this record was looked up'
            WHEN j.status OPERATOR(pg_catalog.=) 'failed' THEN 'the job failed before this record was looked up: ' OPERATOR(pg_catalog.||) COALESCE(j.error_message, '')
            ELSE 'not looked up yet' END AS error_message,
       (l.result).candidates,
       (l.result).verified_at,
       COALESCE((l.result).from_cache, false) AS from_cache,
       COALESCE((l.result).needs_review, false) AS needs_review,
       (l.result).next_attempt_at,
       (l.result).record
FROM contractor_verify.job_rows r
JOIN contractor_verify.job_queue j ON j.id OPERATOR(pg_catalog.=) r.job_id
LEFT JOIN contractor_verify.job_lookups l
       ON l.job_id OPERATOR(pg_catalog.=) r.job_id AND l.lookup_no OPERATOR(pg_catalog.=) r.lookup_no
WHERE contractor_verify.job_visible(contractor_verify.job_owner(j.submitted_by, j.submitter, j.submitter_cluster));
COMMENT ON VIEW contractor_verify.job_results IS
    'one row per roster row of every job the current role may read (PENDING until looked up)';

GRANT SELECT ON contractor_verify.jobs, contractor_verify.job_results TO PUBLIC;

CREATE FUNCTION @extschema@.cv_job_submit(roster text, max_age interval DEFAULT NULL,
                                          server name DEFAULT NULL, label text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'cv_job_submit_query' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_job_submit(text, interval, name, text) IS
    'queue a verification job for a roster query of (id, state, license_number[, name]); returns the job id';

CREATE FUNCTION @extschema@.cv_job_submit(roster jsonb, max_age interval DEFAULT NULL,
                                          server name DEFAULT NULL, label text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'cv_job_submit_json' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_job_submit(jsonb, interval, name, text) IS
    'queue a verification job for a JSON array of {"id", "state", "license_number" | "name"}; returns the job id';

CREATE FUNCTION @extschema@.cv_job_cancel(job_id bigint) RETURNS boolean
AS 'MODULE_PATHNAME', 'cv_job_cancel' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_job_cancel(bigint) IS
    'ask the worker to cancel a queued or running job once the transaction commits (calls in flight are recorded when they arrive); false when it had already ended';

-- Creating and cancelling jobs is a right of its own: GRANT EXECUTE on these
-- to the roles that may spend the API's budget in the background.
REVOKE EXECUTE ON FUNCTION @extschema@.cv_job_submit(text, interval, name, text),
                           @extschema@.cv_job_submit(jsonb, interval, name, text),
                           @extschema@.cv_job_cancel(bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.cv_job_status(job_id bigint) RETURNS contractor_verify.jobs
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j contractor_verify.jobs;
BEGIN
    SELECT * INTO j FROM contractor_verify.jobs v WHERE v.job_id OPERATOR(pg_catalog.=) cv_job_status.job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % does not exist', job_id
            USING ERRCODE = 'undefined_object',
                  HINT = 'A role sees the jobs it submitted, those of roles whose privileges it has, and every job with SELECT on contractor_verify.job_queue.';
    END IF;
    RETURN j;
END $$;
COMMENT ON FUNCTION @extschema@.cv_job_status(bigint) IS
    'a job''s status, counters and estimated completion';

CREATE FUNCTION @extschema@.cv_job_results(job_id bigint) RETURNS SETOF @extschema@.cv_result
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM FROM contractor_verify.jobs v WHERE v.job_id OPERATOR(pg_catalog.=) cv_job_results.job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % does not exist', job_id
            USING ERRCODE = 'undefined_object',
                  HINT = 'A role sees the jobs it submitted, those of roles whose privileges it has, and every job with SELECT on contractor_verify.job_queue.';
    END IF;
    RETURN QUERY
        SELECT r.id, r.state, r.license_number, r.license_status, r.license_type, r.classifications,
               r.business_name, r.issue_date, r.expiration_date, r.bond_amount_cents,
               r.insurance_required, r.has_disciplinary_actions, r.disciplinary_actions, r.address,
               r.compliant, r.error_code, r.error_message, r.candidates, r.verified_at,
               r.from_cache, r.needs_review, r.next_attempt_at, r.record
        FROM contractor_verify.job_results r
        WHERE r.job_id OPERATOR(pg_catalog.=) cv_job_results.job_id
        ORDER BY r.row_no;
END $$;
COMMENT ON FUNCTION @extschema@.cv_job_results(bigint) IS
    'one cv_result per roster row of a job, in input order, with the caller''s ids (PENDING until looked up)';

-- Compliance operations: the re-verification schedule, sweeps, change
-- detection, the review queue, usage, and the analysts' views. The schedule's
-- intervals are server options (reverify_*), read by reverify_policy().

CREATE FUNCTION contractor_verify.reverify_policy(server name DEFAULT NULL,
    OUT server_name text, OUT api_url text, OUT within_30_days interval,
    OUT within_90_days interval, OUT not_active interval, OUT not_found interval,
    OUT otherwise interval)
RETURNS record
AS 'MODULE_PATHNAME', 'cv_reverify_policy' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION contractor_verify.reverify_policy(name) IS
    'a server''s re-verification intervals (its reverify_* options) and its API (default: contractor_verify.server)';

-- When a license is due for re-verification and why, from its cache row
-- (all NULL: never verified) and a policy: an interval after its latest
-- answer or attempt. priority orders a sweep: 1 never verified, 2 expiring or
-- expired, 3 not active, not found or a timeout's retry, 4 the rest; NULL with
-- due_at NULL: waiting for a person (review).
CREATE FUNCTION contractor_verify.reverify_due(
    outcome text, license_status text, expiration_date date, fetched_at timestamptz,
    last_attempt_at timestamptz, last_error_code text, consecutive_timeouts integer, next_attempt_at timestamptz,
    needs_review boolean, within_30_days interval, within_90_days interval,
    not_active interval, not_found interval, otherwise interval,
    OUT due_at timestamptz, OUT reason text, OUT priority integer)
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE
               WHEN outcome IS NULL AND last_error_code IS NULL THEN pg_catalog.now()
               WHEN needs_review AND consecutive_timeouts OPERATOR(pg_catalog.>=) 3 THEN NULL
               WHEN last_error_code OPERATOR(pg_catalog.=) 'STATE_TIMEOUT' AND next_attempt_at IS NOT NULL THEN next_attempt_at
               WHEN outcome IS NULL THEN pg_catalog.now()
               WHEN needs_review AND outcome OPERATOR(pg_catalog.=) 'INVALID_STATE_FORMAT' THEN NULL
               WHEN outcome OPERATOR(pg_catalog.<>) 'VERIFIED' OR last_error_code OPERATOR(pg_catalog.=) 'NOT_FOUND'
                   THEN GREATEST(fetched_at, last_attempt_at) OPERATOR(pg_catalog.+) not_found
               WHEN license_status IS DISTINCT FROM 'ACTIVE' THEN GREATEST(fetched_at, last_attempt_at) OPERATOR(pg_catalog.+) not_active
               WHEN expiration_date OPERATOR(pg_catalog.<) (CURRENT_DATE OPERATOR(pg_catalog.+) 30) THEN GREATEST(fetched_at, last_attempt_at) OPERATOR(pg_catalog.+) within_30_days
               WHEN expiration_date OPERATOR(pg_catalog.<) (CURRENT_DATE OPERATOR(pg_catalog.+) 90) THEN GREATEST(fetched_at, last_attempt_at) OPERATOR(pg_catalog.+) within_90_days
               ELSE GREATEST(fetched_at, last_attempt_at) OPERATOR(pg_catalog.+) otherwise
           END,
           CASE
               WHEN outcome IS NULL AND last_error_code IS NULL THEN 'never verified'
               WHEN needs_review AND consecutive_timeouts OPERATOR(pg_catalog.>=) 3
                   THEN 'in review: the state board timed out ' OPERATOR(pg_catalog.||) consecutive_timeouts OPERATOR(pg_catalog.||) ' times'
               WHEN last_error_code OPERATOR(pg_catalog.=) 'STATE_TIMEOUT' AND next_attempt_at IS NOT NULL THEN 'state board timed out: retry'
               WHEN outcome IS NULL THEN 'never answered'
               WHEN needs_review AND outcome OPERATOR(pg_catalog.=) 'INVALID_STATE_FORMAT'
                   THEN 'in review: the number is not in the state''s format'
               WHEN outcome OPERATOR(pg_catalog.<>) 'VERIFIED' THEN pg_catalog.lower(pg_catalog.replace(outcome, '_', ' '))
               WHEN last_error_code OPERATOR(pg_catalog.=) 'NOT_FOUND' THEN 'not found any more (the last verified record is kept)'
               WHEN license_status IS DISTINCT FROM 'ACTIVE' THEN 'status ' OPERATOR(pg_catalog.||) COALESCE(license_status, 'unknown')
               WHEN expiration_date OPERATOR(pg_catalog.<) CURRENT_DATE THEN 'expired'
               WHEN expiration_date OPERATOR(pg_catalog.<) (CURRENT_DATE OPERATOR(pg_catalog.+) 30) THEN 'expires within 30 days'
               WHEN expiration_date OPERATOR(pg_catalog.<) (CURRENT_DATE OPERATOR(pg_catalog.+) 90) THEN 'expires within 90 days'
               ELSE 'routine'
           END,
           CASE
               WHEN outcome IS NULL AND last_error_code IS NULL THEN 1
               WHEN needs_review AND consecutive_timeouts OPERATOR(pg_catalog.>=) 3 THEN NULL
               WHEN last_error_code OPERATOR(pg_catalog.=) 'STATE_TIMEOUT' AND next_attempt_at IS NOT NULL THEN 3
               WHEN outcome IS NULL THEN 1
               WHEN needs_review AND outcome OPERATOR(pg_catalog.=) 'INVALID_STATE_FORMAT' THEN NULL
               WHEN outcome OPERATOR(pg_catalog.<>) 'VERIFIED' OR last_error_code OPERATOR(pg_catalog.=) 'NOT_FOUND' THEN 3
               WHEN license_status IS DISTINCT FROM 'ACTIVE' THEN 3
               WHEN expiration_date OPERATOR(pg_catalog.<) (CURRENT_DATE OPERATOR(pg_catalog.+) 90) THEN 2
               ELSE 4
           END;
END;

-- Every cached license of the API of contractor_verify.server: when it is due
-- again and why.
CREATE VIEW contractor_verify.license_schedule AS
SELECT c.state,
       c.license_number,
       c.outcome,
       c.license_status,
       c.expiration_date,
       c.fetched_at AS verified_at,
       d.due_at,
       d.due_at OPERATOR(pg_catalog.<=) pg_catalog.now() AS due_now,
       d.reason,
       d.priority,
       c.needs_review,
       p.server_name,
       c.api_url
FROM contractor_verify.reverify_policy() p
JOIN contractor_verify.license_cache c ON c.api_url OPERATOR(pg_catalog.=) p.api_url
CROSS JOIN LATERAL contractor_verify.reverify_due(
    c.outcome, c.license_status, c.expiration_date, c.fetched_at, c.last_attempt_at, c.last_error_code,
    c.consecutive_timeouts, c.next_attempt_at, c.needs_review, p.within_30_days,
    p.within_90_days, p.not_active, p.not_found, p.otherwise) d;
COMMENT ON VIEW contractor_verify.license_schedule IS
    'each cached license of the API of contractor_verify.server: when it is due for re-verification and why';

-- What each sweep did.
CREATE TABLE contractor_verify.sweeps (
    id               bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    ran_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    ran_by           name NOT NULL,
    server_name      text NOT NULL,
    label            text,
    roster_rows      bigint NOT NULL,
    licenses         bigint NOT NULL,   -- distinct licenses of the roster's valid rows
    due              bigint NOT NULL,   -- due for re-verification now
    submitted        bigint NOT NULL,   -- looked up by the sweep's job
    left_for_budget  bigint NOT NULL,   -- due, left for the next run by the budget
    left_for_quota   bigint NOT NULL,   -- due, left for the next run by the monthly quota
    not_due          bigint NOT NULL,   -- not due now, or already waiting in an unfinished job
    in_review        bigint NOT NULL,   -- waiting for a person, never swept
    skipped_rows     bigint NOT NULL,   -- rows that cannot be looked up or name-only rows
    job_id           bigint             -- NULL when nothing was due
);
SELECT pg_catalog.pg_extension_config_dump('contractor_verify.sweeps', '');
SELECT pg_catalog.pg_extension_config_dump('contractor_verify.sweeps_id_seq', '');
COMMENT ON TABLE contractor_verify.sweeps IS 'each cv_sweep run: what was due, what it submitted, what it left for the next run';

CREATE FUNCTION @extschema@.cv_sweep(roster text, budget bigint DEFAULT NULL,
                                     server name DEFAULT NULL, label text DEFAULT 'sweep')
RETURNS contractor_verify.sweeps
AS 'MODULE_PATHNAME', 'cv_sweep' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_sweep(text, bigint, name, text) IS
    're-verify the roster''s licenses that are due (never verified first, then soonest expiring, not active, oldest) as a job, within a budget and the month''s quota';
REVOKE EXECUTE ON FUNCTION @extschema@.cv_sweep(text, bigint, name, text) FROM PUBLIC;

-- The roster answered from the cache alone: no call, in a read-only
-- transaction or on a standby too; a license with no answer gets NOT_CACHED.
CREATE FUNCTION @extschema@.cv_verify_cached(roster text, server name DEFAULT NULL)
RETURNS SETOF @extschema@.cv_result
AS 'MODULE_PATHNAME', 'cv_verify_cached_query' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_verify_cached(text, name) IS
    'a roster answered from the cache alone, whatever the answers'' age: one row per input row, NOT_CACHED where there is none; never calls the API';
CREATE FUNCTION @extschema@.cv_verify_cached(roster jsonb, server name DEFAULT NULL)
RETURNS SETOF @extschema@.cv_result
AS 'MODULE_PATHNAME', 'cv_verify_cached_json' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_verify_cached(jsonb, name) IS
    'a JSON roster answered from the cache alone; never calls the API';

-- A "YYYY-MM-DD" text (with a time after a "T" or a space, as the library
-- reads an answer's dates) as a date; NULL for anything else, an impossible
-- day (2031-02-30) or year 0 included, so that an answer the API got wrong
-- cannot make the views that read the history's payloads fail. ASCII digits
-- only: \d also matches other scripts' digits under some collations.
CREATE FUNCTION contractor_verify.iso_date(value text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE
               WHEN p.y IS NULL OR p.y OPERATOR(pg_catalog.<) 1 OR p.m OPERATOR(pg_catalog.<) 1
                    OR p.m OPERATOR(pg_catalog.>) 12 OR p.d OPERATOR(pg_catalog.<) 1 OR p.d OPERATOR(pg_catalog.>) 31 THEN NULL
               WHEN (pg_catalog.make_date(p.y, p.m, 1) OPERATOR(pg_catalog.+) (p.d OPERATOR(pg_catalog.-) 1))
                    OPERATOR(pg_catalog.>=) CASE WHEN p.m OPERATOR(pg_catalog.=) 12 THEN pg_catalog.make_date(p.y OPERATOR(pg_catalog.+) 1, 1, 1)
                                                 ELSE pg_catalog.make_date(p.y, p.m OPERATOR(pg_catalog.+) 1, 1) END THEN NULL
               ELSE pg_catalog.make_date(p.y, p.m, p.d)
           END
    FROM (SELECT CASE WHEN ok THEN pg_catalog.substr(value, 1, 4)::pg_catalog.int4 END AS y,
                 CASE WHEN ok THEN pg_catalog.substr(value, 6, 2)::pg_catalog.int4 END AS m,
                 CASE WHEN ok THEN pg_catalog.substr(value, 9, 2)::pg_catalog.int4 END AS d
          FROM (SELECT COALESCE(value OPERATOR(pg_catalog.~) '^[0-9]{4}-[0-9]{2}-[0-9]{2}($|[T ])', false) AS ok) v) p;
END;

-- Changes between consecutive answers about a license, from the history.
CREATE VIEW contractor_verify.license_changes AS
WITH answers AS (
    SELECT h.id, h.api_url, h.state, h.license_number, h.observed_at, h.outcome, h.license_status,
           CASE WHEN pg_catalog.jsonb_typeof(h.payload OPERATOR(pg_catalog.->) 'expiration_date') OPERATOR(pg_catalog.=) 'string'
                THEN contractor_verify.iso_date(h.payload OPERATOR(pg_catalog.->>) 'expiration_date') END AS expiration_date,
           CASE WHEN pg_catalog.jsonb_typeof(h.payload OPERATOR(pg_catalog.->) 'disciplinary_actions') OPERATOR(pg_catalog.=) 'array'
                THEN pg_catalog.jsonb_array_length(h.payload OPERATOR(pg_catalog.->) 'disciplinary_actions') ELSE 0 END AS disciplinary_actions
    FROM contractor_verify.verification_history h
    WHERE h.outcome OPERATOR(pg_catalog.=) ANY (ARRAY['VERIFIED', 'NOT_FOUND', 'INVALID_STATE_FORMAT'])
      AND h.license_number IS NOT NULL
), pairs AS (
    SELECT a.*,
           pg_catalog.lag(a.outcome) OVER w AS outcome_before,
           pg_catalog.lag(a.license_status) OVER w AS status_before,
           pg_catalog.lag(a.expiration_date) OVER w AS expiration_before,
           pg_catalog.lag(a.disciplinary_actions) OVER w AS disciplinary_before,
           pg_catalog.lag(a.observed_at) OVER w AS observed_before
    FROM answers a
    WINDOW w AS (PARTITION BY a.api_url, a.state, a.license_number ORDER BY a.observed_at, a.id)
)
SELECT p.api_url,
       p.state,
       p.license_number,
       p.observed_at AS changed_at,
       p.observed_before AS previous_at,
       p.outcome_before AS outcome_from,
       p.outcome AS outcome_to,
       p.status_before AS status_from,
       p.license_status AS status_to,
       COALESCE(p.status_before OPERATOR(pg_catalog.=) 'ACTIVE'
                AND (p.expiration_before IS NULL OR p.expiration_before OPERATOR(pg_catalog.>=) p.observed_before::pg_catalog.date), false) AS compliant_from,
       COALESCE(p.license_status OPERATOR(pg_catalog.=) 'ACTIVE'
                AND (p.expiration_date IS NULL OR p.expiration_date OPERATOR(pg_catalog.>=) p.observed_at::pg_catalog.date), false) AS compliant_to,
       p.expiration_before AS expiration_from,
       p.expiration_date AS expiration_to,
       pg_catalog.int4larger(0, p.disciplinary_actions OPERATOR(pg_catalog.-) p.disciplinary_before) AS new_disciplinary_actions
FROM pairs p
WHERE p.observed_before IS NOT NULL
  AND (p.outcome IS DISTINCT FROM p.outcome_before
       OR p.license_status IS DISTINCT FROM p.status_before
       OR p.expiration_date IS DISTINCT FROM p.expiration_before
       OR p.disciplinary_actions OPERATOR(pg_catalog.>) p.disciplinary_before);
COMMENT ON VIEW contractor_verify.license_changes IS
    'changes between consecutive answers about a license: status, compliance, expiration, new disciplinary actions';

-- A NOTIFY on contractor_verify_license_changes when a license leaves ACTIVE
-- or stops being compliant, sent when the recording transaction commits.
-- NOTIFY refuses a payload of 8000 bytes or more, and that error would undo
-- the recording of answers already paid for: values the API chose (a status
-- of any length) or a long URL are cut short then, and the payload says so.
CREATE FUNCTION contractor_verify.notify_license_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    payload text := pg_catalog.json_build_object(
        'state', NEW.state, 'license_number', NEW.license_number,
        'old_status', OLD.license_status, 'new_status', NEW.license_status,
        'old_compliant', contractor_verify.is_compliant(OLD.license_status, OLD.expiration_date),
        'new_compliant', contractor_verify.is_compliant(NEW.license_status, NEW.expiration_date),
        'outcome', NEW.outcome, 'api_url', NEW.api_url)::text;
BEGIN
    IF pg_catalog.octet_length(payload) OPERATOR(pg_catalog.>=) 8000 THEN
        payload := pg_catalog.json_build_object(
            'state', pg_catalog.left(NEW.state, 100), 'license_number', pg_catalog.left(NEW.license_number, 100),
            'old_status', pg_catalog.left(OLD.license_status, 100), 'new_status', pg_catalog.left(NEW.license_status, 100),
            'old_compliant', contractor_verify.is_compliant(OLD.license_status, OLD.expiration_date),
            'new_compliant', contractor_verify.is_compliant(NEW.license_status, NEW.expiration_date),
            'outcome', pg_catalog.left(NEW.outcome, 100), 'api_url', pg_catalog.left(NEW.api_url, 500),
            'truncated', true)::text;
    END IF;
    PERFORM pg_catalog.pg_notify('contractor_verify_license_changes', payload);
    RETURN NULL;
END $$;
CREATE TRIGGER notify_license_change AFTER UPDATE ON contractor_verify.license_cache
    FOR EACH ROW
    WHEN ((OLD.license_status OPERATOR(pg_catalog.=) 'ACTIVE' AND NEW.license_status IS DISTINCT FROM 'ACTIVE')
          OR (contractor_verify.is_compliant(OLD.license_status, OLD.expiration_date)
              AND NOT contractor_verify.is_compliant(NEW.license_status, NEW.expiration_date)))
    EXECUTE FUNCTION contractor_verify.notify_license_change();

-- Licenses and lookups waiting for a person.
CREATE VIEW contractor_verify.review_queue AS
SELECT c.api_url,
       c.state,
       c.license_number,
       NULL::text AS lookup_name,
       CASE WHEN c.consecutive_timeouts OPERATOR(pg_catalog.>=) 3 THEN 'STATE_TIMEOUT'
            ELSE COALESCE(c.last_error_code, c.outcome) END AS reason_code,
       CASE WHEN c.consecutive_timeouts OPERATOR(pg_catalog.>=) 3
                THEN 'the state board timed out ' OPERATOR(pg_catalog.||) c.consecutive_timeouts OPERATOR(pg_catalog.||) ' times in a row'
            WHEN c.outcome OPERATOR(pg_catalog.=) 'INVALID_STATE_FORMAT' THEN 'the number is not in the state''s format'
            WHEN c.outcome OPERATOR(pg_catalog.=) 'VERIFIED' THEN 'not found any more (the last verified record is kept)'
            ELSE 'the API has no such license' END AS reason,
       CASE WHEN c.consecutive_timeouts OPERATOR(pg_catalog.>=) 3 OR c.outcome OPERATOR(pg_catalog.=) 'VERIFIED'
            THEN c.last_attempt_at ELSE c.fetched_at END AS since,
       NULL::jsonb AS candidates,
       c.last_error_message AS detail
FROM contractor_verify.license_cache c
WHERE c.needs_review
UNION ALL
SELECT n.api_url, n.state, NULL, n.lookup_name, 'MULTIPLE_CANDIDATES', 'several licenses match the name',
       n.observed_at, n.payload OPERATOR(pg_catalog.->) 'candidates', n.error_message
FROM (SELECT DISTINCT ON (h.api_url, h.state, h.lookup_name)
             h.api_url, h.state, h.lookup_name, h.outcome, h.observed_at, h.payload, h.error_message
      FROM contractor_verify.verification_history h
      WHERE h.lookup_name IS NOT NULL
        AND h.outcome OPERATOR(pg_catalog.=) ANY (ARRAY['MULTIPLE_CANDIDATES', 'VERIFIED', 'NOT_FOUND', 'REVIEW_RESOLVED'])
      ORDER BY h.api_url, h.state, h.lookup_name, h.observed_at DESC, h.id DESC) n
WHERE n.outcome OPERATOR(pg_catalog.=) 'MULTIPLE_CANDIDATES';
COMMENT ON VIEW contractor_verify.review_queue IS
    'licenses and name lookups waiting for a person: NOT_FOUND, wrong format, three state board timeouts, several candidates';

CREATE FUNCTION @extschema@.cv_review_resolve(state text, license_number text DEFAULT NULL,
                                              lookup_name text DEFAULT NULL, note text DEFAULT NULL,
                                              server name DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'cv_review_resolve' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_review_resolve(text, text, text, text, name) IS
    'take a license (or a name lookup) off the review queue, with a note kept in the history; false when it was not there';
REVOKE EXECUTE ON FUNCTION @extschema@.cv_review_resolve(text, text, text, text, name) FROM PUBLIC;

-- Usage per month and API account. account_counters() reads the accounts'
-- counts in shared memory (cluster-wide), only for accounts this database's
-- history knows.
CREATE FUNCTION contractor_verify.account_counters(
    OUT api_url text, OUT api_key_id text, OUT month date, OUT cache_answers bigint,
    OUT lookups_counted bigint, OUT monthly_lookup_quota bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'cv_account_counters' LANGUAGE C VOLATILE;

CREATE VIEW contractor_verify.usage AS
WITH h AS (
    SELECT pg_catalog.date_trunc('month', h.observed_at AT TIME ZONE 'UTC')::pg_catalog.date AS month,
           h.api_url, h.api_key_id,
           pg_catalog.sum(h.charged) AS lookups_charged,
           pg_catalog.count(DISTINCT h.batch_id) FILTER (WHERE h.request_kind OPERATOR(pg_catalog.=) 'batch' AND h.batch_id IS NOT NULL)
             OPERATOR(pg_catalog.+) pg_catalog.count(*) FILTER (WHERE h.request_kind OPERATOR(pg_catalog.=) 'single' AND h.http_status IS NOT NULL)
             OPERATOR(pg_catalog.+) pg_catalog.count(*) FILTER (WHERE h.request_kind OPERATOR(pg_catalog.=) 'batch' AND h.batch_id IS NULL AND h.http_status IS NOT NULL AND h.http_status OPERATOR(pg_catalog.<>) 200)
             AS calls,
           pg_catalog.count(*) FILTER (WHERE h.http_status OPERATOR(pg_catalog.=) 429) AS rate_limited
    FROM contractor_verify.verification_history h
    WHERE h.outcome OPERATOR(pg_catalog.<>) 'REVIEW_RESOLVED'
    GROUP BY 1, 2, 3
), jobs AS (
    SELECT pg_catalog.date_trunc('month', j.created_at AT TIME ZONE 'UTC')::pg_catalog.date AS month,
           j.api_url, j.api_key_id, pg_catalog.sum(j.answered_from_cache) AS answers
    FROM contractor_verify.job_queue j
    GROUP BY 1, 2, 3
)
SELECT h.month,
       h.api_url,
       h.api_key_id,
       h.lookups_charged,
       h.calls,
       COALESCE(a.cache_answers, 0) OPERATOR(pg_catalog.+) COALESCE(j.answers, 0) AS answered_from_cache,
       h.rate_limited,
       a.monthly_lookup_quota,
       CASE WHEN a.monthly_lookup_quota OPERATOR(pg_catalog.>) 0
            THEN pg_catalog.int8larger(0, a.monthly_lookup_quota OPERATOR(pg_catalog.-) a.lookups_counted) END AS quota_left
FROM h
LEFT JOIN contractor_verify.account_counters() a
       ON a.month OPERATOR(pg_catalog.=) h.month AND a.api_url OPERATOR(pg_catalog.=) h.api_url
      AND a.api_key_id OPERATOR(pg_catalog.=) h.api_key_id
LEFT JOIN jobs j ON j.month OPERATOR(pg_catalog.=) h.month AND j.api_url OPERATOR(pg_catalog.=) h.api_url
      AND j.api_key_id OPERATOR(pg_catalog.=) h.api_key_id;
COMMENT ON VIEW contractor_verify.usage IS
    'per month (UTC) and API account: lookups charged, calls, lookups answered from the cache, 429s, the quota left';

-- The analysts' views.
CREATE VIEW contractor_verify.compliance_summary AS
SELECT l.api_url, l.state, l.compliance_reason, COALESCE(l.license_status, l.outcome, 'UNVERIFIED') AS status,
       pg_catalog.count(*) AS licenses,
       pg_catalog.count(*) FILTER (WHERE l.compliant) AS compliant,
       pg_catalog.count(*) FILTER (WHERE l.needs_review) AS needs_review
FROM contractor_verify.licenses l
GROUP BY l.api_url, l.state, l.compliance_reason, COALESCE(l.license_status, l.outcome, 'UNVERIFIED');
COMMENT ON VIEW contractor_verify.compliance_summary IS 'licenses by state and status, how many compliant';

CREATE VIEW contractor_verify.expiring_licenses AS
SELECT l.api_url, l.state, l.license_number, l.business_name, l.expiration_date, l.days_to_expiration,
       CASE WHEN l.days_to_expiration OPERATOR(pg_catalog.<=) 30 THEN 30
            WHEN l.days_to_expiration OPERATOR(pg_catalog.<=) 60 THEN 60 ELSE 90 END AS within_days,
       l.verified_at
FROM contractor_verify.licenses l
WHERE l.compliant AND l.days_to_expiration OPERATOR(pg_catalog.<=) 90;
COMMENT ON VIEW contractor_verify.expiring_licenses IS 'compliant licenses expiring within 30, 60 or 90 days';

CREATE VIEW contractor_verify.needs_attention AS
SELECT l.api_url, l.state, l.license_number, l.business_name, l.compliance_reason, l.license_status,
       l.expiration_date, l.needs_review, l.review_reason, l.has_disciplinary_actions, l.verified_at,
       l.last_error_code
FROM contractor_verify.licenses l
WHERE NOT l.compliant OR l.needs_review OR l.has_disciplinary_actions
   OR (l.compliant AND l.days_to_expiration OPERATOR(pg_catalog.<=) 30);
COMMENT ON VIEW contractor_verify.needs_attention IS
    'licenses that are not compliant, need review, carry disciplinary actions or expire within 30 days';
