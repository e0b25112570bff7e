-- The extension loads, creates its foreign data wrapper, and validates every
-- option against the one option table.
\i sql/include/setup.psql

SELECT cv_version() ~ '^contractor_verify 0\.4\.0 \(libcurl/[0-9.]+' AS version_reports_libcurl;

SELECT fdwname, fdwhandler::regproc AS handler, fdwvalidator::regproc AS validator
FROM pg_foreign_data_wrapper WHERE fdwname = 'contractor_verify';

-- Unknown server option: the hint lists the valid ones.
CREATE SERVER bad FOREIGN DATA WRAPPER contractor_verify OPTIONS (urll 'http://x');
-- The API key belongs in a USER MAPPING only, and is never echoed.
CREATE SERVER bad FOREIGN DATA WRAPPER contractor_verify OPTIONS (api_key 'sk_live_do_not_print');
-- Wrong type or out of range, rejected at CREATE time.
CREATE SERVER bad FOREIGN DATA WRAPPER contractor_verify OPTIONS (batch_size '500');
CREATE SERVER bad FOREIGN DATA WRAPPER contractor_verify OPTIONS (timeout_ms 'soon');
CREATE SERVER bad FOREIGN DATA WRAPPER contractor_verify OPTIONS (cache_ttl 'forever');
CREATE SERVER bad FOREIGN DATA WRAPPER contractor_verify OPTIONS (url 'ftp://example.com');
CREATE SERVER bad FOREIGN DATA WRAPPER contractor_verify OPTIONS (calls_per_minute '1001');

SELECT pg_temp.sqlstate_of($$CREATE SERVER bad FOREIGN DATA WRAPPER contractor_verify OPTIONS (urll 'x')$$) AS unknown_option,
       pg_temp.sqlstate_of($$CREATE SERVER bad FOREIGN DATA WRAPPER contractor_verify OPTIONS (batch_size '500')$$) AS bad_value;

-- Valid options, with durations in any unit.
CREATE SERVER sim FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url :'sim_url', batch_size '50', cache_ttl '2h', cache_ttl_flagged '30min',
           cache_ttl_not_found '600', max_concurrent_calls '2', monthly_lookup_quota '5000');
ALTER SERVER sim OPTIONS (SET batch_size '0');
ALTER SERVER sim OPTIONS (ADD max_retries '2');
SELECT array_agg(o ORDER BY o) AS options FROM pg_foreign_server, unnest(srvoptions) o
WHERE srvname = 'sim' AND o NOT LIKE 'url=%';

-- User mappings take api_key only, and not an empty one.
CREATE USER MAPPING FOR CURRENT_USER SERVER sim OPTIONS (url 'http://x');
CREATE USER MAPPING FOR CURRENT_USER SERVER sim OPTIONS (api_key '');
CREATE USER MAPPING FOR CURRENT_USER SERVER sim OPTIONS (api_key 'cv_test_key');
SELECT count(*) AS mappings FROM pg_user_mappings WHERE srvname = 'sim';

-- The wrapper and foreign tables take no options.
ALTER FOREIGN DATA WRAPPER contractor_verify OPTIONS (ADD url 'http://x');
CREATE FOREIGN TABLE ft (a int) SERVER sim OPTIONS (state 'CA');

DROP SERVER sim CASCADE;

-- Settings from postgresql.conf reach the library at server start (the test
-- cluster sets 20).
SHOW contractor_verify.max_api_keys;
