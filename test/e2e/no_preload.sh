#!/usr/bin/env bash
# Without shared_preload_libraries the functions still work, with a
# per-session rate limiter, and say so once per session with a WARNING.
source "$(dirname "$0")/lib/e2e.sh"
source "$E2E_ROOT/scripts/lib/common.sh"
source "$E2E_ROOT/scripts/lib/cluster.sh"
unset CV_KEEP_LOGS
trap 'cluster_stop' EXIT
cluster_start "shared_preload_libraries = ''" >/dev/null
"$SIMCTL" reset
export PGOPTIONS=""

out=$(psql -X -d postgres 2>&1 <<SQL
CREATE EXTENSION contractor_verify;
CREATE SERVER contractor_verify FOREIGN DATA WRAPPER contractor_verify OPTIONS (url '$CV_SIM_URL');
CREATE USER MAPPING FOR CURRENT_USER SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY');
SELECT 'first: ' || count(*) FROM cv_verify_batch(\$\$VALUES ('a', 'CA', '1052183'), ('b', 'CA', '980001')\$\$);
SELECT 'second: ' || count(*) FROM cv_verify_batch(\$\$VALUES ('c', 'CA', '980002')\$\$);
SELECT 'single: ' || license_status FROM cv_verify('CA', '1052183');
SELECT 'progress rows: ' || count(*) FROM contractor_verify.batch_progress;
SQL
)
echo "$out"
grep -q "first: 2" <<<"$out" || fail "the first batch did not run"
grep -q "second: 1" <<<"$out" || fail "the second batch did not run"
grep -q "single: ACTIVE" <<<"$out" || fail "cv_verify did not run"
assert_eq 1 "$(echo "$out" | grep -c 'WARNING:  contractor_verify is not in shared_preload_libraries')" "warnings in one session"
assert_eq 2 "$("$SIMCTL" counters | sed -E 's/.*"batch":([0-9]+).*/\1/')" "batch calls made"

# Jobs need the worker, which needs the preload: refused with the way out.
err=$(psql -X -q -At -d postgres -c "\set VERBOSITY verbose" -c "SELECT cv_job_submit(\$\$VALUES ('a', 'CA', '1052183')\$\$)" 2>&1 || true)
grep -q "ERROR:  55000: verification jobs need contractor_verify in shared_preload_libraries" <<<"$err" || fail "cv_job_submit without the preload: $err"
grep -q "HINT:  Add it to shared_preload_libraries" <<<"$err" || fail "no hint naming shared_preload_libraries: $err"
pass "cv_job_submit without the preload: 55000 with a hint naming shared_preload_libraries"
assert_eq 0 "$(psql -X -q -At -d postgres -c "SELECT count(*) FROM contractor_verify.job_queue")" "jobs queued without the preload"

# A chunk whose license a chunk before it recorded (a name answered with a
# license the batch had looked up and found new): its insert meets that row in
# a subtransaction of the caller's and gives way to the upsert, leaving
# nothing held, so the same statement can TRUNCATE the cache afterwards.
psql -X -q -d postgres -c "ALTER SERVER contractor_verify OPTIONS (ADD batch_size '1')" >/dev/null
out=$(psql -X -q -At -d postgres 2>&1 <<'SQL'
DO $$ BEGIN
  PERFORM * FROM cv_verify_batch($q$VALUES ('a', 'TX', 'TACLA12345', NULL), ('b', 'TX', NULL, 'Lone Star Plumbing Co')$q$);
  RAISE NOTICE 'history rows: %', (SELECT count(*) FROM contractor_verify.verification_history WHERE license_number = 'TACLA12345');
  RAISE NOTICE 'cache rows: %', (SELECT count(*) FROM contractor_verify.license_cache WHERE license_number = 'TACLA12345');
  TRUNCATE contractor_verify.license_cache CASCADE;
END $$;
SQL
)
echo "$out"
grep -q "history rows: 2" <<<"$out" || fail "the two answers' history rows: $out"
grep -q "cache rows: 1" <<<"$out" || fail "the license's cache row: $out"
assert_eq 0 "$(grep -c -E "leak|ERROR" <<<"$out")" "leaks and errors after an insert gave way to the upsert"
psql -X -q -d postgres -c "ALTER SERVER contractor_verify OPTIONS (DROP batch_size)" >/dev/null

# The quota, counted by the statement itself: a call the API may have charged
# (a 200 read as garbage) is not sent again when the quota cannot count it
# once more (a few spent above, 150 allowed, 100 records would need 200).
psql -X -q -d postgres -c "ALTER SERVER contractor_verify OPTIONS (ADD monthly_lookup_quota '150', ADD retry_base '50ms')" >/dev/null
counted() { psql -X -q -At -d postgres -c "SELECT coalesce(sum(charged), 0) FROM contractor_verify.verification_history"; }
before=$(counted)
"$SIMCTL" reset
"$SIMCTL" fault malformed_json endpoint=batch >/dev/null
out=$(psql -X -q -At -d postgres -c "SELECT error_code || ':' || count(*) FROM cv_verify_batch(\$\$SELECT 'g' || i, 'CA', (620000 + i)::text FROM generate_series(1, 100) i\$\$) GROUP BY error_code" 2>/dev/null)
assert_eq "CALL_FAILED:100" "$out" "rows of a chunk the quota cannot send again"
assert_eq 100 "$("$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/')" "lookups charged"
assert_eq $((before + 100)) "$(counted)" "lookups counted in the history"
