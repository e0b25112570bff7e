#!/usr/bin/env bash
# Cancel and statement_timeout stop a foreign-table scan and a batched join
# within a second while a call is in flight; the session goes on, and the
# next scan works.
source "$(dirname "$0")/lib/e2e.sh"
DB=cv_e2e_fdw_cancel
trap 'drop_db $DB' EXIT
fdw_db $DB
psql -X -q -v ON_ERROR_STOP=1 -d $DB >/dev/null <<'SQL'
CREATE TABLE contractors AS SELECT i AS id, 'CA'::text AS state, (8300000 + i)::text AS license_no
FROM generate_series(1, 300) i;
SQL

cancel_case() {  # cancel_case NAME SQL
  local name=$1 sql=$2
  "$SIMCTL" reset
  "$SIMCTL" config latency_ms=20000
  local out; out=$(mktemp /tmp/cv_fdw_cancel.XXXXXX)
  psql -X -At -d $DB >"$out" 2>&1 <<SQL &
SET application_name = 'cv_e2e_fdw_victim';
$sql;
SELECT 'still usable: ' || count(*) FROM cv.licenses WHERE state = 'CA' AND license_number = '1052183';
SQL
  local victim=$!
  for _ in $(seq 1 100); do
    [ "$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cv_e2e_fdw_victim' AND state = 'active'")" = 1 ] && break
    sleep 0.05
  done
  sleep 1  # the call is in flight
  local in_flight; in_flight=$(q postgres "SELECT ('$("$SIMCTL" counters)'::jsonb)->>'in_flight'")
  "$SIMCTL" config latency_ms=0
  local t0; t0=$(now_ms)
  q postgres "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'cv_e2e_fdw_victim'" >/dev/null
  wait "$victim" || true
  local took=$(( $(now_ms) - t0 ))
  cat "$out"
  [ "$in_flight" -ge 1 ] || fail "$name: no call was in flight when cancelled"
  grep -q "canceling statement due to user request" "$out" || fail "$name: no cancel message"
  grep -q "still usable: 1" "$out" || fail "$name: the session did not go on"
  [ "$took" -lt 1000 ] || fail "$name: cancel took $took ms"
  pass "$name: cancelled with a call in flight within $took ms"
  rm -f "$out"
}

cancel_case "a scan" "SELECT count(*) FROM cv.licenses WHERE state = 'CA' AND license_number = ANY (ARRAY(SELECT license_no FROM contractors))"
cancel_case "a batched join" "SELECT count(*) FROM contractors c JOIN cv.licenses l ON (l.state, l.license_number) = (c.state, c.license_no)"

"$SIMCTL" reset
"$SIMCTL" config latency_ms=20000
expect_statement_timeout $DB "SELECT count(*) FROM contractors c JOIN cv.licenses l ON (l.state, l.license_number) = (c.state, c.license_no);" "the join"

# The answers of a cancelled call never arrived: the join buys them now, once.
"$SIMCTL" reset
"$SIMCTL" config latency_ms=0
assert_eq 300 "$(q $DB "SELECT count(*) FROM contractors c JOIN cv.licenses l ON (l.state, l.license_number) = (c.state, c.license_no)")" "rows of the join after the cancels"
assert_eq 300 "$(q postgres "SELECT ('$("$SIMCTL" counters)'::jsonb)->>'lookups'")" "lookups bought by the join after the cancels"
