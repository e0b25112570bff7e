#!/usr/bin/env bash
# A cancel left uncommitted holds up nobody: a role with the right to cancel
# calls cv_job_cancel on its running job and keeps the transaction open. The
# worker goes on with the job (the cancel is not committed) and keeps
# recording every other session's answers; when the transaction rolls back
# the job completes, run once, every answer recorded, none bought twice. A
# cancel that commits stops the job.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_jobs_cancel_open
HOLDER=""
cleanup() {
  [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
  stop_own_simulator
  drop_db $DB
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS cv_e2e_canceller" >/dev/null 2>&1 || true
}
trap cleanup EXIT
own_simulator cv_jobs_cancel_open_key
fresh_db $DB
lookups() { "$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/'; }
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<SQL
DROP ROLE IF EXISTS cv_e2e_canceller;
CREATE ROLE cv_e2e_canceller LOGIN;
GRANT USAGE ON FOREIGN SERVER contractor_verify TO cv_e2e_canceller;
CREATE USER MAPPING FOR cv_e2e_canceller SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY');
GRANT EXECUTE ON FUNCTION cv_job_submit(text, interval, name, text), cv_job_cancel(bigint) TO cv_e2e_canceller;
ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000', ADD batch_size '50', ADD max_concurrent_calls '2');
SQL
as_canceller() { PGUSER=cv_e2e_canceller psql -X -q -At -d $DB "$@"; }
"$SIMCTL" config latency_ms=500

job=$(as_canceller -c "SELECT cv_job_submit(\$\$SELECT 'a' || i, 'CA', (8800000 + i)::text FROM generate_series(1, 1000) i\$\$)")
for _ in $(seq 1 100); do [ "$(q $DB "SELECT job_status FROM cv_job_status($job)")" = processing ] && break; sleep 0.05; done
assert_eq processing "$(q $DB "SELECT job_status FROM cv_job_status($job)")" "the job runs"

as_canceller -c "BEGIN" -c "SELECT cv_job_cancel($job)" -c "SELECT pg_sleep(12)" -c "ROLLBACK" >/dev/null 2>&1 &
HOLDER=$!
sleep 1.5
t0=$(now_ms)
assert_eq 100 "$(q $DB "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'x' || i, 'CA', (8900000 + i)::text FROM generate_series(1, 100) i\$\$)")" "another session's batch meanwhile"
t1=$(now_ms)
echo "the batch took $((t1 - t0)) ms"
[ $((t1 - t0)) -le 4000 ] || fail "the batch waited $((t1 - t0)) ms for the worker"
pass "the worker recorded another session's answers while the cancel was open"
progressed=$(q $DB "SELECT processed_entities FROM cv_job_status($job)")
[ "$progressed" -ge 100 ] || fail "the job made no progress while the cancel was open ($progressed rows)"
pass "the job went on while the cancel was open ($progressed rows so far)"
wait $HOLDER || true
HOLDER=""

assert_eq completed "$(wait_job $DB "$job" 120)" "the job, its cancel rolled back"
assert_eq "1000|1000|1" "$(q $DB "SELECT concat_ws('|', processed_entities, lookups_done, runs, error_code) FROM cv_job_status($job)")" "rows, lookups bought, runs, error"
assert_eq 0 "$(q $DB "SELECT count(*) FROM contractor_verify.unrecorded_answers")" "answers set aside"
assert_eq 1100 "$(lookups)" "lookups the API charged (the distinct licenses)"
assert_eq f "$(q $DB "SELECT cancel_requested FROM cv_job_status($job)")" "cancel_requested after the rollback"

# A cancel that commits stops a running job, and one of a queued job ends it
# without a call.
"$SIMCTL" reset
"$SIMCTL" config latency_ms=500
run=$(as_canceller -c "SELECT cv_job_submit(\$\$SELECT 'r' || i, 'CA', (8950000 + i)::text FROM generate_series(1, 1000) i\$\$)")
queued=$(as_canceller -c "SELECT cv_job_submit(\$\$SELECT 'q' || i, 'CA', (8960000 + i)::text FROM generate_series(1, 100) i\$\$)")
for _ in $(seq 1 100); do [ "$(q $DB "SELECT job_status FROM cv_job_status($run)")" = processing ] && break; sleep 0.05; done
assert_eq "true|true" "$(as_canceller -c "SELECT cv_job_cancel($queued)::text || '|' || cv_job_cancel($run)::text")" "cv_job_cancel of a queued and a running job"
assert_eq cancelled "$(wait_job $DB "$queued" 10)" "the queued job"
assert_eq cancelled "$(wait_job $DB "$run" 10)" "the running job"
assert_eq "0|true" "$(q $DB "SELECT lookups_done || '|' || cancel_requested FROM cv_job_status($queued)")" "lookups bought for the queued job, cancel_requested"
assert_eq f "$(as_canceller -c "SELECT cv_job_cancel($run)")" "cv_job_cancel of a job that has ended"
