#!/usr/bin/env bash
# The README's pg_cron recipe, exactly as written there (every minute instead
# of nightly, in this test's database): the sweep and the reconciliation run
# through pg_cron, cron.job_run_details shows them succeeding, and the
# application's table ends up holding every verifiable contractor's license.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_cron
unschedule() {
  psql -X -q -d postgres -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname IN ('license-sweep', 'license-reconcile')" >/dev/null 2>&1 || true
}
trap 'unschedule; drop_db $DB' EXIT
psql -X -q -d postgres -c "CREATE EXTENSION IF NOT EXISTS pg_cron" >/dev/null
unschedule
fresh_db $DB
q $DB "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000')" >/dev/null
"$SIMCTL" reset
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<'SQL'
CREATE TABLE contractors (id text PRIMARY KEY, state text, license_no text, active boolean NOT NULL DEFAULT true);
INSERT INTO contractors SELECT 'c' || i, 'CA', (9500000 + i)::text, i % 10 <> 0 FROM generate_series(1, 250) i;
INSERT INTO contractors VALUES ('bad', 'ZZ', '1', true);
CREATE TABLE contractor_licenses (
    contractor_id text PRIMARY KEY REFERENCES contractors, state text, license_number text,
    license_status text, expiration_date date, classifications text[], verified_at timestamptz,
    has_disciplinary_actions boolean, last_attempt_at timestamptz, error_code text);
SQL

# The recipe: the first SQL block under its heading in the README.
recipe=$(awk '/^### Keeping an application table reconciled with pg_cron/ {found=1} found && /^```sql/ {inblock=1; next} inblock && /^```/ {exit} inblock {print}' "$E2E_ROOT/README.md")
grep -q "cron.schedule_in_database('license-sweep'" <<<"$recipe" || fail "no recipe found in the README"
recipe=${recipe//"'0 2 * * *'"/"'* * * * *'"}
recipe=${recipe//"'*/15 * * * *'"/"'* * * * *'"}
recipe=${recipe//"\$cron\$, 'app');"/"\$cron\$, '$DB');"}
echo "$recipe" | psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null || fail "the recipe did not run"
assert_eq 2 "$(q postgres "SELECT count(*) FROM cron.job WHERE jobname IN ('license-sweep', 'license-reconcile') AND database = '$DB' AND schedule = '* * * * *'")" "jobs scheduled"

# pg_cron fires at the top of each minute: the sweep queues a job, the
# reconciliation picks up what its answers left in the cache.
verifiable=$(q $DB "SELECT count(*) FROM contractors WHERE active AND state = 'CA'")
done_rows=0
for _ in $(seq 1 200); do
  done_rows=$(q $DB "SELECT count(*) FROM contractor_licenses WHERE verified_at IS NOT NULL OR error_code = 'NOT_FOUND'")
  ok=$(q postgres "SELECT count(DISTINCT j.jobname) FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname IN ('license-sweep', 'license-reconcile') AND d.status = 'succeeded'")
  [ "$done_rows" -ge "$verifiable" ] && [ "$ok" = 2 ] && break
  sleep 1
done
echo "$(q postgres "SELECT string_agg(j.jobname || ': ' || d.status || ' ' || coalesce(d.return_message, ''), '; ' ORDER BY d.start_time) FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname IN ('license-sweep', 'license-reconcile')")"
assert_eq 2 "$(q postgres "SELECT count(DISTINCT j.jobname) FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname IN ('license-sweep', 'license-reconcile') AND d.status = 'succeeded'")" "cron jobs that succeeded (cron.job_run_details)"
assert_eq 0 "$(q postgres "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname IN ('license-sweep', 'license-reconcile') AND d.status = 'failed'")" "cron runs that failed"
assert_eq "$verifiable" "$done_rows" "contractors reconciled with an answer"
assert_eq "0|$verifiable" "$(q $DB "SELECT count(*) FILTER (WHERE l.contractor_id IS NULL OR l.error_code = 'NOT_CACHED') || '|' || count(*) FILTER (WHERE l.license_number = c.license_no) FROM contractors c LEFT JOIN contractor_licenses l ON l.contractor_id = c.id WHERE c.active AND c.state = 'CA'")" "active contractors missing, and matched to their own license"
assert_eq 0 "$(q $DB "SELECT count(*) FROM contractor_licenses l JOIN contractors c ON c.id = l.contractor_id WHERE NOT c.active")" "inactive contractors reconciled"
assert_eq "$verifiable" "$("$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/')" "lookups bought (each active license once, however often the jobs ran)"
assert_eq 1 "$(q $DB "SELECT count(*) FROM contractor_verify.sweeps WHERE submitted > 0")" "sweeps that bought anything"
