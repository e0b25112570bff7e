#!/usr/bin/env bash
# The monthly quota's count of an API account used by two databases outlives
# a clean restart, a backend killed with SIGKILL (the postmaster reinitializes
# shared memory) and an immediate shutdown: it is saved in
# $PGDATA/pg_contractor_verify_quota. (Reloaded from one database's history
# alone, the other database's lookups would be forgotten.) A damaged file is
# ignored with a WARNING and rewritten; a file that cannot be written is
# reported with the error, and the lookups go on.
source "$(dirname "$0")/lib/e2e.sh"
source "$E2E_ROOT/scripts/lib/common.sh"
DATA="$PGHOST/data"
QFILE="$DATA/pg_contractor_verify_quota"
A=cv_e2e_quota_a
B=cv_e2e_quota_b

# A simulator of its own with a key no other test uses: the account's count
# starts at 0 whatever ran before, and its counters are this test's alone.
cleanup() {
  stop_own_simulator
  rm -f "$DATA/pg_contractor_verify_quota.tmp"
  drop_db $A || true
  drop_db $B || true
}
trap cleanup EXIT
own_simulator cv_quota_key

for db in $A $B; do
  fresh_db $db
  q $db "ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000', ADD monthly_lookup_quota '100')" >/dev/null
done

lookups() { "$SIMCTL" counters | sed -E 's/.*"lookups":([0-9]+).*/\1/'; }
# batch DB FIRST N: verifies licenses FIRST+1 .. FIRST+N, prints the rows.
batch() { q "$1" "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'r' || i, 'CA', ($2 + i)::text FROM generate_series(1, $3) i\$\$)"; }
spend() {  # spend DB FIRST N: N lookups bought
  "$SIMCTL" reset
  assert_eq "$3" "$(batch "$1" "$2" "$3")" "$1: rows of a batch of $3"
  assert_eq "$3" "$(lookups)" "$1: lookups bought"
}
refused() {  # refused DB FIRST N REMAINING USED: the batch is refused, nothing sent
  "$SIMCTL" reset
  local out
  out=$(psql -X -q -At -v VERBOSITY=verbose -d "$1" -c "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'r' || i, 'CA', ($2 + i)::text FROM generate_series(1, $3) i\$\$)" 2>&1) \
    && fail "$1: a batch of $3 ran with $4 remaining: $out"
  grep -qxF "ERROR:  54000: this needs $3 lookups but only $4 of the monthly quota of 100 remain on server \"contractor_verify\"" <<<"$out" \
    || fail "$1: not refused with $4 remaining: $out"
  grep -qxF "DETAIL:  $5 lookups were counted this month." <<<"$out" || fail "$1: not $5 counted: $out"
  pass "$1: a batch of $3 refused (54000), $4 remaining, $5 counted"
  assert_eq 0 "$(lookups)" "$1: lookups sent by the refused batch"
}
wait_ready() {
  for _ in $(seq 1 200); do
    psql -X -q -At -d $B -c "SELECT 1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "the cluster did not come back"
}
saved_lines() {  # saved_lines N: the file's lines giving an account N lookups this month
  grep -cxE "$(date -u +%Y-%m) [0-9a-f]{16} $1" "$QFILE" || true
}
reinitialized() { grep -c "all server processes terminated; reinitializing" "$PGHOST/server.log" || true; }

# 30 lookups in A, 20 in B: the file holds the account's 50.
spend $A 740000 30
spend $B 740100 20
assert_eq 1 "$(saved_lines 50)" "file lines with this month's count of 50"

# A clean restart: B, whose history holds 20, knows of all 50.
as_postgres pg_ctl -D "$DATA" -l "$PGHOST/server.log" -w -t 60 -m fast restart >/dev/null
wait_ready
refused $B 740200 51 50 50
spend $B 740200 10
spend $A 740300 15

# SIGKILL of an idle backend after the statements ended (the file written):
# the postmaster reinitializes shared memory. B's history holds 30 of 75.
psql -X -q -At -d postgres -c "SET application_name = 'cv_e2e_quota_victim'" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
victim=$!
pid=""
for _ in $(seq 1 100); do
  pid=$(q postgres "SELECT pid FROM pg_stat_activity WHERE application_name = 'cv_e2e_quota_victim'")
  [ -n "$pid" ] && break
  sleep 0.05
done
[ -n "$pid" ] || fail "the backend to kill never started"
before=$(reinitialized)
kill -9 "$pid"
wait "$victim" || true
for _ in $(seq 1 100); do [ "$(reinitialized)" -gt "$before" ] && break; sleep 0.1; done
[ "$(reinitialized)" -gt "$before" ] || fail "the postmaster did not reinitialize after the SIGKILL"
wait_ready
refused $B 740400 26 25 75
spend $B 740400 5

# An immediate shutdown: B's history holds 35 of 80.
as_postgres pg_ctl -D "$DATA" -m immediate stop >/dev/null
as_postgres pg_ctl -D "$DATA" -l "$PGHOST/server.log" -w -t 60 start >/dev/null
wait_ready
refused $B 740500 21 20 80
spend $B 740500 20
out=$(psql -X -q -At -d $A -c "SELECT cv_verify('CA', '740601')" 2>&1) && fail "A went over the quota: $out"
grep -qF "this needs 1 lookup but only 0 of the monthly quota of 100 remain" <<<"$out" \
  || fail "A's single lookup not refused: $out"
pass "$A: a single lookup refused at 100 of 100"
assert_eq 1 "$(saved_lines 100)" "file lines with this month's count of 100"

# A truncated file is ignored with a WARNING (B reloads its own history: 55)
# and rewritten at once.
as_postgres pg_ctl -D "$DATA" -w -t 60 -m fast stop >/dev/null
truncate -s 60 "$QFILE"
as_postgres pg_ctl -D "$DATA" -l "$PGHOST/server.log" -w -t 60 start >/dev/null
wait_ready
out=$(psql -X -q -At -d $B -c "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'r' || i, 'CA', (740700 + i)::text FROM generate_series(1, 46) i\$\$)" 2>&1) \
  && fail "B ran 46 after a damaged file: $out"
grep -qF 'WARNING:  ignoring file "pg_contractor_verify_quota": the file is truncated (its last line is incomplete)' <<<"$out" \
  || fail "no WARNING about the damaged file: $out"
grep -qF "this needs 46 lookups but only 45 of the monthly quota of 100 remain" <<<"$out" \
  || fail "B's count is not its history (55): $out"
pass "a truncated file: WARNING, B counts its own history (55)"
assert_eq "contractor_verify monthly lookup counts 1" "$(head -1 "$QFILE")" "the rewritten file's first line"
assert_eq 1 "$(saved_lines 55)" "file lines with this month's count of 55"

# A file that cannot be written: a WARNING with the error, the lookups go on,
# and the next statement that charges writes it.
as_postgres mkdir "$DATA/pg_contractor_verify_quota.tmp"
"$SIMCTL" reset
out=$(psql -X -q -At -d $B -c "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'r' || i, 'CA', (740800 + i)::text FROM generate_series(1, 5) i\$\$)" 2>&1) \
  || fail "a lookup failed because the quota file could not be written: $out"
assert_eq 1 "$(echo "$out" | grep -cxF 'WARNING:  could not create file "pg_contractor_verify_quota.tmp": Is a directory')" \
  "WARNINGs with the error (one a statement; later failures go to the server log)"
assert_eq 5 "$(echo "$out" | tail -1)" "rows of a batch whose count could not be saved"
assert_eq 5 "$(lookups)" "lookups bought with the file unwritable"
assert_eq 1 "$(saved_lines 55)" "file lines still at 55"
rmdir "$DATA/pg_contractor_verify_quota.tmp"
spend $B 740900 1
assert_eq 1 "$(saved_lines 61)" "file lines at 61 once it can be written"

# A running statement's charges reach the file within about a second: a slow
# batch in A, killed with SIGKILL once the file shows part of it. B (whose
# history holds 61) then counts at least what the file showed.
ACCOUNT=$(grep -xE "$(date -u +%Y-%m) [0-9a-f]{16} 61" "$QFILE" | cut -d' ' -f2)
count_of() { sed -nE "s/^[0-9]{4}-[0-9]{2} $ACCOUNT ([0-9]+)$/\1/p" "$QFILE"; }
q $A "ALTER SERVER contractor_verify OPTIONS (SET monthly_lookup_quota '1000', ADD batch_size '10', ADD max_concurrent_calls '1')" >/dev/null
q $B "ALTER SERVER contractor_verify OPTIONS (SET monthly_lookup_quota '1000')" >/dev/null
"$SIMCTL" reset
"$SIMCTL" config latency_ms=250
psql -X -q -At -d $A -c "SET application_name = 'cv_e2e_quota_slow'" \
  -c "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'r' || i, 'CA', (741000 + i)::text FROM generate_series(1, 200) i\$\$)" >/dev/null 2>&1 &
slow=$!
mid=61
for _ in $(seq 1 100); do
  mid=$(count_of)
  [ "$mid" -gt 61 ] && break
  sleep 0.05
done
[ "$mid" -gt 61 ] && [ "$mid" -lt 261 ] || fail "the file never showed part of the running batch (last: $mid)"
pass "the file showed $mid while the batch ran"
before=$(reinitialized)
kill -9 "$(q postgres "SELECT pid FROM pg_stat_activity WHERE application_name = 'cv_e2e_quota_slow'")"
wait "$slow" || true
for _ in $(seq 1 100); do [ "$(reinitialized)" -gt "$before" ] && break; sleep 0.1; done
wait_ready
bought=$(lookups)
"$SIMCTL" config latency_ms=0
out=$(psql -X -q -At -d $B -c "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'r' || i, 'CA', (742000 + i)::text FROM generate_series(1, 1000) i\$\$)" 2>&1) \
  && fail "B ran a batch of 1000: $out"
counted=$(echo "$out" | sed -nE 's/^DETAIL:  ([0-9]+) lookups were counted this month\.$/\1/p')
echo "the batch bought $bought before the SIGKILL; the file showed $mid; B counts $counted"
[ -n "$counted" ] && [ "$counted" -ge "$mid" ] && [ "$counted" -le $((61 + bought)) ] \
  || fail "B counts '$counted', not between $mid and $((61 + bought)): $out"
pass "B counts $counted after the SIGKILL (the file showed $mid, $((61 + bought)) charged)"
