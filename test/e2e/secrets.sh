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

# An API that quotes the caller's key back in every error message and in a
# detail: answers are kept, the key is not (cache, history, results, foreign table).
"$SIMCTL" reset
logpos=$(wc -c <"$CV_SERVER_LOG")
for n in 8100001 8100002 8100003 8100009; do "$SIMCTL" license CA $n outcome=NOT_FOUND; done
"$SIMCTL" fault echo_text "text=Bearer_$CV_SIM_KEY" count=2
out=$(q cv_e2e_secret "SELECT count(*) FILTER (WHERE error_code = 'NOT_FOUND') || '|' || count(*) FILTER (WHERE r::text LIKE '%$CV_SIM_KEY%') || '|' || count(*) FILTER (WHERE error_message LIKE '%[redacted]%') FROM cv_verify_batch(\$\$SELECT i::text, 'CA', (8100000 + i)::text FROM generate_series(1, 3) i\$\$) r")
assert_eq "3|0|3" "$out" "a batch whose answers quote the key: NOT_FOUND rows, rows holding the key, rows with it redacted"
assert_eq 1 "$("$SIMCTL" counters | sed -E 's/.*"faults_fired":\{[^}]*"echo_text":([0-9]+).*/\1/')" "answers quoting the key"
q cv_e2e_secret "CREATE SCHEMA cv; IMPORT FOREIGN SCHEMA contractor_verify FROM SERVER contractor_verify INTO cv" >/dev/null
out=$(q cv_e2e_secret "SELECT count(*) FILTER (WHERE l::text LIKE '%$CV_SIM_KEY%') || '|' || count(*) FROM cv.licenses l WHERE state = 'CA' AND license_number = '8100009'")
assert_eq "0|1" "$out" "a foreign-table row from an answer quoting the key: rows holding the key, rows"
sleep 0.5  # the worker records the answers
rows=$(q cv_e2e_secret "SELECT (SELECT count(*) FROM contractor_verify.verification_history h WHERE h::text LIKE '%$CV_SIM_KEY%') + (SELECT count(*) FROM contractor_verify.license_cache c WHERE c::text LIKE '%$CV_SIM_KEY%') + (SELECT count(*) FROM contractor_verify.unrecorded_answers u WHERE u::text LIKE '%$CV_SIM_KEY%')")
assert_eq 0 "$rows" "rows of the extension's tables holding the key"
assert_eq 4 "$(q cv_e2e_secret "SELECT count(*) FROM contractor_verify.verification_history WHERE error_message LIKE '%[redacted]%' OR payload::text LIKE '%[redacted]%'")" "history rows keeping the answers, the key redacted"
if grep -qF "$CV_SIM_KEY" <<<"$(tail -c +$((logpos + 1)) "$CV_SERVER_LOG")"; then fail "the echoed key reached the server log"; fi
pass "the echoed key is absent from the server log"
