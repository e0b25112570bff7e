#!/usr/bin/env bash
# pg_dump / pg_restore keep the cache, the history and the jobs (the tables
# are registered with pg_extension_config_dump).
source "$(dirname "$0")/lib/e2e.sh"
trap 'drop_db cv_e2e_dump; drop_db cv_e2e_restore' EXIT
"$SIMCTL" reset

fresh_db cv_e2e_dump
q cv_e2e_dump "SELECT count(*) FROM generate_series(400000, 400049) n, cv_verify('CA', n::text)" >/dev/null
q cv_e2e_dump "SELECT cv_verify('LA', '80001')" >/dev/null
job=$(q cv_e2e_dump "SELECT cv_job_submit(\$\$SELECT 'j' || i, 'CA', (400000 + i % 60)::text FROM generate_series(1, 80) i UNION ALL SELECT 'bad', 'ZZ', '1'\$\$, label => 'kept')")
for _ in $(seq 1 200); do [ "$(q cv_e2e_dump "SELECT job_status FROM cv_job_status($job)")" = completed ] && break; sleep 0.1; done
jobs_query="SELECT (SELECT count(*) || ':' || md5(string_agg(j::text, '|' ORDER BY id)) FROM contractor_verify.job_queue j) || '/' || (SELECT count(*) || ':' || md5(string_agg(r::text, '|' ORDER BY n)) FROM cv_job_results($job) WITH ORDINALITY AS r(id, state, license_number, s, t, c, b, i, e, bo, ins, hd, da, ad, co, ec, em, ca, va, fc, nr, na, rec, n))"
jobs_before=$(q cv_e2e_dump "$jobs_query")
cache_before=$(q cv_e2e_dump "SELECT count(*) || ':' || md5(string_agg(c::text, '|' ORDER BY state, license_number)) FROM contractor_verify.license_cache c")
history_before=$(q cv_e2e_dump "SELECT count(*) || ':' || md5(string_agg(h::text, '|' ORDER BY id)) FROM contractor_verify.verification_history h")
[ "${cache_before%%:*}" -ge 50 ] || fail "expected at least 50 cached rows, got ${cache_before%%:*}"

dump=$(mktemp /tmp/cv_dump.XXXXXX)
pg_dump -Fc -d cv_e2e_dump -f "$dump"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS cv_e2e_restore" -c "CREATE DATABASE cv_e2e_restore" >/dev/null
pg_restore -d cv_e2e_restore "$dump"
rm -f "$dump"

assert_eq "$cache_before" "$(q cv_e2e_restore "SELECT count(*) || ':' || md5(string_agg(c::text, '|' ORDER BY state, license_number)) FROM contractor_verify.license_cache c")" "cache rows and content after restore"
assert_eq "$jobs_before" "$(q cv_e2e_restore "$jobs_query")" "jobs and their results after restore"
assert_eq "$history_before" "$(q cv_e2e_restore "SELECT count(*) || ':' || md5(string_agg(h::text, '|' ORDER BY id)) FROM contractor_verify.verification_history h")" "history rows and content after restore"

# The restored database works: its cache answers without a call, and new
# history rows get fresh ids.
"$SIMCTL" reset
assert_eq "t" "$(q cv_e2e_restore "SELECT from_cache FROM cv_verify('CA', '400007')")" "restored cache answers"
assert_eq "0" "$("$SIMCTL" counters | sed -E 's/.*"total":([0-9]+).*/\1/')" "API calls for a restored cache hit"
max_id=$(q cv_e2e_restore "SELECT max(id) FROM contractor_verify.verification_history")
q cv_e2e_restore "SELECT cv_verify('CA', '1052183')" >/dev/null
assert_eq "1" "$(q cv_e2e_restore "SELECT count(*) FROM contractor_verify.verification_history WHERE id > $max_id AND license_number = '1052183'")" "new history row numbered after the restored ones"
next=$(q cv_e2e_restore "SELECT cv_job_submit(\$\$SELECT 'n', 'CA', '400001'\$\$)")
[ "$next" -gt "$job" ] || fail "a new job got id $next, not after the restored $job"
pass "a new job is numbered after the restored ones ($next)"
