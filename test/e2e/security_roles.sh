#!/usr/bin/env bash
# Installed in a schema of its own and called schema-qualified with a
# search_path that omits it, the extension works, and look-alike objects in
# earlier schemas change nothing. Another role's running batch shows only its
# pid and phase, as core's progress views do.
source "$(dirname "$0")/lib/e2e.sh"
trap 'drop_db cv_e2e_schema; psql -X -q -d postgres -c "DROP ROLE IF EXISTS cv_e2e_alice" -c "DROP ROLE IF EXISTS cv_e2e_bob" -c "DROP ROLE IF EXISTS cv_e2e_carol" >/dev/null 2>&1' EXIT
"$SIMCTL" reset

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS cv_e2e_schema" -c "CREATE DATABASE cv_e2e_schema" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d cv_e2e_schema >/dev/null <<SQL
CREATE SCHEMA cv;
CREATE EXTENSION contractor_verify SCHEMA cv;
CREATE SERVER contractor_verify FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url '$CV_SIM_URL', calls_per_minute '1000', max_concurrent_calls '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY');
-- An application's own objects with the extension's names, earlier on the path.
CREATE TYPE public.cv_result AS (id integer, note text);
CREATE TABLE public.marker (what text);
CREATE FUNCTION public.cv_verify(text, text) RETURNS integer
  LANGUAGE sql AS \$\$ INSERT INTO public.marker VALUES ('public.cv_verify'); SELECT 1 \$\$;
CREATE FUNCTION public.normalize_input(text, text, text) RETURNS text
  LANGUAGE sql AS \$\$ INSERT INTO public.marker VALUES ('public.normalize_input'); SELECT 'x' \$\$;
CREATE TABLE public.license_cache (state text, license_number text);
SQL
assert_eq "cv" "$(q cv_e2e_schema "SELECT typnamespace::regnamespace FROM pg_type WHERE typname = 'cv_result' AND typnamespace <> 'public'::regnamespace")" "cv_result lives in the install schema"

run() { psql -X -q -At -v ON_ERROR_STOP=1 -d cv_e2e_schema -c "SET search_path = public" -c "$1"; }
assert_eq "ACTIVE|false" "$(run "SELECT license_status || '|' || from_cache FROM cv.cv_verify('CA', '1052183')")" "cv.cv_verify with the install schema off the path"
assert_eq "ACTIVE|true" "$(run "SELECT license_status || '|' || from_cache FROM cv.cv_verify('CA', '1052183')")" "its cache hit"
assert_eq "MULTIPLE_CANDIDATES" "$(run "SELECT error_code FROM cv.cv_verify_by_name('WA', 'Pacific Northwest Roofing LLC')")" "cv.cv_verify_by_name"
assert_eq "3|1" "$(run "SELECT count(*) || '|' || count(*) FILTER (WHERE error_code = 'INVALID_INPUT') FROM cv.cv_verify_batch(\$\$VALUES ('a', 'CA', '1052183'), ('b', 'CA', '100500'), ('c', 'ZZ', '1')\$\$)")" "cv.cv_verify_batch (query)"
assert_eq "2" "$(run "SELECT count(*) FROM cv.cv_verify_batch('[{\"id\": \"a\", \"state\": \"CA\", \"license_number\": \"100501\"}, {\"id\": \"b\", \"state\": \"CA\", \"license_number\": \"100502\"}]'::jsonb)")" "cv.cv_verify_batch (jsonb)"
assert_eq "cv.cv_result" "$(run "SELECT pg_typeof(cv.cv_verify('CA', '1052183'))::text")" "the result type is the extension's"
assert_eq "4" "$(run "SELECT count(*) FROM contractor_verify.licenses")" "the analysts' view"
assert_eq "0 0" "$(q cv_e2e_schema "SELECT count(*) FROM public.marker") $(q cv_e2e_schema "SELECT count(*) FROM public.license_cache")" "look-alike objects touched (marker rows, look-alike cache rows)"

# Progress: alice's running batch as bob sees it (pid and phase only), as a
# member of pg_read_all_stats sees it, and as alice herself sees it.
psql -X -q -v ON_ERROR_STOP=1 -d cv_e2e_schema >/dev/null <<SQL
CREATE ROLE cv_e2e_alice LOGIN; CREATE ROLE cv_e2e_bob LOGIN; CREATE ROLE cv_e2e_carol LOGIN IN ROLE pg_read_all_stats;
GRANT USAGE ON SCHEMA cv TO cv_e2e_alice, cv_e2e_bob, cv_e2e_carol;
GRANT USAGE ON FOREIGN SERVER contractor_verify TO cv_e2e_alice;
CREATE USER MAPPING FOR cv_e2e_alice SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY');
SQL
"$SIMCTL" config latency_ms=1500
PGUSER=cv_e2e_alice psql -X -q -At -d cv_e2e_schema -c "SELECT count(*) FROM cv.cv_verify_batch(\$\$SELECT 'r' || i, 'CA', (700000 + i)::text FROM generate_series(1, 300) i\$\$)" >$E2E_TMP/cv_e2e_alice.out 2>&1 &
alice=$!
seen=""
for _ in $(seq 1 100); do
  seen=$(PGUSER=cv_e2e_bob q cv_e2e_schema "SELECT count(*) FROM contractor_verify.batch_progress")
  [ "$seen" = "1" ] && break
  sleep 0.05
done
assert_eq "1" "$seen" "bob sees that a batch runs"
bob=$(PGUSER=cv_e2e_bob q cv_e2e_schema "SELECT (pid IS NOT NULL) || ',' || (phase IS NOT NULL) || ',' || coalesce(usename::text, '-') || ',' || coalesce(records_total::text, '-') || ',' || coalesce(server_name, '-') FROM contractor_verify.batch_progress")
assert_eq "true,true,-,-,-" "$bob" "bob's view of alice's batch (pid, phase, nothing else)"
carol=$(PGUSER=cv_e2e_carol q cv_e2e_schema "SELECT usename || ',' || records_total || ',' || server_name FROM contractor_verify.batch_progress")
assert_eq "cv_e2e_alice,300,contractor_verify" "$carol" "a pg_read_all_stats member's view"
mine=$(PGUSER=cv_e2e_alice q cv_e2e_schema "SELECT usename || ',' || records_total FROM contractor_verify.batch_progress")
assert_eq "cv_e2e_alice,300" "$mine" "alice's own view from another session"
"$SIMCTL" config latency_ms=0
wait "$alice"
assert_eq "300" "$(cat $E2E_TMP/cv_e2e_alice.out)" "alice's batch rows"
rm -f $E2E_TMP/cv_e2e_alice.out

# A database in another encoding than UTF8 is refused at CREATE EXTENSION
# with a hint, instead of failing later on an answer it cannot hold.
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS cv_e2e_latin1" -c "CREATE DATABASE cv_e2e_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >/dev/null
out=$(psql -X -q -d cv_e2e_latin1 -c "CREATE EXTENSION contractor_verify" 2>&1 || true)
psql -X -q -d postgres -c "DROP DATABASE cv_e2e_latin1" >/dev/null
grep -q "needs a database in the UTF8 encoding, not LATIN1" <<<"$out" || fail "a LATIN1 database was not refused: $out"
grep -q "HINT:  Create the database WITH ENCODING 'UTF8'" <<<"$out" || fail "no hint: $out"
pass "a LATIN1 database is refused with a hint"

# A statement the quota refuses holds no place in the limiter's table of API
# accounts: cycling through more junk keys than it has places locks nobody out.
psql -X -q -v ON_ERROR_STOP=1 -d cv_e2e_schema >/dev/null <<SQL
CREATE SERVER cv_junk FOREIGN DATA WRAPPER contractor_verify OPTIONS (url '$CV_SIM_URL', monthly_lookup_quota '10');
CREATE USER MAPPING FOR CURRENT_USER SERVER cv_junk OPTIONS (api_key 'junk0');
SQL
for i in $(seq 1 25); do
  psql -X -q -d cv_e2e_schema -c "ALTER USER MAPPING FOR CURRENT_USER SERVER cv_junk OPTIONS (SET api_key 'junk$i')" \
    -c "SELECT count(*) FROM cv.cv_verify_batch(\$\$SELECT i::text, 'CA', (720000 + i)::text FROM generate_series(1, 11) i\$\$, server => 'cv_junk')" >/dev/null 2>&1 || true
done
assert_eq "f" "$(run "SELECT from_cache FROM cv.cv_verify('CA', '720500')")" "a lookup with a working key after 25 refused junk keys"

# An extension owner that may not log in (the worker connects as the
# bootstrap superuser and acts as the owner).
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS cv_e2e_nologin" -c "CREATE DATABASE cv_e2e_nologin" -c "DROP ROLE IF EXISTS cv_e2e_owner" -c "CREATE ROLE cv_e2e_owner SUPERUSER NOLOGIN" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d cv_e2e_nologin >/dev/null <<SQL
SET ROLE cv_e2e_owner;
CREATE EXTENSION contractor_verify;
RESET ROLE;
CREATE SERVER contractor_verify FOREIGN DATA WRAPPER contractor_verify OPTIONS (url '$CV_SIM_URL');
CREATE USER MAPPING FOR CURRENT_USER SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY');
SQL
assert_eq "f" "$(psql -X -q -At -d cv_e2e_nologin -c "SET statement_timeout = '20s'" -c "SELECT from_cache FROM cv_verify('CA', '720600')")" "a lookup in a database whose extension owner cannot log in"
assert_eq "cv_e2e_owner" "$(psql -X -q -At -d cv_e2e_nologin -c "SELECT tableowner FROM pg_tables WHERE tablename = 'license_cache'")" "the tables' owner"
assert_eq 1 "$(psql -X -q -At -d cv_e2e_nologin -c "SELECT count(*) FROM contractor_verify.license_cache WHERE license_number = '720600'")" "its answer recorded"
psql -X -q -d postgres -c "DROP DATABASE cv_e2e_nologin WITH (FORCE)" -c "DROP ROLE cv_e2e_owner" >/dev/null

# A batch leaves nothing in the session (no temporary table): its
# transaction can be prepared for two-phase commit.
out=$(psql -X -q -At -d cv_e2e_schema 2>&1 <<'SQL'
BEGIN;
SELECT count(*) FROM cv.cv_verify_batch($$SELECT i::text, 'CA', (720700 + i)::text FROM generate_series(1, 5) i$$);
PREPARE TRANSACTION 'cv_e2e_batch';
COMMIT PREPARED 'cv_e2e_batch';
SELECT 'committed';
SQL
)
grep -q "committed" <<<"$out" || fail "PREPARE TRANSACTION after a batch: $out"
pass "a batch's transaction can be prepared and committed"
