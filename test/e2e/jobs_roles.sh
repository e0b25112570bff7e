#!/usr/bin/env bash
# Rights around jobs, as non-superusers with a hostile schema first on their
# search_path: creating (EXECUTE on cv_job_submit / cv_job_cancel) and reading
# are separate rights; a role sees its own jobs, those of roles whose
# privileges it has, and all with SELECT on contractor_verify.job_queue; it
# cancels only jobs whose submitter's privileges it has. The worker calls
# with the submitter's own user mapping, checked again when the job starts.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_jobs_roles
ROLES="cv_e2e_app cv_e2e_reader cv_e2e_other cv_e2e_app2"
drop_roles() { for r in $ROLES; do psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true; done; }
trap 'drop_db $DB; drop_roles' EXIT
drop_roles
fresh_db $DB
"$SIMCTL" reset
as() {  # as ROLE SQL: one value; errors on stdout as "ERROR <sqlstate> <message>"
  local role=$1; shift
  PGUSER=$role psql -X -q -At -d $DB -v VERBOSITY=verbose -c "SET search_path = hostile, pg_catalog, public, contractor_verify" -c "$1" 2>&1 |
    sed -nE 's/^ERROR:  ([0-9A-Z]{5}): (.*)$/ERROR \1 \2/p; /^(ERROR|LOCATION|HINT|DETAIL|CONTEXT)/!p' | head -1
}

psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<SQL
CREATE ROLE cv_e2e_app LOGIN; CREATE ROLE cv_e2e_reader LOGIN; CREATE ROLE cv_e2e_other LOGIN; CREATE ROLE cv_e2e_app2 LOGIN;
GRANT USAGE ON FOREIGN SERVER contractor_verify TO cv_e2e_app, cv_e2e_app2;
CREATE USER MAPPING FOR cv_e2e_app SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY2');
CREATE USER MAPPING FOR cv_e2e_app2 SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY2');
-- The right to create jobs.
GRANT EXECUTE ON FUNCTION cv_job_submit(text, interval, name, text), cv_job_cancel(bigint) TO cv_e2e_app, cv_e2e_app2;
-- The right to read every job (and nothing else).
GRANT SELECT ON contractor_verify.job_queue TO cv_e2e_reader;
-- A schema every role can write, first on their search_path, full of look-alikes.
CREATE SCHEMA hostile;
GRANT ALL ON SCHEMA hostile TO PUBLIC;
SQL
# The other role plants look-alikes of what the job SQL uses.
PGUSER=cv_e2e_other psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<'SQL'
CREATE TABLE hostile.marker (what text);
GRANT ALL ON hostile.marker TO PUBLIC;
CREATE FUNCTION hostile.job_visible(name) RETURNS boolean LANGUAGE sql AS $$ INSERT INTO hostile.marker VALUES ('job_visible'); SELECT true $$;
CREATE FUNCTION hostile.pg_has_role(oid, text) RETURNS boolean LANGUAGE sql AS $$ INSERT INTO hostile.marker VALUES ('pg_has_role'); SELECT true $$;
CREATE FUNCTION hostile.has_table_privilege(regclass, text) RETURNS boolean LANGUAGE sql AS $$ INSERT INTO hostile.marker VALUES ('has_table_privilege'); SELECT true $$;
CREATE FUNCTION hostile.now() RETURNS timestamptz LANGUAGE sql AS $$ INSERT INTO hostile.marker VALUES ('now'); SELECT pg_catalog.now() $$;
CREATE FUNCTION hostile.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE sql AS $$ INSERT INTO hostile.marker VALUES ('unnest'); SELECT x FROM pg_catalog.unnest($1) x $$;
CREATE FUNCTION hostile.texteq_evil(text, text) RETURNS boolean LANGUAGE sql AS $$ INSERT INTO hostile.marker VALUES ('='); SELECT $1 OPERATOR(pg_catalog.=) $2 $$;
CREATE OPERATOR hostile.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.texteq_evil);
CREATE TABLE hostile.job_queue (id bigint, submitted_by name, status text);
CREATE VIEW hostile.jobs AS SELECT 1 AS job_id;
SQL

# app submits a job with its own key.
job=$(as cv_e2e_app "SELECT cv_job_submit(\$\$SELECT 'a' || i, 'CA', (7500000 + i)::text FROM generate_series(1, 300) i\$\$, label => 'app job')")
[[ $job =~ ^[0-9]+$ ]] || fail "app could not submit: $job"
assert_eq completed "$(wait_job $DB "$job" 60)" "app's job"
assert_eq "cv_e2e_app|300|300" "$(as cv_e2e_app "SELECT submitted_by || '|' || processed_entities || '|' || (SELECT count(*) FROM cv_job_results($job)) FROM cv_job_status($job)")" "app reads its job's status and results"
assert_eq 300 "$(q $DB "SELECT sum(charged) FROM contractor_verify.verification_history WHERE role_name = 'cv_e2e_app' AND api_key_id = (SELECT api_key_id FROM contractor_verify.job_queue WHERE id = $job)")" "answers charged to app's own key, recorded as app's"

# The reader reads every job, and cannot create or cancel.
assert_eq "completed|300" "$(as cv_e2e_reader "SELECT job_status || '|' || (SELECT count(*) FROM cv_job_results($job)) FROM cv_job_status($job)")" "the reader reads app's job"
assert_eq "1" "$(as cv_e2e_reader "SELECT count(*) FROM contractor_verify.jobs")" "the reader's jobs view"
assert_eq "ERROR 42501 permission denied for function cv_job_submit" \
  "$(as cv_e2e_reader "SELECT cv_job_submit(\$\$SELECT 'r', 'CA', '7599999'\$\$)")" "the reader submitting a job"
assert_eq "ERROR 42501 permission denied for function cv_job_cancel" "$(as cv_e2e_reader "SELECT cv_job_cancel($job)")" "the reader cancelling a job"

# Another role sees nothing of app's job, look-alikes or not.
assert_eq "ERROR 42704 job $job does not exist" "$(as cv_e2e_other "SELECT job_status FROM cv_job_status($job)")" "other reading app's job status"
assert_eq "ERROR 42704 job $job does not exist" "$(as cv_e2e_other "SELECT count(*) FROM cv_job_results($job)")" "other reading app's job results"
assert_eq "0|0" "$(as cv_e2e_other "SELECT (SELECT count(*) FROM contractor_verify.jobs) || '|' || (SELECT count(*) FROM contractor_verify.job_results)")" "other's views of jobs and results"
assert_eq "ERROR 42501 permission denied for table job_queue" "$(as cv_e2e_other "SELECT count(*) FROM contractor_verify.job_queue")" "other reading the job table"
assert_eq "ERROR 42501 permission denied for table job_lookups" "$(as cv_e2e_other "SELECT count(*) FROM contractor_verify.job_lookups")" "other reading the answers table"
# ... until granted app's privileges.
q $DB "GRANT cv_e2e_app TO cv_e2e_other" >/dev/null
assert_eq "completed|300" "$(as cv_e2e_other "SELECT job_status || '|' || (SELECT count(*) FROM cv_job_results($job)) FROM cv_job_status($job)")" "other, granted app's privileges, reads the job"
q $DB "REVOKE cv_e2e_app FROM cv_e2e_other" >/dev/null
assert_eq 0 "$(q $DB "SELECT count(*) FROM hostile.marker")" "look-alike functions and operators run (marker rows)"

# A job of app2 queued behind a slow one: app2 may not cancel app's job, app
# may not cancel app2's; app2 cancels its own while it is queued.
"$SIMCTL" config latency_ms=500
slow=$(as cv_e2e_app "SELECT cv_job_submit(\$\$SELECT 's' || i, 'CA', (7600000 + i)::text FROM generate_series(1, 2000) i\$\$)")
queued=$(as cv_e2e_app2 "SELECT cv_job_submit(\$\$SELECT 'q' || i, 'CA', (7700000 + i)::text FROM generate_series(1, 100) i\$\$)")
assert_eq queued "$(q $DB "SELECT job_status FROM cv_job_status($queued)")" "app2's job waits behind app's"
assert_eq "ERROR 42704 job $slow does not exist" "$(as cv_e2e_app2 "SELECT cv_job_cancel($slow)")" "app2 cancelling app's job"
assert_eq "ERROR 42501 permission denied to cancel job $slow" "$(q $DB "GRANT SELECT ON contractor_verify.job_queue TO cv_e2e_app2" >/dev/null; as cv_e2e_app2 "SELECT cv_job_cancel($slow)")" "app2, who may read every job, cancelling app's job"
assert_eq t "$(as cv_e2e_app2 "SELECT cv_job_cancel($queued)")" "app2 cancelling its own queued job"
assert_eq cancelled "$(wait_job $DB "$queued" 5)" "the queued job, cancelled by the worker within a second"
assert_eq "cancelled|100" "$(q $DB "SELECT job_status || '|' || (SELECT count(*) FROM cv_job_results($queued) WHERE error_code = 'CANCELLED') FROM cv_job_status($queued)")" "the queued job's rows"

# The submitter's user mapping is checked again when the job starts.
gone=$(as cv_e2e_app2 "SELECT cv_job_submit(\$\$SELECT 'g' || i, 'CA', (7800000 + i)::text FROM generate_series(1, 100) i\$\$)")
q $DB "DROP USER MAPPING FOR cv_e2e_app2 SERVER contractor_verify" >/dev/null
q $DB "SELECT cv_job_cancel($slow)" >/dev/null
assert_eq failed "$(wait_job $DB "$gone" 60)" "a job whose submitter lost its user mapping"
assert_eq "42704|no user mapping for role \"cv_e2e_app2\" on server \"contractor_verify\"" \
  "$(q $DB "SELECT error_code || '|' || error_message FROM cv_job_status($gone)")" "the failed job's error"
q $DB "SELECT 1" >/dev/null
assert_eq 0 "$(q $DB "SELECT count(*) FROM contractor_verify.verification_history WHERE license_number::bigint BETWEEN 7800001 AND 7800100")" "lookups made for it"
