# Shared helpers for the project's scripts. Source, don't run.
CV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
export PATH="$($PG_CONFIG --bindir):$PATH"

log() { printf '==> %s\n' "$*" >&2; }

# Runs a command as the postgres OS user (initdb and postgres refuse root).
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Builds the core, unit tests and simulator (CMake) and the extension (PGXS),
# and installs the extension into the PostgreSQL found by pg_config.
build_and_install() {
  local jobs; jobs=$(nproc 2>/dev/null || echo 2)
  log "building core, unit tests and simulator (cmake)"
  cmake -S "$CV_ROOT" -B "$CV_ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$CV_ROOT/build" -j "$jobs" 2>&1 | grep -E 'error|warning' >&2 || true
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  log "building and installing the extension (pgxs)"
  make -C "$CV_ROOT" -s -j "$jobs" PG_CONFIG="$PG_CONFIG" >/dev/null || return 1
  make -C "$CV_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null || return 1
}
