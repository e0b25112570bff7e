# Helpers for end-to-end scripts. The harness exports PGHOST/PGPORT/PGUSER,
# CV_SIM_URL, CV_SIM_CONTROL, CV_SIM_KEY and CV_SERVER_LOG.
set -euo pipefail
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
SIMCTL="$E2E_ROOT/test/simctl"

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

drop_db() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null; }

now_ms() { date +%s%3N; }
