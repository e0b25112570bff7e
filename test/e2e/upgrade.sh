#!/usr/bin/env bash
# ALTER EXTENSION contractor_verify UPDATE from each released version (0.1.0,
# 0.2.0) keeps the cache and the history, and ends with exactly the objects
# of a fresh install; the upgraded cache answers lookups without a call, and
# jobs run in an upgraded database.
source "$(dirname "$0")/lib/e2e.sh"
trap 'drop_db cv_e2e_upgraded; drop_db cv_e2e_fresh; drop_db cv_e2e_from_020' EXIT
"$SIMCTL" reset

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS cv_e2e_upgraded" -c "CREATE DATABASE cv_e2e_upgraded" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d cv_e2e_upgraded >/dev/null <<SQL
CREATE EXTENSION contractor_verify VERSION '0.1.0';
CREATE SERVER contractor_verify FOREIGN DATA WRAPPER contractor_verify OPTIONS (url '$CV_SIM_URL/');
CREATE USER MAPPING FOR CURRENT_USER SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY');
-- What 0.1.0 left behind: 200 verified licenses, a NOT_FOUND and a
-- STATE_TIMEOUT, each with its history row.
INSERT INTO contractor_verify.license_cache
    (state, license_number, outcome, license_status, classifications, fetched_at, expires_at,
     last_attempt_at, server_name, record)
SELECT 'CA', (500000 + i)::text, 'VERIFIED', 'ACTIVE', ARRAY['C-10'], now(), now() + interval '1 day',
       now(), 'contractor_verify', jsonb_build_object('license_number', (500000 + i)::text)
FROM generate_series(1, 200) i;
INSERT INTO contractor_verify.license_cache
    (state, license_number, outcome, error_code, fetched_at, expires_at, server_name, needs_review)
VALUES ('CA', '599999', 'NOT_FOUND', 'NOT_FOUND', now(), now() + interval '1 hour', 'gone_server', true);
INSERT INTO contractor_verify.license_cache
    (state, license_number, server_name, last_error_code, consecutive_timeouts, next_attempt_at)
VALUES ('LA', '80001', 'contractor_verify', 'STATE_TIMEOUT', 1, now() + interval '5 hours');
INSERT INTO contractor_verify.verification_history
    (observed_at, role_name, server_name, request_kind, state, license_number, outcome, billable)
SELECT coalesce(fetched_at, now()), current_user, server_name, 'batch', state, license_number,
       coalesce(outcome, 'STATE_TIMEOUT'), outcome IS NOT NULL
FROM contractor_verify.license_cache;
SQL
cache_before=$(q cv_e2e_upgraded "SELECT count(*) || ':' || md5(string_agg(concat_ws('|', state, license_number, outcome, license_status, fetched_at, expires_at, next_attempt_at, needs_review), ',' ORDER BY state, license_number)) FROM contractor_verify.license_cache")
history_before=$(q cv_e2e_upgraded "SELECT count(*) || ':' || md5(string_agg(concat_ws('|', id, observed_at, state, license_number, outcome, billable), ',' ORDER BY id)) FROM contractor_verify.verification_history")

q cv_e2e_upgraded "ALTER EXTENSION contractor_verify UPDATE" >/dev/null
assert_eq "0.4.0" "$(q cv_e2e_upgraded "SELECT extversion FROM pg_extension WHERE extname = 'contractor_verify'")" "version after the update"
assert_eq "$cache_before" "$(q cv_e2e_upgraded "SELECT count(*) || ':' || md5(string_agg(concat_ws('|', state, license_number, outcome, license_status, fetched_at, expires_at, next_attempt_at, needs_review), ',' ORDER BY state, license_number)) FROM contractor_verify.license_cache")" "cache rows and content kept"
assert_eq "$history_before" "$(q cv_e2e_upgraded "SELECT count(*) || ':' || md5(string_agg(concat_ws('|', id, observed_at, state, license_number, outcome, billable), ',' ORDER BY id)) FROM contractor_verify.verification_history")" "history rows and content kept"
sim_api=$(echo "$CV_SIM_URL" | tr 'A-Z' 'a-z')
assert_eq "201" "$(q cv_e2e_upgraded "SELECT count(*) FROM contractor_verify.license_cache WHERE api_url = '$sim_api'")" "rows keyed by their server's API (trailing slash dropped)"
assert_eq "https://api.contractorverify.io/v1" "$(q cv_e2e_upgraded "SELECT api_url FROM contractor_verify.license_cache WHERE server_name = 'gone_server'")" "a dropped server's rows keyed by the default API"
assert_eq "201" "$(q cv_e2e_upgraded "SELECT sum(charged) FROM contractor_verify.verification_history")" "history rows charged as they were billable"

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS cv_e2e_fresh" -c "CREATE DATABASE cv_e2e_fresh" >/dev/null
q cv_e2e_fresh "CREATE EXTENSION contractor_verify" >/dev/null
upgraded=$(psql -X -q -d cv_e2e_upgraded -f "$E2E_ROOT/test/e2e/lib/extension_objects.sql")
fresh=$(psql -X -q -d cv_e2e_fresh -f "$E2E_ROOT/test/e2e/lib/extension_objects.sql")
grep -q "column license_cache" <<<"$fresh" || fail "the object listing is empty"
if [ "$upgraded" != "$fresh" ]; then
  diff <(echo "$fresh") <(echo "$upgraded") >&2 || true
  fail "the upgraded database's objects differ from a fresh install's (above: < fresh, > upgraded)"
fi
pass "the upgraded objects equal a fresh install's ($(echo "$fresh" | wc -l) facts compared)"

# The upgraded cache answers at once; the pending STATE_TIMEOUT is not re-called.
"$SIMCTL" reset
assert_eq "true|ACTIVE" "$(q cv_e2e_upgraded "SELECT from_cache || '|' || license_status FROM cv_verify('CA', '500007')")" "an upgraded cache row answers"
assert_eq "STATE_TIMEOUT" "$(q cv_e2e_upgraded "SELECT error_code FROM cv_verify('LA', '80001')")" "a pending STATE_TIMEOUT answers from the cache"
assert_eq "0" "$("$SIMCTL" counters | sed -E 's/.*"total":([0-9]+).*/\1/')" "API calls after the upgrade"
assert_eq "f" "$(q cv_e2e_upgraded "SELECT from_cache FROM cv_verify('CA', '1052183')")" "a new lookup after the upgrade"

# Answers 0.1.0 left in its spool files for transactions that did not commit
# are recorded once by the worker when it first starts after the upgrade; a
# line cut short by a crash and a line that cannot be imported are set aside
# (with a WARNING) and block nothing.
dboid=$(q cv_e2e_upgraded "SELECT oid FROM pg_database WHERE datname = current_database()")
aborted_xid() { psql -X -q -At -d cv_e2e_upgraded -c "BEGIN" -c "SELECT pg_current_xact_id()" -c "ROLLBACK"; }
spool="$PGHOST/data/pg_contractor_verify/$dboid"
mkdir -p "$spool"
now=$(now_ms)
cat >"$spool/$(aborted_xid)-4242-1.jsonl" <<JSON
{"server":"contractor_verify","role":"postgres","observations":[{"id":"1","state":"CA","license_number":"509001","requested_license_number":"509001","name":null,"outcome":"VERIFIED","http_status":200,"error_code":null,"error_message":null,"candidates":null,"raw":{"license_number":"509001","license_status":"ACTIVE"},"observed_at_ms":$now,"ttl_ms":86400000,"retry_at_ms":null,"batch_id":null,"request_kind":"batch","attempt_only":false,"billable":true,"record":{"license_status":"ACTIVE","license_type":"C-10","classifications":["C-10"],"business_name":"Left Behind Inc","issue_date":null,"expiration_date":"2030-01-01","bond_amount_cents":null,"insurance_required":null,"has_disciplinary_actions":false,"disciplinary_actions":[],"address":null}}]}
{"server":"contractor_verify","role":"postgres","observations":[{"id":"2","state":"CA","licen
JSON
echo '{"server":"contractor_verify","role":"postgres","observations":"not a list"}' >"$spool/$(aborted_xid)-4242-2.jsonl"
chown -R postgres: "$PGHOST/data/pg_contractor_verify"
# The worker of the lookups above read the spool when it started: stop it,
# and the next lookup starts one that reads it again.
worker_pid() { q postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'contractor_verify worker' AND datname = 'cv_e2e_upgraded'"; }
q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'contractor_verify worker' AND datname = 'cv_e2e_upgraded'" >/dev/null
for _ in $(seq 1 50); do [ -z "$(worker_pid)" ] && break; sleep 0.1; done
[ -z "$(worker_pid)" ] || fail "the worker did not stop"
"$SIMCTL" reset
assert_eq "f" "$(q cv_e2e_upgraded "SELECT from_cache FROM cv_verify('CA', '509500')")" "a lookup while 0.1.0's files wait"
for _ in $(seq 1 100); do [ -d "$spool" ] || break; sleep 0.1; done
[ -d "$spool" ] && fail "the spool directory is still there: $(ls "$spool")"
pass "0.1.0's spool files are gone"
assert_eq "VERIFIED|Left Behind Inc|1" "$(q cv_e2e_upgraded "SELECT c.outcome || '|' || c.business_name || '|' || (SELECT count(*) FROM contractor_verify.verification_history h WHERE h.license_number = '509001') FROM contractor_verify.license_cache c WHERE c.license_number = '509001'")" "the answer 0.1.0 left is recorded (cache and history)"
assert_eq 2 "$(q cv_e2e_upgraded "SELECT count(*) FROM contractor_verify.unrecorded_answers WHERE reason LIKE '%0.1.0%'")" "lines set aside (one cut short, one unimportable)"
grep -q "set aside what it could not read in contractor_verify.unrecorded_answers: an unreadable line in version 0.1.0" "$CV_SERVER_LOG" || fail "no WARNING in the server log"
assert_eq 0 "$("$SIMCTL" counters | sed -E 's/.*"CA:509001":([0-9]+).*/\1/;t;s/.*/0/')" "lookups bought for the recovered license"
assert_eq "t" "$(q cv_e2e_upgraded "SELECT from_cache FROM cv_verify('CA', '509001')")" "the recovered answer serves lookups"

# From 0.2.0: its data kept, the same objects as a fresh install, and a job
# runs on the upgraded cache.
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS cv_e2e_from_020" -c "CREATE DATABASE cv_e2e_from_020" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d cv_e2e_from_020 >/dev/null <<SQL
CREATE EXTENSION contractor_verify VERSION '0.2.0';
CREATE SERVER contractor_verify FOREIGN DATA WRAPPER contractor_verify OPTIONS (url '$CV_SIM_URL');
CREATE USER MAPPING FOR CURRENT_USER SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY');
INSERT INTO contractor_verify.license_cache
    (api_url, state, license_number, outcome, license_status, classifications, fetched_at, expires_at,
     last_attempt_at, server_name, record)
SELECT contractor_verify.canonical_url('$CV_SIM_URL'), 'CA', (520000 + i)::text, 'VERIFIED', 'ACTIVE', ARRAY['C-10'],
       now(), now() + interval '1 day', now(), 'contractor_verify', jsonb_build_object('license_number', (520000 + i)::text)
FROM generate_series(1, 50) i;
INSERT INTO contractor_verify.verification_history
    (observed_at, role_name, server_name, request_kind, state, license_number, outcome, billable, api_url, charged)
SELECT fetched_at, current_user, server_name, 'batch', state, license_number, outcome, true, api_url, 1
FROM contractor_verify.license_cache;
INSERT INTO contractor_verify.unrecorded_answers (reason, answers, payload) VALUES ('kept', 0, '\\x00');
SQL
facts() { q cv_e2e_from_020 "SELECT (SELECT count(*) || ':' || md5(string_agg(concat_ws('|', api_url, state, license_number, outcome, fetched_at, expires_at), ',' ORDER BY state, license_number)) FROM contractor_verify.license_cache) || '/' || (SELECT count(*) || ':' || md5(string_agg(concat_ws('|', id, observed_at, license_number, charged), ',' ORDER BY id)) FROM contractor_verify.verification_history) || '/' || (SELECT count(*) FROM contractor_verify.unrecorded_answers)"; }
before=$(facts)
q cv_e2e_from_020 "ALTER EXTENSION contractor_verify UPDATE" >/dev/null
assert_eq "0.4.0" "$(q cv_e2e_from_020 "SELECT extversion FROM pg_extension WHERE extname = 'contractor_verify'")" "0.2.0 updated to"
assert_eq "$before" "$(facts)" "0.2.0's cache, history and set-aside answers kept"
from020=$(psql -X -q -d cv_e2e_from_020 -f "$E2E_ROOT/test/e2e/lib/extension_objects.sql")
if [ "$from020" != "$fresh" ]; then
  diff <(echo "$fresh") <(echo "$from020") >&2 || true
  fail "the database updated from 0.2.0 differs from a fresh install (above: < fresh, > updated)"
fi
pass "updated from 0.2.0: the objects equal a fresh install's ($(echo "$fresh" | wc -l) facts compared)"
"$SIMCTL" reset
job=$(q cv_e2e_from_020 "SELECT cv_job_submit(\$\$SELECT 'u' || i, 'CA', (520000 + i)::text FROM generate_series(1, 60) i\$\$)")
for _ in $(seq 1 200); do [ "$(q cv_e2e_from_020 "SELECT job_status FROM cv_job_status($job)")" = completed ] && break; sleep 0.1; done
assert_eq "completed|50|10" "$(q cv_e2e_from_020 "SELECT concat_ws('|', job_status, answered_from_cache, lookups_done) FROM cv_job_status($job)")" "a job after the update: status, from the upgraded cache, bought"
assert_eq 10 "$("$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/')" "lookups the job bought"
