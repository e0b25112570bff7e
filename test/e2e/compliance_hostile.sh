#!/usr/bin/env bash
# Compliance operations against hostile roles and a faulty API:
# - the accounts' counters (URLs, key fingerprints, counts) are shown only to
#   roles that may read the usage view or the history, not to every role;
# - an answer whose status is longer than a NOTIFY payload may be is still
#   recorded (paid for: in the history and the cache, not set aside), and the
#   change notification goes out cut short;
# - an impossible expiration date in an answer (2031-02-30) does not make
#   license_changes fail, and one with a time after it is read as the
#   library reads it;
# - a sweep run while an earlier sweep's job still waits or runs, or while
#   an earlier sweep's transaction is still open, does not submit the same
#   licenses again (they would be bought twice), and a sweep's job takes
#   the answers a batch bought after the sweep instead of buying them again;
# - cv_verify_cached is not counted as lookups the cache saved.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_compliance_hostile
NOBODY=cv_e2e_ch_nobody
READER=cv_e2e_ch_reader
LISTENER=""
OUT=$(mktemp /tmp/cv_ch_listen.XXXXXX)
cleanup() {
  [ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null
  rm -f "$OUT"
  stop_own_simulator
  drop_db $DB
  psql -X -q -d postgres -c "DROP ROLE IF EXISTS $NOBODY" -c "DROP ROLE IF EXISTS $READER" >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql -X -q -d postgres -c "DROP ROLE IF EXISTS $NOBODY" -c "DROP ROLE IF EXISTS $READER" >/dev/null 2>&1 || true
own_simulator cv_ch_key
fresh_db $DB
q $DB "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000')" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<SQL
CREATE ROLE $NOBODY LOGIN;
CREATE ROLE $READER LOGIN;
GRANT SELECT ON contractor_verify.usage TO $READER;
SQL
lookups() { "$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/'; }
as_role() {  # as_role ROLE SQL: the value, or "ERROR <sqlstate> <message>"
  PGUSER=$1 psql -X -q -At -d $DB -v VERBOSITY=verbose -c "$2" 2>&1 |
    sed -nE 's/^ERROR:  ([0-9A-Z]{5}): (.*)$/ERROR \1 \2/p; /^(ERROR|LOCATION|HINT|DETAIL|CONTEXT)/!p' | head -1
}
# The history's rows of a license, once the worker has recorded N of them.
history_rows() {
  local n=""
  for _ in $(seq 1 100); do
    n=$(q $DB "SELECT count(*) FROM contractor_verify.verification_history WHERE license_number = '$1'")
    [ "$n" -ge "$2" ] && break
    sleep 0.1
  done
  echo "$n"
}

"$SIMCTL" license CA 9700002 status=ACTIVE expiration_date=2099-01-01
"$SIMCTL" license CA 9700003 status=ACTIVE expiration_date=2099-01-01
"$SIMCTL" license CA 9700004 status=ACTIVE expiration_date=2099-01-01
q $DB "SELECT count(*) FROM cv_verify_batch(\$\$SELECT i::text, 'CA', (9700000 + i)::text FROM generate_series(1, 20) i\$\$)" >/dev/null

# The accounts' counters.
assert_eq "ERROR 42501 permission denied for function account_counters" \
  "$(as_role $NOBODY "SELECT api_url || ' ' || api_key_id FROM contractor_verify.account_counters()")" \
  "a role with no grant reading the accounts' counters"
assert_eq 1 "$(as_role $READER "SELECT count(*) FROM contractor_verify.usage WHERE lookups_charged = 20")" \
  "a role granted SELECT on the usage view reads it"
assert_eq 1 "$(as_role $READER "SELECT count(*) FROM contractor_verify.account_counters()")" \
  "a role granted SELECT on the usage view reads the counters"

# cv_verify_cached saves no lookup (it would never have called).
saved() { q $DB "SELECT coalesce(sum(cache_answers), 0) FROM contractor_verify.account_counters()"; }
before=$(saved)
q $DB "SELECT count(*) FROM cv_verify_cached(\$\$SELECT i::text, 'CA', (9700000 + i)::text FROM generate_series(1, 20) i\$\$)" >/dev/null
sleep 0.5
assert_eq "$before" "$(saved)" "lookups the cache saved, after cv_verify_cached read 20 licenses"
q $DB "SELECT count(*) FROM cv_verify('CA', '9700001')" >/dev/null
sleep 0.5
assert_eq "$((before + 1))" "$(saved)" "lookups the cache saved, after cv_verify answered one from the cache"

# A status longer than a NOTIFY payload may be.
( echo "LISTEN contractor_verify_license_changes;"; for _ in $(seq 1 80); do echo "SELECT 1;"; sleep 0.25; done ) |
  PGUSER=$NOBODY psql -X -q -At -d $DB >"$OUT" 2>&1 &
LISTENER=$!
long=$(head -c 8100 /dev/zero | tr '\0' 'X')
"$SIMCTL" license CA 9700002 status="S$long"
assert_eq 8101 "$(q $DB "SELECT length(license_status) FROM cv_verify('CA', '9700002', max_age => '0')")" "the long status answered"
assert_eq 2 "$(history_rows 9700002 2)" "the history's rows of the license (the answer recorded)"
sleep 0.5
assert_eq "8101|0" "$(q $DB "SELECT length(license_status) || '|' || (SELECT count(*) FROM contractor_verify.unrecorded_answers) FROM contractor_verify.license_cache WHERE license_number = '9700002'")" \
  "the cache's status length, answers set aside"
for _ in $(seq 1 40); do grep -q '"license_number" : "9700002"' "$OUT" && break; sleep 0.25; done
grep -q '"license_number" : "9700002", "old_status" : "ACTIVE", "new_status" : "SXXXX.*"truncated" : true' "$OUT" \
  || fail "no truncated NOTIFY for the long status: $(head -c 600 "$OUT")"
pass "the change notification went out, cut short"

# An impossible expiration date.
"$SIMCTL" license CA 9700003 status=ACTIVE expiration_date=2031-02-30
q $DB "SELECT count(*) FROM cv_verify('CA', '9700003', max_age => '0')" >/dev/null
assert_eq 2 "$(history_rows 9700003 2)" "the history's rows of the license with an impossible date"
assert_eq "1|" "$(q $DB "SELECT count(*) || '|' || coalesce(max(expiration_to)::text, '') FROM contractor_verify.license_changes WHERE license_number = '9700003'")" \
  "license_changes with an impossible expiration date (one change, no date)"
# An expiration date with a time, read as the library reads it.
"$SIMCTL" license CA 9700004 status=ACTIVE expiration_date=2020-01-01T00:00:00Z
assert_eq "2020-01-01" "$(q $DB "SELECT expiration_date FROM cv_verify('CA', '9700004', max_age => '0')")" "the expiration date with a time, answered"
assert_eq 2 "$(history_rows 9700004 2)" "the history's rows of the license whose date has a time"
assert_eq "2099-01-01|2020-01-01|t|f" "$(q $DB "SELECT concat_ws('|', expiration_from, expiration_to, compliant_from, compliant_to) FROM contractor_verify.license_changes WHERE license_number = '9700004'")" \
  "license_changes of the date with a time: expiration and compliance from -> to"

# Two sweeps, the first one's job still running.
q $DB "CREATE TABLE contractors AS SELECT 'c' || i AS id, 'CA' AS state, (9710000 + i)::text AS license_no FROM generate_series(1, 40) i" >/dev/null
"$SIMCTL" reset
"$SIMCTL" fault slow ms=4000
first=$(q $DB "SELECT concat_ws('|', due, submitted, job_id) FROM cv_sweep(\$\$SELECT id, state, license_no FROM contractors\$\$)")
job=${first##*|}
assert_eq "40|40" "${first%|*}" "the first sweep: due, submitted"
second=$(q $DB "SELECT concat_ws('|', due, submitted, not_due, coalesce(job_id, 0)) FROM cv_sweep(\$\$SELECT id, state, license_no FROM contractors\$\$)")
assert_eq "running" "$(q $DB "SELECT CASE WHEN job_status IN ('queued', 'processing') THEN 'running' ELSE job_status END FROM cv_job_status($job)")" \
  "the first sweep's job when the second sweep ran"
assert_eq "0|0|40|0" "$second" "the second sweep: due, submitted, not due, job"
assert_eq completed "$(wait_job $DB "$job" 60)" "the first sweep's job"
sleep 0.5
assert_eq 40 "$(lookups)" "lookups bought for the 40 licenses of two sweeps"

# Two sweeps at once: the second waits for the first one's transaction and
# leaves its job's licenses to it.
q $DB "CREATE TABLE contractors2 AS SELECT 'd' || i AS id, 'CA' AS state, (9720000 + i)::text AS license_no FROM generate_series(1, 40) i" >/dev/null
"$SIMCTL" reset
MARK=$(mktemp -u /tmp/cv_ch_mark.XXXXXX)
psql -X -q -At -v ON_ERROR_STOP=1 -d $DB >"$MARK.out" 2>&1 <<SQL &
BEGIN;
SELECT concat_ws('|', due, submitted) FROM cv_sweep(\$\$SELECT id, state, license_no FROM contractors2\$\$);
\! touch $MARK
SELECT pg_sleep(3);
COMMIT;
SQL
FIRST=$!
for _ in $(seq 1 300); do [ -e "$MARK" ] && break; sleep 0.1; done
[ -e "$MARK" ] || fail "the first sweep did not run: $(cat "$MARK.out")"
second=$(q $DB "SELECT concat_ws('|', due, submitted, coalesce(job_id, 0)) FROM cv_sweep(\$\$SELECT id, state, license_no FROM contractors2\$\$)")
wait $FIRST || fail "the first sweep's session: $(cat "$MARK.out")"
assert_eq "40|40" "$(head -1 "$MARK.out")" "the first of two sweeps at once: due, submitted"
rm -f "$MARK" "$MARK.out"
assert_eq "0|0|0" "$second" "the second of two sweeps at once: due, submitted, job"
for j in $(q $DB "SELECT job_id FROM contractor_verify.jobs WHERE job_status IN ('queued', 'processing')"); do
  assert_eq completed "$(wait_job $DB "$j" 60)" "job $j"
done
sleep 0.5
assert_eq 40 "$(lookups)" "lookups bought for the 40 licenses of two sweeps at once"

# A batch buys a sweep's licenses while the sweep's job waits behind another
# job: the sweep's job takes those answers and does not buy them again.
q $DB "CREATE TABLE contractors3 AS SELECT 'e' || i AS id, 'CA' AS state, (9740000 + i)::text AS license_no FROM generate_series(1, 30) i" >/dev/null
"$SIMCTL" reset
"$SIMCTL" fault slow ms=4000
ahead=$(q $DB "SELECT cv_job_submit(\$\$SELECT 'a', 'CA', '9749999'\$\$, max_age => '0')")
for _ in $(seq 1 100); do grep -q '"in_flight":1' <<<"$("$SIMCTL" counters)" && break; sleep 0.1; done
grep -q '"in_flight":1' <<<"$("$SIMCTL" counters)" || fail "the job ahead did not start its call"
sweep_job=$(q $DB "SELECT job_id FROM cv_sweep(\$\$SELECT id, state, license_no FROM contractors3\$\$)")
[ -n "$sweep_job" ] || fail "the sweep submitted no job"
assert_eq 30 "$(q $DB "SELECT count(*) FROM cv_verify_batch(\$\$SELECT id, state, license_no FROM contractors3\$\$, max_age => '0')")" \
  "the batch beside the waiting sweep job"
assert_eq completed "$(wait_job $DB "$ahead" 60)" "the job ahead"
assert_eq completed "$(wait_job $DB "$sweep_job" 60)" "the sweep's job"
assert_eq "0|30" "$(q $DB "SELECT lookups_done || '|' || answered_from_cache FROM cv_job_status($sweep_job)")" \
  "the sweep's job: bought, answered from the cache"
sleep 0.5
assert_eq 31 "$(lookups)" "lookups bought (the job ahead's one, the batch's 30)"
