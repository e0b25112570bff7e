-- cv_verify_batch: one result row per input row, deduplicated, cache first,
-- chunked to batch_size; the simulator's counters prove what was sent.
\i sql/include/setup.psql
\set _ `test/simctl config rate_limit=0`

CREATE SERVER cv_sim FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', calls_per_minute '1000', single_calls_per_minute '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_sim OPTIONS (api_key :'sim_key');
SET contractor_verify.server = 'cv_sim';

-- 250 contractors, 50 of them sharing a license with another (50 duplicate pairs).
CREATE TEMP TABLE contractors AS
SELECT 'c' || lpad(i::text, 3, '0') AS id, 'CA' AS state,
       (100000 + CASE WHEN i > 200 THEN i - 200 ELSE i END)::text AS license_no
FROM generate_series(1, 250) AS i;

CREATE TEMP TABLE run1 AS
SELECT * FROM cv_verify_batch($$SELECT id, state, license_no FROM contractors$$);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,batch}' AS batch_calls, (:'c'::jsonb)->>'lookups' AS lookups,
       (:'c'::jsonb)->'batch_sizes' AS batch_sizes;
-- Exactly one row per input row, each with its own id; duplicates share the answer.
SELECT count(*) AS rows, count(DISTINCT id) AS ids, count(DISTINCT license_number) AS licenses,
       bool_and(r.license_number = c.license_no) AS every_row_its_license,
       count(*) FILTER (WHERE r.error_code IS NULL) > 200 AS mostly_verified,
       bool_or(from_cache) AS any_from_cache
FROM run1 r JOIN contractors c USING (id);
SELECT count(*) AS pairs_that_differ
FROM run1 a JOIN run1 b ON a.license_number = b.license_number AND a.id < b.id
WHERE (a.license_status, a.business_name, a.verified_at) IS DISTINCT FROM (b.license_status, b.business_name, b.verified_at);
SELECT count(*) AS cached, count(*) FILTER (WHERE outcome = 'VERIFIED') AS verified
FROM contractor_verify.license_cache;
SELECT request_kind, count(*), count(DISTINCT batch_id) AS api_batches, bool_and(billable) AS billable
FROM contractor_verify.verification_history GROUP BY request_kind;

-- The second run costs nothing: every row comes from the cache.
\set _ `test/simctl reset`
SELECT count(*) AS rows, bool_and(from_cache) AS all_from_cache
FROM cv_verify_batch($$SELECT id, state, license_no FROM contractors$$);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls;

-- max_age => 0 asks for fresh data: 200 lookups again, in chunks of batch_size,
-- up to max_concurrent_calls (4) in flight at once.
ALTER SERVER cv_sim OPTIONS (ADD batch_size '40');
\set _ `test/simctl config latency_ms=300`
SELECT count(*) AS rows, bool_or(from_cache) AS any_from_cache
FROM cv_verify_batch($$SELECT id, state, license_no FROM contractors$$, max_age => '0');
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,batch}' AS batch_calls, (:'c'::jsonb)->>'lookups' AS lookups,
       (:'c'::jsonb)->>'max_in_flight' AS max_in_flight;
ALTER SERVER cv_sim OPTIONS (DROP batch_size);
\set _ `test/simctl config latency_ms=0`

-- Name lookups deduplicate on the normalized name; the answer reaches every row.
\set _ `test/simctl reset`
SELECT id, state, license_number, error_code, jsonb_array_length(candidates) AS candidates
FROM cv_verify_batch($$VALUES
    ('n1', 'WA', NULL, 'Pacific Northwest Roofing LLC'),
    ('n2', 'wa', '', 'PACIFIC NORTHWEST ROOFING, L.L.C.'),
    ('n3', 'WA', NULL, 'Pacific Northwest Roofing (2)'),
    ('n4', 'CA', NULL, 'Pacific Electric, Inc.'),
    ('n5', 'CA', NULL, 'pacific electric inc'),
    ('n6', 'CA', '1052183', 'Pacific Electric Inc')$$);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)->>'lookups' AS lookups, (:'c'::jsonb)->'per_license' AS looked_up;

-- The JSON form, with bad rows answered as error rows, never dropped, and no call for them.
\set _ `test/simctl reset`
SELECT id, state, license_number, license_status, error_code, error_message, from_cache
FROM cv_verify_batch('[
  {"id": "j1", "state": "CA", "license_number": "1052183"},
  {"id": 2, "state": "ca", "license_number": 1052183},
  {"id": "j3", "state": "ZZ", "license_number": "1"},
  {"id": "j4", "state": "CA"},
  {"id": "j5", "license_number": "1052183"},
  {"id": "j6", "state": "CA", "license_number": "12345678901234567890123456789012345678901234567890123456789012345"},
  "not an object",
  {"id": "j8", "state": "TX", "license_number": "1052183"}
]'::jsonb);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->>'lookups' AS lookups;

-- STATE_TIMEOUT in a batch: an error row with the next attempt scheduled.
\set _ `test/simctl license LA 80001 outcome=STATE_TIMEOUT`
SELECT id, error_code, needs_review,
       next_attempt_at BETWEEN now() + interval '4 hours' AND now() + interval '6 hours 1 minute' AS retry_in_4_to_6h
FROM cv_verify_batch($$VALUES ('t1', 'LA', '80001'), ('t2', 'LA', '80001')$$);
SELECT consecutive_timeouts FROM contractor_verify.license_cache WHERE license_number = '80001';

-- Empty rosters and bad arguments.
SELECT count(*) AS rows FROM cv_verify_batch($$SELECT 'x', 'CA', 'y' WHERE false$$);
SELECT count(*) AS rows FROM cv_verify_batch('[]'::jsonb);
SELECT * FROM pg_temp.error_of($$SELECT * FROM cv_verify_batch('{"id": 1}'::jsonb)$$);
SELECT * FROM pg_temp.error_of($$SELECT * FROM cv_verify_batch($q$SELECT 1, 2$q$)$$);
SELECT * FROM pg_temp.error_of($$SELECT * FROM cv_verify_batch('  ;  ')$$);
SELECT * FROM pg_temp.error_of($$SELECT * FROM cv_verify_batch(NULL::text)$$);
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM cv_verify_batch('SELECT FROM nowhere_at_all')$$);
SELECT * FROM pg_temp.error_of($$SELECT * FROM cv_verify_batch($q$SELECT id, state, license_no FROM contractors$q$, max_age => '-1 day')$$);
-- The roster query runs with the caller's privileges, not the extension's.
CREATE ROLE regress_cv_batch_user LOGIN;
GRANT USAGE ON FOREIGN SERVER cv_sim TO regress_cv_batch_user;
CREATE USER MAPPING FOR regress_cv_batch_user SERVER cv_sim OPTIONS (api_key :'sim_key');
CREATE TABLE private_roster AS SELECT 'p1' AS id, 'CA' AS state, '1052183' AS license_no;
SET ROLE regress_cv_batch_user;
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM cv_verify_batch('SELECT * FROM private_roster')$$);
SELECT id, license_status, from_cache FROM cv_verify_batch($$VALUES ('u1', 'CA', '1052183')$$);
RESET ROLE;
DROP TABLE private_roster;
DROP USER MAPPING FOR regress_cv_batch_user SERVER cv_sim;
REVOKE USAGE ON FOREIGN SERVER cv_sim FROM regress_cv_batch_user;
DROP ROLE regress_cv_batch_user;

-- Nothing is left behind, and no batch shows as running.
SELECT count(*) AS temp_tables FROM pg_class WHERE relname LIKE 'cv_batch_%' AND relpersistence = 't';
SELECT count(*) AS running FROM contractor_verify.batch_progress;

DROP SERVER cv_sim CASCADE;
