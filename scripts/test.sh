#!/usr/bin/env bash
# The project's test command (README): installs what is missing, builds and
# installs the extension, starts a throwaway cluster and the simulator, runs
# the unit and simulator contract tests (ctest), the regression tests
# (pg_regress) and the end-to-end scripts (test/e2e), stops everything it
# started, and ends with "N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/lib/session.sh"

passed=0
failed=0
failures=()
summary() { echo "$passed passed, $failed failed"; }

"$CV_ROOT/scripts/setup.sh" || { failed=1; summary; exit 1; }
build_and_install || { echo "build failed" >&2; failed=1; summary; exit 1; }

LOGDIR="$CV_ROOT/build/test-logs"
rm -rf "$LOGDIR" && mkdir -p "$LOGDIR"
export CV_KEEP_LOGS="$LOGDIR"

log "starting a throwaway cluster and the simulator"
cluster_start || { failed=1; summary; exit 1; }
# Tests that exercise rate limits set them through /_sim/config.
sim_start --rate-limit 0 || { failed=1; summary; exit 1; }

# --- ctest: core unit tests and the simulator's contract tests ---------------
log "ctest"
ctest --test-dir "$CV_ROOT/build" --output-on-failure -j 2 --timeout 120 >"$LOGDIR/ctest.log" 2>&1
line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$LOGDIR/ctest.log" | tail -1)
if [[ $line =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
  f=${BASH_REMATCH[1]}; total=${BASH_REMATCH[2]}
  passed=$((passed + total - f)); failed=$((failed + f))
  [ "$f" -gt 0 ] && failures+=("ctest: $f (see $LOGDIR/ctest.log)")
  echo "ctest: $((total - f)) passed, $f failed"
else
  failed=$((failed + 1)); failures+=("ctest did not run (see $LOGDIR/ctest.log)")
  tail -20 "$LOGDIR/ctest.log" >&2
fi

# --- pg_regress ------------------------------------------------------------
log "pg_regress"
make -C "$CV_ROOT" -s installcheck PG_CONFIG="$PG_CONFIG" >"$LOGDIR/pg_regress.log" 2>&1
ok=$(grep -cE '^(ok|test| ) .*\.\.\. ok|^ok [0-9]+' "$LOGDIR/pg_regress.log")
bad=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+' "$LOGDIR/pg_regress.log")
passed=$((passed + ok)); failed=$((failed + bad))
echo "pg_regress: $ok passed, $bad failed"
if [ "$bad" -gt 0 ] || [ "$ok" -eq 0 ]; then
  [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ] && failed=$((failed + 1))
  failures+=("pg_regress (see $CV_ROOT/regression.diffs)")
  [ -f "$CV_ROOT/regression.diffs" ] && head -80 "$CV_ROOT/regression.diffs" >&2
fi

# --- end-to-end scripts ----------------------------------------------------
for t in "$CV_ROOT"/test/e2e/*.sh; do
  [ -e "$t" ] || continue
  name=$(basename "$t" .sh)
  log "e2e $name"
  export E2E_TMP; E2E_TMP=$(mktemp -d /tmp/cv_e2e.XXXXXX)
  started=$SECONDS
  if bash "$t" >"$LOGDIR/e2e_$name.log" 2>&1; then
    passed=$((passed + 1)); echo "e2e $name: ok ($((SECONDS - started)) s)"
  else
    failed=$((failed + 1)); failures+=("e2e $name (see $LOGDIR/e2e_$name.log)")
    echo "e2e $name: FAILED"; tail -30 "$LOGDIR/e2e_$name.log" >&2
  fi
  rm -rf "$E2E_TMP"
done

for f in "${failures[@]}"; do echo "FAILED: $f" >&2; done
summary
[ "$failed" -eq 0 ]
