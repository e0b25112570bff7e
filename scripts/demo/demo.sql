-- The demo, run by scripts/demo.sh against a throwaway cluster and the
-- ContractorVerify simulator on loopback.
\pset footer off
\set QUIET on
\echo
\echo '=== 1. Install and configure (the postgres_fdw way: a server and a user mapping)'
CREATE EXTENSION contractor_verify;
CREATE SERVER contractor_verify FOREIGN DATA WRAPPER contractor_verify OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER contractor_verify OPTIONS (api_key :'sim_key');
SELECT cv_version();

\echo
\echo '=== 2. Single lookups: a verified license, per-record errors as rows, a name lookup'
SELECT state, license_number, license_status, business_name, expiration_date, compliant,
       error_code, from_cache
FROM (VALUES ('CA', '1052183'), ('ca', ' 2345678 '), ('TX', '1052183'), ('NV', '77001')) AS v(st, lic),
     cv_verify(v.st, v.lic);
SELECT state, error_code, jsonb_array_length(candidates) AS candidates
FROM cv_verify_by_name('WA', 'Pacific Northwest Roofing LLC');

\echo
\echo '=== 3. The second time, the cache answers: no API call'
SELECT license_number, license_status, from_cache FROM cv_verify('CA', '1052183');
\set counters `curl -sf "$CV_SIM_CONTROL/counters"`
SELECT (:'counters'::jsonb)#>>'{calls,verify}' AS api_calls_made,
       (SELECT count(*) FROM contractor_verify.verification_history) AS history_rows;

\echo
\echo '=== 4. What analysts query: contractor_verify.licenses'
SELECT state, license_number, license_status, compliant, compliance_reason,
       days_to_expiration, needs_review
FROM contractor_verify.licenses ORDER BY state, license_number;
