#!/usr/bin/env bash
# An UPDATE ... FROM the foreign table runs as a batched join, and when a row
# it updates was changed by a concurrent transaction, the recheck
# (EvalPlanQual) joins the row's new version to the license row the join
# gave, without a lookup: a change elsewhere in the row keeps the update, a
# changed license number drops it, as for any join. A batched join in a
# subquery of the SET list still gives the rechecked row its value. SELECT
# ... FOR UPDATE rechecks the same way.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_fdw_concurrent_update
trap "drop_db \$DB" EXIT
fdw_db $DB
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<'SQL'
CREATE TABLE reconciled (id int PRIMARY KEY, state text, license_no text, status text, note text);
INSERT INTO reconciled SELECT i, 'CA', (8400000 + i)::text, NULL, NULL FROM generate_series(1, 20) i;
CREATE TABLE holders (id int, state text, license_no text);
INSERT INTO holders SELECT id, state, license_no FROM reconciled, generate_series(1, 10);
ANALYZE reconciled, holders;
SQL
"$SIMCTL" reset

update_sql="UPDATE reconciled r SET status = coalesce(l.license_status, l.error_code, 'answered') FROM cv.licenses l
            WHERE (l.state, l.license_number) = (r.state, r.license_no)"
plan=$(q $DB "EXPLAIN (COSTS OFF) $update_sql")
grep -q "ContractorVerify Join" <<<"$plan" || fail "UPDATE ... FROM is not a batched join: $plan"
pass "UPDATE ... FROM runs as a batched join"

# concurrent SESSION_A_SQL SESSION_B_SQL: A changes rows and holds its
# transaction open while B runs into them; A commits; prints B's output.
concurrent() {
  local out; out=$(mktemp /tmp/cv_fdw_epq.XXXXXX)
  coproc A { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB; }
  echo "BEGIN; $1; SELECT 'held';" >&"${A[1]}"
  local line; read -r -t 30 line <&"${A[0]}" || fail "session A did not answer"
  [ "$line" = held ] || fail "session A: $line"
  psql -X -q -At -v ON_ERROR_STOP=1 -d $DB -c "SET application_name = 'cv_e2e_epq'" -c "$2" >"$out" 2>&1 &
  local b=$!
  local waiting=0
  for _ in $(seq 1 200); do
    waiting=$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cv_e2e_epq' AND wait_event_type = 'Lock'")
    [ "$waiting" = 1 ] && break
    sleep 0.05
  done
  [ "$waiting" = 1 ] || fail "session B never waited for A's row lock"
  echo "COMMIT;" >&"${A[1]}"
  exec {A[1]}>&-
  wait "$A_PID" 2>/dev/null || true
  wait "$b" || { cat "$out" >&2; fail "session B failed"; }
  cat "$out"
  rm -f "$out"
}

# Warm the cache: the rechecks must not need the API anyway.
q $DB "SELECT count(*) FROM reconciled r JOIN cv.licenses l ON (l.state, l.license_number) = (r.state, r.license_no)" >/dev/null
calls_before=$(q postgres "SELECT ('$("$SIMCTL" counters)'::jsonb)#>>'{calls,total}'")

concurrent "UPDATE reconciled SET note = 'touched' WHERE id = 1; UPDATE reconciled SET license_no = '8499999' WHERE id = 2" \
  "$update_sql" >/dev/null
assert_eq "touched|1" "$(q $DB "SELECT note || '|' || (status IS NOT NULL)::int FROM reconciled WHERE id = 1")" \
  "a row changed elsewhere meanwhile: rechecked and updated"
assert_eq "8499999|0" "$(q $DB "SELECT license_no || '|' || (status IS NOT NULL)::int FROM reconciled WHERE id = 2")" \
  "a row whose license number changed meanwhile: no longer joins, not updated"
assert_eq 18 "$(q $DB "SELECT count(*) FROM reconciled WHERE status IS NOT NULL AND id > 2")" \
  "the other rows updated"

# A batched join inside a subquery the recheck runs again.
q $DB "UPDATE reconciled SET status = NULL" >/dev/null
sub_sql="UPDATE reconciled r SET status = (SELECT max(coalesce(l.license_status, l.error_code, 'answered')) FROM holders h
           JOIN cv.licenses l ON (l.state, l.license_number) = (h.state, h.license_no) WHERE h.id = r.id)"
plan=$(q $DB "EXPLAIN (COSTS OFF) $sub_sql")
grep -q "ContractorVerify Join" <<<"$plan" || fail "the subquery is not a batched join: $plan"
concurrent "UPDATE reconciled SET note = 'touched again' WHERE id = 3" "$sub_sql" >/dev/null
assert_eq "touched again|1" "$(q $DB "SELECT note || '|' || (status IS NOT NULL)::int FROM reconciled WHERE id = 3")" \
  "a subquery's batched join in the recheck gives its row"

# SELECT ... FOR UPDATE OF the application's rows.
locked=$(concurrent "UPDATE reconciled SET note = 'locked' WHERE id = 4" \
  "SELECT r.id || ':' || l.license_number || ':' || r.note FROM reconciled r
   JOIN cv.licenses l ON (l.state, l.license_number) = (r.state, r.license_no) WHERE r.id = 4 FOR UPDATE OF r")
assert_eq "4:8400004:locked" "$locked" "SELECT ... FOR UPDATE rechecks the changed row with its license"

calls_after=$(q postgres "SELECT ('$("$SIMCTL" counters)'::jsonb)#>>'{calls,total}'")
assert_eq "$calls_before" "$calls_after" "no API call by the updates and rechecks of cached licenses"
