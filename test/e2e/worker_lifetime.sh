#!/usr/bin/env bash
# A database's worker stays between batches for worker_idle_timeout (a minute
# by default), so a batch after a pause meets the worker that recorded the
# last one. Statements that need the database to themselves do not wait for
# it: DROP DATABASE, ALTER DATABASE ... RENAME TO and CREATE DATABASE ...
# TEMPLATE, without FORCE, succeed at once while the worker idles.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_lifetime
cleanup() {
  drop_db $DB; drop_db cv_e2e_lifetime_renamed; drop_db cv_e2e_lifetime_copy
  drop_db cv_e2e_lifetime_plain; drop_db cv_e2e_lifetime_plain2
  psql -X -q -d template1 -c "DROP EXTENSION IF EXISTS contractor_verify CASCADE" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS cv_e2e_lifetime_other" >/dev/null 2>&1
}
trap cleanup EXIT
"$SIMCTL" reset
fresh_db $DB
# The key's calls of earlier scripts in the last minute must not hold a batch
# here at the plan's rate limit.
q $DB "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '0')" >/dev/null
drop_db cv_e2e_lifetime_renamed
drop_db cv_e2e_lifetime_copy
worker_of() {
  q postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'contractor_verify worker' AND datname = '$1'"
}
batch() { q "$1" "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'l' || i, 'CA', ($2 + i)::text FROM generate_series(1, 20) i\$\$)"; }

assert_eq 20 "$(batch $DB 9100000)" "first batch's rows"
first=$(worker_of $DB)
[ -n "$first" ] || fail "no worker after a batch"
sleep 3
assert_eq "$first" "$(worker_of $DB)" "the worker still there after 3 s without work"
assert_eq 20 "$(batch $DB 9200000)" "second batch's rows"
assert_eq "$first" "$(worker_of $DB)" "the second batch recorded by the same worker"
pass "a batch after a pause meets the running worker"

# The worker's writes reach the statistics while it runs (autovacuum and
# autoanalyze go by them), not only when it leaves.
inserted=0
for _ in $(seq 1 30); do
  inserted=$(q $DB "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relid = 'contractor_verify.verification_history'::regclass")
  [ "$inserted" -ge 40 ] && break
  sleep 0.2
done
assert_eq 40 "$inserted" "history rows the statistics count while the worker runs"
assert_eq "$first" "$(worker_of $DB)" "the worker that wrote them, still running"

# Someone who may not drop the database cannot make its worker leave.
q postgres "DROP ROLE IF EXISTS cv_e2e_lifetime_other" >/dev/null
q postgres "CREATE ROLE cv_e2e_lifetime_other LOGIN CREATEDB" >/dev/null
out=$(psql -X -q -U cv_e2e_lifetime_other -d postgres -c "DROP DATABASE $DB" 2>&1) && fail "a non-owner dropped the database"
grep -q "must be owner" <<<"$out" || fail "unexpected error: $out"
out=$(psql -X -q -U cv_e2e_lifetime_other -d postgres -c "CREATE DATABASE cv_e2e_lifetime_copy TEMPLATE $DB" 2>&1) \
  && fail "a non-owner copied a database that is not a template"
grep -q "permission denied to copy database" <<<"$out" || fail "unexpected error: $out"
sleep 0.6
assert_eq "$first" "$(worker_of $DB)" "the worker after a non-owner's DROP DATABASE and CREATE DATABASE ... TEMPLATE"

# Each statement below would wait 5 s for the idle worker and fail.
exclusive() {  # exclusive WHAT SQL
  local t0 t1
  t0=$(now_ms)
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "$2" >/dev/null || fail "$1 failed while the worker idled"
  t1=$(now_ms)
  echo "$1 with an idle worker: $((t1 - t0)) ms"
}
exclusive "ALTER DATABASE ... RENAME TO" "ALTER DATABASE $DB RENAME TO cv_e2e_lifetime_renamed"
assert_eq 20 "$(batch cv_e2e_lifetime_renamed 9300000)" "a batch in the renamed database"
[ -n "$(worker_of cv_e2e_lifetime_renamed)" ] || fail "no worker in the renamed database"
exclusive "CREATE DATABASE ... TEMPLATE" "CREATE DATABASE cv_e2e_lifetime_copy TEMPLATE cv_e2e_lifetime_renamed"
assert_eq 60 "$(q cv_e2e_lifetime_copy "SELECT count(*) FROM contractor_verify.license_cache")" "the copy holds every recorded answer"
assert_eq 20 "$(batch cv_e2e_lifetime_renamed 9400000)" "another batch"
[ -n "$(worker_of cv_e2e_lifetime_renamed)" ] || fail "no worker before DROP DATABASE"
exclusive "DROP DATABASE" "DROP DATABASE cv_e2e_lifetime_renamed"
assert_eq 80 "$("$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/')" "lookups bought"
pass "DROP DATABASE, RENAME and TEMPLATE do not wait for an idle worker"

# CREATE DATABASE copies template1 unless told otherwise: a worker there (a
# lookup made in template1) leaves too, for any role that may create
# databases, owner of template1 or not.
psql -X -q -v ON_ERROR_STOP=1 -d template1 >/dev/null <<SQL
CREATE EXTENSION contractor_verify;
CREATE SERVER contractor_verify FOREIGN DATA WRAPPER contractor_verify OPTIONS (url '$CV_SIM_URL', calls_per_minute '0');
CREATE USER MAPPING FOR PUBLIC SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY');
SQL
assert_eq 20 "$(batch template1 9500000)" "a batch in template1"
[ -n "$(worker_of template1)" ] || fail "no worker in template1"
exclusive "CREATE DATABASE (from template1)" "CREATE DATABASE cv_e2e_lifetime_plain"
assert_eq 20 "$(batch template1 9600000)" "another batch in template1"
[ -n "$(worker_of template1)" ] || fail "no worker in template1"
t0=$(now_ms)
psql -X -q -U cv_e2e_lifetime_other -d postgres -c "CREATE DATABASE cv_e2e_lifetime_plain2" >/dev/null \
  || fail "a role with CREATEDB could not create a database while template1's worker idled"
echo "CREATE DATABASE by a role with CREATEDB, template1's worker idle: $(($(now_ms) - t0)) ms"
q template1 "DROP EXTENSION contractor_verify CASCADE" >/dev/null
pass "CREATE DATABASE does not wait for template1's idle worker"
