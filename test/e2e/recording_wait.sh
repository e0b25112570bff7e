#!/usr/bin/env bash
# A backend waiting for the worker to record its answers sleeps: held up for
# seconds (the worker's writes to the cache wait on a lock), a batch uses a
# small fraction of a CPU meanwhile, and it goes on once the worker does.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_recording_wait
LOCKER=""
cleanup() {
  [ -n "$LOCKER" ] && kill "$LOCKER" 2>/dev/null
  rm -f $E2E_TMP/cv_recording_wait.out
  stop_own_simulator
  drop_db $DB
}
trap cleanup EXIT
own_simulator cv_recording_wait_key
fresh_db $DB
lookups() { "$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/'; }
q $DB "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000', ADD batch_size '50', ADD max_concurrent_calls '1')" >/dev/null
"$SIMCTL" config latency_ms=50
# CPU time (clock ticks) a process has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)

psql -X -q -d $DB -c "BEGIN" -c "LOCK TABLE contractor_verify.license_cache IN SHARE MODE" -c "SELECT pg_sleep(4)" -c "COMMIT" >/dev/null 2>&1 &
LOCKER=$!
sleep 0.3
PGAPPNAME=cv_recording_wait psql -X -q -At -d $DB \
  -c "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'w' || i, 'CA', (8700000 + i)::text FROM generate_series(1, 200) i\$\$)" \
  >$E2E_TMP/cv_recording_wait.out 2>&1 &
BPID=$!
for _ in $(seq 1 100); do [ "$(lookups)" -ge 50 ] && break; sleep 0.05; done
pid=$(q $DB "SELECT pid FROM pg_stat_activity WHERE application_name = 'cv_recording_wait'")
[ -n "$pid" ] || fail "the batch's backend is not there"
sleep 0.3
before=$(cpu_ticks "$pid")
sleep 2
after=$(cpu_ticks "$pid")
assert_eq 50 "$(lookups)" "lookups bought while the worker is held up (one chunk, then the batch waits)"
used=$((after - before))
echo "CPU used by the waiting batch in 2 s: $used ticks ($ticks_per_second a second)"
[ "$used" -le $((ticks_per_second / 5)) ] || fail "the waiting batch used $used ticks of CPU in 2 s"
pass "the waiting batch sleeps"
wait $LOCKER || true
LOCKER=""
wait $BPID || fail "the batch failed: $(cat $E2E_TMP/cv_recording_wait.out)"
assert_eq 200 "$(cat $E2E_TMP/cv_recording_wait.out)" "the batch's rows once the worker goes on"
assert_eq 200 "$(lookups)" "lookups bought"
