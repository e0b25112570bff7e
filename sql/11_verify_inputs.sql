-- Bad input is rejected locally, with a clear error and hint, before any API
-- call (the simulator's counters prove no request was made).
\i sql/include/setup.psql

CREATE SERVER cv_sim FOREIGN DATA WRAPPER contractor_verify OPTIONS (url :'sim_url', single_calls_per_minute '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_sim OPTIONS (api_key :'sim_key');
SET contractor_verify.server = 'cv_sim';

SELECT * FROM pg_temp.error_of($$SELECT cv_verify(NULL, '1052183')$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', NULL)$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('', '1052183')$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('XX', '1052183')$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('PR', '1052183')$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('California', '1052183')$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '   ')$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', repeat('9', 65))$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', E'10521\n83')$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052183', max_age => '-1 hour')$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_verify_by_name('WA', NULL)$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_verify_by_name('WA', '  ')$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_verify_by_name('WA', repeat('x', 300))$$);
-- A statement over a table with a bad row fails on that row.
SELECT * FROM pg_temp.error_of($$
  SELECT count(*) FROM (VALUES ('CA', NULL::text)) AS t(st, lic), cv_verify(t.st, t.lic)$$);

-- A read-only transaction could not store the answer: refused before calling.
BEGIN TRANSACTION READ ONLY;
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052183')$$);
ROLLBACK;

\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls, (:'c'::jsonb)->>'lookups' AS lookups;
SELECT count(*) AS history_rows FROM contractor_verify.verification_history;

-- 64 characters is the longest accepted number; it reaches the API (which
-- says the format is wrong for CA).
SELECT error_code FROM cv_verify('CA', repeat('9', 64));
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,verify}' AS api_calls;

DROP SERVER cv_sim CASCADE;
