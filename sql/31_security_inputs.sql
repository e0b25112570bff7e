-- Inputs that once were sent and billed, made a second cache row, or failed
-- after the API was paid: refused before any call, normalized, or accepted.
\i sql/include/setup.psql

CREATE SERVER cv_sim FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', calls_per_minute '1000', single_calls_per_minute '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_sim OPTIONS (api_key :'sim_key');
SET contractor_verify.server = 'cv_sim';

-- Control and format characters are refused, never sent (C1 NEL, zero-width
-- space, line and paragraph separators, byte-order mark, soft hyphen).
SELECT code, message FROM pg_temp.error_of($$SELECT cv_verify('CA', E'1052\u0085183')$$);
SELECT code, message FROM pg_temp.error_of($$SELECT cv_verify('CA', E'1052\u200B183')$$);
SELECT code, message FROM pg_temp.error_of($$SELECT cv_verify('CA', E'1052183\u2028')$$);
SELECT code, message FROM pg_temp.error_of($$SELECT cv_verify('CA', E'1052183\u2029')$$);
SELECT code, message FROM pg_temp.error_of($$SELECT cv_verify('CA', E'\uFEFF1052183')$$);
SELECT code, message FROM pg_temp.error_of($$SELECT cv_verify_by_name('WA', E'Acme\u200BRoofing')$$);
SELECT id, error_code, error_message FROM cv_verify_batch($$VALUES
    ('nel', 'CA', E'1052\u0085183'), ('zwsp', 'CA', E'1052\u200B183'), ('ls', 'CA', E'1052183\u2028')$$);
-- A name with no letters or digits, and JSON values that are not strings or
-- numbers, are refused too.
SELECT code, message FROM pg_temp.error_of($$SELECT cv_verify_by_name('WA', '(((...)))')$$);
SELECT id, error_code, error_message FROM cv_verify_batch('[
    {"id": "obj", "state": "CA", "license_number": {"x": [1, 2]}},
    {"id": "bool", "state": "CA", "license_number": true},
    {"id": "arr", "state": ["CA"], "license_number": "1052183"},
    {"id": 7, "state": "CA", "license_number": 1052190}]'::jsonb);
-- (the one call is the last row's, a valid one)
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls;

-- Full-width digits and letters are the same license (NFKC): one cache row,
-- one lookup.
SELECT license_number, from_cache FROM cv_verify('CA', '１０５２１８３');
SELECT license_number, from_cache FROM cv_verify('ＣＡ', '1052183');
SELECT id, license_number, from_cache FROM cv_verify_batch($$VALUES ('a', 'CA', '１０５２１８３'), ('b', 'ca', ' 1052183 ')$$);
SELECT count(*) AS cache_rows FROM contractor_verify.license_cache;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{per_license,CA:1052183}' AS lookups_of_1052183;

-- Caller ids: any id up to 10,000 bytes is echoed (an incompressible one
-- included); a longer one is an INVALID_INPUT row, decided before any call.
\set _ `test/simctl reset`
CREATE TEMP TABLE long_ids AS
SELECT n, string_agg(md5(n::text || g::text), '') AS id
FROM (VALUES (300), (320)) AS t(n), generate_series(1, n) AS g GROUP BY n;
SELECT length(l.id) AS id_length, r.id = l.id AS echoed, r.error_code, r.error_message
FROM long_ids l, LATERAL cv_verify_batch(format('SELECT %L, %L, %L', l.id, 'CA', '100123')) r
ORDER BY 1;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)->>'lookups' AS lookups;

-- An absurd max_age is a clear error, not an overflow inside the extension.
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052183', max_age => '178000000 years')$$);
SELECT * FROM pg_temp.error_of($$SELECT * FROM cv_verify_batch($q$VALUES ('a', 'CA', '1052183')$q$, max_age => '178000000 years')$$);
SELECT from_cache FROM cv_verify('CA', '1052183', max_age => '100 years');

DROP SERVER cv_sim CASCADE;
