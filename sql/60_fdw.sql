-- The foreign table: licenses read by key. Quals on state and license_number
-- (or a business name) become one cache-first, deduplicated, batched set of
-- lookups; EXPLAIN says what a scan expects to spend, EXPLAIN ANALYZE what it
-- spent; the simulator's counters prove what was sent.
\i sql/include/setup.psql
\set _ `test/simctl config rate_limit=0`

CREATE SERVER cv_fdw FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', calls_per_minute '1000', single_calls_per_minute '1000', retry_base '10ms', max_retries '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_fdw OPTIONS (api_key :'sim_key');
CREATE SCHEMA cvft;

-- IMPORT FOREIGN SCHEMA creates "licenses": cv_result's columns and lookup_name.
IMPORT FOREIGN SCHEMA contractor_verify FROM SERVER cv_fdw INTO cvft;
SELECT attnum, attname, format_type(atttypid, atttypmod) AS type
FROM pg_attribute WHERE attrelid = 'cvft.licenses'::regclass AND attnum > 0 ORDER BY attnum;
SELECT (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
        WHERE attrelid = 'cvft.licenses'::regclass AND attnum > 0 AND attname <> 'lookup_name')
     = (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
        WHERE attrelid = 'cv_result'::regclass AND attnum > 0) AS same_columns_as_cv_result;
IMPORT FOREIGN SCHEMA contractor_verify LIMIT TO (nothing_else) FROM SERVER cv_fdw INTO cvft;
SELECT * FROM pg_temp.error_of($$IMPORT FOREIGN SCHEMA public FROM SERVER cv_fdw INTO cvft$$);
SELECT * FROM pg_temp.error_of($$IMPORT FOREIGN SCHEMA contractor_verify FROM SERVER cv_fdw INTO public OPTIONS (prefix 'x')$$);

-- One license: state = ... AND license_number = ...
\set _ `test/simctl reset`
EXPLAIN (COSTS OFF)
SELECT license_number, license_status FROM cvft.licenses WHERE state = 'CA' AND license_number = '1052183';
SELECT state, license_number, license_status, license_type, classifications, business_name,
       compliant, error_code, from_cache, lookup_name, id
FROM cvft.licenses WHERE state = 'CA' AND license_number = '1052183';
-- The second time the cache answers: expected in EXPLAIN, and no call.
EXPLAIN (COSTS OFF)
SELECT license_number, license_status FROM cvft.licenses WHERE state = 'CA' AND license_number = '1052183';
SELECT license_number, license_status, from_cache FROM cvft.licenses WHERE license_number = '1052183' AND state = 'CA';
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->>'lookups' AS lookups;

-- IN and = ANY with a state: one batch call for the licenses the cache lacks,
-- duplicates looked up once.
\set _ `test/simctl reset`
EXPLAIN (COSTS OFF)
SELECT license_number FROM cvft.licenses
WHERE state = 'CA' AND license_number IN ('1052183', '100001', '100002', '100002');
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT license_number FROM cvft.licenses
WHERE state = 'CA' AND license_number IN ('1052183', '100001', '100002', '100002');
SELECT license_number, from_cache FROM cvft.licenses
WHERE state = 'CA' AND license_number = ANY (ARRAY['100001', '100002', '100003']) ORDER BY 1;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,batch}' AS batch_calls, (:'c'::jsonb)->'batch_sizes' AS batch_sizes,
       (:'c'::jsonb)->>'lookups' AS lookups;

-- (state, license_number) pairs, and states crossed with numbers.
\set _ `test/simctl reset`
EXPLAIN (COSTS OFF)
SELECT state, license_number FROM cvft.licenses
WHERE (state, license_number) IN (('CA', '1052183'), ('TX', 'TACLA12345'), ('FL', 'CBC1234567'));
SELECT state, license_number, business_name FROM cvft.licenses
WHERE (state, license_number) IN (('CA', '1052183'), ('TX', 'TACLA12345'), ('FL', 'CBC1234567'))
ORDER BY state;
SELECT state, license_number, error_code FROM cvft.licenses
WHERE state IN ('CA', 'TX') AND license_number IN ('1052183', 'TACLA12345') ORDER BY state, license_number;
SELECT state, license_number FROM cvft.licenses
WHERE (state = 'CA' OR state = 'FL') AND license_number = '1052183' ORDER BY state;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,batch}' AS batch_calls, (:'c'::jsonb)->'batch_sizes' AS batch_sizes;

-- Every other qual is checked on the rows the keys select.
SELECT license_number, compliant FROM cvft.licenses
WHERE state = 'CA' AND license_number IN ('1052183', '100001', '100002', '100003') AND license_status = 'ACTIVE'
  AND NOT has_disciplinary_actions AND license_number LIKE '1052%';

-- A scan can feed cv_verify_batch's roster query.
SELECT id, license_number, from_cache FROM cv_verify_batch($$SELECT 'r' || license_number, state, license_number
  FROM cvft.licenses WHERE state = 'CA' AND license_number IN ('1052183', '100004')$$, server => 'cv_fdw') ORDER BY id;

-- Parameters: $1 of a prepared statement (a generic plan too), an array
-- parameter, an InitPlan's value, and a correlated subquery's (PARAM_EXEC).
\set _ `test/simctl reset`
PREPARE by_key(text, text) AS
  SELECT license_number, license_status, from_cache FROM cvft.licenses WHERE state = $1 AND license_number = $2;
EXECUTE by_key('CA', '1052183');
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE by_key('CA', '100010');
EXECUTE by_key('CA', '100010');
PREPARE by_keys(text[]) AS
  SELECT license_number, from_cache FROM cvft.licenses WHERE state = 'CA' AND license_number = ANY ($1) ORDER BY 1;
EXPLAIN (COSTS OFF) EXECUTE by_keys('{100010,100011}');
EXECUTE by_keys('{100010,100011}');
RESET plan_cache_mode;
CREATE TEMP TABLE wanted (state text, license_no text);
INSERT INTO wanted VALUES ('CA', '100011'), ('CA', '100012'), ('TX', 'TACLA12345');
EXPLAIN (COSTS OFF)
SELECT license_number, from_cache FROM cvft.licenses
WHERE state = 'CA' AND license_number = (SELECT max(license_no) FROM wanted WHERE state = 'CA');
SELECT license_number, from_cache FROM cvft.licenses
WHERE state = 'CA' AND license_number = (SELECT max(license_no) FROM wanted WHERE state = 'CA');
EXPLAIN (COSTS OFF)
SELECT w.license_no, (SELECT l.business_name FROM cvft.licenses l
                      WHERE l.state = w.state AND l.license_number = w.license_no) AS business_name
FROM wanted w;
SELECT w.license_no, (SELECT l.license_status IS NOT NULL FROM cvft.licenses l
                      WHERE l.state = w.state AND l.license_number = w.license_no) AS answered
FROM wanted w ORDER BY 1;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->>'lookups' AS lookups;

-- No keys, no scan: the API cannot list licenses. Refused before anything is
-- sent, with the columns to constrain.
\set _ `test/simctl reset`
SELECT * FROM pg_temp.error_of($$SELECT * FROM cvft.licenses$$);
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM cvft.licenses WHERE state = 'CA'$$);
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM cvft.licenses WHERE license_number = '1052183'$$);
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM cvft.licenses WHERE state = 'CA' AND license_number LIKE '105%'$$);
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM cvft.licenses WHERE state = 'CA' OR license_number = '1052183'$$);
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM cvft.licenses WHERE state = 'CA' AND license_number = md5(random()::text)$$);
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM cvft.licenses WHERE state = 'CA' AND upper(license_number) = '1052183'$$);
-- Equality under a nondeterministic collation is not the key's equality.
CREATE COLLATION pg_temp.case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM cvft.licenses WHERE state = 'CA' AND license_number = '1052183' COLLATE pg_temp.case_insensitive$$);
SELECT * FROM pg_temp.error_of($$EXPLAIN SELECT * FROM cvft.licenses WHERE state = 'CA'$$);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls;

-- Name lookups: state with lookup_name. Several matches give one
-- MULTIPLE_CANDIDATES row with the candidates; names that normalize alike
-- share one lookup, and each row shows the name as given.
\set _ `test/simctl reset`
EXPLAIN (COSTS OFF)
SELECT * FROM cvft.licenses WHERE state = 'WA' AND lookup_name = 'Pacific Northwest Roofing LLC';
SELECT state, lookup_name, license_number, error_code, error_message,
       jsonb_array_length(candidates) AS candidates, candidates->0->>'license_number' AS first_candidate
FROM cvft.licenses WHERE state = 'WA' AND lookup_name = 'Pacific Northwest Roofing LLC';
SELECT state, lookup_name, license_number, business_name, license_status, error_code
FROM cvft.licenses WHERE state = 'CA' AND lookup_name IN ('Pacific Electric Inc', 'PACIFIC ELECTRIC, INC.', 'Nobody Here LLC')
ORDER BY lookup_name;
-- By business_name: a name lookup whose rows are the licenses with exactly that name.
SELECT state, license_number, business_name FROM cvft.licenses
WHERE state = 'CA' AND business_name = 'Pacific Electric Inc';
SELECT count(*) AS rows FROM cvft.licenses WHERE state = 'CA' AND business_name = 'pacific electric inc';
\set c `test/simctl counters`
SELECT (:'c'::jsonb)->>'lookups' AS lookups, (:'c'::jsonb)->'per_license' AS looked_up;
-- An error for a name looked up by business_name is a row under that name,
-- never silently gone: a name the API does not know, a name that cannot be
-- looked up, and a call that failed for good (here in a batched join too).
SELECT state, business_name, lookup_name, license_number, error_code FROM cvft.licenses
WHERE state = 'CA' AND business_name IN ('Nobody Here LLC', '!!!') ORDER BY business_name;
\set _ `test/simctl fault http500 count=4 endpoint=batch`
SELECT state, business_name, license_number, error_code FROM cvft.licenses
WHERE state = 'CA' AND business_name = 'Pacific Electric Inc';
SELECT n.name, l.business_name, l.error_code
FROM (VALUES ('Pacific Electric Inc'), ('Nobody Here LLC')) AS n(name)
JOIN cvft.licenses l ON l.state = 'CA' AND l.business_name = n.name ORDER BY 1;

-- Per-record answers are rows, never a failed statement: NOT_FOUND,
-- INVALID_STATE_FORMAT, STATE_TIMEOUT, keys that cannot be looked up, and a
-- call that failed for good (CALL_FAILED, not cached).
\set _ `test/simctl reset`
\set _ `test/simctl license CA 7000001 outcome=NOT_FOUND`
\set _ `test/simctl license LA 80001 outcome=STATE_TIMEOUT`
SELECT state, license_number, license_status, error_code, needs_review,
       next_attempt_at BETWEEN now() + interval '4 hours' AND now() + interval '6 hours 1 minute' AS retry_in_4_to_6h
FROM cvft.licenses
WHERE (state, license_number) IN (('CA', '1052183'), ('CA', '7000001'), ('TX', '1052183'), ('LA', '80001'),
                                  ('ZZ', '1'), ('CA', ''))
ORDER BY state, license_number;
SELECT state, license_number = E'10\x01' AS as_given, error_code, error_message LIKE '%control character%' AS why
FROM cvft.licenses WHERE state = 'CA' AND license_number = E'10\x01';
-- Keys not in the stored form (the cache and the API use upper-case states
-- and normalized numbers) match no row and cost nothing.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM cvft.licenses WHERE state IN ('ca', 'CA') AND license_number IN (' 1052183', '1052183');
\set _ `test/simctl reset`
\set _ `test/simctl fault http500 count=2 endpoint=batch`
SELECT license_number, error_code, error_message LIKE '%500%' AS says_500, from_cache
FROM cvft.licenses WHERE state = 'CA' AND license_number IN ('100031', '100032') ORDER BY 1;
SELECT count(*) AS cached FROM contractor_verify.license_cache WHERE license_number IN ('100031', '100032');
SELECT license_number, error_code FROM cvft.licenses WHERE state = 'CA' AND license_number IN ('100031', '100032') ORDER BY 1;

-- The budget: a statement needing more live lookups than
-- contractor_verify.max_live_lookups is refused before anything is sent,
-- saying how many it needs. What the cache answers is free; 0 allows only that.
\set _ `test/simctl reset`
SET contractor_verify.max_live_lookups = 2;
SELECT code, message, hint FROM pg_temp.error_of($$SELECT * FROM cvft.licenses
  WHERE state = 'CA' AND license_number IN ('1052183', '100041', '100042', '100043')$$);
SELECT count(*) AS rows FROM cvft.licenses WHERE state = 'CA' AND license_number IN ('1052183', '100041', '100042');
SET contractor_verify.max_live_lookups = 0;
SELECT count(*) AS rows FROM cvft.licenses WHERE state = 'CA' AND license_number IN ('1052183', '100041', '100042');
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM cvft.licenses WHERE state = 'CA' AND license_number = '100044'$$);
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM cv_verify('CA', '100044', server => 'cv_fdw')$$);
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM cv_verify_batch($q$VALUES ('a', 'CA', '100044'), ('b', 'CA', '1052183')$q$, server => 'cv_fdw')$$);
RESET contractor_verify.max_live_lookups;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,batch}' AS batch_calls, (:'c'::jsonb)->'batch_sizes' AS batch_sizes;
-- The statement is the client's: a DO block (or procedure) that commits as
-- it goes spends from one budget.
\set _ `test/simctl reset`
SET contractor_verify.max_live_lookups = 3;
\set VERBOSITY terse
DO $$
BEGIN
  FOR i IN 1..3 LOOP
    PERFORM FROM cvft.licenses
    WHERE state = 'CA' AND license_number IN ((100070 + 2 * i)::text, (100071 + 2 * i)::text);
    COMMIT;
  END LOOP;
END $$;
\set VERBOSITY default
RESET contractor_verify.max_live_lookups;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)->>'lookups' AS lookups;
-- A cursor's query is one statement however it is fetched (FETCH, psql's
-- FETCH_COUNT, a driver's fetch size): a nested loop fetched a row at a time
-- is stopped at the limit too, not given a new budget by every FETCH.
\set _ `test/simctl reset`
SET contractor_verify.max_live_lookups = 3;
BEGIN;
DECLARE one_by_one CURSOR FOR
  SELECT n FROM generate_series(1, 6) n
  CROSS JOIN LATERAL (SELECT l.license_status FROM cvft.licenses l
                      WHERE l.state = 'CA' AND l.license_number = (100090 + n)::text LIMIT 1) x;
FETCH 2 FROM one_by_one;
\set VERBOSITY terse
FETCH 2 FROM one_by_one;
\set VERBOSITY default
ROLLBACK;
RESET contractor_verify.max_live_lookups;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)->>'lookups' AS lookups;

-- Read-only transactions answer from the cache; a key the cache cannot
-- answer is refused (25006) with a hint, before anything is sent.
\set _ `test/simctl reset`
BEGIN READ ONLY;
SELECT license_number, from_cache FROM cvft.licenses WHERE state = 'CA' AND license_number IN ('1052183', '100041');
SELECT * FROM pg_temp.error_of($$SELECT * FROM cvft.licenses WHERE state = 'CA' AND license_number IN ('1052183', '100051', '100052')$$);
COMMIT;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls;

-- A hand-written foreign table: any of the columns, in any order.
CREATE FOREIGN TABLE cvft.status_only (license_status text, license_number text, state text,
                                       expiration_date date, lookup_name text) SERVER cv_fdw;
SELECT state, license_number, license_status, lookup_name FROM cvft.status_only
WHERE state = 'CA' AND license_number = '1052183';
ALTER FOREIGN TABLE cvft.status_only DROP COLUMN expiration_date;
SELECT license_status FROM cvft.status_only WHERE state = 'CA' AND license_number = '1052183';
CREATE FOREIGN TABLE cvft.bad_name (state text, license_number text, colour text) SERVER cv_fdw;
SELECT * FROM pg_temp.error_of($$SELECT * FROM cvft.bad_name WHERE state = 'CA' AND license_number = '1'$$);
CREATE FOREIGN TABLE cvft.bad_type (state text, license_number varchar(20)) SERVER cv_fdw;
SELECT * FROM pg_temp.error_of($$SELECT * FROM cvft.bad_type WHERE state = 'CA' AND license_number = '1'$$);
CREATE FOREIGN TABLE cvft.no_keys (license_status text) SERVER cv_fdw;
SELECT * FROM pg_temp.error_of($$SELECT * FROM cvft.no_keys$$);
SELECT * FROM pg_temp.error_of($$CREATE FOREIGN TABLE cvft.opts (state text) SERVER cv_fdw OPTIONS (table_name 'x')$$);

-- A 429 waits Retry-After and goes on; EXPLAIN ANALYZE counts it. The API
-- key is in no plan.
\set _ `test/simctl reset`
\set _ `test/simctl fault http429 retry_after=1 count=1 endpoint=batch`
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE 'EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q;
END $$;
SELECT line FROM pg_temp.plan_of($$SELECT * FROM cvft.licenses WHERE state = 'CA' AND license_number IN ('100061', '100062')$$) AS line
WHERE line ~ '(Lookup|Cache|Calls|Rate|Live)';
SELECT count(*) AS plan_lines_with_the_key FROM pg_temp.plan_of($$SELECT * FROM cvft.licenses WHERE state = 'CA' AND license_number = '100061'$$) AS line
WHERE line LIKE '%' || :'sim_key' || '%';
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,batch}' AS batch_calls, (:'c'::jsonb)->>'rate_limited' AS got_429;

-- An error elsewhere in the query, once the scan has its rows, ends the
-- statement cleanly (in a subtransaction too), and a cursor may stop half way.
SELECT code, message FROM pg_temp.error_of($$SELECT license_number, 1 / (length(license_number) - 7) FROM cvft.licenses
  WHERE state = 'CA' AND license_number IN ('1052183', '100001')$$);
DO $$
BEGIN
  PERFORM 1 / 0 FROM cvft.licenses WHERE state = 'CA' AND license_number = '1052183';
EXCEPTION WHEN division_by_zero THEN
  PERFORM 1 FROM cvft.licenses WHERE state = 'CA' AND license_number = '1052183';
END $$;
BEGIN;
DECLARE half_way CURSOR FOR
  SELECT license_number FROM cvft.licenses WHERE state = 'CA' AND license_number IN ('1052183', '100001', '100002');
FETCH 1 FROM half_way;
CLOSE half_way;
COMMIT;
SELECT license_number FROM cvft.licenses WHERE state = 'CA' AND license_number = '1052183';

DROP SCHEMA cvft CASCADE;
DROP SERVER cv_fdw CASCADE;
