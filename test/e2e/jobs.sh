#!/usr/bin/env bash
# Verification jobs end to end: a 3,000-record roster with duplicates under a
# 20-calls-a-minute plan, submitted by a session that disconnects at once,
# runs to completion in the background: one result per input row, lookups =
# distinct keys, no 429, a NOTIFY, and an estimated completion read a quarter
# of the way that lands within 20% of the actual one. Then a job, a batch and
# single lookups at once under one limit get no 429.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_jobs
LISTENER=""
cleanup() {
  [ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null
  stop_own_simulator
  rm -f $E2E_TMP/cv_jobs_listen.out $E2E_TMP/cv_jobs_mixed_*.out
  drop_db $DB
}
trap cleanup EXIT
# A simulator of its own: no call of an earlier test sits in the limiter's
# window of this account.
own_simulator cv_jobs_key
fresh_db $DB
lookups() { "$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/'; }
counter() { "$SIMCTL" counters | sed -E "s/.*\"$1\":([0-9]+).*/\1/"; }


# --- 3,000 records, 2,500 distinct licenses, 20 calls a minute ---------------
"$SIMCTL" reset
"$SIMCTL" config rate_limit=20 rate_window_ms=60000 rate_mode=fixed latency_ms=300
q $DB "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '20', ADD max_concurrent_calls '2')" >/dev/null

# A session listening on the documented channel.
( echo "LISTEN contractor_verify_jobs;"; for _ in $(seq 1 400); do echo "SELECT 1;"; sleep 0.25; done ) |
  psql -X -q -At -d $DB >$E2E_TMP/cv_jobs_listen.out 2>&1 &
LISTENER=$!
sleep 0.5

# Submitted by a session that ends as soon as the job is queued.
job=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'c' || i, 'CA', (6000000 + (i - 1) % 2500)::text FROM generate_series(1, 3000) i\$\$, label => 'nightly sweep')")
pass "job $job queued; the submitting session has disconnected"

# The estimate, read about a quarter of the way.
estimate="" fraction=""
for _ in $(seq 1 300); do
  row=$(q $DB "SELECT processed_entities, total_entities, estimated_completion FROM cv_job_status($job)")
  IFS='|' read -r processed total eta <<<"$row"
  if [ "$processed" -ge $((total / 4)) ] && [ -n "$eta" ]; then estimate=$eta; fraction="$processed/$total"; break; fi
  sleep 0.05
done
[ -n "$estimate" ] || fail "no estimated completion while the job ran"
echo "estimated completion at $fraction processed: $estimate"

status=$(wait_job $DB "$job" 150)
assert_eq completed "$status" "the job's status"
assert_eq "3000|3000|3000|0|2500|2500|25|0" \
  "$(q $DB "SELECT concat_ws('|', total_entities, processed_entities, completed_entities, failed_entities, lookups_total, lookups_done, calls, rate_limited) FROM cv_job_status($job)")" \
  "total, processed, completed, failed, lookups, bought, calls, 429s"
assert_eq 2500 "$(lookups)" "lookups the simulator charged (distinct licenses)"
assert_eq 0 "$(counter rate_limited)" "429s from the simulator"
most=$(counter max_batch_calls_in_window)
[ "$most" -le 20 ] || fail "$most calls in one window"
pass "at most $most calls in any minute (limit 20)"
assert_eq "3000|3000|3000|0" \
  "$(q $DB "SELECT concat_ws('|', count(*), count(DISTINCT id), count(*) FILTER (WHERE license_number = (6000000 + (substr(id, 2)::int - 1) % 2500)::text), count(*) FILTER (WHERE error_code IS NOT NULL AND error_code <> 'NOT_FOUND')) FROM cv_job_results($job)")" \
  "result rows, distinct ids, rows with their own license, rows without an answer"
# Within 20% of the time the job took.
verdict=$(q $DB "SELECT format('%s s off over %s s', round(abs(extract(epoch FROM '$estimate'::timestamptz - completed_at))::numeric, 1), round(extract(epoch FROM completed_at - created_at)::numeric, 1)) || '|' || (abs(extract(epoch FROM '$estimate'::timestamptz - completed_at)) <= 0.2 * extract(epoch FROM completed_at - created_at)) FROM contractor_verify.jobs WHERE job_id = $job")
echo "estimate: ${verdict%|*}"
assert_eq true "${verdict#*|}" "the estimate read at $fraction is within 20% of the job's duration"
for _ in $(seq 1 20); do grep -q "\"job_id\":$job,\"status\":\"completed\"" $E2E_TMP/cv_jobs_listen.out && break; sleep 0.25; done
grep -q "Asynchronous notification \"contractor_verify_jobs\" with payload \"{\"job_id\":$job,\"status\":\"completed\"}\"" $E2E_TMP/cv_jobs_listen.out \
  || fail "no NOTIFY for job $job: $(cat $E2E_TMP/cv_jobs_listen.out)"
pass "the listening session got the NOTIFY {\"job_id\":$job,\"status\":\"completed\"}"
kill "$LISTENER" 2>/dev/null; LISTENER=""

# The same roster again: everything from the cache, no call.
"$SIMCTL" reset
again=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'c' || i, 'CA', (6000000 + (i - 1) % 2500)::text FROM generate_series(1, 3000) i\$\$)")
assert_eq completed "$(wait_job $DB "$again" 60)" "the rerun's status"
assert_eq "2500|0|0" "$(q $DB "SELECT concat_ws('|', answered_from_cache, lookups_done, calls) FROM cv_job_status($again)")" "the rerun: from the cache, bought, calls"
assert_eq 0 "$(lookups)" "lookups charged by the rerun"

# --- a job, a batch and single lookups at once under one limit ---------------
"$SIMCTL" reset
"$SIMCTL" config rate_limit=4 rate_window_ms=2000 rate_mode=fixed verify_rate_limit=4 latency_ms=50
q $DB "ALTER SERVER contractor_verify OPTIONS (SET calls_per_minute '4', ADD rate_window '2s', ADD single_calls_per_minute '4', SET max_concurrent_calls '2')" >/dev/null
mixed=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'j' || i, 'CA', (6100000 + i)::text FROM generate_series(1, 1200) i\$\$)")
psql -X -q -At -d $DB -c "SELECT count(*) FILTER (WHERE error_code IS NULL OR error_code = 'NOT_FOUND') FROM cv_verify_batch(\$\$SELECT 'b' || i, 'CA', (6200000 + i)::text FROM generate_series(1, 800) i\$\$)" >$E2E_TMP/cv_jobs_mixed_batch.out 2>&1 &
batch=$!
psql -X -q -At -d $DB -c "SELECT count(*) FILTER (WHERE (v).error_code IS NULL OR (v).error_code = 'NOT_FOUND') FROM (SELECT cv_verify('CA', (6300000 + i)::text) AS v FROM generate_series(1, 16) i) s" >$E2E_TMP/cv_jobs_mixed_single.out 2>&1 &
single=$!
wait "$batch" || fail "the batch failed: $(cat $E2E_TMP/cv_jobs_mixed_batch.out)"
wait "$single" || fail "the single lookups failed: $(cat $E2E_TMP/cv_jobs_mixed_single.out)"
assert_eq completed "$(wait_job $DB "$mixed" 120)" "the job beside a batch and single lookups"
assert_eq 800 "$(cat $E2E_TMP/cv_jobs_mixed_batch.out)" "the batch's answered rows"
assert_eq 16 "$(cat $E2E_TMP/cv_jobs_mixed_single.out)" "the single lookups' answers"
assert_eq "1200|0" "$(q $DB "SELECT processed_entities || '|' || failed_entities FROM cv_job_status($mixed)")" "the job's processed and failed rows"
assert_eq 0 "$(counter rate_limited)" "429s with a job, a batch and single lookups at once"
most=$(counter max_batch_calls_in_window)
[ "$most" -le 4 ] || fail "$most batch calls in one 2 s window"
pass "at most $most batch calls in any 2 s window (limit 4)"
assert_eq 2016 "$(lookups)" "lookups charged (every license once)"
