-- cv_verify: a verified lookup, normalization, the cache, the history, the
-- view, server selection and privileges.
\i sql/include/setup.psql

CREATE SERVER cv_sim FOREIGN DATA WRAPPER contractor_verify OPTIONS (url :'sim_url', single_calls_per_minute '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_sim OPTIONS (api_key :'sim_key');
SET contractor_verify.server = 'cv_sim';

-- Inputs are normalized: lower-case state, padded license number.
SELECT state, license_number, license_status, license_type, business_name,
       bond_amount_cents, has_disciplinary_actions, disciplinary_actions, compliant,
       error_code, from_cache, verified_at IS NOT NULL AS has_verified_at,
       expiration_date > current_date + 300 AS expires_later,
       record->>'data_source' AS extra_field_kept
FROM cv_verify('ca', '  1052183 ');

-- The second call is answered from the cache: no HTTP request.
SELECT license_status, from_cache FROM cv_verify('CA', '1052183');
\set c `test/simctl counters`
SELECT (:'c'::jsonb)#>>'{calls,verify}' AS verify_calls,
       (:'c'::jsonb)#>>'{per_license,CA:1052183}' AS lookups_of_1052183;

-- The cache row and its TTL (24h for a clean ACTIVE record).
SELECT state, license_number, outcome, license_status, expires_at - fetched_at AS ttl,
       needs_review
FROM contractor_verify.license_cache;

-- Every API observation is in the history, with the role and the payload.
SELECT role_name, server_name, request_kind, state, license_number, http_status, outcome,
       license_status, payload->>'business_name' AS payload_name
FROM contractor_verify.verification_history ORDER BY id;

-- The analysts' view computes compliance at query time.
SELECT state, license_number, compliant, compliance_reason, stale
FROM contractor_verify.licenses;

-- Status case variants and field-name variants normalize the same way: the
-- simulator varies them per license.
SELECT count(*) AS verified, count(DISTINCT license_status) <= 7 AS statuses_upper,
       bool_and(license_status = upper(license_status)) AS all_upper_case,
       bool_and(cardinality(classifications) >= 1) AS classifications_filled
FROM generate_series(300000, 300039) AS n, cv_verify('CA', n::text) AS r
WHERE r.error_code IS NULL;

-- The server can be named per call; an unknown one is a clear error.
SELECT license_status, from_cache FROM cv_verify('CA', '1052183', server => 'cv_sim');
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052183', server => 'nope')$$);
SET contractor_verify.server = 'nope';
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052183')$$);
RESET contractor_verify.server;
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052183')$$);
SET contractor_verify.server = 'cv_sim';

-- A role with no privilege on the extension's tables verifies through its own
-- user mapping, and is recorded as itself; it cannot write the tables directly.
CREATE ROLE regress_cv_analyst LOGIN;
GRANT USAGE ON FOREIGN SERVER cv_sim TO regress_cv_analyst;
SET ROLE regress_cv_analyst;
SELECT * FROM pg_temp.error_of($$SELECT cv_verify('CA', '1052184')$$);
RESET ROLE;
CREATE USER MAPPING FOR regress_cv_analyst SERVER cv_sim OPTIONS (api_key :'sim_key');
SET ROLE regress_cv_analyst;
SET contractor_verify.server = 'cv_sim';
SELECT license_number, error_code IS NULL OR error_code = 'NOT_FOUND' AS answered
FROM cv_verify('CA', '1052184');
SELECT pg_temp.sqlstate_of($$DELETE FROM contractor_verify.license_cache$$) AS delete_cache,
       pg_temp.sqlstate_of($$INSERT INTO contractor_verify.verification_history (observed_at, role_name, server_name, request_kind, state, outcome, api_url) VALUES (now(), 'x', 'x', 'x', 'CA', 'x', 'x')$$) AS write_history;
RESET ROLE;
SELECT role_name, license_number FROM contractor_verify.verification_history
WHERE license_number = '1052184';

-- The history is append-only.
SELECT * FROM pg_temp.error_of($$UPDATE contractor_verify.verification_history SET outcome = 'x'$$);
SELECT * FROM pg_temp.error_of($$DELETE FROM contractor_verify.verification_history$$);

DROP USER MAPPING FOR regress_cv_analyst SERVER cv_sim;
REVOKE USAGE ON FOREIGN SERVER cv_sim FROM regress_cv_analyst;
DROP ROLE regress_cv_analyst;
DROP SERVER cv_sim CASCADE;
