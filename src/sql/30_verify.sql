-- Single lookups.

CREATE FUNCTION @extschema@.cv_verify(state text, license_number text,
                                      max_age interval DEFAULT NULL, server name DEFAULT NULL)
RETURNS @extschema@.cv_result
AS 'MODULE_PATHNAME', 'cv_verify' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_verify(text, text, interval, name) IS
    'verify one license: from the cache when fresh (max_age asks for fresher; 0 always calls), else GET /verify';

CREATE FUNCTION @extschema@.cv_verify_by_name(state text, name text, server name DEFAULT NULL)
RETURNS @extschema@.cv_result
AS 'MODULE_PATHNAME', 'cv_verify_by_name' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cv_verify_by_name(text, text, name) IS
    'look a license up by business name; several matches give MULTIPLE_CANDIDATES with the candidates';
