#!/usr/bin/env bash
# The API key never appears in an error, a message at any level, the server
# log, EXPLAIN, or the extension's tables.
source "$(dirname "$0")/lib/e2e.sh"
trap 'drop_db cv_e2e_secret' EXIT
"$SIMCTL" reset
fresh_db cv_e2e_secret
SECRET="cv_live_e2e_$(date +%s)_NeverShowMe"

out=$(psql -X -d cv_e2e_secret 2>&1 <<SQL
SET log_min_error_statement = panic;  -- Postgres itself would log a failing statement's text
SET client_min_messages = debug5;
SET log_min_messages = debug5;
CREATE SERVER wrong FOREIGN DATA WRAPPER contractor_verify OPTIONS (url '$CV_SIM_URL', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER wrong OPTIONS (api_key '$SECRET');
SELECT cv_verify('CA', '1052183', server => 'wrong');
SELECT cv_verify_by_name('WA', 'Pacific Northwest Roofing LLC', server => 'wrong');
EXPLAIN (VERBOSE) SELECT * FROM cv_verify('CA', '1052183', server => 'wrong');
SELECT * FROM contractor_verify.verification_history;
SELECT * FROM contractor_verify.license_cache;
SQL
)
grep -q "rejected the API key" <<<"$out" || { echo "$out"; fail "no rejection error"; }
if grep -q "NeverShowMe" <<<"$out"; then echo "$out"; fail "the key reached the client"; fi
pass "key absent from client output ($(echo "$out" | wc -l) lines, debug5)"
if grep -q "NeverShowMe" "$CV_SERVER_LOG"; then fail "the key reached the server log"; fi
pass "key absent from the server log ($(wc -l <"$CV_SERVER_LOG") lines)"
rows=$(q cv_e2e_secret "SELECT (SELECT count(*) FROM contractor_verify.verification_history h WHERE h::text LIKE '%NeverShowMe%') + (SELECT count(*) FROM contractor_verify.license_cache c WHERE c::text LIKE '%NeverShowMe%')")
assert_eq "0" "$rows" "rows holding the key"
