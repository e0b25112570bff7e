-- Joins to the foreign table are batched: the outer side runs first, its
-- distinct keys are looked up together (cache first, at most
-- ceil(misses / batch_size) calls), then each outer row meets its key's row.
\i sql/include/setup.psql
\set _ `test/simctl config rate_limit=0`

CREATE SERVER cv_fdw FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', calls_per_minute '1000', single_calls_per_minute '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_fdw OPTIONS (api_key :'sim_key');
CREATE SCHEMA cvft;
IMPORT FOREIGN SCHEMA contractor_verify FROM SERVER cv_fdw INTO cvft;

-- 300 application rows, 250 distinct licenses (50 rows share a license with another).
CREATE TABLE contractors (id text PRIMARY KEY, state text, license_no text);
INSERT INTO contractors
SELECT 'c' || lpad(i::text, 3, '0'), 'CA', (300000 + CASE WHEN i > 250 THEN i - 250 ELSE i END)::text
FROM generate_series(1, 300) AS i;
ANALYZE contractors;

-- 50 of them are in the cache already (one call; the keys are an InitPlan's array).
SELECT count(*) AS cached_now FROM cvft.licenses
WHERE state = 'CA' AND license_number = ANY (ARRAY(SELECT license_no FROM contractors WHERE id <= 'c050'));

-- The join: 200 distinct licenses the cache lacks, so at most 2 calls of 100.
\set _ `test/simctl reset`
EXPLAIN (COSTS OFF)
SELECT c.id, l.license_status, l.compliant
FROM contractors c JOIN cvft.licenses l ON (l.state, l.license_number) = (c.state, c.license_no);
CREATE TEMP TABLE run1 AS
SELECT c.id, c.license_no, l.license_number, l.license_status, l.error_code, l.from_cache, l.verified_at
FROM contractors c JOIN cvft.licenses l ON (l.state, l.license_number) = (c.state, c.license_no);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,batch}' AS batch_calls, (:'c'::jsonb)#>>'{calls,verify}' AS single_calls,
       (:'c'::jsonb)->>'lookups' AS lookups, (:'c'::jsonb)->'batch_sizes' AS batch_sizes,
       ((:'c'::jsonb)#>>'{calls,total}')::int <= ceil(200 / 100.0) AS within_ceil_misses_over_100;
SELECT count(*) AS rows, count(DISTINCT id) AS ids, bool_and(license_number = license_no) AS each_its_license,
       count(*) FILTER (WHERE from_cache) AS from_cache, count(*) FILTER (WHERE error_code IS NULL) > 250 AS mostly_verified
FROM run1;
-- Rows sharing a license share its answer.
SELECT count(*) AS pairs_that_differ FROM run1 a JOIN run1 b ON a.license_no = b.license_no AND a.id < b.id
WHERE (a.license_status, a.verified_at) IS DISTINCT FROM (b.license_status, b.verified_at);

-- The same join again: no call at all.
\set _ `test/simctl reset`
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT c.id, l.license_status
FROM contractors c JOIN cvft.licenses l ON (l.state, l.license_number) = (c.state, c.license_no);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls;

-- Past work_mem the outer rows wait in a temporary file.
SET work_mem = '64kB';
SELECT count(*) AS rows, count(DISTINCT (o.id, o.g)) AS distinct_rows,
       bool_and(l.license_number = o.license_no) AS each_its_license
FROM (SELECT c.*, g FROM contractors c CROSS JOIN generate_series(1, 20) AS g OFFSET 0) o
JOIN cvft.licenses l ON (l.state, l.license_number) = (o.state, o.license_no);
RESET work_mem;

-- A query that reads the foreign table gets no parallel workers, however
-- cheap they are made: its lookups cannot run in parallel mode.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT count(*) FROM contractors WHERE license_no LIKE '3%';
EXPLAIN (COSTS OFF)
SELECT count(*) FROM contractors c JOIN cvft.licenses l ON (l.state, l.license_number) = (c.state, c.license_no)
WHERE l.license_number = ANY (ARRAY(SELECT license_no FROM contractors WHERE id < 'c010'));
SELECT count(*) FROM contractors c JOIN cvft.licenses l ON (l.state, l.license_number) = (c.state, c.license_no)
WHERE l.license_number = ANY (ARRAY(SELECT license_no FROM contractors WHERE id < 'c010'));
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- The other quals of the foreign table and of the join are checked on the
-- joined rows; rows come out in the outer side's order.
SELECT c.id, l.license_number, l.compliant
FROM contractors c JOIN cvft.licenses l ON l.state = c.state AND l.license_number = c.license_no
WHERE l.compliant AND c.id <= 'c010' AND l.license_number <> '300002'
ORDER BY c.id;
EXPLAIN (COSTS OFF)
SELECT c.id FROM contractors c JOIN cvft.licenses l ON l.state = c.state AND l.license_number = c.license_no
WHERE l.compliant AND c.id <= 'c010' ORDER BY c.id;

-- LEFT JOIN: every outer row, with NULLs where no row matches (a NULL key, a
-- key not in the stored form); semi and anti joins (EXISTS, NOT EXISTS).
INSERT INTO contractors VALUES ('x01', 'CA', NULL), ('x02', 'ca', '300001'), ('x03', NULL, '300001'),
                               ('x04', 'CA', ' 300001'), ('x05', 'TX', '300001');
\set _ `test/simctl reset`
SELECT c.id, l.state, l.license_number, l.error_code
FROM contractors c LEFT JOIN cvft.licenses l ON (l.state, l.license_number) = (c.state, c.license_no)
WHERE c.id >= 'x' ORDER BY c.id;
SELECT count(*) AS rows, count(l.state) AS matched
FROM contractors c LEFT JOIN cvft.licenses l ON (l.state, l.license_number) = (c.state, c.license_no);
EXPLAIN (COSTS OFF)
SELECT count(*) FROM contractors c
WHERE EXISTS (SELECT FROM cvft.licenses l WHERE (l.state, l.license_number) = (c.state, c.license_no) AND l.compliant);
SELECT (SELECT count(*) FROM contractors c
        WHERE EXISTS (SELECT FROM cvft.licenses l
                      WHERE (l.state, l.license_number) = (c.state, c.license_no) AND l.compliant))
     + (SELECT count(*) FROM contractors c
        WHERE NOT EXISTS (SELECT FROM cvft.licenses l
                          WHERE (l.state, l.license_number) = (c.state, c.license_no) AND l.compliant)) AS all_rows,
       (SELECT count(*) FROM contractors) AS contractors;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->'per_license' AS looked_up;

-- IN (subquery): the subquery's distinct keys, joined.
EXPLAIN (COSTS OFF)
SELECT license_number FROM cvft.licenses
WHERE state = 'CA' AND license_number IN (SELECT license_no FROM contractors WHERE id LIKE 'c00_' OR id = 'c251');
SELECT license_number, license_status IS NOT NULL AS answered FROM cvft.licenses
WHERE state = 'CA' AND license_number IN (SELECT license_no FROM contractors WHERE id LIKE 'c00_' OR id = 'c251')
ORDER BY 1;

-- Reconciling in place is batched too: UPDATE ... FROM, DELETE ... USING and
-- SELECT ... FOR UPDATE keep a copy of each joined row (for a concurrent
-- update's recheck), which the batched join gives.
CREATE TABLE reconciled (id text PRIMARY KEY, state text, license_no text, status text);
INSERT INTO reconciled SELECT 'r' || lpad(i::text, 3, '0'), 'CA', (320000 + i)::text, NULL
FROM generate_series(1, 150) AS i;
ANALYZE reconciled;
\set _ `test/simctl reset`
EXPLAIN (COSTS OFF)
UPDATE reconciled r SET status = l.license_status
FROM cvft.licenses l WHERE (l.state, l.license_number) = (r.state, r.license_no);
UPDATE reconciled r SET status = l.license_status
FROM cvft.licenses l WHERE (l.state, l.license_number) = (r.state, r.license_no);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->>'lookups' AS lookups;
SELECT count(*) AS rows, count(status) AS with_status FROM reconciled;
SELECT r.id, l.license_number, row_to_json(l)->>'license_number' AS from_whole_row FROM reconciled r
JOIN cvft.licenses l ON (l.state, l.license_number) = (r.state, r.license_no)
WHERE r.id <= 'r003' ORDER BY r.id FOR UPDATE OF r;
SELECT j->>'license_number' AS license_number, j->>'state' AS state FROM (
  SELECT row_to_json(l) AS j FROM reconciled r LEFT JOIN cvft.licenses l ON (l.state, l.license_number) = (r.state, r.license_no)
  WHERE r.id IN ('r001', 'r002') ORDER BY r.id) s;
DELETE FROM reconciled r USING cvft.licenses l
WHERE (l.state, l.license_number) = (r.state, r.license_no) AND r.id > 'r100';
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, count(*) AS left_after_delete FROM reconciled;

-- A set-returning SQL function over the foreign table, inlined by the planner,
-- still keeps the query out of parallel mode.
CREATE FUNCTION pg_temp.license_of(st text, n text) RETURNS SETOF cvft.licenses
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT * FROM cvft.licenses WHERE state = st AND license_number = n $$;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT count(*) AS rows FROM reconciled r, LATERAL pg_temp.license_of(r.state, r.license_no) l;
SELECT count(*) AS rows FROM pg_temp.license_of('CA', '320001');
SET force_parallel_mode = on;
SELECT count(*) AS rows FROM pg_temp.license_of('CA', '320001');
-- A function that reads the table but says it is PARALLEL SAFE (it is not)
-- is refused in parallel mode, before anything is read or sent.
CREATE FUNCTION pg_temp.status_of(st text, n text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
  RETURN (SELECT license_status FROM cvft.licenses WHERE state = st AND license_number = n);
END $$;
\set VERBOSITY terse
SELECT pg_temp.status_of('CA', '320001');
\set VERBOSITY default
RESET force_parallel_mode;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE reconciled;

-- A join on business names: one name lookup per distinct normalized name.
CREATE TABLE applicants (id int, state text, company text);
INSERT INTO applicants VALUES (1, 'WA', 'Pacific Northwest Roofing LLC'), (2, 'CA', 'Pacific Electric Inc'),
                              (3, 'CA', 'PACIFIC ELECTRIC, INC.'), (4, 'CA', 'Nobody Here LLC');
\set _ `test/simctl reset`
SELECT a.id, l.lookup_name, l.license_number, l.error_code, jsonb_array_length(l.candidates) AS candidates
FROM applicants a JOIN cvft.licenses l ON l.state = a.state AND l.lookup_name = a.company ORDER BY a.id;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->>'lookups' AS lookups;

-- The budget covers the join: refused before anything is sent.
INSERT INTO contractors SELECT 'n' || i, 'CA', (310000 + i)::text FROM generate_series(1, 30) AS i;
\set _ `test/simctl reset`
SET contractor_verify.max_live_lookups = 20;
SELECT code, message FROM pg_temp.error_of($$SELECT count(*) FROM contractors c
  JOIN cvft.licenses l ON (l.state, l.license_number) = (c.state, c.license_no)$$);
RESET contractor_verify.max_live_lookups;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls;

-- Where a batched join cannot run (a LATERAL subquery that stops at the first
-- row), the scan takes its keys from parameters and looks them up per row.
\set _ `test/simctl reset`
EXPLAIN (COSTS OFF)
SELECT c.id, f.license_status FROM contractors c
CROSS JOIN LATERAL (SELECT l.license_status FROM cvft.licenses l
                    WHERE l.state = c.state AND l.license_number = c.license_no LIMIT 1) f
WHERE c.id LIKE 'n%';
SELECT count(*) AS rows FROM contractors c
CROSS JOIN LATERAL (SELECT l.license_status FROM cvft.licenses l
                    WHERE l.state = c.state AND l.license_number = c.license_no LIMIT 1) f
WHERE c.id IN ('n1', 'n2', 'n3');
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->>'lookups' AS lookups;
-- A name is never cached, yet a statement buys it once: rescanned per row
-- with the same name (in another form too), or read by a function called per
-- row, it is answered by the statement's first lookup of it.
\set _ `test/simctl reset`
SELECT a.id, f.lookup_name, f.license_number FROM applicants a
CROSS JOIN LATERAL (SELECT l.lookup_name, l.license_number FROM cvft.licenses l
                    WHERE l.state = a.state AND l.lookup_name = a.company LIMIT 1) f
WHERE a.id IN (2, 3) ORDER BY a.id;
CREATE FUNCTION pg_temp.number_of(st text, company text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN (SELECT license_number FROM cvft.licenses WHERE state = st AND lookup_name = company);
END $$;
SELECT id, pg_temp.number_of(state, company) FROM applicants, generate_series(1, 2) WHERE id IN (1, 2) ORDER BY id;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->'per_license' AS looked_up;

-- A join stopped early buys only what the rows it returned needed, in whole
-- calls: the cache answers every key first, then the misses are bought in
-- the outer rows' order, a call of 100 when a row needs one. LIMIT 1 over
-- 260 uncached rows buys one call; the full join then buys the other 160
-- (at most 2 calls), a rerun nothing.
CREATE TABLE newcomers (id int PRIMARY KEY, state text, license_no text);
INSERT INTO newcomers SELECT i, 'CA', (400000 + i)::text FROM generate_series(1, 260) AS i;
ANALYZE newcomers;
\set _ `test/simctl reset`
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT n.id, l.license_status FROM newcomers n
JOIN cvft.licenses l ON (l.state, l.license_number) = (n.state, n.license_no) LIMIT 1;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->>'lookups' AS lookups;
\set _ `test/simctl reset`
SELECT count(*) AS rows, bool_and(l.license_number = n.license_no) AS each_its_license,
       count(*) FILTER (WHERE l.error_code = 'NO_RESULT') AS unanswered,
       count(*) FILTER (WHERE l.from_cache) AS from_cache
FROM newcomers n JOIN cvft.licenses l ON (l.state, l.license_number) = (n.state, n.license_no);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->>'lookups' AS lookups,
       ((:'c'::jsonb)#>>'{calls,total}')::int <= ceil(160 / 100.0) AS within_ceil_rest_over_100;
\set _ `test/simctl reset`
SELECT count(*) AS rows FROM newcomers n
JOIN cvft.licenses l ON (l.state, l.license_number) = (n.state, n.license_no);
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls;
-- So does a scan of many keys: LIMIT 1 of 150 uncached licenses, one call.
\set _ `test/simctl reset`
SELECT license_number FROM cvft.licenses
WHERE state = 'CA' AND license_number = ANY (ARRAY(SELECT (500000 + i)::text FROM generate_series(1, 150) AS i))
LIMIT 1;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->>'lookups' AS lookups;

-- A cursor over the join is planned as the batched join too (it is charged
-- only its first round before its first row): 12 uncached licenses fetched
-- through a cursor, one call, not a call per row.
CREATE TABLE cursor_rows AS
SELECT i AS id, 'CA'::text AS state, (520000 + i)::text AS license_no FROM generate_series(1, 12) AS i;
ANALYZE cursor_rows;
\set _ `test/simctl reset`
BEGIN;
DECLARE joined CURSOR FOR
SELECT r.id, l.license_number FROM cursor_rows r
JOIN cvft.licenses l ON (l.state, l.license_number) = (r.state, r.license_no);
FETCH 3 FROM joined;
FETCH ALL FROM joined \g /dev/null
COMMIT;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->>'lookups' AS lookups;
DROP TABLE cursor_rows;

-- A name one scan leaves for a later round is not bought again when another
-- scan of the statement bought it meanwhile (here an InitPlan that runs at
-- the first row): with calls of one lookup, each name once.
CREATE SERVER cv_fdw_one FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', calls_per_minute '1000', single_calls_per_minute '1000', batch_size '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_fdw_one OPTIONS (api_key :'sim_key');
CREATE SCHEMA cvone;
IMPORT FOREIGN SCHEMA contractor_verify FROM SERVER cv_fdw_one INTO cvone;
\set _ `test/simctl reset`
SELECT f.lookup_name, f.error_code,
       (SELECT count(*) FROM cvone.licenses g WHERE g.state = 'CA' AND g.lookup_name = 'Round Two LLC') AS also_there
FROM cvone.licenses f WHERE f.state = 'CA' AND f.lookup_name IN ('Round One LLC', 'Round Two LLC')
ORDER BY 1;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)->>'lookups' AS lookups, (:'c'::jsonb)->'per_license' AS looked_up;
DROP SCHEMA cvone CASCADE;
DROP SERVER cv_fdw_one CASCADE;

DROP TABLE newcomers, contractors, applicants;
DROP SCHEMA cvft CASCADE;
DROP SERVER cv_fdw CASCADE;
