#!/usr/bin/env bash
# Analysts on a replica: a real streaming standby made with pg_basebackup -R
# from the test primary answers the foreign table (a scan and a batched join)
# and the analysts' view from the replicated cache, answers bought on the
# primary later reach it by streaming, and a lookup the cache cannot answer is
# refused with 25006 and a hint, never a crash. The standby never calls the API.
source "$(dirname "$0")/lib/e2e.sh"
source "$E2E_ROOT/scripts/lib/common.sh"
DB=cv_e2e_standby
STANDBY=$(mktemp -d /tmp/cv_standby.XXXXXX)
STANDBY_PORT=$((PGPORT + 1))

stop_standby() {
  if [ -f "$STANDBY/data/postmaster.pid" ]; then
    as_postgres pg_ctl -D "$STANDBY/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$STANDBY"
}
trap 'stop_standby; drop_db $DB; psql -X -q -d postgres -c "DROP ROLE IF EXISTS regress_cv_analyst" >/dev/null 2>&1' EXIT

api_calls() { q postgres "SELECT ('$("$SIMCTL" counters)'::jsonb)#>>'{calls,total}'"; }

# on_standby [psql options...] SQL: as the analyst, on the standby.
on_standby() {
  local sql=${*: -1}
  psql -X -q -At -h "$STANDBY" -p "$STANDBY_PORT" -U regress_cv_analyst -d $DB "${@:1:$#-1}" -c "$sql"
}

fresh_db $DB
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<SQL
ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000');
CREATE SCHEMA cv;
IMPORT FOREIGN SCHEMA contractor_verify FROM SERVER contractor_verify INTO cv;
CREATE TABLE contractors (id int PRIMARY KEY, state text, license_no text);
INSERT INTO contractors SELECT i, 'CA', (8100000 + i)::text FROM generate_series(1, 40) i;
DROP ROLE IF EXISTS regress_cv_analyst;
CREATE ROLE regress_cv_analyst LOGIN;
GRANT USAGE ON SCHEMA cv TO regress_cv_analyst;
GRANT SELECT ON cv.licenses, contractors, contractor_verify.licenses TO regress_cv_analyst;
GRANT USAGE ON FOREIGN SERVER contractor_verify TO regress_cv_analyst;
CREATE USER MAPPING FOR regress_cv_analyst SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY');
SQL
"$SIMCTL" reset
"$SIMCTL" license CA 8100040 outcome=NOT_FOUND
# The primary buys the roster's answers (a batched join: 1 call) and one more license.
assert_eq 40 "$(q $DB "SELECT count(*) FROM contractors c JOIN cv.licenses l ON (l.state, l.license_number) = (c.state, c.license_no)")" "rows of the join on the primary"
assert_eq "1052183|ACTIVE" "$(q $DB "SELECT license_number || '|' || license_status FROM cv.licenses WHERE state = 'CA' AND license_number = '1052183'")" "a lookup on the primary"
assert_eq 2 "$(api_calls)" "API calls made by the primary"

# A streaming standby from a base backup of the primary, in a directory of its
# own, on a port of its own.
chown postgres: "$STANDBY" 2>/dev/null || true
as_postgres pg_basebackup -h "$PGHOST" -p "$PGPORT" -U postgres -D "$STANDBY/data" -R -X stream -c fast \
  || fail "pg_basebackup failed"
{
  echo "port = $STANDBY_PORT"
  echo "unix_socket_directories = '$STANDBY'"
  echo "hot_standby = on"
} >>"$STANDBY/data/postgresql.conf"
as_postgres pg_ctl -D "$STANDBY/data" -l "$STANDBY/server.log" -w -t 60 start >/dev/null \
  || { cat "$STANDBY/server.log" >&2; fail "the standby did not start"; }
assert_eq t "$(psql -X -At -h "$STANDBY" -p "$STANDBY_PORT" -d postgres -c "SELECT pg_is_in_recovery()")" "the standby is in recovery"
assert_eq streaming "$(q postgres "SELECT state FROM pg_stat_replication LIMIT 1")" "the primary streams to it"

# Answers bought on the primary after the base backup reach the standby by streaming.
assert_eq TACLA12345 "$(q $DB "SELECT license_number FROM cv.licenses WHERE state = 'TX' AND license_number = 'TACLA12345'")" "a lookup on the primary after the backup"
lsn=$(q postgres "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 100); do
  [ "$(psql -X -At -h "$STANDBY" -p "$STANDBY_PORT" -d postgres -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && break
  sleep 0.1
done
"$SIMCTL" reset

# On the standby, as the analyst: the foreign table from the cache ...
assert_eq "1052183|ACTIVE|t|t" "$(on_standby "SELECT concat_ws('|', license_number, license_status, compliant, from_cache) FROM cv.licenses WHERE state = 'CA' AND license_number = '1052183'")" "the foreign table on the standby"
assert_eq "Lone Star Plumbing Co|t" "$(on_standby "SELECT concat_ws('|', business_name, from_cache) FROM cv.licenses WHERE state = 'TX' AND license_number = 'TACLA12345'")" "a license the primary bought after the backup, streamed"
join_sql="SELECT count(*) || '|' || count(*) FILTER (WHERE l.from_cache) || '|' || count(*) FILTER (WHERE l.error_code = 'NOT_FOUND') || '|' || md5(string_agg(concat_ws(',', c.id, l.license_status, l.expiration_date, l.error_code), ';' ORDER BY c.id)) FROM contractors c JOIN cv.licenses l ON (l.state, l.license_number) = (c.state, c.license_no)"
on_primary=$(q $DB "$join_sql")
on_replica=$(on_standby "$join_sql")
assert_eq "$on_primary" "$on_replica" "the batched join on the standby: rows, from the cache, NOT_FOUND, content = the primary's"
[ "${on_replica%%|*}" = 40 ] || fail "the join on the standby gave ${on_replica%%|*} rows"
plan=$(on_standby "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT c.id FROM contractors c JOIN cv.licenses l ON (l.state, l.license_number) = (c.state, c.license_no)")
echo "$plan"
grep -q "Cache Hits: 40" <<<"$plan" || fail "the join's plan on the standby does not show 40 cache hits"
grep -q "API Calls: 0" <<<"$plan" || fail "the join's plan on the standby shows calls"
pass "EXPLAIN ANALYZE on the standby: 40 cache hits, 0 calls"
assert_eq "ACTIVE|t" "$(on_standby "SELECT concat_ws('|', license_status, from_cache) FROM cv_verify('CA', '1052183')")" "cv_verify of a cached license on the standby"
# ... and the analysts' view.
view_sql="SELECT count(*) || '|' || md5(string_agg(concat_ws(',', state, license_number, compliance_reason, verified_at), ';' ORDER BY state, license_number)) FROM contractor_verify.licenses"
assert_eq "$(q $DB "$view_sql")" "$(on_standby "$view_sql")" "the analysts' view on the standby = the primary's"
assert_eq 42 "$(on_standby "SELECT count(*) FROM contractor_verify.licenses")" "licenses in the view on the standby"
assert_eq "NOT_FOUND" "$(on_standby "SELECT compliance_reason FROM contractor_verify.licenses WHERE state = 'CA' AND license_number = '8100040'")" "a NOT_FOUND in the view on the standby"
assert_eq "COMPLIANT" "$(on_standby "SELECT compliance_reason FROM contractor_verify.licenses WHERE state = 'CA' AND license_number = '1052183'")" "a compliance reason on the standby"

# A miss is refused with 25006 and a hint, before anything is sent; the
# session goes on.
out=$(on_standby -v VERBOSITY=verbose "SELECT * FROM cv.licenses WHERE state = 'CA' AND license_number IN ('1052183', '8199999')" 2>&1 || true)
echo "$out"
grep -q "ERROR:  25006: cannot look up 1 license in a read-only transaction" <<<"$out" || fail "the miss on the standby was not refused with 25006"
grep -q "HINT:  .*on a standby.*read-write transaction on the primary" <<<"$out" || fail "the refusal has no hint"
pass "a miss on the standby: 25006 with a hint"
out=$(on_standby -v VERBOSITY=verbose "SELECT count(*) FROM (VALUES ('CA', '8199998')) v(s, n) JOIN cv.licenses l ON l.state = v.s AND l.license_number = v.n" 2>&1 || true)
grep -q "ERROR:  25006" <<<"$out" || fail "the join's miss on the standby was not refused with 25006: $out"
pass "a join's miss on the standby: 25006"
assert_eq "1" "$(on_standby "SELECT count(*) FROM cv.licenses WHERE state = 'CA' AND license_number = '1052183'")" "the standby answers after a refusal"
assert_eq 0 "$(api_calls)" "API calls made by the standby"
grep -E "PANIC|server process .* was terminated" "$STANDBY/server.log" && fail "the standby's log shows a crash"
pass "no crash in the standby's log"
