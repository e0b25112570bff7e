#!/usr/bin/env bash
# A job belongs to the role that submitted it, not to whichever role bears
# that name later: visibility, cancelling and the worker's credentials follow
# the role (its OID in the cluster that wrote the job), whatever its name
# becomes; a job of a dropped role is nobody's (readable only with SELECT on
# job_queue) and is not run. A database restored into another cluster maps
# its jobs to roles by name, as pg_dump/restore does.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_jobs_role_identity
ROLES="cv_e2e_alice cv_e2e_alice_old"
drop_roles() {
  for r in $ROLES; do
    psql -X -q -d $DB -c "DROP OWNED BY $r" >/dev/null 2>&1 || true
    psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true
  done
}
trap 'drop_roles; drop_db $DB' EXIT
drop_roles
fresh_db $DB
"$SIMCTL" reset
as() { PGUSER=$1 psql -X -q -At -d $DB -c "SET search_path = public, contractor_verify" -c "$2" 2>&1; }
make_alice() {  # make_alice KEY: a role cv_e2e_alice that may create jobs, with KEY
  psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<SQL
CREATE ROLE cv_e2e_alice LOGIN;
GRANT USAGE ON FOREIGN SERVER contractor_verify TO cv_e2e_alice;
CREATE USER MAPPING FOR cv_e2e_alice SERVER contractor_verify OPTIONS (api_key '$1');
GRANT EXECUTE ON FUNCTION cv_job_submit(text, interval, name, text), cv_job_cancel(bigint) TO cv_e2e_alice;
SQL
}
make_alice "$CV_SIM_KEY"
q $DB "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000')" >/dev/null

done_job=$(as cv_e2e_alice "SELECT cv_job_submit(\$\$SELECT 'a' || i, 'CA', (7100000 + i)::text FROM generate_series(1, 20) i\$\$, label => 'alice''s roster')")
assert_eq completed "$(wait_job $DB "$done_job" 60)" "alice's first job"
# A slow job of the superuser ahead keeps alice's second job queued.
"$SIMCTL" config latency_ms=3000
slow=$(q $DB "SELECT cv_job_submit(\$\$SELECT 's' || i, 'CA', (7200000 + i)::text FROM generate_series(1, 20) i\$\$)")
queued=$(as cv_e2e_alice "SELECT cv_job_submit(\$\$SELECT 'q' || i, 'CA', (7300000 + i)::text FROM generate_series(1, 20) i\$\$)")
key_at_submit=$(q $DB "SELECT api_key_id FROM contractor_verify.job_queue WHERE id = $queued")

# The administrator renames alice and gives the name to someone else, with another key.
q $DB "ALTER ROLE cv_e2e_alice RENAME TO cv_e2e_alice_old" >/dev/null
make_alice "$CV_SIM_KEY2"
assert_eq 0 "$(as cv_e2e_alice "SELECT count(*) FROM contractor_verify.jobs")" "jobs the new alice sees"
assert_eq "ERROR:  job $done_job does not exist" "$(as cv_e2e_alice "SELECT count(*) FROM cv_job_results($done_job)" | head -1)" "the new alice reading the old alice's results"
assert_eq 2 "$(as cv_e2e_alice_old "SELECT count(*) FROM contractor_verify.jobs")" "jobs alice sees once renamed"

"$SIMCTL" config latency_ms=0
wait_job $DB "$slow" 60 >/dev/null
wait_job $DB "$queued" 60 >/dev/null
assert_eq "$key_at_submit" "$(q $DB "SELECT coalesce(string_agg(DISTINCT api_key_id, ','), 'none') FROM contractor_verify.verification_history WHERE license_number::bigint BETWEEN 7300001 AND 7300020")" \
  "the API account the queued job was charged to (the one it was submitted with)"

# alice (renamed) dropped, and her new name given to someone else too.
psql -X -q -d $DB -c "DROP OWNED BY cv_e2e_alice_old" -c "DROP ROLE cv_e2e_alice_old" >/dev/null
q $DB "CREATE ROLE cv_e2e_alice_old LOGIN" >/dev/null
assert_eq 0 "$(as cv_e2e_alice_old "SELECT count(*) FROM contractor_verify.jobs")" "jobs a new role with the dropped role's name sees"
assert_eq 0 "$(as cv_e2e_alice "SELECT count(*) FROM contractor_verify.jobs")" "jobs the new alice sees once the old one is dropped"
