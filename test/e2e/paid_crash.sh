#!/usr/bin/env bash
# A backend killed with SIGKILL mid-batch (the cluster restarts), and an
# immediate shutdown mid-batch: a rerun afterwards buys again at most the
# chunks that were in flight or not yet recorded at that moment, which the
# batch keeps to max_concurrent_calls.
source "$(dirname "$0")/lib/e2e.sh"
source "$E2E_ROOT/scripts/lib/common.sh"
trap 'drop_db cv_e2e_crash' EXIT
fresh_db cv_e2e_crash
q cv_e2e_crash "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000', ADD max_concurrent_calls '2')" >/dev/null
DATA="$PGHOST/data"
lookups() { "$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/'; }
wait_ready() {
  for _ in $(seq 1 200); do pg_isready -q -d postgres && psql -X -q -At -d cv_e2e_crash -c "SELECT 1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "the cluster did not come back"
}

crash_case() {  # crash_case NAME FIRST_LICENSE HOW
  local name=$1 base=$2 how=$3
  "$SIMCTL" reset
  "$SIMCTL" config latency_ms=400
  local roster="\$\$SELECT 'r' || i, 'CA', ($base + i)::text FROM generate_series(1, 1000) i\$\$"
  psql -X -At -d cv_e2e_crash -c "SET application_name = 'cv_e2e_crash_victim'" \
    -c "SELECT count(*) FROM cv_verify_batch($roster)" >$E2E_TMP/cv_crash.out 2>&1 &
  local victim=$!
  local done_before=0
  for _ in $(seq 1 200); do
    done_before=$(q cv_e2e_crash "SELECT coalesce(max(records_done), 0) FROM contractor_verify.batch_progress" 2>/dev/null || echo 0)
    [ "$done_before" -ge 400 ] && break
    sleep 0.05
  done
  [ "$done_before" -ge 400 ] || fail "$name: the batch never got four chunks done"
  if [ "$how" = kill ]; then
    local pid; pid=$(q cv_e2e_crash "SELECT pid FROM pg_stat_activity WHERE application_name = 'cv_e2e_crash_victim'")
    kill -9 "$pid"
  else
    as_postgres pg_ctl -D "$DATA" -m immediate stop >/dev/null
    as_postgres pg_ctl -D "$DATA" -l "$PGHOST/server.log" -w -t 60 start >/dev/null
  fi
  wait "$victim" || true
  wait_ready
  local charged; charged=$(lookups)
  local kept; kept=$(q cv_e2e_crash "SELECT count(*) FROM contractor_verify.license_cache WHERE license_number::int BETWEEN $base + 1 AND $base + 1000")
  echo "$name: $done_before answers had arrived, $charged lookups charged, $kept recorded"
  "$SIMCTL" reset
  "$SIMCTL" config latency_ms=0
  assert_eq 1000 "$(q cv_e2e_crash "SELECT count(*) FROM cv_verify_batch($roster)")" "$name: rerun rows"
  local rebought=$(( charged + $(lookups) - 1000 ))
  echo "$name: the rerun bought $(lookups); bought twice in all: $rebought"
  [ "$rebought" -le 200 ] || fail "$name: $rebought lookups bought twice, more than max_concurrent_calls (2) chunks"
  pass "$name: at most max_concurrent_calls chunks bought twice ($rebought lookups)"
  [ "$kept" -ge $((done_before - 200)) ] || fail "$name: only $kept of $done_before answers recorded"
}

crash_case "SIGKILL of the backend" 350000 kill
crash_case "immediate shutdown" 352000 immediate
rm -f $E2E_TMP/cv_crash.out
