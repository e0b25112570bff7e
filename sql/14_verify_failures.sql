-- Transport failures: 429 waits Retry-After and retries; network errors and
-- 5xx and an unreadable 200 retry with backoff, then fail naming the host; a
-- rejected key or an oversized body fail without caching anything; cancel and
-- statement_timeout stop a hanging request and leave the backend usable.
\i sql/include/setup.psql

-- A single-lookup limit well above what the files make: the earlier files'
-- lookups with the same key in the last minute must not hold these up.
CREATE SERVER cv_sim FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', max_retries '2', retry_base '20ms', retry_max '100ms',
           single_calls_per_minute '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_sim OPTIONS (api_key :'sim_key');
SET contractor_verify.server = 'cv_sim';

-- 429 with Retry-After: 1, then success.
\set _ `test/simctl fault http429 retry_after=1 endpoint=verify`
SELECT license_status, error_code FROM cv_verify('CA', '1052183');
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,verify}' AS verify_calls, (:'c'::jsonb)->>'rate_limited' AS got_429;
SELECT http_status, outcome FROM contractor_verify.verification_history ORDER BY id;

-- A Retry-After longer than max_retry_after fails at once, and every later
-- call with that key fails without calling until the pause is over (an API
-- account of its own here: the second key, reaching the simulator as "localhost").
\set other_url `echo "$CV_SIM_URL" | sed 's/127.0.0.1/localhost/'`
CREATE SERVER cv_paused FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'other_url', max_retry_after '5s', retry_base '20ms');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_paused OPTIONS (api_key :'sim_key2');
\set _ `test/simctl fault http429 retry_after=600`
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052183', max_age => '0', server => 'cv_paused')$$);
\set _ `test/simctl reset`
SELECT code, regexp_replace(message, 'wait [0-9]+s', 'wait Ns') AS message
FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052184', server => 'cv_paused')$$);
SELECT code, regexp_replace(message, 'wait [0-9]+s', 'wait Ns') AS message
FROM pg_temp.error_of($$SELECT * FROM cv_verify_batch($q$VALUES ('a', 'CA', '1052185')$q$, server => 'cv_paused')$$);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS calls_while_paused;
DROP SERVER cv_paused CASCADE;

-- A 500 storm: 1 call + max_retries (2) retries, then an ERROR naming the host.
\set _ `test/simctl reset`
\set _ `test/simctl fault http500 count=10`
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052183', max_age => '0')$$);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,verify}' AS verify_calls, (:'c'::jsonb)#>>'{faults_fired,http500}' AS http500_sent;

-- A 503, a truncated body and a connection reset are retried and recovered from.
\set _ `test/simctl reset`
TRUNCATE contractor_verify.verification_history;
\set _ `test/simctl fault http503`
SELECT license_status FROM cv_verify('CA', '1052183', max_age => '0');
\set _ `test/simctl fault truncated`
SELECT license_status FROM cv_verify('CA', '1052183', max_age => '0');
\set _ `test/simctl fault reset`
SELECT license_status FROM cv_verify('CA', '1052183', max_age => '0');
SELECT http_status, outcome FROM contractor_verify.verification_history ORDER BY id;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,verify}' AS verify_calls;

-- A 200 whose body is not JSON is retried like a 5xx: the retry's answer is kept.
TRUNCATE contractor_verify.license_cache, contractor_verify.verification_history;
\set _ `test/simctl reset`
\set _ `test/simctl fault malformed_json`
SELECT license_status, error_code FROM cv_verify('CA', '1052183');
SELECT http_status, outcome FROM contractor_verify.verification_history ORDER BY id;
-- Unreadable on every attempt: an error after max_retries, nothing cached.
\set _ `test/simctl fault malformed_json count=10`
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '300001')$$);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{per_license,CA:300001}' AS calls_for_300001;
-- An oversized body fails at once (it would be just as large again).
\set _ `test/simctl reset`
ALTER SERVER cv_sim OPTIONS (ADD max_response_bytes '65536');
\set _ `test/simctl fault oversized bytes=1048576`
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '300002')$$);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,verify}' AS verify_calls;
SELECT count(*) AS cached FROM contractor_verify.license_cache WHERE license_number IN ('300001', '300002');

-- A wrong key: an error saying it was rejected, with no trace of the key.
\set _ `test/simctl reset`
CREATE SERVER cv_wrong_key FOREIGN DATA WRAPPER contractor_verify OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_wrong_key OPTIONS (api_key 'cv_live_SECRET_6d1f0a');
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052183', max_age => '0', server => 'cv_wrong_key')$$);
SELECT position('SECRET' IN concat_ws(' ', message, detail, hint)) AS key_shown
FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052183', max_age => '0', server => 'cv_wrong_key')$$);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)->>'unauthorized' AS rejected_calls;
SELECT (SELECT count(*) FROM contractor_verify.verification_history h WHERE h::text LIKE '%SECRET%')
     + (SELECT count(*) FROM contractor_verify.license_cache c WHERE c::text LIKE '%SECRET%') AS rows_with_key;

-- Nothing listening: retried, then an ERROR naming the host and the cause.
CREATE SERVER cv_nowhere FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url 'http://127.0.0.1:9/v1', max_retries '1', retry_base '10ms');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_nowhere OPTIONS (api_key 'k');
SELECT code, regexp_replace(message, ': .*', ': ...') AS message, hint
FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052183', server => 'cv_nowhere')$$);

-- timeout_ms bounds each call.
ALTER SERVER cv_sim OPTIONS (ADD timeout_ms '300', SET max_retries '1');
\set _ `test/simctl fault hang ms=3000 count=2`
SELECT code, regexp_replace(message, 'timed out .*', 'timed out ...') AS message
FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052183', max_age => '0')$$);

-- statement_timeout cancels a hanging request promptly; the backend stays usable.
ALTER SERVER cv_sim OPTIONS (SET timeout_ms '30000');
\set _ `test/simctl reset`
\set _ `test/simctl fault hang ms=20000`
SET statement_timeout = '500ms';
SELECT license_status FROM cv_verify('CA', '1052183', max_age => '0');
RESET statement_timeout;
SELECT license_status, from_cache FROM cv_verify('CA', '1052183', max_age => '0');

DROP SERVER cv_sim CASCADE;
DROP SERVER cv_wrong_key CASCADE;
DROP SERVER cv_nowhere CASCADE;
