-- The demo, run by scripts/demo.sh against a throwaway cluster and the
-- ContractorVerify simulator on loopback: a roster of 2,500 contractors
-- verified in one statement, reconciled into the application's table, and
-- reported on; then the same job again, from the cache; then a background
-- job that the worker runs while the session only watches.
\pset footer off
\set QUIET on
\set ON_ERROR_STOP on

\echo
\echo '=== 1. Install and configure: a server (a 120-calls-a-minute plan) and a user mapping'
CREATE EXTENSION contractor_verify;
CREATE SERVER contractor_verify FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', calls_per_minute '120');
CREATE USER MAPPING FOR CURRENT_USER SERVER contractor_verify OPTIONS (api_key :'sim_key');
SELECT cv_version();

\echo
\echo '=== 2. The application''s roster: 2,500 contractors'
-- License numbers in each board's format, with the mess real rosters have:
-- contractors sharing a license, numbers in the wrong format for their state,
-- rows with only a business name, slow boards (LA, MS), rows with no state.
CREATE TABLE contractors (
    id            text PRIMARY KEY,
    business_name text,
    state         text,
    license_no    text,
    active        boolean NOT NULL DEFAULT true
);
INSERT INTO contractors (id, state, license_no)
SELECT 'ctr-' || lpad(i::text, 5, '0'), s.state,
       CASE s.state
           WHEN 'CA' THEN (1000000 + (i * 7919) % 8000000)::text
           WHEN 'TX' THEN 'TACLA' || (10000 + (i * 31) % 89999)
           WHEN 'FL' THEN 'CBC' || (1000000 + (i * 17) % 8999999)
           WHEN 'AZ' THEN 'ROC' || (100000 + (i * 13) % 899999)
           ELSE (100000 + (i * 101) % 899999)::text
       END
FROM generate_series(1, 2300) AS i,
     LATERAL (SELECT (ARRAY['CA','CA','CA','TX','TX','FL','FL','AZ','NY','NV','OR','WA','LA','MS','IL'])
                     [1 + (i * 7) % 15] AS state) AS s;
-- 150 contractors share a license with another contractor.
INSERT INTO contractors (id, state, license_no)
SELECT 'dup-' || lpad(i::text, 4, '0'), c.state, c.license_no
FROM generate_series(1, 150) AS i JOIN contractors c ON c.id = 'ctr-' || lpad((i * 13)::text, 5, '0');
-- 30 numbers in the wrong format for their state (a CA number filed under TX).
INSERT INTO contractors (id, state, license_no)
SELECT 'fmt-' || i, 'TX', (2000000 + i)::text FROM generate_series(1, 30) AS i;
-- 12 rows with only a business name; 8 with no usable state.
INSERT INTO contractors (id, business_name, state) VALUES
    ('name-01', 'Pacific Northwest Roofing LLC', 'WA'), ('name-02', 'PACIFIC NORTHWEST ROOFING, L.L.C.', 'WA'),
    ('name-03', 'Pacific Electric Inc', 'CA'), ('name-04', 'Pacific Electric, Inc.', 'CA'),
    ('name-05', 'Lone Star Plumbing Co', 'TX'), ('name-06', 'Sunshine Builders Inc', 'FL'),
    ('name-07', 'Sunshine Builders, Inc.', 'FL'), ('name-08', 'Nobody Here Construction', 'NV'),
    ('name-09', 'Pacific Northwest Roofing (2)', 'WA'), ('name-10', 'lone star plumbing', 'TX'),
    ('name-11', 'Golden Gate Handyman', 'CA'), ('name-12', 'Acme Builders LLC', 'OR');
INSERT INTO contractors (id, state, license_no)
SELECT 'bad-' || i, CASE WHEN i % 2 = 0 THEN NULL ELSE 'XX' END, '123456' FROM generate_series(1, 8) AS i;
SELECT count(*) AS contractors,
       count(DISTINCT (state, license_no)) FILTER (WHERE license_no IS NOT NULL) AS distinct_licenses,
       count(*) FILTER (WHERE license_no IS NULL) AS name_only
FROM contractors;

CREATE TABLE contractor_licenses (
    contractor_id            text PRIMARY KEY REFERENCES contractors,
    state                    text,
    license_number           text,
    license_status           text,
    expiration_date          date,
    classifications          text[],
    verified_at              timestamptz,
    has_disciplinary_actions boolean,
    compliant                boolean,
    needs_review             boolean,
    last_attempt_at          timestamptz,
    error_code               text
);

\echo
\echo '=== 3. Verify the whole roster in one statement, reconciled with one upsert'
\echo '    (NOTICE lines report progress; another session could watch contractor_verify.batch_progress)'
SET contractor_verify.progress_notice_interval = '3s';
\set QUIET off
\timing on
INSERT INTO contractor_licenses AS l
       (contractor_id, state, license_number, license_status, expiration_date, classifications,
        verified_at, has_disciplinary_actions, compliant, needs_review, last_attempt_at, error_code)
SELECT v.id, v.state, v.license_number, v.license_status, v.expiration_date, v.classifications,
       v.verified_at, v.has_disciplinary_actions, v.compliant, v.needs_review, now(), v.error_code
FROM cv_verify_batch($$SELECT id, state, license_no, business_name FROM contractors WHERE active$$) AS v
ON CONFLICT (contractor_id) DO UPDATE SET
    license_status           = CASE WHEN EXCLUDED.error_code IS NULL THEN EXCLUDED.license_status ELSE l.license_status END,
    expiration_date          = CASE WHEN EXCLUDED.error_code IS NULL THEN EXCLUDED.expiration_date ELSE l.expiration_date END,
    classifications          = CASE WHEN EXCLUDED.error_code IS NULL THEN EXCLUDED.classifications ELSE l.classifications END,
    verified_at              = CASE WHEN EXCLUDED.error_code IS NULL THEN EXCLUDED.verified_at ELSE l.verified_at END,
    has_disciplinary_actions = CASE WHEN EXCLUDED.error_code IS NULL THEN EXCLUDED.has_disciplinary_actions ELSE l.has_disciplinary_actions END,
    compliant                = CASE WHEN EXCLUDED.error_code IS NULL THEN EXCLUDED.compliant ELSE l.compliant END,
    needs_review             = EXCLUDED.needs_review,
    last_attempt_at          = EXCLUDED.last_attempt_at,
    error_code               = EXCLUDED.error_code;
\timing off
\set QUIET on
RESET contractor_verify.progress_notice_interval;
\set counters `curl -sf "$CV_SIM_CONTROL/counters"`
SELECT (:'counters'::jsonb)#>>'{calls,batch}' AS api_calls,
       (:'counters'::jsonb)->>'lookups' AS lookups_paid,
       (:'counters'::jsonb)->>'rate_limited' AS got_429,
       (:'counters'::jsonb)->>'max_batch_calls_in_window' AS most_calls_in_a_minute;

\echo
\echo '=== 4. The compliance report'
SELECT category, count(*) AS contractors
FROM (
    SELECT CASE
        WHEN l.error_code = 'INVALID_INPUT'        THEN '6 data quality: row not usable (' || 'no state / unknown state)'
        WHEN l.error_code = 'INVALID_STATE_FORMAT' THEN '6 data quality: number in the wrong format for the state'
        WHEN l.error_code = 'MULTIPLE_CANDIDATES'  THEN '5 ask for the license number (name matches several)'
        WHEN l.error_code = 'STATE_TIMEOUT'        THEN '4 board did not answer: retry scheduled in 4-6 h'
        WHEN l.needs_review                        THEN '3 manual review: ' || coalesce(l.error_code, 'flagged')
        WHEN l.compliant                           THEN '1 compliant'
        WHEN l.license_status = 'ACTIVE'           THEN '2 non-compliant: EXPIRED'
        ELSE '2 non-compliant: ' || coalesce(l.license_status, l.error_code, 'no status')
    END AS category
    FROM contractor_licenses l
) AS r
GROUP BY category ORDER BY category;

SELECT count(*) FILTER (WHERE compliant AND expiration_date < current_date + 30) AS compliant_expiring_within_30_days,
       count(*) FILTER (WHERE compliant AND expiration_date < current_date + 90) AS compliant_expiring_within_90_days,
       count(*) FILTER (WHERE has_disciplinary_actions) AS with_disciplinary_actions
FROM contractor_licenses;

\echo
\echo '=== 5. The same job again: the cache makes it nearly free'
\set _ `curl -sf -X POST -d '{}' "$CV_SIM_CONTROL/reset" >/dev/null; echo`
\set QUIET off
\timing on
SELECT count(*) AS rows, count(*) FILTER (WHERE from_cache) AS from_cache
FROM cv_verify_batch($$SELECT id, state, license_no, business_name FROM contractors WHERE active$$);
\timing off
\set QUIET on
\set counters `curl -sf "$CV_SIM_CONTROL/counters"`
SELECT (:'counters'::jsonb)#>>'{calls,batch}' AS api_calls_second_run,
       (:'counters'::jsonb)->>'lookups' AS lookups_paid_second_run;

\echo
\echo '=== 6. The audit trail and the analysts'' view'
SELECT outcome, count(*) FROM contractor_verify.verification_history GROUP BY outcome ORDER BY 2 DESC;
SELECT compliance_reason, count(*) FROM contractor_verify.licenses GROUP BY 1 ORDER BY 2 DESC;

\echo
\echo '=== 7. A background job: 1,000 contractors joining, verified by the worker'
\echo '    (the submitting session could disconnect; LISTEN contractor_verify_jobs hears when it ends)'
INSERT INTO contractors (id, state, license_no)
SELECT 'new-' || lpad(i::text, 4, '0'), 'CA', (9000000 + i * 37)::text FROM generate_series(1, 1000) AS i;
LISTEN contractor_verify_jobs;
SELECT cv_job_submit($$SELECT id, state, license_no, business_name FROM contractors WHERE id LIKE 'new-%'$$,
                     label => 'onboarding') AS job \gset
SELECT set_config('demo.job', :'job', false) \gset
SELECT job_id, label, job_status, total_entities, lookups_needed FROM cv_job_status(:job);
-- Watch it: one line a second until it ends.
DO $$
DECLARE
    j record;
BEGIN
    LOOP
        SELECT * INTO j FROM cv_job_status(current_setting('demo.job')::bigint);
        RAISE NOTICE '% — % of % rows, % calls, done by about %', j.job_status, j.processed_entities,
            j.total_entities, j.calls, to_char(j.estimated_completion, 'HH24:MI:SS');
        EXIT WHEN j.job_status IN ('completed', 'failed', 'cancelled');
        PERFORM pg_sleep(1);
    END LOOP;
END $$;
SELECT job_status, processed_entities, completed_entities, failed_entities, lookups_done, calls,
       rate_limited, completed_at - started_at AS took
FROM cv_job_status(:job);
-- Collect: the README's upsert, from the job's results.
INSERT INTO contractor_licenses AS l
       (contractor_id, state, license_number, license_status, expiration_date, classifications,
        verified_at, has_disciplinary_actions, compliant, needs_review, last_attempt_at, error_code)
SELECT v.id, v.state, v.license_number, v.license_status, v.expiration_date, v.classifications,
       v.verified_at, v.has_disciplinary_actions, v.compliant, v.needs_review, now(), v.error_code
FROM cv_job_results(:job) AS v
ON CONFLICT (contractor_id) DO UPDATE SET
    license_status = EXCLUDED.license_status, expiration_date = EXCLUDED.expiration_date,
    verified_at = EXCLUDED.verified_at, compliant = EXCLUDED.compliant,
    last_attempt_at = EXCLUDED.last_attempt_at, error_code = EXCLUDED.error_code;
SELECT count(*) AS onboarded, count(*) FILTER (WHERE compliant) AS compliant
FROM contractor_licenses WHERE contractor_id LIKE 'new-%';

\echo
\echo '=== 8. The schedule: what is due when, and why'
-- A month later, as far as the schedule is concerned: every answer 31 days old.
UPDATE contractor_verify.license_cache SET fetched_at = fetched_at - interval '31 days',
       last_attempt_at = last_attempt_at - interval '31 days';
SELECT reason, count(*) AS licenses, count(*) FILTER (WHERE due_now) AS due_now,
       min(due_at)::date AS earliest_due
FROM contractor_verify.license_schedule GROUP BY reason ORDER BY min(priority), reason;

\echo
\echo '=== 9. One sweep with a budget of 500 lookups: never verified first, then soonest expiring, not active, oldest'
\echo '    (meanwhile the board suspended five contractors whose licenses expire soon; we listen for such changes)'
SELECT string_agg(format('curl -sf -X POST -H "Content-Type: application/json" -d ''{"state":"%s","license_number":"%s","set":{"status":"SUSPENDED"}}'' "$CV_SIM_CONTROL/license" >/dev/null',
                         state, license_number), '; ') AS suspend
FROM (SELECT state, license_number FROM contractor_verify.license_schedule
      WHERE reason = 'expires within 30 days' AND license_status = 'ACTIVE'
      ORDER BY expiration_date, license_number LIMIT 5) AS s \gset
\set _ `:suspend`
LISTEN contractor_verify_license_changes;
SELECT due, submitted, left_for_budget, left_for_quota, not_due, in_review, skipped_rows
FROM cv_sweep($$SELECT id, state, license_no FROM contractors WHERE active$$, budget => 500, label => 'demo sweep') \gset sweep_
\echo due :sweep_due, submitted :sweep_submitted, left for the next run :sweep_left_for_budget, in review :sweep_in_review
SELECT max(job_id) AS sweep_job FROM contractor_verify.sweeps \gset
DO $$
DECLARE
    j record;
BEGIN
    LOOP
        SELECT * INTO j FROM cv_job_status((SELECT max(job_id) FROM contractor_verify.sweeps));
        EXIT WHEN j.job_status IN ('completed', 'failed', 'cancelled');
        PERFORM pg_sleep(0.5);
    END LOOP;
END $$;
SELECT job_status, processed_entities, lookups_done, calls FROM cv_job_status(:sweep_job);
\echo 'What changed, and what waits for a person:'
SELECT state, license_number, status_from, status_to, compliant_from, compliant_to
FROM contractor_verify.license_changes ORDER BY changed_at, license_number;
SELECT reason_code, count(*) FROM contractor_verify.review_queue GROUP BY 1 ORDER BY 2 DESC;
SELECT month, lookups_charged, calls, answered_from_cache, rate_limited FROM contractor_verify.usage;
