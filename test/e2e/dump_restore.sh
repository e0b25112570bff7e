#!/usr/bin/env bash
# pg_dump / pg_restore keep the cache and the history (the tables are
# registered with pg_extension_config_dump).
source "$(dirname "$0")/lib/e2e.sh"
trap 'drop_db cv_e2e_dump; drop_db cv_e2e_restore' EXIT
"$SIMCTL" reset

fresh_db cv_e2e_dump
q cv_e2e_dump "SELECT count(*) FROM generate_series(400000, 400049) n, cv_verify('CA', n::text)" >/dev/null
q cv_e2e_dump "SELECT cv_verify('LA', '80001')" >/dev/null
cache_before=$(q cv_e2e_dump "SELECT count(*) || ':' || md5(string_agg(c::text, '|' ORDER BY state, license_number)) FROM contractor_verify.license_cache c")
history_before=$(q cv_e2e_dump "SELECT count(*) || ':' || md5(string_agg(h::text, '|' ORDER BY id)) FROM contractor_verify.verification_history h")
[ "${cache_before%%:*}" -ge 50 ] || fail "expected at least 50 cached rows, got ${cache_before%%:*}"

dump=$(mktemp /tmp/cv_dump.XXXXXX)
pg_dump -Fc -d cv_e2e_dump -f "$dump"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS cv_e2e_restore" -c "CREATE DATABASE cv_e2e_restore" >/dev/null
pg_restore -d cv_e2e_restore "$dump"
rm -f "$dump"

assert_eq "$cache_before" "$(q cv_e2e_restore "SELECT count(*) || ':' || md5(string_agg(c::text, '|' ORDER BY state, license_number)) FROM contractor_verify.license_cache c")" "cache rows and content after restore"
assert_eq "$history_before" "$(q cv_e2e_restore "SELECT count(*) || ':' || md5(string_agg(h::text, '|' ORDER BY id)) FROM contractor_verify.verification_history h")" "history rows and content after restore"

# The restored database works: its cache answers without a call, and new
# history rows get fresh ids.
"$SIMCTL" reset
assert_eq "t" "$(q cv_e2e_restore "SELECT from_cache FROM cv_verify('CA', '400007')")" "restored cache answers"
assert_eq "0" "$("$SIMCTL" counters | sed -E 's/.*"total":([0-9]+).*/\1/')" "API calls for a restored cache hit"
max_id=$(q cv_e2e_restore "SELECT max(id) FROM contractor_verify.verification_history")
q cv_e2e_restore "SELECT cv_verify('CA', '1052183')" >/dev/null
assert_eq "1" "$(q cv_e2e_restore "SELECT count(*) FROM contractor_verify.verification_history WHERE id > $max_id AND license_number = '1052183'")" "new history row numbered after the restored ones"
