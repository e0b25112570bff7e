#!/usr/bin/env bash
# pg_cancel_backend from another session stops a hanging request promptly,
# and the cancelled session goes on working.
source "$(dirname "$0")/lib/e2e.sh"
out=$(mktemp /tmp/cv_cancel.XXXXXX)
trap 'rm -f "$out"; drop_db cv_e2e_cancel' EXIT
"$SIMCTL" reset
fresh_db cv_e2e_cancel
"$SIMCTL" fault hang ms=30000 endpoint=verify

start=$(now_ms)
psql -X -d cv_e2e_cancel -At >"$out" 2>&1 <<'SQL' &
SET application_name = 'cv_e2e_victim';
SELECT 'started';
SELECT license_status FROM cv_verify('CA', '1052183');
SELECT 'still usable: ' || license_status FROM cv_verify('CA', '1052183');
SQL
victim=$!

# Wait until the request is in flight, then cancel it.
for _ in $(seq 1 100); do
  n=$("$SIMCTL" counters | sed -E 's/.*"in_flight":([0-9]+).*/\1/')
  [ "$n" -ge 1 ] && break
  sleep 0.05
done
[ "$n" -ge 1 ] || fail "the request never reached the simulator"
cancel_at=$(now_ms)
assert_eq "t" "$(q cv_e2e_cancel "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'cv_e2e_victim'")" "pg_cancel_backend"
wait "$victim" || true
done_at=$(now_ms)

cat "$out"
grep -q "canceling statement due to user request" "$out" || fail "no cancel message"
grep -q "still usable: ACTIVE" "$out" || fail "the session did not go on after the cancel"
took=$((done_at - cancel_at))
echo "cancel took ${took} ms (request hung for 30000 ms)"
[ "$took" -lt 5000 ] || fail "cancel took ${took} ms"
pass "cancelled within $took ms"
