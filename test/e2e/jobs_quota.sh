#!/usr/bin/env bash
# The monthly quota and jobs: a job that cannot fit is refused at submit,
# saying how many lookups it needs and how many remain (lookups that queued
# jobs still expect to buy count as spent); a job that fit when submitted
# stops at the quota when other work spends it meanwhile, and fails saying
# so, never crossing it.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_jobs_quota
trap 'stop_own_simulator; drop_db $DB' EXIT
own_simulator cv_jobs_quota_key
fresh_db $DB
q $DB "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000', ADD monthly_lookup_quota '500', ADD max_concurrent_calls '1')" >/dev/null
lookups() { "$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/'; }
err() { psql -X -q -At -d $DB -v VERBOSITY=verbose -c "$1" 2>&1 | sed -nE 's/^ERROR:  ([0-9A-Z]{5}): (.*)$/\1 \2/p'; }

"$SIMCTL" config latency_ms=300
a=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'a' || i, 'CA', (8000000 + i)::text FROM generate_series(1, 300) i\$\$)")
# While job a runs, its 300 lookups count against the quota, bought or not.
assert_eq "54000 this needs 300 lookups but only 200 of the monthly quota of 500 remain on server \"contractor_verify\"" \
  "$(err "SELECT cv_job_submit(\$\$SELECT 'b' || i, 'CA', (8100000 + i)::text FROM generate_series(1, 300) i\$\$)")" \
  "a second job of 300 while the first runs"
assert_eq 0 "$(q $DB "SELECT count(*) FROM contractor_verify.job_queue WHERE id <> $a")" "jobs queued by the refused submit"
b=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'b' || i, 'CA', (8100000 + i % 150)::text FROM generate_series(1, 400) i\$\$)")
pass "a job of 400 rows needing 150 lookups fits"
assert_eq completed "$(wait_job $DB "$a" 60)" "the first job"
assert_eq completed "$(wait_job $DB "$b" 60)" "the second job"
assert_eq 450 "$(lookups)" "lookups charged so far"

# A running job holds what it expects to buy: a batch cannot spend it.
q $DB "ALTER SERVER contractor_verify OPTIONS (ADD batch_size '10')" >/dev/null
"$SIMCTL" config latency_ms=600
e=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'e' || i, 'CA', (8200000 + i)::text FROM generate_series(1, 20) i\$\$)")
for _ in $(seq 1 50); do [ "$(q $DB "SELECT job_status FROM cv_job_status($e)")" = processing ] && break; sleep 0.05; done
assert_eq "54000 this needs 31 lookups but only 30 of the monthly quota of 500 remain on server \"contractor_verify\"" \
  "$(err "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'y' || i, 'CA', (8250000 + i)::text FROM generate_series(1, 31) i\$\$)")" \
  "a batch of 31 while a job holds 20 of the 50 left"
# A queued job counts against later jobs, not against batches: spent
# meanwhile, its lookups run out and it stops at the quota.
f=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'f' || i, 'CA', (8400000 + i)::text FROM generate_series(1, 25) i\$\$)")
assert_eq queued "$(q $DB "SELECT job_status FROM cv_job_status($f)")" "a job of 25 queued behind the running one"
assert_eq "54000 this needs 6 lookups but only 5 of the monthly quota of 500 remain on server \"contractor_verify\"" \
  "$(err "SELECT cv_job_submit(\$\$SELECT 'g' || i, 'CA', (8450000 + i)::text FROM generate_series(1, 6) i\$\$)")" \
  "a third job of 6 (the queued one's 25 count)"
assert_eq 20 "$(q $DB "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'x' || i, 'CA', (8300000 + i)::text FROM generate_series(1, 20) i\$\$) WHERE error_code IS NULL OR error_code = 'NOT_FOUND'")" "a batch of 20 spends part of what the queued job expected"
assert_eq completed "$(wait_job $DB "$e" 60)" "the running job"
assert_eq failed "$(wait_job $DB "$f" 60)" "the queued job, short of quota when it ran"
assert_eq "QUOTA_EXCEEDED|10|10" "$(q $DB "SELECT concat_ws('|', error_code, processed_entities, lookups_done) FROM cv_job_status($f)")" "its error, processed rows and lookups bought"
assert_eq 500 "$(lookups)" "lookups charged in all (the quota, not one more)"
assert_eq 15 "$(q $DB "SELECT count(*) FROM cv_job_results($f) WHERE error_code = 'JOB_FAILED'")" "its rows never looked up"
grep -q "monthly quota of 500" <<<"$(q $DB "SELECT error_message FROM cv_job_status($f)")" || fail "the failed job's message does not name the quota: $(q $DB "SELECT error_message FROM cv_job_status($f)")"
pass "the failed job's message names the quota"

# A call the API may have charged is sent again only while the quota holds
# it besides the job's other calls in flight, even for a job that expected
# to buy nothing when it was submitted (its licenses were fresh then, and are
# stale when it runs): 30 lookups left, 30 licenses, one call read as garbage.
q $DB "ALTER SERVER contractor_verify OPTIONS (SET monthly_lookup_quota '560', SET max_concurrent_calls '2', SET retry_base '300ms')" >/dev/null
"$SIMCTL" config latency_ms=300
assert_eq 30 "$(q $DB "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'h' || i, 'CA', (8500000 + i)::text FROM generate_series(1, 30) i\$\$)")" "a batch of 30"
assert_eq 530 "$(lookups)" "lookups charged before the job"
"$SIMCTL" fault malformed_json endpoint=batch >/dev/null
out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d $DB -c "BEGIN" \
  -c "SELECT cv_job_submit(\$\$SELECT 'h' || i, 'CA', (8500000 + i)::text FROM generate_series(1, 30) i\$\$, max_age => '3 seconds')" \
  -c "SELECT pg_sleep(4)" -c "COMMIT")
h=$(head -1 <<<"$out")
status=$(wait_job $DB "$h" 60)
echo "the job: $status, $(q $DB "SELECT concat_ws(' ', error_code, lookups_done) FROM cv_job_status($h)")"
[ "$(lookups)" -le 560 ] || fail "lookups charged in all: $(lookups), past the quota of 560"
assert_eq "$(lookups)" "$(q $DB "SELECT sum(charged) FROM contractor_verify.verification_history")" "lookups counted in the history"
pass "a job's resend never carries the count past the quota ($(lookups) of 560)"
