#!/usr/bin/env bash
# The monthly quota under concurrency, counted exactly:
# - a job short of quota when it starts (two jobs submitted in overlapping
#   transactions, neither seeing the other's at submit) never crosses it,
#   with four chunks in flight at once: each chunk is reserved on top of
#   those still in flight;
# - a batch whose backend is terminated (pg_terminate_backend) while it waits
#   for the worker gives back what it reserved: the quota's count is what the
#   API charged, not that plus a reservation nobody holds any more;
# - answers a job bought but could not record still count against the quota.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_jobs_quota_inflight
LOCKER=""
cleanup() {
  [ -n "$LOCKER" ] && kill "$LOCKER" 2>/dev/null
  rm -f $E2E_TMP/cv_quota_inflight_*.out
  stop_own_simulator
  drop_db $DB
}
trap cleanup EXIT
own_simulator cv_quota_inflight_key
fresh_db $DB
lookups() { "$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/'; }
# remaining N: what the quota says remains, read from the refusal of a job of N lookups.
remaining() {
  psql -X -q -At -d $DB -c "SELECT cv_job_submit(\$\$SELECT 'probe' || i, 'CA', (9900000 + i)::text FROM generate_series(1, $1) i\$\$)" 2>&1 |
    sed -nE 's/.*but only ([0-9]+) of the monthly quota.*/\1/p' || true
}

# --- a job short of quota, four chunks in flight ------------------------------
q $DB "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000', ADD monthly_lookup_quota '500', ADD batch_size '50', ADD max_concurrent_calls '4')" >/dev/null
"$SIMCTL" config latency_ms=400
psql -X -q -At -d $DB -c "BEGIN" \
  -c "SELECT cv_job_submit(\$\$SELECT 'a' || i, 'CA', (8000000 + i)::text FROM generate_series(1, 400) i\$\$)" \
  -c "SELECT pg_sleep(2)" -c "COMMIT" >$E2E_TMP/cv_quota_inflight_a.out 2>&1 &
APID=$!
sleep 0.7
b=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'b' || i, 'CA', (8100000 + i)::text FROM generate_series(1, 400) i\$\$)")
wait $APID
a=$(head -1 $E2E_TMP/cv_quota_inflight_a.out)
[[ $a =~ ^[0-9]+$ ]] || fail "the first submit: $(cat $E2E_TMP/cv_quota_inflight_a.out)"
pass "two jobs of 400 lookups each accepted under a quota of 500 (overlapping submits)"
sa=$(wait_job $DB "$a" 90)
sb=$(wait_job $DB "$b" 90)
assert_eq "completed failed" "$(echo "$sa $sb" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')" "one job completed, the other stopped at the quota"
assert_eq "500|QUOTA_EXCEEDED" "$(q $DB "SELECT sum(lookups_done) || '|' || max(error_code) FROM contractor_verify.jobs WHERE job_id IN ($a, $b)")" "lookups the jobs bought, and the error"
assert_eq 500 "$(lookups)" "lookups the API charged (the quota, not one more)"

# --- a batch terminated while it waits for the worker --------------------------
q $DB "ALTER SERVER contractor_verify OPTIONS (SET monthly_lookup_quota '2000', SET max_concurrent_calls '1')" >/dev/null
"$SIMCTL" reset
"$SIMCTL" config latency_ms=100
assert_eq 1500 "$(remaining 1600)" "quota left before the batch"
# The worker is held up recording (its writes to the cache wait on a lock),
# so the batch, one chunk handed over, waits for it.
psql -X -q -d $DB -c "BEGIN" -c "LOCK TABLE contractor_verify.license_cache IN SHARE MODE" -c "SELECT pg_sleep(4)" -c "COMMIT" >/dev/null 2>&1 &
LOCKER=$!
sleep 0.3
PGAPPNAME=cv_quota_inflight_victim psql -X -q -At -d $DB \
  -c "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'v' || i, 'CA', (8200000 + i)::text FROM generate_series(1, 300) i\$\$)" \
  >$E2E_TMP/cv_quota_inflight_v.out 2>&1 &
VPID=$!
for _ in $(seq 1 50); do [ "$(lookups)" -ge 50 ] && break; sleep 0.05; done
sleep 0.5
assert_eq 1 "$(q $DB "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'cv_quota_inflight_victim'")" "the batch's backend terminated while it waits"
wait $VPID || true
wait $LOCKER || true
LOCKER=""
charged=$(lookups)
assert_eq $((1500 - charged)) "$(remaining 1600)" "quota left after the terminated batch (it had bought $charged)"

# --- answers a job bought and could not record ---------------------------------
"$SIMCTL" reset
q $DB "ALTER SERVER contractor_verify OPTIONS (SET max_concurrent_calls '2')" >/dev/null
left=$(remaining 1600)
"$SIMCTL" config latency_ms=300
# While the job runs, its own tables are locked past the worker's lock_timeout:
# the chunks that arrive then are set aside, and the job fails.
job=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'w' || i, 'CA', (8300000 + i)::text FROM generate_series(1, 300) i\$\$)")
for _ in $(seq 1 100); do [ "$(q $DB "SELECT job_status FROM cv_job_status($job)")" = processing ] && break; sleep 0.05; done
psql -X -q -d $DB -c "BEGIN" -c "LOCK TABLE contractor_verify.job_lookups, contractor_verify.job_queue IN EXCLUSIVE MODE" -c "SELECT pg_sleep(13)" -c "COMMIT" >/dev/null 2>&1
wait_job $DB "$job" 60 >/dev/null
charged=$(lookups)
[ "$(q $DB "SELECT count(*) FROM contractor_verify.unrecorded_answers")" -gt 0 ] || fail "no answer was set aside"
pass "answers set aside while the job's tables were locked"
assert_eq $((left - charged)) "$(remaining 1600)" "quota left after the job (the API charged $charged)"
