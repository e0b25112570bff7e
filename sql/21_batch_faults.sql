-- cv_verify_batch under faults: results matched by id whatever order or gaps
-- the response has; 429 and 5xx storms retried chunk-wise with backoff; a
-- chunk that fails for good answers its own records with error rows; the
-- monthly quota guard refuses before sending anything.
\i sql/include/setup.psql
\set _ `test/simctl config rate_limit=0`

CREATE SERVER cv_sim FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', retry_base '20ms', retry_max '100ms', max_concurrent_calls '1',
           calls_per_minute '1000', single_calls_per_minute '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_sim OPTIONS (api_key :'sim_key');
SET contractor_verify.server = 'cv_sim';
CREATE TEMP TABLE roster AS
SELECT 'c' || i AS id, 'CA' AS state, (600000 + i)::text AS license_no FROM generate_series(1, 150) AS i;

-- Shuffled results: every row still gets its own license's record.
\set _ `test/simctl fault shuffled endpoint=batch`
SELECT count(*) AS rows,
       bool_and(r.license_number = x.license_no) AS right_license,
       bool_and(r.record->>'license_number' = x.license_no OR r.error_code IS NOT NULL) AS right_record
FROM cv_verify_batch($$SELECT id, state, license_no FROM roster$$) r JOIN roster x USING (id);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{faults_fired,shuffled}' AS shuffled_responses;

-- A response missing records and inventing one: the missing get error rows and
-- are not cached; the invented result is never assigned, only kept in history.
TRUNCATE contractor_verify.license_cache, contractor_verify.verification_history;
\set _ `test/simctl reset`
\set _ `test/simctl fault missing_ids drop=2 endpoint=batch`
\set _ `test/simctl fault extra_id endpoint=batch`
SELECT error_code, count(*) FROM cv_verify_batch($$SELECT id, state, license_no FROM roster$$)
WHERE error_code IN ('MISSING_RESULT', 'UNEXPECTED_RESULT') GROUP BY error_code;
SELECT outcome, billable, count(*) FROM contractor_verify.verification_history
WHERE outcome IN ('MISSING_RESULT', 'UNEXPECTED_RESULT') GROUP BY outcome, billable ORDER BY outcome;
SELECT count(*) AS cached_rows FROM contractor_verify.license_cache;
-- Rerunning looks up only the two that had no answer.
\set _ `test/simctl reset`
SELECT count(*) FILTER (WHERE NOT from_cache) AS looked_up
FROM cv_verify_batch($$SELECT id, state, license_no FROM roster$$);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,batch}' AS batch_calls, (:'c'::jsonb)->>'lookups' AS lookups;

-- A 429 storm: the chunk waits Retry-After each time and gets through.
TRUNCATE contractor_verify.license_cache;
\set _ `test/simctl reset`
\set _ `test/simctl fault http429 retry_after=1 count=2 endpoint=batch`
SELECT count(*) AS rows, count(*) FILTER (WHERE error_code = 'CALL_FAILED') AS call_failed
FROM cv_verify_batch($$SELECT id, state, license_no FROM roster$$);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,batch}' AS batch_calls, (:'c'::jsonb)->>'rate_limited' AS got_429,
       (:'c'::jsonb)->>'lookups' AS lookups;
SELECT outcome, count(*) FROM contractor_verify.verification_history
WHERE outcome = 'RATE_LIMITED' GROUP BY outcome;

-- A chunk that fails for good (a 500 with max_retries 0): its 100 records get
-- CALL_FAILED rows (not cached, not billable); the other chunk is answered.
TRUNCATE contractor_verify.license_cache, contractor_verify.verification_history;
\set _ `test/simctl reset`
ALTER SERVER cv_sim OPTIONS (ADD max_retries '0');
\set _ `test/simctl fault http500 endpoint=batch`
SELECT count(*) AS rows, count(*) FILTER (WHERE error_code = 'CALL_FAILED') AS call_failed,
       min(error_message) FILTER (WHERE error_code = 'CALL_FAILED') AS message
FROM cv_verify_batch($$SELECT id, state, license_no FROM roster$$);
SELECT count(*) AS cached_rows FROM contractor_verify.license_cache;
SELECT outcome, billable, count(*) FROM contractor_verify.verification_history
GROUP BY outcome, billable ORDER BY outcome;
ALTER SERVER cv_sim OPTIONS (DROP max_retries);

-- A 500 storm longer than max_retries (3) on a one-chunk roster: 4 calls,
-- then CALL_FAILED rows; with all_or_nothing the same storm is an ERROR.
\set _ `test/simctl reset`
\set _ `test/simctl fault http500 count=4 endpoint=batch`
SELECT count(*) AS rows, count(*) FILTER (WHERE error_code = 'CALL_FAILED') AS call_failed
FROM cv_verify_batch($$SELECT id, state, license_no FROM roster LIMIT 100$$, max_age => '0');
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,batch}' AS batch_calls, (:'c'::jsonb)->>'lookups' AS lookups;
\set _ `test/simctl fault http500 count=4 endpoint=batch`
SELECT * FROM pg_temp.error_of($$SELECT count(*) FROM cv_verify_batch($q$SELECT id, state, license_no FROM roster LIMIT 100$q$, max_age => '0', all_or_nothing => true)$$);

-- A rejected key fails the whole batch with an error naming no key.
CREATE SERVER cv_bad_key FOREIGN DATA WRAPPER contractor_verify OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_bad_key OPTIONS (api_key 'cv_live_SECRET_batch');
SELECT * FROM pg_temp.error_of($$SELECT count(*) FROM cv_verify_batch($q$SELECT id, state, license_no FROM roster$q$, server => 'cv_bad_key')$$);

-- The monthly quota guard refuses before sending anything. It counts what
-- the API charged an account (URL and key), whatever server names it: a key
-- of its own here, with 50 lookups already spent this month.
TRUNCATE contractor_verify.license_cache;
CREATE SERVER cv_quota FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', calls_per_minute '1000', single_calls_per_minute '1000', monthly_lookup_quota '100');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_quota OPTIONS (api_key :'sim_key2');
SET contractor_verify.server = 'cv_quota';
SELECT count(*) AS spent FROM cv_verify_batch($$SELECT 'q' || i, 'CA', (610000 + i)::text FROM generate_series(1, 50) i$$);
\set _ `test/simctl reset`
SELECT * FROM pg_temp.error_of($$SELECT count(*) FROM cv_verify_batch($q$SELECT id, state, license_no FROM roster$q$)$$);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls;
-- A single lookup needs one: allowed while one remains, refused after.
SELECT license_status FROM cv_verify('CA', '1052183');
ALTER SERVER cv_quota OPTIONS (SET monthly_lookup_quota '51');
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052184')$$);
-- Another server with the same URL and key shares the count.
CREATE SERVER cv_quota_alias FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', monthly_lookup_quota '52');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_quota_alias OPTIONS (api_key :'sim_key2');
SELECT code, message FROM pg_temp.error_of($$SELECT count(*) FROM cv_verify_batch($q$VALUES ('a', 'CA', '1052184'), ('b', 'CA', '1052185')$q$, server => 'cv_quota_alias')$$);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls;
-- Within the quota it runs.
ALTER SERVER cv_quota OPTIONS (SET monthly_lookup_quota '200');
SELECT count(*) AS rows FROM cv_verify_batch($$SELECT id, state, license_no FROM roster WHERE id IN ('c1', 'c2')$$);
-- A call the API may have charged (a 200 that cannot be read) is sent again
-- only when the quota can count it once more: with 53 of 203 spent, a chunk
-- of 100 read as garbage once would need 200 more. Its records fail, saying
-- why, after one call.
ALTER SERVER cv_quota OPTIONS (SET monthly_lookup_quota '203');
\set _ `test/simctl reset`
\set _ `test/simctl fault malformed_json endpoint=batch`
SELECT error_code, count(*) AS rows,
       bool_and(error_message LIKE '%monthly lookup quota cannot cover charging it once more%') AS says_why
FROM cv_verify_batch($$SELECT 'g' || i, 'CA', (620000 + i)::text FROM generate_series(1, 100) i$$)
GROUP BY error_code;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->>'lookups' AS lookups_charged;
RESET contractor_verify.server;
DROP SERVER cv_quota, cv_quota_alias CASCADE;

DROP SERVER cv_sim CASCADE;
DROP SERVER cv_bad_key CASCADE;
