-- Verification jobs from SQL: submit a roster, wait for the worker, read the
-- status and one result per input row; cancel; the errors a caller can meet.
\i sql/include/setup.psql
\set _ `test/simctl config rate_limit=0`

CREATE SERVER cv_sim FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', calls_per_minute '1000', single_calls_per_minute '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_sim OPTIONS (api_key :'sim_key');
SET contractor_verify.server = 'cv_sim';

-- Waits until a job has ended (the worker commits as it goes).
CREATE FUNCTION pg_temp.wait_job(job bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  s text;
BEGIN
  FOR i IN 1..300 LOOP
    SELECT job_status INTO s FROM cv_job_status(job);
    IF s IN ('completed', 'failed', 'cancelled') THEN RETURN s; END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN s;
END $$;

-- A JSON roster: duplicates, a name lookup, rows that cannot be looked up.
SELECT cv_job_submit('[
  {"id": "a", "state": "CA", "license_number": "1052183"},
  {"id": "b", "state": "ca", "license_number": " 1052183 "},
  {"id": "c", "state": "CA", "license_number": "100500"},
  {"id": "d", "state": "WA", "name": "Pacific Northwest Roofing LLC"},
  {"id": "e", "state": "ZZ", "license_number": "1"},
  {"id": "f", "state": "CA"},
  {"id": 7, "state": "CA", "license_number": "100501"}
]'::jsonb, label => 'regress json') AS job \gset
SELECT job_status IN ('queued', 'processing', 'completed') AS submitted, label, total_entities,
       invalid_entities, lookups_total, lookups_needed
FROM cv_job_status(:job);
SELECT pg_temp.wait_job(:job);
SELECT job_status, total_entities, processed_entities, completed_entities, failed_entities,
       lookups_total, lookups_done, answered_from_cache, calls, rate_limited,
       estimated_completion IS NULL AS no_estimate_once_ended, completed_at >= started_at AS timed,
       error_code, error_message
FROM cv_job_status(:job);
SELECT id, state, license_number, license_status, error_code, from_cache, jsonb_array_length(candidates) AS candidates
FROM cv_job_results(:job);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,batch}' AS batch_calls, (:'c'::jsonb)->>'lookups' AS lookups;

-- The same licenses again, as a query: answered by the cache, no call.
\set _ `test/simctl reset`
SELECT cv_job_submit($$VALUES ('x', 'CA', '1052183'), ('y', 'CA', '100500'), ('z', 'CA', '100501')$$) AS job2 \gset
SELECT lookups_needed FROM cv_job_status(:job2);
SELECT pg_temp.wait_job(:job2);
SELECT answered_from_cache, lookups_done, calls FROM cv_job_status(:job2);
SELECT string_agg(id || ':' || from_cache, ', ' ORDER BY id) FROM cv_job_results(:job2);
-- max_age '0' buys again.
SELECT cv_job_submit($$VALUES ('x', 'CA', '1052183')$$, max_age => '0') AS job3 \gset
SELECT pg_temp.wait_job(:job3);
SELECT max_age, answered_from_cache, lookups_done FROM cv_job_status(:job3);

-- The jobs view shows the same rows as cv_job_status.
SELECT count(*) AS jobs, count(*) FILTER (WHERE job_status = 'completed') AS completed
FROM contractor_verify.jobs WHERE job_id IN (:job, :job2, :job3);

-- Cancelling a job that has ended does nothing.
SELECT cv_job_cancel(:job) AS cancelled;
SELECT job_status FROM cv_job_status(:job);

-- Errors.
\set VERBOSITY terse
SELECT * FROM pg_temp.error_of($$SELECT cv_job_submit(NULL::text)$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_job_submit(NULL::jsonb)$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_job_submit('SELECT 1', server => 'no_such_server')$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_job_submit('SELECT 1', max_age => '-1 hour')$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_job_submit('')$$);
SELECT * FROM pg_temp.error_of($$SELECT * FROM cv_job_status(-1)$$);
SELECT * FROM pg_temp.error_of($$SELECT * FROM cv_job_results(-1)$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_job_cancel(-1)$$);
BEGIN READ ONLY;
SELECT * FROM pg_temp.error_of($$SELECT cv_job_submit($q$VALUES ('r', 'CA', '1052183')$q$)$$);
ROLLBACK;
-- A roster whose every row is unusable: a job with nothing to look up.
SELECT cv_job_submit($$VALUES ('u', 'ZZ', '1'), ('v', NULL, '2')$$) AS job4 \gset
SELECT pg_temp.wait_job(:job4);
SELECT processed_entities, failed_entities, lookups_total FROM cv_job_status(:job4);
SELECT id, error_code, error_message FROM cv_job_results(:job4);
-- A rolled-back submit leaves no job.
BEGIN;
SELECT cv_job_submit($$VALUES ('w', 'CA', '1052183')$$) AS job5 \gset
ROLLBACK;
SELECT count(*) AS jobs FROM contractor_verify.jobs WHERE job_id = :job5;
-- A submit cannot be prepared for two-phase commit: COMMIT PREPARED would
-- leave the job queued with no worker told of it.
BEGIN;
SELECT cv_job_submit($$VALUES ('p', 'CA', '1052183')$$) AS job6 \gset
PREPARE TRANSACTION 'cv_regress_job';
SELECT count(*) AS jobs FROM contractor_verify.jobs WHERE job_id = :job6;
SELECT count(*) AS prepared FROM pg_prepared_xacts WHERE gid = 'cv_regress_job';

-- Only the owner writes the job tables; roles read them through the views.
SELECT relname, relacl IS NULL AS no_grants FROM pg_class
WHERE relnamespace = 'contractor_verify'::regnamespace AND relname IN ('job_queue', 'job_lookups', 'job_rows', 'job_cancels')
ORDER BY relname;
SELECT p.oid::regprocedure AS function, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_run
FROM pg_proc p WHERE p.proname LIKE 'cv\_job\_%' ORDER BY 1;

-- Whose a job is: the submitter's OID in this cluster (whatever the role is
-- called now); in a database restored into another cluster, the name.
SELECT contractor_verify.job_owner('no_such_role', 10, contractor_verify.cluster_id()) = 10 AS by_oid_here,
       contractor_verify.job_owner(current_user, 4000000000, contractor_verify.cluster_id()) IS NULL AS gone_role_owns_nothing,
       contractor_verify.job_owner(current_user, 4000000000, (contractor_verify.cluster_id() # 1)) = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS by_name_elsewhere;
