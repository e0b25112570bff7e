-- ACTIVE and not expired as of today (a license that expired yesterday is not
-- compliant today, whatever the cache says). A standard SQL body: bound when
-- created, so no caller's search_path changes what it calls.
CREATE FUNCTION contractor_verify.is_compliant(license_status text, expiration_date date)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT COALESCE(license_status OPERATOR(pg_catalog.=) 'ACTIVE'
           AND (expiration_date IS NULL OR expiration_date OPERATOR(pg_catalog.>=) CURRENT_DATE), false);
END;

-- The canonical form of an API base URL, as the cache keys answers by it
-- (scheme and host in lower case, no default port, credentials, query or
-- trailing slash): WHERE api_url = contractor_verify.canonical_url('...').
CREATE FUNCTION contractor_verify.canonical_url(url text) RETURNS text
AS 'MODULE_PATHNAME', 'cv_canonical_url' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
