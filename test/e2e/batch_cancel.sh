#!/usr/bin/env bash
# Cancel stops a batch within a second whatever it is waiting on -- a call in
# flight, or the rate limiter -- and the session goes on working.
source "$(dirname "$0")/lib/e2e.sh"
trap 'drop_db cv_e2e_bcancel' EXIT
fresh_db cv_e2e_bcancel
q cv_e2e_bcancel "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000', ADD max_concurrent_calls '1')" >/dev/null

cancel_case() {  # cancel_case NAME EXPECTED_PHASE CALLS_PER_MINUTE SIM_CONFIG...
  local name=$1 expected_phase=$2 limit=$3; shift 3
  q cv_e2e_bcancel "ALTER SERVER contractor_verify OPTIONS (SET calls_per_minute '$limit')" >/dev/null
  "$SIMCTL" reset
  "$SIMCTL" config "$@"
  local out; out=$(mktemp /tmp/cv_bcancel.XXXXXX)
  psql -X -At -d cv_e2e_bcancel >"$out" 2>&1 <<SQL &
SET application_name = 'cv_e2e_batch_victim';
SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'r' || i, 'CA', (960000 + i)::text FROM generate_series(1, 500) i\$\$, max_age => '0');
SELECT 'still usable: ' || count(*) FROM contractor_verify.licenses;
SQL
  local victim=$!
  sleep 1.5  # the first call is in flight (slow API) or done (waiting on the limiter)
  local phase; phase=$(q cv_e2e_bcancel "SELECT phase FROM contractor_verify.batch_progress p JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'cv_e2e_batch_victim'")
  local t0; t0=$(now_ms)
  q cv_e2e_bcancel "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'cv_e2e_batch_victim'" >/dev/null
  wait "$victim" || true
  local took=$(( $(now_ms) - t0 ))
  cat "$out"
  grep -q "canceling statement due to user request" "$out" || fail "$name: no cancel message"
  grep -q "still usable: " "$out" || fail "$name: the session did not go on"
  [ "$took" -lt 1000 ] || fail "$name: cancel took $took ms"
  assert_eq "$expected_phase" "$phase" "$name: phase when cancelled"
  pass "$name: cancelled during '$phase' within $took ms"
  rm -f "$out"
  local running; running=$(q cv_e2e_bcancel "SELECT count(*) FROM contractor_verify.batch_progress")
  assert_eq 0 "$running" "$name: batches still shown as running"
}

# A slow API: the first call is still in flight when the cancel comes.
cancel_case "call in flight" "calling the API" 1000 latency_ms=20000
# One call a minute: after the first call the batch waits for the limiter.
cancel_case "waiting for the limiter" "waiting for the rate limit" 1 latency_ms=0

# statement_timeout works the same way.
"$SIMCTL" reset
"$SIMCTL" config latency_ms=20000
expect_statement_timeout cv_e2e_bcancel "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'r' || i, 'CA', (970000 + i)::text FROM generate_series(1, 50) i\$\$);" "the batch"
