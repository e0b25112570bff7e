#!/usr/bin/env bash
# A paid-for answer is never lost: answers of a cancelled batch, a rolled-back
# transaction or subtransaction come back on the next lookup instead of being
# bought again.
source "$(dirname "$0")/lib/e2e.sh"
trap 'drop_db cv_e2e_paid' EXIT
fresh_db cv_e2e_paid
q cv_e2e_paid "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000', ADD max_concurrent_calls '1')" >/dev/null
roster='$$SELECT '"'"'r'"'"' || i, '"'"'CA'"'"', (310000 + i)::text FROM generate_series(1, 500) i$$'

# 1. Cancel a batch after two of its five chunks are answered.
"$SIMCTL" reset
"$SIMCTL" config latency_ms=700
psql -X -At -d cv_e2e_paid -c "SET application_name = 'cv_e2e_paid_victim'" \
  -c "SELECT count(*) FROM cv_verify_batch($roster)" >/tmp/cv_paid.out 2>&1 &
victim=$!
done_before=0
for _ in $(seq 1 100); do
  done_before=$(q cv_e2e_paid "SELECT coalesce(max(records_done), 0) FROM contractor_verify.batch_progress")
  [ "$done_before" -ge 200 ] && break
  sleep 0.05
done
[ "$done_before" -ge 200 ] || fail "the batch never got two chunks done"
q cv_e2e_paid "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'cv_e2e_paid_victim'" >/dev/null
wait "$victim" || true
grep -q "canceling statement" /tmp/cv_paid.out || fail "the batch was not cancelled: $(cat /tmp/cv_paid.out)"
paid=$("$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/')
assert_eq 0 "$(q cv_e2e_paid "SELECT count(*) FROM contractor_verify.license_cache")" "cache rows after the cancel (rolled back)"

# The rerun buys only what was not already paid for.
"$SIMCTL" reset
rerun=$(q cv_e2e_paid "SELECT count(*) || ' rows, ' || count(*) FILTER (WHERE from_cache) || ' from cache' FROM cv_verify_batch($roster)")
bought=$("$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/')
echo "charged before the cancel: $paid (a chunk in flight is charged but never answered); rerun: $rerun; bought on rerun: $bought"
recovered=$(echo "$rerun" | sed -E 's/.*, ([0-9]+) from cache/\1/')
[ "$recovered" -ge "$done_before" ] || fail "recovered $recovered answers, but $done_before were answered before the cancel"
pass "every answer received before the cancel came back ($recovered >= $done_before)"
assert_eq "$((500 - recovered))" "$bought" "lookups bought on the rerun (only the unanswered ones)"
assert_eq 500 "$(q cv_e2e_paid "SELECT count(*) FROM contractor_verify.verification_history WHERE billable")" "billable history rows (each lookup once)"

# 2. A rolled-back transaction and a rolled-back subtransaction.
"$SIMCTL" reset
"$SIMCTL" config latency_ms=0
psql -X -q -d cv_e2e_paid -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
BEGIN;
SELECT cv_verify('CA', '320001');
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT cv_verify('CA', '320002');
ROLLBACK TO SAVEPOINT s;
SELECT cv_verify('CA', '320003');
COMMIT;
SQL
# The later lookups in the script recovered the rolled-back answers themselves.
assert_eq 3 "$(q cv_e2e_paid "SELECT count(*) FROM contractor_verify.license_cache WHERE license_number IN ('320001', '320002', '320003')")" "cached after the rollbacks"
assert_eq 0 "$(q cv_e2e_paid "SELECT contractor_verify.recover_answers()")" "answers left to recover"
"$SIMCTL" reset
q cv_e2e_paid "SELECT count(*) FROM cv_verify_batch(\$\$VALUES ('a', 'CA', '320001'), ('b', 'CA', '320002'), ('c', 'CA', '320003')\$\$)" >/dev/null
assert_eq 0 "$("$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/')" "lookups bought again for them"

# 3. recover_answers() on its own, with no lookup in between.
psql -X -q -d cv_e2e_paid -c "BEGIN" -c "SELECT cv_verify('CA', '320004')" -c "ROLLBACK" >/dev/null
assert_eq 0 "$(q cv_e2e_paid "SELECT count(*) FROM contractor_verify.license_cache WHERE license_number = '320004'")" "cached after a rollback"
assert_eq 1 "$(q cv_e2e_paid "SELECT contractor_verify.recover_answers()")" "answers recovered"
assert_eq 1 "$(q cv_e2e_paid "SELECT count(*) FROM contractor_verify.license_cache WHERE license_number = '320004'")" "cached after recovery"
