-- The demo, run by scripts/demo.sh against a throwaway cluster and the simulator.
\pset footer off
\echo '--- the extension loads'
CREATE EXTENSION contractor_verify;
SELECT cv_version();

\echo '--- configuration, the postgres_fdw way: a server and a user mapping'
CREATE SERVER contractor_verify FOREIGN DATA WRAPPER contractor_verify OPTIONS (url :'sim_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER contractor_verify OPTIONS (api_key :'sim_key');
SELECT srvname, array_to_string(srvoptions, ', ') AS options FROM pg_foreign_server;
