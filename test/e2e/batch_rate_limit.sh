#!/usr/bin/env bash
# Four sessions running batches at once share one cluster-wide limiter: the
# simulator never answers 429 and never sees more than the limit in any
# window, whether it counts a fixed or a sliding window.
source "$(dirname "$0")/lib/e2e.sh"
trap 'drop_db cv_e2e_rate' EXIT
fresh_db cv_e2e_rate
q cv_e2e_rate "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '4', ADD rate_window '2s', ADD max_concurrent_calls '2')" >/dev/null

run_round() {  # run_round MODE FIRST_LICENSE [SESSIONS]: 16 calls of 100 records in all
  local mode=$1 base=$2 sessions=${3:-4} pids=() s
  local per=$((1600 / sessions))
  "$SIMCTL" reset
  "$SIMCTL" config rate_limit=4 rate_window_ms=2000 rate_mode="$mode" latency_ms=50
  for s in $(seq 1 "$sessions"); do
    psql -X -q -At -d cv_e2e_rate -c "SELECT count(*) || ' rows, ' || count(*) FILTER (WHERE error_code = 'CALL_FAILED') || ' failed calls' FROM cv_verify_batch(\$\$SELECT 's$s-' || i, 'CA', ($base + $s * 1000 + i)::text FROM generate_series(1, $per) i\$\$)" >"$E2E_TMP/cv_rate_$s.out" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail "a session failed: $(cat $E2E_TMP/cv_rate_*.out)"; done
  for s in $(seq 1 "$sessions"); do assert_eq "$per rows, 0 failed calls" "$(cat $E2E_TMP/cv_rate_$s.out)" "session $s of $sessions ($mode window)"; rm -f "$E2E_TMP/cv_rate_$s.out"; done
  local c; c=$("$SIMCTL" counters)
  assert_eq 16 "$(echo "$c" | sed -E 's/.*"batch":([0-9]+).*/\1/')" "batch calls ($mode window)"
  assert_eq 0 "$(echo "$c" | sed -E 's/.*"rate_limited":([0-9]+).*/\1/')" "429s from the simulator ($mode window)"
  local most; most=$(echo "$c" | sed -E 's/.*"max_batch_calls_in_window":([0-9]+).*/\1/')
  [ "$most" -le 4 ] || fail "$most calls in one window ($mode)"
  pass "at most $most calls in any 2 s window ($mode window, limit 4)"
}

run_round fixed 900000
run_round sliding 950000
# Eight sessions on the two cores: still no window over the limit, no 429.
run_round fixed 960000 8

# A 429 seen by one session pauses every session using the key until its
# Retry-After has passed.
"$SIMCTL" reset
q cv_e2e_rate "ALTER SERVER contractor_verify OPTIONS (SET calls_per_minute '100')" >/dev/null
"$SIMCTL" fault http429 retry_after=3 endpoint=batch
t0=$(now_ms)
psql -X -q -At -d cv_e2e_rate -c "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'p' || i, 'CA', (990000 + i)::text FROM generate_series(1, 50) i\$\$)" >$E2E_TMP/cv_pause_1.out 2>&1 &
first=$!
sleep 0.5
t1=$(now_ms)
second=$(psql -X -q -At -d cv_e2e_rate -c "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'q' || i, 'CA', (995000 + i)::text FROM generate_series(1, 50) i\$\$)")
t2=$(now_ms)
wait "$first"
assert_eq 50 "$(cat $E2E_TMP/cv_pause_1.out)" "rows of the session that got the 429"
assert_eq 50 "$second" "rows of the other session"
waited=$((t2 - t1))
[ "$waited" -ge 2000 ] || fail "the other session called during the pause (done after $waited ms)"
pass "the other session waited out the pause: done $waited ms after it started, $((t2 - t0)) ms after the 429"
assert_eq 1 "$("$SIMCTL" counters | sed -E 's/.*"rate_limited":([0-9]+).*/\1/')" "429s sent (only the injected one)"
rm -f $E2E_TMP/cv_pause_1.out
