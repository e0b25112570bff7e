-- The foreign table in a shared database: a role that is not a superuser,
-- with a schema of its own ahead of pg_catalog on its search_path, gains
-- nothing through it. Its look-alike types and operators never reach the
-- wrapper's own work, nothing of its runs with another role's rights, and a
-- key is spent only by a role with USAGE on the server and a user mapping.
\i sql/include/setup.psql
\set _ `test/simctl config rate_limit=0`

CREATE SERVER cv_fdw FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', calls_per_minute '1000', single_calls_per_minute '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_fdw OPTIONS (api_key :'sim_key');
DROP ROLE IF EXISTS regress_cv_eve;
CREATE ROLE regress_cv_eve LOGIN;
GRANT USAGE ON FOREIGN SERVER cv_fdw TO regress_cv_eve;
CREATE USER MAPPING FOR regress_cv_eve SERVER cv_fdw OPTIONS (api_key :'sim_key');
CREATE SCHEMA regress_eve AUTHORIZATION regress_cv_eve;

SET ROLE regress_cv_eve;
CREATE TABLE regress_eve.marker (who name, superuser boolean, what text);
CREATE FUNCTION regress_eve.note(what text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO regress_eve.marker
    SELECT current_user, r.rolsuper, what FROM pg_catalog.pg_roles r WHERE r.rolname = current_user;
    RETURN true;
END $$;
-- Look-alikes of the types the foreign table's columns have, of text
-- equality, and of functions.
CREATE DOMAIN regress_eve.text AS integer;
CREATE DOMAIN regress_eve.date AS integer;
CREATE TYPE regress_eve.jsonb AS (x integer);
CREATE FUNCTION regress_eve.text_eq(pg_catalog.text, pg_catalog.text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_eve.note('= text'); RETURN pg_catalog.texteq($1, $2); END $$;
CREATE OPERATOR regress_eve.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text,
                               FUNCTION = regress_eve.text_eq);
CREATE FUNCTION regress_eve.upper(pg_catalog.text) RETURNS pg_catalog.text
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_eve.note('upper'); RETURN pg_catalog.upper($1); END $$;
CREATE FUNCTION regress_eve.now() RETURNS timestamptz
LANGUAGE plpgsql AS $$ BEGIN PERFORM regress_eve.note('now'); RETURN pg_catalog.now(); END $$;
SET search_path = regress_eve, pg_catalog, public;

-- IMPORT FOREIGN SCHEMA runs as eve, with her search_path: the columns still
-- get the built-in types.
IMPORT FOREIGN SCHEMA contractor_verify FROM SERVER cv_fdw INTO regress_eve;
SELECT count(*) AS columns,
       count(*) FILTER (WHERE t.typnamespace = 'pg_catalog'::pg_catalog.regnamespace) AS of_built_in_types
FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = 'regress_eve.licenses'::pg_catalog.regclass AND a.attnum OPERATOR(pg_catalog.>) 0;

-- Her "=" is her own code: a qual written with it is not a key, so the scan
-- is refused before anything is sent.
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM regress_eve.licenses WHERE state = 'CA' AND license_number = '1052183'$$);
-- The built-in equality is a key.
SELECT license_number, license_status, error_code FROM regress_eve.licenses
WHERE state OPERATOR(pg_catalog.=) 'CA' AND license_number OPERATOR(pg_catalog.=) '1052183';
SELECT c.n, l.license_status IS NOT NULL AS answered
FROM (VALUES ('100101'::pg_catalog.text), ('100102')) AS c(n)
JOIN regress_eve.licenses l
  ON l.state OPERATOR(pg_catalog.=) 'CA' AND l.license_number OPERATOR(pg_catalog.=) c.n
ORDER BY 1;
SELECT count(*) AS rows FROM regress_eve.licenses
WHERE state OPERATOR(pg_catalog.=) 'CA' AND license_number OPERATOR(pg_catalog.=) '1052183'
  AND regress_eve.note('her filter') AND verified_at < regress_eve.now();
RESET search_path;
RESET ROLE;

-- Eve's code ran, and only as eve; eve is no superuser.
SELECT what, count(*) > 0 AS ran FROM regress_eve.marker
WHERE who = 'regress_cv_eve' AND NOT superuser GROUP BY what ORDER BY what;
SELECT count(*) AS ran_as_someone_else FROM regress_eve.marker WHERE who <> 'regress_cv_eve' OR superuser;
SELECT rolsuper AS eve_is_superuser FROM pg_roles WHERE rolname = 'regress_cv_eve';
\set c `test/simctl counters`
SELECT (:'c'::jsonb)->'per_license' AS looked_up;

-- Whose key: a scan uses the foreign table's server with the querying role's
-- USAGE and user mapping (through a view, its owner's, as postgres_fdw does).
-- Without USAGE: 42501 before anything is sent, even with a PUBLIC mapping.
\set _ `test/simctl reset`
CREATE SERVER cv_owner_only FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', calls_per_minute '1000', single_calls_per_minute '1000');
CREATE USER MAPPING FOR PUBLIC SERVER cv_owner_only OPTIONS (api_key :'sim_key');
CREATE SCHEMA regress_owner;
IMPORT FOREIGN SCHEMA contractor_verify FROM SERVER cv_owner_only INTO regress_owner;
GRANT USAGE ON SCHEMA regress_owner TO regress_cv_eve;
GRANT SELECT ON regress_owner.licenses TO regress_cv_eve;
CREATE VIEW regress_owner.compliance AS
SELECT state, license_number, compliant FROM regress_owner.licenses;
GRANT SELECT ON regress_owner.compliance TO regress_cv_eve;
SET ROLE regress_cv_eve;
SELECT * FROM pg_temp.error_of($$SELECT * FROM regress_owner.licenses WHERE state = 'CA' AND license_number = '1052183'$$);
SELECT state, license_number, compliant FROM regress_owner.compliance
WHERE state = 'CA' AND license_number = '1052183';
-- EXPLAIN needs no USAGE, and then says nothing of what the cache holds.
EXPLAIN (COSTS OFF) SELECT * FROM regress_owner.licenses WHERE state = 'CA' AND license_number = '1052183';
RESET ROLE;
EXPLAIN (COSTS OFF) SELECT * FROM regress_owner.licenses WHERE state = 'CA' AND license_number = '1052183';
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,total}' AS api_calls;

-- A view's quals on the keys bound what its readers look up with its owner's
-- key: keys they add, a join to their own table, or a nested loop's
-- parameters look up only licenses that the view's quals on state and
-- license_number admit (here the pairs, or CA and NV numbers starting 1002).
\set _ `test/simctl reset`
CREATE VIEW regress_owner.two_licenses AS
SELECT state, license_number, license_status FROM regress_owner.licenses
WHERE (state, license_number) IN (('CA', '100201'), ('CA', '100202'));
CREATE VIEW regress_owner.numbered AS
SELECT state, license_number, license_status FROM regress_owner.licenses
WHERE state = ANY ('{CA,NV}') AND license_number LIKE '1002%';
CREATE VIEW regress_owner.numbers_only AS
SELECT state, license_number, lookup_name, license_status FROM regress_owner.licenses
WHERE state = 'CA' AND license_number LIKE '1002%' AND lookup_name IS NULL;
GRANT SELECT ON regress_owner.two_licenses, regress_owner.numbered, regress_owner.numbers_only TO regress_cv_eve;
SET ROLE regress_cv_eve;
CREATE TABLE regress_eve.wanted (state text, n text);
INSERT INTO regress_eve.wanted VALUES ('CA', '100201'), ('CA', '100299'), ('CA', '100301'), ('TX', '100203');
SELECT license_number FROM regress_owner.two_licenses
WHERE state = 'CA' AND license_number IN ('100201', '100301', '100302');
SELECT license_number FROM regress_owner.numbered WHERE state = 'CA' AND license_number = ANY ('{100204,100303}');
SELECT w.state, w.n, v.license_status IS NOT NULL AS answered
FROM regress_eve.wanted w JOIN regress_owner.numbered v ON (v.state, v.license_number) = (w.state, w.n)
ORDER BY 1, 2;
SELECT w.n FROM regress_eve.wanted w
CROSS JOIN LATERAL (SELECT v.license_status FROM regress_owner.two_licenses v
                    WHERE v.state = w.state AND v.license_number = w.n LIMIT 1) x
ORDER BY 1;
-- A name's license number is known only once it is answered: a view that
-- says lookup_name IS NULL allows no name lookup.
SELECT license_number FROM regress_owner.numbers_only
WHERE state = 'CA' AND (license_number = '100205' OR lookup_name = 'Pacific Electric Inc');
RESET ROLE;
\set c `test/simctl counters`
SELECT (:'c'::jsonb)->'per_license' AS looked_up, (:'c'::jsonb)->>'lookups' AS lookups;
-- A role with USAGE and no user mapping of its own or PUBLIC's: 42704.
CREATE SERVER cv_unmapped FOREIGN DATA WRAPPER contractor_verify OPTIONS (url :'sim_url');
GRANT USAGE ON FOREIGN SERVER cv_unmapped TO regress_cv_eve;
CREATE FOREIGN TABLE regress_eve.unmapped (state text, license_number text, license_status text) SERVER cv_unmapped;
ALTER FOREIGN TABLE regress_eve.unmapped OWNER TO regress_cv_eve;
SET ROLE regress_cv_eve;
SELECT code, message FROM pg_temp.error_of($$SELECT * FROM regress_eve.unmapped WHERE state = 'CA' AND license_number = '1052183'$$);
RESET ROLE;

DROP SCHEMA regress_owner CASCADE;
DROP SCHEMA regress_eve CASCADE;
DROP SERVER cv_owner_only, cv_unmapped CASCADE;
DROP USER MAPPING FOR regress_cv_eve SERVER cv_fdw;
DROP SERVER cv_fdw CASCADE;
DROP ROLE regress_cv_eve;
