#!/usr/bin/env bash
# A job survives its worker being killed with SIGKILL half way (the cluster
# restarts), and an immediate shutdown and restart: it resumes where it
# stopped, completes, and buys again at most the records of the chunks that
# were in flight at that moment (max_concurrent_calls chunks). Then a cancel
# takes effect within a second and SIGTERM stops the worker within a second,
# though never in the middle of recording a chunk.
source "$(dirname "$0")/lib/e2e.sh"
source "$E2E_ROOT/scripts/lib/common.sh"
DB=cv_e2e_jobs_crash
trap 'drop_db $DB; psql -X -q -d postgres -c "ALTER SYSTEM RESET contractor_verify.job_retention" -c "SELECT pg_reload_conf()" >/dev/null 2>&1' EXIT
fresh_db $DB
q $DB "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000', ADD max_concurrent_calls '2')" >/dev/null
DATA="$PGHOST/data"
lookups() { "$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/'; }
worker_pid() { q $DB "SELECT pid FROM pg_stat_activity WHERE backend_type = 'contractor_verify worker' AND datname = '$DB'"; }
wait_ready() {
  for _ in $(seq 1 300); do pg_isready -q -d postgres && psql -X -q -At -d $DB -c "SELECT 1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "the cluster did not come back"
}

crash_case() {  # crash_case NAME FIRST_LICENSE HOW
  local name=$1 base=$2 how=$3
  "$SIMCTL" reset
  "$SIMCTL" config latency_ms=300
  local job; job=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'r' || i, 'CA', ($base + i)::text FROM generate_series(1, 4000) i\$\$)")
  local done_before=0
  for _ in $(seq 1 300); do
    done_before=$(q $DB "SELECT processed_entities FROM cv_job_status($job)")
    [ "$done_before" -ge 2000 ] && break
    sleep 0.05
  done
  [ "$done_before" -ge 2000 ] || fail "$name: the job never got half way"
  if [ "$how" = kill ]; then
    kill -9 "$(worker_pid)"
  else
    as_postgres pg_ctl -D "$DATA" -m immediate stop >/dev/null
    as_postgres pg_ctl -D "$DATA" -l "$PGHOST/server.log" -w -t 60 start >/dev/null
  fi
  wait_ready
  echo "$name: $done_before of 4000 records processed when it struck"
  assert_eq completed "$(wait_job $DB "$job" 120)" "$name: the job's status after the restart"
  assert_eq "4000|4000|0|4000" "$(q $DB "SELECT concat_ws('|', processed_entities, completed_entities, failed_entities, lookups_done) FROM cv_job_status($job)")" \
    "$name: processed, completed, failed, answers recorded"
  assert_eq 4000 "$(q $DB "SELECT count(*) FROM cv_job_results($job) WHERE error_code IS NULL OR error_code = 'NOT_FOUND'")" "$name: answered result rows"
  local charged; charged=$(lookups)
  local twice=$((charged - 4000))
  echo "$name: $charged lookups charged for 4000 licenses"
  [ "$twice" -le 200 ] || fail "$name: $twice lookups bought twice, more than the 2 chunks in flight"
  pass "$name: bought twice at most the chunks in flight ($twice lookups)"
}

crash_case "SIGKILL of the worker" 7000000 kill
crash_case "immediate shutdown" 7100000 immediate

# Cancel: queued work stops within a second; the calls in flight are recorded.
"$SIMCTL" reset
"$SIMCTL" config latency_ms=400
job=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'x' || i, 'CA', (7200000 + i)::text FROM generate_series(1, 5000) i\$\$)")
for _ in $(seq 1 100); do [ "$(q $DB "SELECT processed_entities FROM cv_job_status($job)")" -ge 200 ] && break; sleep 0.05; done
t0=$(now_ms)
assert_eq t "$(q $DB "SELECT cv_job_cancel($job)")" "cv_job_cancel of a running job"
status=$(wait_job $DB "$job" 10)
t1=$(now_ms)
assert_eq cancelled "$status" "the cancelled job's status"
[ $((t1 - t0)) -le 1500 ] || fail "the cancel took $((t1 - t0)) ms"
pass "the job stopped $((t1 - t0)) ms after the cancel"
sleep 1
charged=$(lookups)
row=$(q $DB "SELECT lookups_done || '|' || processed_entities FROM cv_job_status($job)")
assert_eq "$charged|$charged" "$row" "answers recorded and processed rows = lookups charged"
assert_eq $((5000 - charged)) "$(q $DB "SELECT count(*) FROM cv_job_results($job) WHERE error_code = 'CANCELLED'")" "rows never looked up, marked CANCELLED"
assert_eq f "$(q $DB "SELECT cv_job_cancel($job)")" "cv_job_cancel of a job that has ended"

# SIGTERM of the worker (as in a fast shutdown) stops it within a second; the
# job stays processing and resumes when a worker runs again.
"$SIMCTL" reset
"$SIMCTL" config latency_ms=300
job=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'y' || i, 'CA', (7300000 + i)::text FROM generate_series(1, 3000) i\$\$)")
for _ in $(seq 1 100); do [ "$(q $DB "SELECT processed_entities FROM cv_job_status($job)")" -ge 200 ] && break; sleep 0.05; done
pid=$(worker_pid)
t0=$(now_ms)
kill -TERM "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.02; [ $(($(now_ms) - t0)) -le 5000 ] || break; done
t1=$(now_ms)
kill -0 "$pid" 2>/dev/null && fail "the worker was still running 5 s after SIGTERM"
[ $((t1 - t0)) -le 1000 ] || fail "the worker took $((t1 - t0)) ms to stop"
pass "the worker stopped $((t1 - t0)) ms after SIGTERM"
assert_eq completed "$(wait_job $DB "$job" 60)" "the job resumed by a new worker"
charged=$(lookups)
[ $((charged - 3000)) -le 200 ] || fail "$((charged - 3000)) lookups bought twice after SIGTERM"
pass "after SIGTERM: $charged lookups for 3000 licenses"

# SIGTERM while the worker records a chunk (held up here by a lock on the
# history): the worker finishes recording before it stops, so every lookup
# the API charged is in the history (a termination acted on in the middle
# used to lose the chunk's rows although the quota had counted them).
"$SIMCTL" reset
"$SIMCTL" config latency_ms=100
job=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'w' || i, 'CA', (7400000 + i)::text FROM generate_series(1, 3000) i\$\$)")
for _ in $(seq 1 100); do [ "$(q $DB "SELECT processed_entities FROM cv_job_status($job)")" -ge 200 ] && break; sleep 0.05; done
pid=$(worker_pid)
coproc LOCKER { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB; }
echo "BEGIN; LOCK TABLE contractor_verify.verification_history IN EXCLUSIVE MODE; SELECT 'locked';" >&"${LOCKER[1]}"
read -r locked <&"${LOCKER[0]}"
assert_eq locked "$locked" "the history locked"
waiting=
for _ in $(seq 1 100); do
  waiting=$(q $DB "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $pid")
  [ "$waiting" = Lock ] && break
  sleep 0.05
done
assert_eq Lock "$waiting" "the worker waits on the lock while recording a chunk"
kill -TERM "$pid"
sleep 1
kill -0 "$pid" 2>/dev/null || fail "the worker stopped in the middle of recording a chunk"
pass "SIGTERM does not stop the worker in the middle of recording a chunk"
t0=$(now_ms)
echo "COMMIT;" >&"${LOCKER[1]}"
exec {LOCKER[1]}>&-
wait "$LOCKER_PID" || true
while kill -0 "$pid" 2>/dev/null; do sleep 0.02; [ $(($(now_ms) - t0)) -le 5000 ] || break; done
kill -0 "$pid" 2>/dev/null && fail "the worker was still running 5 s after the chunk could be recorded"
pass "the worker stopped $(($(now_ms) - t0)) ms after the chunk could be recorded"
assert_eq completed "$(wait_job $DB "$job" 60)" "the job resumed by a new worker"
sleep 0.5
charged=$(lookups)
recorded=$(q $DB "SELECT coalesce(sum(charged), 0) FROM contractor_verify.verification_history WHERE license_number LIKE '740%'")
echo "lookups charged $charged, counted by the history $recorded"
[ "$recorded" -ge "$charged" ] || fail "$((charged - recorded)) charged lookups missing from the history"
[ $((charged - 3000)) -le 200 ] || fail "$((charged - 3000)) lookups bought twice after SIGTERM"
pass "after SIGTERM mid-recording: every charged lookup in the history ($recorded of $charged)"

# Jobs that ended longer ago than contractor_verify.job_retention are deleted
# with their rows by the worker (when it starts, then hourly).
psql -X -q -d postgres -c "ALTER SYSTEM SET contractor_verify.job_retention = '1min'" -c "SELECT pg_reload_conf()" >/dev/null
old=$(q $DB "SELECT min(id) FROM contractor_verify.job_queue WHERE status = 'completed'")
q $DB "UPDATE contractor_verify.job_queue SET completed_at = now() - interval '2 minutes' WHERE id = $old" >/dev/null
kept=$(q $DB "SELECT count(*) FROM contractor_verify.job_queue WHERE id <> $old")
q $DB "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'contractor_verify worker' AND datname = '$DB'" >/dev/null
sleep 0.5
fresh=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'z', 'CA', '7300001'\$\$)")
assert_eq completed "$(wait_job $DB "$fresh" 30)" "a job run by a new worker"
assert_eq "0|0|0|$((kept + 1))" "$(q $DB "SELECT (SELECT count(*) FROM contractor_verify.job_queue WHERE id = $old) || '|' || (SELECT count(*) FROM contractor_verify.job_lookups WHERE job_id = $old) || '|' || (SELECT count(*) FROM contractor_verify.job_rows WHERE job_id = $old) || '|' || (SELECT count(*) FROM contractor_verify.job_queue)")" \
  "the expired job, its lookups, its rows; the jobs left"
psql -X -q -d postgres -c "ALTER SYSTEM RESET contractor_verify.job_retention" -c "SELECT pg_reload_conf()" >/dev/null
