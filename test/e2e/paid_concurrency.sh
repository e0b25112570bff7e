#!/usr/bin/env bash
# Concurrent lookups never wait on one another, never deadlock, and never buy
# the same license twice: answers are recorded by the database's worker in
# short transactions of its own, and a lookup in flight anywhere is waited for
# instead of bought again (single flight).
source "$(dirname "$0")/lib/e2e.sh"
trap 'rm -f "${fifo:-}" $E2E_TMP/cv_conc_*.out $E2E_TMP/cv_conc_deadlocks; drop_db cv_e2e_conc' EXIT
fresh_db cv_e2e_conc
q cv_e2e_conc "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000', ADD max_concurrent_calls '2')" >/dev/null
lookups() { "$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/'; }
max_per_license() { "$SIMCTL" counters | python3 -c 'import json,sys; c=json.load(sys.stdin)["per_license"]; print(max(c.values()) if c else 0)'; }

# 1. A batch whose transaction stays open holds no lock anyone waits for: a
# second batch over an overlapping roster and a single lookup of a license
# the first one recorded both go on.
"$SIMCTL" reset
"$SIMCTL" config latency_ms=100
fifo=$(mktemp -u /tmp/cv_conc.XXXXXX); mkfifo "$fifo"
psql -X -q -At -d cv_e2e_conc <"$fifo" >$E2E_TMP/cv_conc_a.out 2>&1 &
holder=$!
exec 7>"$fifo"
echo "BEGIN; SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'a' || i, 'CA', (340000 + i)::text FROM generate_series(1, 300) i\$\$); SELECT 'batch A done';" >&7
for _ in $(seq 1 200); do grep -q "batch A done" $E2E_TMP/cv_conc_a.out 2>/dev/null && break; sleep 0.05; done
grep -q "batch A done" $E2E_TMP/cv_conc_a.out || fail "batch A did not finish: $(cat $E2E_TMP/cv_conc_a.out)"
t0=$(now_ms)
single=$(psql -X -q -At -d cv_e2e_conc -c "SET lock_timeout = '3s'" -c "SELECT from_cache FROM cv_verify('CA', '340007')")
t1=$(now_ms)
assert_eq "t" "$single" "a lookup of a license the open transaction's batch bought"
echo "that lookup took $((t1 - t0)) ms while the other transaction stayed open"
b=$(psql -X -q -At -d cv_e2e_conc -c "SET lock_timeout = '5s'" -c "SELECT count(*) || ',' || count(*) FILTER (WHERE from_cache) FROM cv_verify_batch(\$\$SELECT 'b' || i, 'CA', (340150 + i)::text FROM generate_series(1, 300) i\$\$)")
assert_eq "300,150" "$b" "an overlapping batch beside the open transaction (rows, from cache)"
echo "ROLLBACK;" >&7
exec 7>&-
wait "$holder"
rm -f "$fifo" $E2E_TMP/cv_conc_a.out
assert_eq 450 "$(lookups)" "lookups charged (distinct licenses)"
assert_eq 450 "$(q cv_e2e_conc "SELECT count(*) FROM contractor_verify.license_cache WHERE license_number::int BETWEEN 340001 AND 340450")" "answers kept after the open transaction rolled back"

# 2. Four sessions, overlapping rosters in different orders, at once; five
# rounds: no error, no deadlock, every license bought exactly once.
"$SIMCTL" config latency_ms=50
for round in 1 2 3 4 5; do
  "$SIMCTL" reset
  "$SIMCTL" config latency_ms=50
  base=$((341000 + round * 1000))
  pids=()
  for s in 1 2 3 4; do
    # Session s takes 300 of the round's 400 licenses, each in its own order.
    psql -X -q -At -d cv_e2e_conc -c "SELECT count(*) || ' rows, ' || count(*) FILTER (WHERE error_code IN ('CALL_FAILED', 'MISSING_RESULT', 'MALFORMED_RESULT', 'NO_RESULT')) || ' errors' FROM cv_verify_batch(\$\$SELECT 's$s-' || k, 'CA', ($base + k)::text FROM generate_series(1, 400) k WHERE (k + $s * 100) % 400 >= 100 ORDER BY md5('$s' || k)\$\$)" >"$E2E_TMP/cv_conc_$s.out" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  for s in 1 2 3 4; do
    assert_eq "300 rows, 0 errors" "$(cat $E2E_TMP/cv_conc_$s.out)" "round $round, session $s"
    rm -f "$E2E_TMP/cv_conc_$s.out"
  done
  assert_eq 400 "$(lookups)" "round $round: lookups charged for 400 distinct licenses"
  assert_eq 1 "$(max_per_license)" "round $round: most lookups of any one license"
done
grep -c "deadlock detected" "$CV_SERVER_LOG" >$E2E_TMP/cv_conc_deadlocks || true
assert_eq 0 "$(cat $E2E_TMP/cv_conc_deadlocks)" "deadlocks in the server log"
rm -f $E2E_TMP/cv_conc_deadlocks

# 3. The same license looked up by four sessions at the same moment is bought once.
"$SIMCTL" reset
"$SIMCTL" config latency_ms=500
pids=()
for s in 1 2 3 4; do
  psql -X -q -At -d cv_e2e_conc -c "SELECT coalesce(license_status, error_code) FROM cv_verify('CA', '349999')" >"$E2E_TMP/cv_conc_$s.out" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
for s in 1 2 3 4; do [ -n "$(cat $E2E_TMP/cv_conc_$s.out)" ] || fail "single lookup in session $s: $(cat $E2E_TMP/cv_conc_$s.out)"; rm -f "$E2E_TMP/cv_conc_$s.out"; done
assert_eq 1 "$(lookups)" "lookups of a license four sessions asked for at once"

# 4. Single lookups go through the cluster-wide limiter: 12 of them under a
# plan of 5 per 2 s (the simulator enforces it too) get no 429.
"$SIMCTL" reset
"$SIMCTL" config latency_ms=0 verify_rate_limit=5 rate_window_ms=2000
q cv_e2e_conc "ALTER SERVER contractor_verify OPTIONS (ADD single_calls_per_minute '5', ADD rate_window '2s')" >/dev/null
pids=()
for s in 1 2; do
  psql -X -q -At -d cv_e2e_conc -c "SELECT count(*) FROM generate_series(1, 6) i, cv_verify('CA', (348000 + $s * 10 + i)::text)" >"$E2E_TMP/cv_conc_$s.out" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
for s in 1 2; do assert_eq 6 "$(cat $E2E_TMP/cv_conc_$s.out)" "single lookups in session $s"; rm -f "$E2E_TMP/cv_conc_$s.out"; done
c=$("$SIMCTL" counters)
assert_eq 12 "$(echo "$c" | sed -E 's/.*"verify":([0-9]+).*/\1/')" "single-lookup calls"
assert_eq 0 "$(echo "$c" | sed -E 's/.*"rate_limited":([0-9]+).*/\1/')" "429s"

# 5. Answers for licenses no cache row was seen for are inserted, not
# upserted: in a subtransaction of the worker's, so each cache row's xmin is
# not its history row's. A row recorded between a batch's look-up and its
# recording (here by hand, while the call is in flight) is met by that
# insert, which is undone, and the upsert records the answer instead: nothing
# set aside, nothing bought again, the newer answer kept. A batch refreshing
# rows it saw upserts them at once.
"$SIMCTL" reset
"$SIMCTL" config latency_ms=0
q cv_e2e_conc "ALTER SERVER contractor_verify OPTIONS (SET max_concurrent_calls '1')" >/dev/null
same_xmin() {  # cache rows in [$1, $2] whose xmin is their latest history row's
  q cv_e2e_conc "SELECT count(*) FROM contractor_verify.license_cache c WHERE c.license_number::int BETWEEN $1 AND $2 AND c.xmin::text = (SELECT h.xmin::text FROM contractor_verify.verification_history h WHERE h.state = c.state AND h.license_number = c.license_number ORDER BY h.id DESC LIMIT 1)"
}
set_aside_before=$(q cv_e2e_conc "SELECT count(*) FROM contractor_verify.unrecorded_answers")
assert_eq 100 "$(q cv_e2e_conc "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'n' || i, 'CA', (350100 + i)::text FROM generate_series(1, 100) i\$\$)")" "a batch of licenses new to the cache"
assert_eq 0 "$(same_xmin 350101 350200)" "new licenses' cache rows the upsert wrote (the insert wrote them)"
"$SIMCTL" config latency_ms=1500
psql -X -q -At -d cv_e2e_conc -c "SELECT count(*) || ' rows, ' || count(*) FILTER (WHERE error_code IN ('CALL_FAILED', 'MISSING_RESULT', 'MALFORMED_RESULT', 'NO_RESULT')) || ' errors' FROM cv_verify_batch(\$\$SELECT 'm' || i, 'CA', (350000 + i)::text FROM generate_series(1, 100) i\$\$)" >$E2E_TMP/cv_conc_met.out 2>&1 &
met=$!
sleep 0.6
q cv_e2e_conc "INSERT INTO contractor_verify.license_cache (api_url, server_name, state, license_number, outcome, fetched_at, expires_at) SELECT api_url, 'by hand', 'CA', '350050', 'NOT_FOUND', now() - interval '1 hour', now() + interval '1 day' FROM contractor_verify.license_cache WHERE license_number = '350101'" >/dev/null
wait "$met" || true
assert_eq "100 rows, 0 errors" "$(cat $E2E_TMP/cv_conc_met.out)" "a batch whose row appeared while its call was in flight"
rm -f $E2E_TMP/cv_conc_met.out
assert_eq "contractor_verify true" "$(q cv_e2e_conc "SELECT server_name || ' ' || (fetched_at > now() - interval '1 minute') FROM contractor_verify.license_cache WHERE license_number = '350050'")" "the row recorded meanwhile, after the batch's answer"
assert_eq 100 "$(same_xmin 350001 350100)" "that batch's cache rows written by the upsert once the insert met the row"
assert_eq "$set_aside_before" "$(q cv_e2e_conc "SELECT count(*) FROM contractor_verify.unrecorded_answers")" "answers set aside"
"$SIMCTL" config latency_ms=0
assert_eq 100 "$(q cv_e2e_conc "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'n' || i, 'CA', (350100 + i)::text FROM generate_series(1, 100) i\$\$, max_age => '0')")" "a batch refreshing rows it saw"
assert_eq 100 "$(same_xmin 350101 350200)" "refreshed rows written by the upsert"
assert_eq 300 "$(lookups)" "lookups charged: each license once per batch"
assert_eq 200 "$(q cv_e2e_conc "SELECT count(*) FROM contractor_verify.license_cache WHERE license_number::int BETWEEN 350001 AND 350200")" "cache rows"
# The same without a race: a name lookup answered with a license the batch
# had looked up and found new, one chunk earlier.
q cv_e2e_conc "ALTER SERVER contractor_verify OPTIONS (ADD batch_size '1')" >/dev/null
assert_eq 2 "$(q cv_e2e_conc "SELECT count(*) FROM cv_verify_batch(\$\$VALUES ('a', 'CA', '1052183', NULL), ('b', 'CA', NULL, 'Pacific Electric Inc')\$\$)")" "a number and a name that turns out to be the same license"
assert_eq 2 "$(q cv_e2e_conc "SELECT count(*) FROM contractor_verify.verification_history WHERE license_number = '1052183'")" "its history rows"
assert_eq 1 "$(same_xmin 1052183 1052183)" "its cache row written by the upsert once the insert met the row"
assert_eq "$set_aside_before" "$(q cv_e2e_conc "SELECT count(*) FROM contractor_verify.unrecorded_answers")" "answers set aside"
grep -c "leak" "$CV_SERVER_LOG" >$E2E_TMP/cv_conc_leaks || true
assert_eq 0 "$(cat $E2E_TMP/cv_conc_leaks)" "resource leaks reported in the server log"
rm -f $E2E_TMP/cv_conc_leaks
