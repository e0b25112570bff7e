# Helpers for end-to-end scripts. The harness exports PGHOST/PGPORT/PGUSER,
# CV_SIM_URL, CV_SIM_CONTROL, CV_SIM_KEY and CV_SERVER_LOG.
set -euo pipefail
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
SIMCTL="$E2E_ROOT/test/simctl"
# Scratch files of this script (the test command gives each script its own
# directory and removes it afterwards).
E2E_TMP=${E2E_TMP:-$(mktemp -d /tmp/cv_e2e.XXXXXX)}

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# q DB SQL: one value, unaligned.
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

assert_eq() {  # assert_eq EXPECTED ACTUAL WHAT
  [ "$1" == "$2" ] || fail "$3: expected '$1', got '$2'"
  pass "$3 = $2"
}

# fresh_db NAME: a new database with the extension, a server on the
# simulator and a user mapping for the current user.
fresh_db() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 -d "$1" >/dev/null <<SQL
CREATE EXTENSION contractor_verify;
CREATE SERVER contractor_verify FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url '$CV_SIM_URL', retry_base '20ms');
CREATE USER MAPPING FOR CURRENT_USER SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY');
SQL
}

# fdw_db NAME: fresh_db, its server allowing 1000 calls a minute, and the
# foreign table imported into schema cv.
fdw_db() {
  fresh_db "$1"
  psql -X -q -v ON_ERROR_STOP=1 -d "$1" >/dev/null <<'SQL'
ALTER SERVER contractor_verify OPTIONS (ADD calls_per_minute '1000');
CREATE SCHEMA cv;
IMPORT FOREIGN SCHEMA contractor_verify FROM SERVER contractor_verify INTO cv;
SQL
}

drop_db() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null; }

now_ms() { date +%s%3N; }

# expect_statement_timeout DB SQL WHAT: SQL under a 700 ms statement_timeout
# is cancelled within 2 s and the session goes on.
expect_statement_timeout() {
  local t0 out took
  t0=$(now_ms)
  out=$(psql -X -At -d "$1" 2>&1 <<SQL
SET statement_timeout = '700ms';
$2
RESET statement_timeout;
SELECT 'still usable';
SQL
)
  took=$(( $(now_ms) - t0 ))
  echo "$out"
  grep -q "canceling statement due to statement timeout" <<<"$out" || fail "no statement_timeout"
  grep -q "still usable" <<<"$out" || fail "the session did not go on after statement_timeout"
  [ "$took" -lt 2000 ] || fail "statement_timeout took $took ms"
  pass "statement_timeout of 700 ms ended $3 in $took ms"
}

# own_simulator KEY: starts a simulator of the test's own (counters and quota
# counts no other test touches) answering KEY, and points CV_SIM_URL,
# CV_SIM_CONTROL and CV_SIM_KEY at it; stop_own_simulator ends it.
own_simulator() {
  OWN_SIMDIR=$(mktemp -d /tmp/cv_own_sim.XXXXXX)
  "$E2E_ROOT/build/cv_simulator" --port 0 --port-file "$OWN_SIMDIR/port" --key "$1" \
    --rate-limit 0 --quiet >"$OWN_SIMDIR/sim.log" 2>&1 &
  OWN_SIM_PID=$!
  for _ in $(seq 1 100); do [ -s "$OWN_SIMDIR/port" ] && break; sleep 0.05; done
  [ -s "$OWN_SIMDIR/port" ] || fail "the simulator did not start: $(cat "$OWN_SIMDIR/sim.log")"
  export CV_SIM_URL="http://127.0.0.1:$(cat "$OWN_SIMDIR/port")/v1"
  export CV_SIM_CONTROL="http://127.0.0.1:$(cat "$OWN_SIMDIR/port")/_sim"
  export CV_SIM_KEY=$1
}
stop_own_simulator() {
  [ -n "${OWN_SIM_PID:-}" ] && { kill "$OWN_SIM_PID" 2>/dev/null || true; wait "$OWN_SIM_PID" 2>/dev/null || true; }
  [ -n "${OWN_SIMDIR:-}" ] && rm -rf "$OWN_SIMDIR"
  OWN_SIM_PID="" OWN_SIMDIR=""
}

# wait_job DB ID SECONDS: prints the job's status once it has ended (or the
# last one seen when SECONDS pass first).
wait_job() {
  local status=""
  for _ in $(seq 1 $(($3 * 10))); do
    status=$(q "$1" "SELECT job_status FROM cv_job_status($2)" 2>/dev/null || true)
    case "$status" in completed|failed|cancelled) echo "$status"; return 0 ;; esac
    sleep 0.1
  done
  echo "$status"
}
