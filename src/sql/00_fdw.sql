-- The foreign data wrapper carries the configuration: SERVER options (url,
-- timeouts, cache TTLs, rate limits) and the API key in a USER MAPPING.
-- Every name in these scripts is schema-qualified: @extschema@ (the schema
-- given to CREATE EXTENSION), contractor_verify (the extension's data) or
-- pg_catalog.
\echo Use "CREATE EXTENSION contractor_verify" to load this file. \quit

-- The API's answers are UTF-8 and are kept as they came.
DO $$
BEGIN
    IF pg_catalog.getdatabaseencoding() OPERATOR(pg_catalog.<>) 'UTF8' THEN
        RAISE EXCEPTION 'contractor_verify needs a database in the UTF8 encoding, not %',
                        pg_catalog.getdatabaseencoding()
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Create the database WITH ENCODING ''UTF8'' (and a matching locale).';
    END IF;
END $$;

CREATE FUNCTION @extschema@.contractor_verify_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE FUNCTION @extschema@.contractor_verify_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER contractor_verify
  HANDLER @extschema@.contractor_verify_fdw_handler
  VALIDATOR @extschema@.contractor_verify_fdw_validator;

CREATE FUNCTION @extschema@.cv_version()
RETURNS text
AS 'MODULE_PATHNAME', 'cv_version' LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION @extschema@.cv_version() IS 'extension and libcurl versions';
