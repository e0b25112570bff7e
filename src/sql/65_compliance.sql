
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
