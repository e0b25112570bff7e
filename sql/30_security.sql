-- Safe in a shared database: a role that is not a superuser, with a schema of
-- its own first on its search_path, gains nothing through the extension. Its
-- shadowing functions, operators and types record who ran them; none may ever
-- run with another role's rights.
\i sql/include/setup.psql

CREATE SERVER cv_sim FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', calls_per_minute '1000', single_calls_per_minute '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_sim OPTIONS (api_key :'sim_key');

DROP ROLE IF EXISTS regress_cv_mallory;
CREATE ROLE regress_cv_mallory LOGIN;
GRANT USAGE ON FOREIGN SERVER cv_sim TO regress_cv_mallory;
CREATE USER MAPPING FOR regress_cv_mallory SERVER cv_sim OPTIONS (api_key :'sim_key');
CREATE SCHEMA regress_mallory AUTHORIZATION regress_cv_mallory;

SET ROLE regress_cv_mallory;
CREATE TABLE regress_mallory.marker (who name, superuser boolean, what text);
-- Runs as whoever calls it: notes the role, and tries to make mallory a superuser.
CREATE FUNCTION regress_mallory.note(what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO regress_mallory.marker
    SELECT current_user, r.rolsuper, what FROM pg_catalog.pg_roles r WHERE r.rolname = current_user;
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE regress_cv_mallory SUPERUSER';
    END IF;
END $$;
-- Functions the storage SQL of earlier versions called, shadowed.
CREATE FUNCTION regress_mallory.clock_timestamp() RETURNS timestamptz
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_mallory.note('clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
CREATE FUNCTION regress_mallory.now() RETURNS timestamptz
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_mallory.note('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION regress_mallory.to_timestamp(numeric) RETURNS timestamptz
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_mallory.note('to_timestamp'); RETURN pg_catalog.to_timestamp($1::float8); END $$;
CREATE FUNCTION regress_mallory.unnest(text[]) RETURNS SETOF text
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_mallory.note('unnest'); RETURN QUERY SELECT pg_catalog.unnest($1); END $$;
CREATE FUNCTION regress_mallory.jsonb_array_elements_text(jsonb) RETURNS SETOF text
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_mallory.note('jsonb_array_elements_text'); RETURN QUERY SELECT pg_catalog.jsonb_array_elements_text($1); END $$;
CREATE FUNCTION regress_mallory.date_trunc(text, timestamptz) RETURNS timestamptz
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_mallory.note('date_trunc'); RETURN pg_catalog.date_trunc($1, $2); END $$;
-- Operators on text, integers and timestamps.
CREATE FUNCTION regress_mallory.text_eq(text, text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_mallory.note('= text'); RETURN pg_catalog.texteq($1, $2); END $$;
CREATE OPERATOR regress_mallory.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_mallory.text_eq);
CREATE FUNCTION regress_mallory.int_gt(integer, integer) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_mallory.note('> int'); RETURN pg_catalog.int4gt($1, $2); END $$;
CREATE OPERATOR regress_mallory.> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = regress_mallory.int_gt);
CREATE FUNCTION regress_mallory.ts_ge(timestamptz, timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_mallory.note('>= timestamptz'); RETURN pg_catalog.timestamptz_ge($1, $2); END $$;
CREATE OPERATOR regress_mallory.>= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = regress_mallory.ts_ge);
-- Types and tables with the extension's names.
CREATE TYPE regress_mallory.cv_result AS (id integer);
CREATE TABLE regress_mallory.license_cache (state text, license_number text);
CREATE TABLE regress_mallory.verification_history (state text);

-- The roster query is mallory's own code: it swaps in temporary tables and
-- views with the names earlier versions used, and pg_temp functions.
CREATE FUNCTION regress_mallory.swap_roster() RETURNS TABLE (id text, state text, license_number text)
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMP VIEW cv_batch_roster AS SELECT regress_mallory.note('temp view')::text AS n;
    CREATE TEMP VIEW cv_batch_lookups AS SELECT regress_mallory.note('temp view')::text AS n;
    CREATE TEMP TABLE cv_batch_results (lookup_id bigint, result text);
    CREATE FUNCTION pg_temp.normalize_input(text, text, text) RETURNS text
        LANGUAGE sql AS 'SELECT regress_mallory.note(''pg_temp function'')::text';
    SET LOCAL search_path = pg_temp, regress_mallory, pg_catalog;
    RETURN QUERY VALUES ('m1', 'CA', '1052183'), ('m2', 'CA', '100777'), ('m3', 'CA', '100777');
END $$;

SET search_path = regress_mallory, pg_catalog, public;
SET contractor_verify.server = 'cv_sim';
-- The shadows are live: mallory's own unqualified calls reach them.
SELECT now() IS NOT NULL AS shadowed_now_ran, 'a'::text = 'a'::text AS shadowed_eq_ran;

-- Every entry point, with all of that in place.
SELECT license_number, license_status, from_cache FROM public.cv_verify('CA', '1052183');
SELECT license_number, license_status, from_cache FROM public.cv_verify('CA', '1052183');
SELECT error_code, jsonb_array_length(candidates) AS candidates
FROM public.cv_verify_by_name('WA', 'Pacific Northwest Roofing LLC');
SELECT id, license_number, license_status, error_code
FROM public.cv_verify_batch($$SELECT * FROM regress_mallory.swap_roster()$$) ORDER BY id;
SELECT id, license_number, error_code
FROM public.cv_verify_batch('[{"id": "j1", "state": "CA", "license_number": "100778"}, {"id": "j2", "state": "CA"}]'::jsonb);
SELECT count(*) >= 0 AS progress_readable FROM contractor_verify.batch_progress;
SELECT contractor_verify.canonical_url('HTTP://Example.COM:80/v1/') AS canonical;
SELECT pg_temp.sqlstate_of('DELETE FROM contractor_verify.license_cache') AS delete_cache;

-- Mallory's swapped-in temporary objects go with her.
DROP VIEW pg_temp.cv_batch_roster, pg_temp.cv_batch_lookups;
DROP TABLE pg_temp.cv_batch_results;
DROP FUNCTION pg_temp.normalize_input(text, text, text);
RESET search_path;
RESET ROLE;
-- Mallory's shadows and swaps ran (as mallory); nothing of mallory's ran as
-- anyone else, and mallory is no superuser.
SELECT what, count(*) > 0 AS ran FROM regress_mallory.marker
WHERE who = 'regress_cv_mallory' AND NOT superuser GROUP BY what ORDER BY what;
SELECT count(*) AS ran_as_someone_else FROM regress_mallory.marker
WHERE who <> 'regress_cv_mallory' OR superuser;
SELECT rolsuper AS mallory_is_superuser FROM pg_roles WHERE rolname = 'regress_cv_mallory';
-- The answers landed in the extension's tables, not in mallory's look-alikes.
SELECT count(*) AS lookalike_rows FROM regress_mallory.license_cache;
SELECT state, license_number, outcome FROM contractor_verify.license_cache ORDER BY 1, 2;

-- A server without USAGE cannot be used, even through a PUBLIC user mapping:
-- refused before anything is sent.
\set _ `test/simctl reset`
CREATE SERVER cv_locked FOREIGN DATA WRAPPER contractor_verify OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR PUBLIC SERVER cv_locked OPTIONS (api_key :'sim_key');
SET ROLE regress_cv_mallory;
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052183', max_age => '0', server => 'cv_locked')$$);
SELECT * FROM pg_temp.error_of($$SELECT cv_verify_by_name('WA', 'Acme', server => 'cv_locked')$$);
SELECT * FROM pg_temp.error_of($$SELECT * FROM cv_verify_batch($q$VALUES ('a', 'CA', '1052183')$q$, server => 'cv_locked')$$);
RESET ROLE;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls;
-- With USAGE granted, the PUBLIC mapping serves (GetUserMapping's fallback).
GRANT USAGE ON FOREIGN SERVER cv_locked TO regress_cv_mallory;
SET ROLE regress_cv_mallory;
SELECT license_status, from_cache FROM cv_verify('CA', '1052183', server => 'cv_locked');
RESET ROLE;

-- The cache trusts only the API an answer came from. A server at another URL
-- (here the same simulator reached as "localhost") gets its own answers and
-- never feeds lookups through cv_sim; a second server for the same API (URL
-- written differently, another mapping) shares cv_sim's.
\set other_url `echo "$CV_SIM_URL" | sed 's/127.0.0.1/localhost/'`
CREATE SERVER cv_elsewhere FOREIGN DATA WRAPPER contractor_verify OPTIONS (url :'other_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_elsewhere OPTIONS (api_key :'sim_key');
SELECT :'sim_url' || '/' AS same_api_url \gset
CREATE SERVER cv_same_api FOREIGN DATA WRAPPER contractor_verify OPTIONS (url :'same_api_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_same_api OPTIONS (api_key :'sim_key');
\set _ `test/simctl reset`
SELECT from_cache FROM cv_verify('CA', '100900', server => 'cv_elsewhere');
SELECT from_cache FROM cv_verify('CA', '100900', server => 'cv_sim');
SELECT from_cache FROM cv_verify('CA', '100900', server => 'cv_same_api');
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{per_license,CA:100900}' AS lookups_of_100900;
SELECT count(*) AS cache_rows, count(DISTINCT api_url) AS apis
FROM contractor_verify.license_cache WHERE license_number = '100900';
SELECT count(*) AS rows_for_cv_sim FROM contractor_verify.license_cache
WHERE license_number = '100900' AND api_url = contractor_verify.canonical_url(:'sim_url');

DROP SERVER cv_elsewhere, cv_same_api, cv_locked CASCADE;
DROP SCHEMA regress_mallory CASCADE;
DROP USER MAPPING FOR regress_cv_mallory SERVER cv_sim;
DROP SERVER cv_sim CASCADE;
DROP ROLE regress_cv_mallory;
