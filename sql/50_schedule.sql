-- The re-verification schedule (the batch guide's): when each license is due
-- again and why, from its cache row and the server's reverify_* options.
\i sql/include/setup.psql

CREATE SERVER cv_sched FOREIGN DATA WRAPPER contractor_verify OPTIONS (url :'sim_url', single_calls_per_minute '1000');
SET contractor_verify.server = 'cv_sched';
SELECT server_name, within_30_days, within_90_days, not_active, not_found, otherwise
FROM contractor_verify.reverify_policy();

-- One cached license per case, each verified (or attempted) 3 days ago.
INSERT INTO contractor_verify.license_cache
    (api_url, server_name, state, license_number, outcome, license_status, expiration_date,
     fetched_at, expires_at, last_attempt_at, last_error_code, consecutive_timeouts,
     next_attempt_at, needs_review)
SELECT p.api_url, 'cv_sched', 'CA', c.license_number, c.outcome, c.license_status,
       CURRENT_DATE + c.expires_in_days, now() - interval '3 days', now(),
       now() - interval '3 days', c.last_error_code, c.timeouts, now() + c.retry_in, c.needs_review
FROM contractor_verify.reverify_policy() p,
     (VALUES ('100010', 'VERIFIED', 'ACTIVE', 10, NULL, 0, NULL::interval, false),    -- expires in 10 days
             ('100045', 'VERIFIED', 'ACTIVE', 45, NULL, 0, NULL, false),              -- in 45 days
             ('100200', 'VERIFIED', 'ACTIVE', 200, NULL, 0, NULL, false),             -- in 200 days
             ('100300', 'VERIFIED', 'SUSPENDED', 900, NULL, 0, NULL, false),          -- suspended, far expiry
             ('100400', 'VERIFIED', 'ACTIVE', -5, NULL, 0, NULL, false),              -- expired 5 days ago
             ('100500', 'NOT_FOUND', NULL, NULL, 'NOT_FOUND', 0, NULL, true),         -- not found (in review)
             ('100600', 'INVALID_STATE_FORMAT', NULL, NULL, 'INVALID_STATE_FORMAT', 0, NULL, true),
             ('100700', NULL, NULL, NULL, 'STATE_TIMEOUT', 1, interval '-1 hour', false),   -- retry due
             ('100701', NULL, NULL, NULL, 'STATE_TIMEOUT', 2, interval '3 hours', false),   -- retry not due
             ('100702', NULL, NULL, NULL, 'STATE_TIMEOUT', 3, interval '-1 hour', true),    -- third timeout
             ('100800', 'VERIFIED', 'ACTIVE', 400, 'STATE_TIMEOUT', 1, interval '2 hours', false)) -- good record, retry pending
     AS c(license_number, outcome, license_status, expires_in_days, last_error_code, timeouts, retry_in, needs_review);
-- Due time relative to when it was verified (or to now), whether due now, why, and its sweep priority.
SELECT s.license_number,
       CASE WHEN due_at IS NULL THEN NULL
            WHEN c.last_error_code = 'STATE_TIMEOUT' AND s.outcome IS DISTINCT FROM 'VERIFIED'
                 THEN 'now ' || (CASE WHEN due_at <= now() THEN '-' ELSE '+' END) ||
                      round(abs(extract(epoch FROM due_at - now())) / 3600) || 'h'
            WHEN s.license_number = '100800' THEN 'now +' || round(extract(epoch FROM due_at - now()) / 3600) || 'h'
            ELSE 'verified +' || (due_at - verified_at)::text END AS due,
       due_now, reason, priority
FROM contractor_verify.license_schedule s
JOIN contractor_verify.license_cache c USING (state, license_number, api_url)
ORDER BY s.license_number;

-- Never verified: no row at all, due now, first in a sweep.
SELECT due_at = now() AS due_now, reason, priority
FROM contractor_verify.reverify_due(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false,
                                    '7 days', '14 days', '7 days', '7 days', '30 days');

-- The intervals are the server's options.
ALTER SERVER cv_sched OPTIONS (ADD reverify_default '60d', ADD reverify_within_30d '2d', ADD reverify_not_active '1d');
SELECT within_30_days, not_active, otherwise FROM contractor_verify.reverify_policy('cv_sched');
SELECT license_number, due_at - verified_at AS every, reason
FROM contractor_verify.license_schedule WHERE license_number IN ('100010', '100200', '100300') ORDER BY 1;
\set VERBOSITY terse
ALTER SERVER cv_sched OPTIONS (SET reverify_default '30s');
ALTER SERVER cv_sched OPTIONS (ADD reverify_whenever '1d');
SELECT * FROM pg_temp.error_of($$SELECT * FROM contractor_verify.reverify_policy('no_such_server')$$);
\set VERBOSITY default

-- A license in review is never swept until a person resolves it; the
-- resolution is kept in the history and the license is back on schedule.
SELECT license_number, reason_code, reason FROM contractor_verify.review_queue ORDER BY license_number;
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_sched OPTIONS (api_key :'sim_key');
SELECT cv_review_resolve('CA', '100702', note => 'board back online') AS resolved;
SELECT cv_review_resolve('CA', '100702') AS resolved_again;
SELECT license_number, due_now, reason, priority FROM contractor_verify.license_schedule WHERE license_number = '100702';
SELECT outcome, license_number, error_message, charged FROM contractor_verify.verification_history
WHERE outcome = 'REVIEW_RESOLVED';
SELECT license_number FROM contractor_verify.review_queue ORDER BY 1;
-- A name that matched several licenses waits for a person, candidates and all.
SELECT error_code, jsonb_array_length(candidates) AS candidates
FROM cv_verify_by_name('WA', 'Pacific Northwest Roofing LLC');
SELECT state, lookup_name, reason_code, jsonb_array_length(candidates) AS candidates
FROM contractor_verify.review_queue WHERE lookup_name IS NOT NULL;
SELECT cv_review_resolve('WA', lookup_name => 'Pacific Northwest Roofing LLC', note => 'asked for the number') AS resolved;
SELECT count(*) AS names_in_review FROM contractor_verify.review_queue WHERE lookup_name IS NOT NULL;
\set VERBOSITY terse
SELECT * FROM pg_temp.error_of($$SELECT cv_review_resolve('CA')$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_review_resolve('CA', '1', lookup_name => 'x')$$);
\set VERBOSITY default
RESET contractor_verify.server;
