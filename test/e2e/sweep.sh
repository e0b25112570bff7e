#!/usr/bin/env bash
# Sweeps: over a 2,000-license roster with 300 licenses due and a budget of
# 200, exactly 200 lookups, in priority order (never verified, soonest
# expiring, not active, oldest); the next run takes the rest; a run with the
# month's quota nearly spent stops at the quota. A license whose status
# changed at the board (ACTIVE -> SUSPENDED) is re-verified on its schedule,
# shows in license_changes, and a listening session gets the NOTIFY.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_sweep
LISTENER=""
cleanup() {
  [ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null
  rm -f $E2E_TMP/cv_sweep_listen.out
  stop_own_simulator
  drop_db $DB
}
trap cleanup EXIT
own_simulator cv_sweep_key
fresh_db $DB
q $DB "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000')" >/dev/null
lookups() { "$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/'; }
# The licenses the simulator was asked for since the last reset, one per line.
asked() { "$SIMCTL" counters | sed -E 's/.*"per_license":\{([^}]*)\}.*/\1/' | tr ',' '\n' | sed -E 's/"CA:([0-9]+)":[0-9]+/\1/' | sort; }
sweep() {  # sweep BUDGET: due|submitted|left_for_budget|left_for_quota|job
  local s; s=$(q $DB "SELECT concat_ws('|', due, submitted, left_for_budget, left_for_quota, coalesce(job_id, 0)) FROM cv_sweep(\$\$SELECT id, state, license_no FROM contractors\$\$, budget => $1)")
  local job=${s##*|}
  [ "$job" != 0 ] && { [ "$(wait_job $DB "$job" 120)" = completed ] || fail "the sweep's job did not complete"; }
  echo "$s"
}

# The application's roster: 2,000 licenses; 1,900 verified, 100 never.
q $DB "CREATE TABLE contractors AS SELECT 'c' || i AS id, 'CA' AS state, (9000000 + i)::text AS license_no FROM generate_series(1, 2000) i" >/dev/null
assert_eq 1900 "$(q $DB "SELECT count(*) FROM cv_verify_batch(\$\$SELECT id, state, license_no FROM contractors WHERE license_no::int > 9000100\$\$)")" "licenses verified beforehand"
# Make the schedule's cases (the cache's columns as if verified earlier):
#   9000101..9000160  ACTIVE, expiring in 5..64 days, verified 20 days ago  -> due (expiring), by expiration
#   9000161..9000220  SUSPENDED, verified 8 days ago (9000161 the oldest)  -> due (not active), oldest first
#   9000221..9000300  ACTIVE, far expiry, verified 31..110 days ago        -> due (routine), oldest first
#   the rest          verified now                                          -> not due
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<'SQL'
UPDATE contractor_verify.license_cache SET outcome = 'VERIFIED', license_status = 'ACTIVE', needs_review = false,
       expiration_date = CURRENT_DATE + 400, fetched_at = now(), last_attempt_at = now(), last_error_code = NULL, next_attempt_at = NULL,
       consecutive_timeouts = 0;
UPDATE contractor_verify.license_cache SET expiration_date = CURRENT_DATE + (license_number::int - 9000096),
       fetched_at = now() - interval '20 days', last_attempt_at = now() - interval '20 days' WHERE license_number::int BETWEEN 9000101 AND 9000160;
UPDATE contractor_verify.license_cache SET license_status = 'SUSPENDED',
       fetched_at = now() - interval '8 days' - (9000221 - license_number::int) * interval '1 minute',
       last_attempt_at = now() - interval '8 days' - (9000221 - license_number::int) * interval '1 minute'
 WHERE license_number::int BETWEEN 9000161 AND 9000220;
UPDATE contractor_verify.license_cache SET fetched_at = now() - (license_number::int - 9000190) * interval '1 day',
       last_attempt_at = now() - (license_number::int - 9000190) * interval '1 day'
 WHERE license_number::int BETWEEN 9000221 AND 9000300;
SQL
assert_eq "200|1700" "$(q $DB "SELECT count(*) FILTER (WHERE due_now) || '|' || count(*) FILTER (WHERE NOT due_now) FROM contractor_verify.license_schedule")" "cached licenses due and not due (the 100 never verified are not cached)"

"$SIMCTL" reset
assert_eq "300|200|100|0" "$(sweep 200 | cut -d'|' -f1-4)" "the first sweep: due, submitted, left for the budget, left for the quota"
assert_eq 200 "$(lookups)" "lookups the first sweep bought"
expected=$( { seq 9000001 9000160; seq 9000161 9000200; } | sort)
[ "$(asked)" = "$expected" ] || fail "the first sweep bought other licenses than the 100 never verified, the 60 expiring and the 40 oldest suspended: $(diff <(echo "$expected") <(asked) | head)"
pass "the first sweep bought the 100 never verified, the 60 soonest expiring, the 40 oldest not active"

"$SIMCTL" reset
assert_eq "100|100|0|0" "$(sweep 200 | cut -d'|' -f1-4)" "the next sweep: due, submitted, left for the budget, left for the quota"
expected=$( { seq 9000201 9000220; seq 9000221 9000300; } | sort)
[ "$(asked)" = "$expected" ] || fail "the next sweep bought other licenses than the rest: $(diff <(echo "$expected") <(asked) | head)"
pass "the next sweep bought the 100 left"
assert_eq "0|0|0|0" "$(sweep 200 | cut -d'|' -f1-4)" "a third sweep: nothing due"

# The month's quota nearly spent: 30 lookups left, 50 due.
used=$(q $DB "SELECT lookups_charged FROM contractor_verify.usage")
q $DB "ALTER SERVER contractor_verify OPTIONS (ADD monthly_lookup_quota '$((used + 30))')" >/dev/null
q $DB "UPDATE contractor_verify.license_cache SET fetched_at = now() - interval '40 days', last_attempt_at = now() - interval '40 days' WHERE license_number::int BETWEEN 9001001 AND 9001050" >/dev/null
"$SIMCTL" reset
assert_eq "50|30|0|20" "$(sweep NULL | cut -d'|' -f1-4)" "a sweep at the quota: due, submitted, left for the budget, left for the quota"
assert_eq 30 "$(lookups)" "lookups bought (the 30 the quota had left)"
assert_eq "$((used + 30))|$((used + 30))|0" "$(q $DB "SELECT lookups_charged || '|' || monthly_lookup_quota || '|' || quota_left FROM contractor_verify.usage")" "usage: lookups charged, quota, quota left"
assert_eq 4 "$(q $DB "SELECT count(*) FROM contractor_verify.sweeps")" "sweeps recorded"
q $DB "ALTER SERVER contractor_verify OPTIONS (DROP monthly_lookup_quota)" >/dev/null
assert_eq "20|20" "$(sweep NULL | cut -d'|' -f1-2)" "with the quota lifted, the 20 left for it"

# A status changed at the board is seen on the license's schedule.
( echo "LISTEN contractor_verify_license_changes;"; for _ in $(seq 1 240); do echo "SELECT 1;"; sleep 0.25; done ) |
  psql -X -q -At -d $DB >$E2E_TMP/cv_sweep_listen.out 2>&1 &
LISTENER=$!
"$SIMCTL" license CA 9001500 status=ACTIVE expiration_date=2099-01-01
assert_eq ACTIVE "$(q $DB "SELECT license_status FROM cv_verify('CA', '9001500', max_age => '0')")" "the license verified ACTIVE"
"$SIMCTL" license CA 9001500 status=SUSPENDED
assert_eq "ACTIVE|false" "$(q $DB "SELECT license_status || '|' || due_now FROM contractor_verify.license_schedule WHERE license_number = '9001500'")" "the license before (ACTIVE, not due)"
q $DB "UPDATE contractor_verify.license_cache SET fetched_at = now() - interval '31 days', last_attempt_at = now() - interval '31 days' WHERE license_number = '9001500'" >/dev/null
assert_eq "true|routine" "$(q $DB "SELECT due_now || '|' || reason FROM contractor_verify.license_schedule WHERE license_number = '9001500'")" "due a month after it was verified"
assert_eq "1|1" "$(sweep NULL | cut -d'|' -f1-2)" "the sweep: due, submitted"
assert_eq "SUSPENDED|false" "$(q $DB "SELECT license_status || '|' || compliant FROM contractor_verify.licenses WHERE license_number = '9001500'")" "the license after the sweep"
assert_eq "ACTIVE|SUSPENDED|t|f" "$(q $DB "SELECT concat_ws('|', status_from, status_to, compliant_from, compliant_to) FROM contractor_verify.license_changes WHERE license_number = '9001500' ORDER BY changed_at DESC LIMIT 1")" "license_changes: status and compliance from -> to"
# The batch guide's rule: every license that left ACTIVE, as one query.
assert_eq "9001500" "$(q $DB "SELECT string_agg(license_number, ',') FROM contractor_verify.license_changes WHERE status_from = 'ACTIVE' AND status_to IS DISTINCT FROM 'ACTIVE' AND changed_at > now() - interval '1 hour'")" "licenses that left ACTIVE in the last hour"
for _ in $(seq 1 20); do grep -q '"license_number" : "9001500"' $E2E_TMP/cv_sweep_listen.out && break; sleep 0.25; done
grep -q 'Asynchronous notification "contractor_verify_license_changes" with payload "{"state" : "CA", "license_number" : "9001500", "old_status" : "ACTIVE", "new_status" : "SUSPENDED", "old_compliant" : true, "new_compliant" : false' $E2E_TMP/cv_sweep_listen.out \
  || fail "no NOTIFY for the status change: $(cat $E2E_TMP/cv_sweep_listen.out)"
pass "the listening session got the NOTIFY (ACTIVE -> SUSPENDED, compliant true -> false)"
