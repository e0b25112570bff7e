#!/usr/bin/env bash
# Every answer the API charged for and that arrived is recorded exactly once,
# whatever happens to the caller's statement or transaction: a batch that
# fails for good, all_or_nothing, a cancel, a rollback. A rerun buys only what
# never arrived. The simulator's per-license counters are the proof.
source "$(dirname "$0")/lib/e2e.sh"
trap 'drop_db cv_e2e_paid' EXIT
fresh_db cv_e2e_paid
q cv_e2e_paid "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000', ADD max_concurrent_calls '3', ADD max_retry_after '5s')" >/dev/null

lookups() { "$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/'; }
roster() { echo "\$\$SELECT 'r' || i, 'CA', ($1 + i)::text FROM generate_series(1, 300) i\$\$"; }
cached() { q cv_e2e_paid "SELECT count(*) FROM contractor_verify.license_cache WHERE license_number::int BETWEEN $1 + 1 AND $1 + 300"; }

# A batch of three chunks in flight at once where one call fails for good:
# the other two chunks' answers (paid for) are recorded before the statement
# ends, with an error or with CALL_FAILED rows; the rerun buys the one chunk.
loss_case() {  # loss_case NAME FIRST_LICENSE OPTIONS FAULT...
  local name=$1 base=$2 options=$3; shift 3
  "$SIMCTL" reset
  "$SIMCTL" config latency_ms=300
  "$SIMCTL" fault "$@" count=1 endpoint=batch
  local out; out=$(psql -X -q -At -d cv_e2e_paid -c "SELECT count(*) || ' rows, ' || count(*) FILTER (WHERE error_code = 'CALL_FAILED') || ' failed' FROM cv_verify_batch($(roster "$base")$options)" 2>&1 || true)
  echo "$name: $out"
  assert_eq 200 "$(lookups)" "$name: lookups the API charged"
  assert_eq 200 "$(cached "$base")" "$name: answers recorded although the batch failed"
  assert_eq 200 "$(q cv_e2e_paid "SELECT count(*) FROM contractor_verify.verification_history WHERE charged > 0 AND license_number::int BETWEEN $base + 1 AND $base + 300")" "$name: charged history rows"
  sleep "${PAUSE:-0}"
  "$SIMCTL" reset
  "$SIMCTL" config latency_ms=0
  assert_eq 300 "$(q cv_e2e_paid "SELECT count(*) FROM cv_verify_batch($(roster "$base"))")" "$name: rerun rows"
  assert_eq 100 "$(lookups)" "$name: lookups bought on the rerun (only the chunk that never got an answer)"
}
PAUSE=4 loss_case "Retry-After beyond max_retry_after" 330000 "" http429 retry_after=8
q cv_e2e_paid "ALTER SERVER contractor_verify OPTIONS (ADD max_retries '0')" >/dev/null
loss_case "a 500 with max_retries 0 (CALL_FAILED rows)" 331000 "" http500
loss_case "all_or_nothing" 332000 ", all_or_nothing => true" http500
q cv_e2e_paid "ALTER SERVER contractor_verify OPTIONS (DROP max_retries)" >/dev/null

# A cancel mid-batch: what arrived before it is recorded; the rerun waits for
# nothing and buys only the rest.
"$SIMCTL" reset
"$SIMCTL" config latency_ms=700
q cv_e2e_paid "ALTER SERVER contractor_verify OPTIONS (SET max_concurrent_calls '1')" >/dev/null
psql -X -At -d cv_e2e_paid -c "SET application_name = 'cv_e2e_paid_victim'" \
  -c "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'r' || i, 'CA', (333000 + i)::text FROM generate_series(1, 500) i\$\$)" >$E2E_TMP/cv_paid.out 2>&1 &
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
grep -q "canceling statement" $E2E_TMP/cv_paid.out || fail "the batch was not cancelled: $(cat $E2E_TMP/cv_paid.out)"
paid=$(lookups)
kept=$(q cv_e2e_paid "SELECT count(*) FROM contractor_verify.license_cache WHERE license_number::int BETWEEN 333001 AND 333500")
[ "$kept" -ge "$done_before" ] || fail "kept $kept answers, but $done_before had arrived before the cancel"
pass "answers kept after the cancel: $kept (at least the $done_before that had arrived)"
"$SIMCTL" reset
"$SIMCTL" config latency_ms=0
q cv_e2e_paid "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'r' || i, 'CA', (333000 + i)::text FROM generate_series(1, 500) i\$\$)" >/dev/null
assert_eq "$((500 - kept))" "$(lookups)" "lookups bought on the rerun after the cancel (charged before it: $paid)"
assert_eq 500 "$(q cv_e2e_paid "SELECT count(*) FROM contractor_verify.verification_history WHERE billable AND outcome <> 'ABANDONED' AND license_number::int BETWEEN 333001 AND 333500")" "billable answers in the history (each once)"
assert_eq "$((paid - kept))" "$(q cv_e2e_paid "SELECT coalesce(sum(charged), 0) FROM contractor_verify.verification_history WHERE outcome = 'ABANDONED' AND license_number::int BETWEEN 333001 AND 333500")" "lookups charged for the call abandoned in flight"
q cv_e2e_paid "ALTER SERVER contractor_verify OPTIONS (SET max_concurrent_calls '3')" >/dev/null

# A rollback, of a transaction or of a savepoint, does not un-record answers.
"$SIMCTL" reset
psql -X -q -d cv_e2e_paid -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
BEGIN;
SELECT cv_verify('CA', '334001');
SELECT count(*) FROM cv_verify_batch($$SELECT 'r' || i, 'CA', (334100 + i)::text FROM generate_series(1, 150) i$$);
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT cv_verify('CA', '334002');
ROLLBACK TO SAVEPOINT s;
COMMIT;
SQL
assert_eq 152 "$(q cv_e2e_paid "SELECT count(*) FROM contractor_verify.license_cache WHERE license_number IN ('334001', '334002') OR license_number::int BETWEEN 334101 AND 334250")" "answers kept after the rollbacks"
assert_eq 152 "$(lookups)" "lookups charged"
"$SIMCTL" reset
q cv_e2e_paid "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'r' || i, 'CA', (334100 + i)::text FROM generate_series(1, 150) i UNION ALL VALUES ('a', 'CA', '334001'), ('b', 'CA', '334002')\$\$)" >/dev/null
assert_eq 0 "$(lookups)" "lookups bought again for them"

# STATE_TIMEOUT is not called again before its next attempt is due, in a
# batch as in a single lookup; max_age => 0 forces the call.
"$SIMCTL" reset
"$SIMCTL" license LA 80001 outcome=STATE_TIMEOUT
q cv_e2e_paid "SELECT error_code FROM cv_verify('LA', '80001')" >/dev/null
out=$(q cv_e2e_paid "SELECT error_code || ',' || from_cache || ',' || (next_attempt_at > now() + interval '3 hours') FROM cv_verify_batch(\$\$VALUES ('a', 'LA', '80001'), ('b', 'LA', '80001')\$\$) LIMIT 1")
assert_eq "STATE_TIMEOUT,true,true" "$out" "a batch row for a license whose retry is not due"
assert_eq "STATE_TIMEOUT" "$(q cv_e2e_paid "SELECT error_code FROM cv_verify('LA', '80001')")" "a single lookup of it"
assert_eq 1 "$("$SIMCTL" counters | sed -E 's/.*"LA:80001":([0-9]+).*/\1/')" "calls for the timed-out license"
q cv_e2e_paid "SELECT error_code FROM cv_verify('LA', '80001', max_age => '0')" >/dev/null
assert_eq 2 "$("$SIMCTL" counters | sed -E 's/.*"LA:80001":([0-9]+).*/\1/')" "calls after max_age => 0"
rm -f $E2E_TMP/cv_paid.out

# An answer the worker cannot record (here a constraint refuses one license's
# history row) is set aside with a WARNING, visible in
# contractor_verify.unrecorded_answers, and blocks nothing: the batch returns
# its rows and the next lookups work.
"$SIMCTL" reset
q cv_e2e_paid "ALTER TABLE contractor_verify.verification_history ADD CONSTRAINT cv_e2e_refuse CHECK (license_number IS DISTINCT FROM '335002')" >/dev/null
out=$(q cv_e2e_paid "SELECT count(*) FROM cv_verify_batch(\$\$VALUES ('a', 'CA', '335001'), ('b', 'CA', '335002'), ('c', 'CA', '335003')\$\$)")
assert_eq 3 "$out" "rows of the batch whose answers could not be recorded"
assert_eq "1|3|true" "$(q cv_e2e_paid "SELECT count(*) || '|' || max(answers) || '|' || bool_and(reason LIKE '%cv_e2e_refuse%' AND convert_from(payload, 'UTF8')::jsonb ? 'observations') FROM contractor_verify.unrecorded_answers")" "set aside (messages, answers, reason and payload kept)"
grep -q "could not record 3 answers and set them aside" "$CV_SERVER_LOG" || fail "no WARNING in the server log"
pass "the WARNING is in the server log"
assert_eq "f" "$(q cv_e2e_paid "SELECT from_cache FROM cv_verify('CA', '335004')")" "the next lookup works"
assert_eq "t" "$(q cv_e2e_paid "SELECT from_cache FROM cv_verify('CA', '335004')")" "and is recorded"
q cv_e2e_paid "ALTER TABLE contractor_verify.verification_history DROP CONSTRAINT cv_e2e_refuse" >/dev/null

# A rerun in the same session waits for an answer its cancelled statement
# handed over (here the worker is held up by a lock until the rerun waits).
"$SIMCTL" reset
psql -X -q -d cv_e2e_paid -c "BEGIN" -c "LOCK TABLE contractor_verify.verification_history IN EXCLUSIVE MODE" -c "SELECT pg_sleep(3.5)" -c "COMMIT" >/dev/null &
holder=$!
sleep 0.3
out=$(psql -X -q -At -d cv_e2e_paid 2>&1 <<'SQL'
SET statement_timeout = '2s';
SELECT from_cache FROM cv_verify('CA', '336001');
SET statement_timeout = 0;
SELECT 'rerun: ' || from_cache FROM cv_verify('CA', '336001');
SQL
)
wait "$holder"
echo "$out"
grep -q "statement timeout" <<<"$out" || fail "the first lookup was not cut short: $out"
grep -q "rerun: true" <<<"$out" || fail "the rerun did not read the answer it had bought: $out"
assert_eq 1 "$(lookups)" "lookups of a license cancelled and rerun in the same session"

# The database's own settings (here: read-only transactions by default) do
# not decide whether the worker can record.
"$SIMCTL" reset
q cv_e2e_paid "ALTER DATABASE cv_e2e_paid SET default_transaction_read_only = on" >/dev/null
out=$(psql -X -q -At -d cv_e2e_paid -c "SET default_transaction_read_only = off" -c "SELECT from_cache FROM cv_verify('CA', '336002')")
assert_eq "f" "$out" "a lookup in a database read-only by default"
q postgres "ALTER DATABASE cv_e2e_paid RESET default_transaction_read_only" >/dev/null
assert_eq 1 "$(q cv_e2e_paid "SELECT count(*) FROM contractor_verify.license_cache WHERE license_number = '336002'")" "its answer recorded by the worker"
