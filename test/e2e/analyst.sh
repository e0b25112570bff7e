#!/usr/bin/env bash
# An analyst with the README's grants reads the compliance views and nothing
# else: no API call, no table behind the views, no sweep; a hostile schema
# ahead of pg_catalog on its search_path changes none of the answers.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_analyst
trap 'drop_db $DB; psql -X -q -d postgres -c "DROP ROLE IF EXISTS cv_e2e_analyst" >/dev/null 2>&1' EXIT
psql -X -q -d postgres -c "DROP ROLE IF EXISTS cv_e2e_analyst" >/dev/null 2>&1 || true
fresh_db $DB
q $DB "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000')" >/dev/null
"$SIMCTL" reset
q $DB "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'c' || i, 'CA', (9600000 + i)::text FROM generate_series(1, 400) i UNION ALL SELECT 'tx', 'TX', '9600001'\$\$)" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<'SQL'
CREATE ROLE cv_e2e_analyst LOGIN;
GRANT USAGE ON SCHEMA contractor_verify TO cv_e2e_analyst;
GRANT SELECT ON contractor_verify.licenses, contractor_verify.compliance_summary,
      contractor_verify.expiring_licenses, contractor_verify.needs_attention,
      contractor_verify.license_schedule, contractor_verify.license_changes,
      contractor_verify.review_queue, contractor_verify.usage TO cv_e2e_analyst;
CREATE SCHEMA hostile;
GRANT ALL ON SCHEMA hostile TO PUBLIC;
SQL
PGUSER=cv_e2e_analyst psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<'SQL'
CREATE TABLE hostile.marker (what text);
CREATE FUNCTION hostile.now() RETURNS timestamptz LANGUAGE sql AS $$ INSERT INTO hostile.marker VALUES ('now'); SELECT pg_catalog.now() - interval '10 years' $$;
CREATE FUNCTION hostile.lower(text) RETURNS text LANGUAGE sql AS $$ INSERT INTO hostile.marker VALUES ('lower'); SELECT 'x' $$;
CREATE FUNCTION hostile.is_compliant(text, date) RETURNS boolean LANGUAGE sql AS $$ INSERT INTO hostile.marker VALUES ('is_compliant'); SELECT true $$;
CREATE FUNCTION hostile.texteq_evil(text, text) RETURNS boolean LANGUAGE sql AS $$ INSERT INTO hostile.marker VALUES ('='); SELECT true $$;
CREATE OPERATOR hostile.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.texteq_evil);
SQL
as_analyst() { PGUSER=cv_e2e_analyst psql -X -q -At -d $DB -v VERBOSITY=verbose -c "SET search_path = hostile, pg_catalog, contractor_verify, public" -c "$1" 2>&1 | sed -nE 's/^ERROR:  ([0-9A-Z]{5}): (.*)$/ERROR \1 \2/p; /^(ERROR|LOCATION|HINT|DETAIL|CONTEXT)/!p' | head -1; }
same() {  # same VIEW: the analyst (hostile path) and the owner see the same rows
  local a o
  a=$(as_analyst "SELECT count(*) || ':' || md5(coalesce(string_agg(v::text, '|' ORDER BY v::text), '')) FROM contractor_verify.$1 v")
  o=$(q $DB "SELECT count(*) || ':' || md5(coalesce(string_agg(v::text, '|' ORDER BY v::text), '')) FROM contractor_verify.$1 v")
  assert_eq "$o" "$a" "the analyst's $1 (as the owner sees it)"
}
for v in licenses compliance_summary expiring_licenses needs_attention license_schedule license_changes review_queue usage; do same $v; done
assert_eq 401 "$(as_analyst "SELECT sum(licenses) FROM contractor_verify.compliance_summary")" "licenses in the summary"
assert_eq "$(q $DB "SELECT count(*) FROM contractor_verify.licenses WHERE compliant")" "$(as_analyst "SELECT sum(compliant) FROM contractor_verify.compliance_summary")" "compliant licenses in the summary"
assert_eq t "$(as_analyst "SELECT bool_and(within_days IN (30, 60, 90) AND days_to_expiration <= within_days) FROM contractor_verify.expiring_licenses")" "expiring licenses in their buckets"
assert_eq 1 "$(as_analyst "SELECT count(*) FROM contractor_verify.review_queue WHERE reason_code OPERATOR(pg_catalog.=) 'INVALID_STATE_FORMAT'")" "the wrong-format license in the review queue"
assert_eq "ERROR 42501 permission denied for foreign server contractor_verify" "$(as_analyst "SELECT * FROM cv_verify('CA', '9600001')")" "the analyst calling the API"
assert_eq "ERROR 42501 permission denied for table license_cache" "$(as_analyst "SELECT count(*) FROM contractor_verify.license_cache")" "the analyst reading the cache table"
assert_eq "ERROR 42501 permission denied for table verification_history" "$(as_analyst "SELECT count(*) FROM contractor_verify.verification_history")" "the analyst reading the history table"
assert_eq "ERROR 42501 permission denied for function cv_sweep" "$(as_analyst "SELECT cv_sweep('SELECT 1')")" "the analyst sweeping"
assert_eq "ERROR 42501 permission denied for function cv_review_resolve" "$(as_analyst "SELECT cv_review_resolve('TX', '9600001')")" "the analyst resolving a review"
assert_eq 0 "$(q $DB "SELECT count(*) FROM hostile.marker")" "look-alikes run (marker rows)"
