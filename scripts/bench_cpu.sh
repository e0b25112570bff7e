#!/usr/bin/env bash
# CPU per 1,000 cold records against version 0.1.0 (README, "Benchmark").
# The two versions cannot be installed side by side, so each is built into a
# private copy of the PostgreSQL installation. Then, RUNS times in turn, a
# throwaway cluster of each runs three cold batches of ROWS records (10% of
# them repeating another's license) against the simulator at 50 ms per call,
# the tables emptied in between, each batch from a new session; the CPU is
# read from /proc for the session's backend and for the database's worker
# (0.1.0 has none). Prints every batch and the medians per batch position.
# Usage: scripts/bench_cpu.sh [RUNS] (default 4; ROWS=20000 in the environment)
set -euo pipefail
shopt -s inherit_errexit
source "$(dirname "$0")/lib/session.sh"

RUNS=${1:-4}
ROWS=${ROWS:-20000}
PG_SYSTEM=$($PG_CONFIG --bindir)/..
# The last commit of version 0.1.0: the parent of the one that made 0.2.0 the default.
BASE_REV=${CV_BASE_REV:-$(git -C "$CV_ROOT" log --reverse --format=%H -S"default_version = '0.2.0'" -- contractor_verify.control | awk 'NR == 1')^}

"$CV_ROOT/scripts/setup.sh"
build_and_install  # the simulator, and this version for the system installation
WORK=$(mktemp -d /tmp/cv_bench_cpu.XXXXXX)
chmod 755 "$WORK"  # the postgres OS user runs the installations in it
cleanup() { sim_stop; cluster_stop; rm -rf "$WORK"; }
trap cleanup EXIT

# private_install NAME SOURCE_DIR: a copy of the installation with SOURCE_DIR's extension in it.
private_install() {
  local root="$WORK/$1" v; v=$(basename "$(cd "$PG_SYSTEM" && pwd)")
  mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql" "$root/usr/include"
  cp -a "/usr/lib/postgresql/$v" "$root/usr/lib/postgresql/"
  cp -a "/usr/share/postgresql/$v" "$root/usr/share/postgresql/"
  cp -a /usr/include/postgresql "$root/usr/include/"
  local pgc="$root/usr/lib/postgresql/$v/bin/pg_config"
  log "building $1 into $root"
  make -C "$2" -s -j "$(nproc)" PG_CONFIG="$pgc" >/dev/null
  make -C "$2" -s install PG_CONFIG="$pgc" >/dev/null
  echo "$pgc"
}
# This version as committed (HEAD), and 0.1.0.
mkdir -p "$WORK/src_0.1.0" "$WORK/src_now"
git -C "$CV_ROOT" archive "$BASE_REV" | tar -x -C "$WORK/src_0.1.0"
git -C "$CV_ROOT" archive HEAD | tar -x -C "$WORK/src_now"
grep -q "default_version = '0.1.0'" "$WORK/src_0.1.0/contractor_verify.control" || { echo "$BASE_REV is not version 0.1.0" >&2; exit 1; }
PGC_OLD=$(private_install pg_0.1.0 "$WORK/src_0.1.0") || exit 1
PGC_NOW=$(private_install pg_now "$WORK/src_now") || exit 1

cpu_of() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# run_version LABEL PG_CONFIG: three cold batches on a throwaway cluster.
run_version() {
  local label=$1 pgc=$2
  (
    export PATH="$($pgc --bindir):$PATH"
    trap 'sim_stop; cluster_stop' EXIT
    cluster_start "work_mem = '4MB'"
    sim_start --rate-limit 0 --latency-ms 50
    q() { psql -X -q -At -v ON_ERROR_STOP=1 -d bench -c "$1"; }
    psql -X -q -d postgres -c "CREATE DATABASE bench"
    psql -X -q -d postgres -c "ALTER SYSTEM SET contractor_verify.worker_idle_timeout = '30min'" \
      -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
    psql -X -q -v ON_ERROR_STOP=1 -d bench >/dev/null <<SQL
CREATE EXTENSION contractor_verify;
CREATE SERVER contractor_verify FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url '$CV_SIM_URL', calls_per_minute '0', max_concurrent_calls '4');
CREATE USER MAPPING FOR CURRENT_USER SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY');
CREATE TABLE roster AS SELECT 'c' || i AS id, 'CA' AS state,
  (1000000 + CASE WHEN i % 10 = 0 THEN i / 10 ELSE i END)::text AS license_no
  FROM generate_series(1, $ROWS) AS i;
SQL
    local version; version=$(q "SELECT extversion FROM pg_extension WHERE extname = 'contractor_verify'")
    local pm; pm=$(head -1 "$CV_PGDIR/data/postmaster.pid")
    log "$label: extension $version, server $(readlink "/proc/$pm/exe")"
    case "$(readlink "/proc/$pm/exe")" in "$WORK"/*) ;; *) echo "$label: not the private installation" >&2; exit 1 ;; esac
    # One lookup first: the worker (if any) is running before the first batch.
    q "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 'x', 'CA', '9999999'\$\$)" >/dev/null
    local round
    for round in 1 2 3; do
      q "TRUNCATE contractor_verify.license_cache, contractor_verify.verification_history"
      sim_ctl POST /reset '{}' >/dev/null
      local worker bpid b0 w0=0 b1 w1=0 cnt
      worker=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'contractor_verify worker' AND datname = 'bench'")
      coproc PSQL { psql -X -q -At -d bench; }
      echo "SELECT pg_backend_pid();" >&"${PSQL[1]}"; read -r bpid <&"${PSQL[0]}"
      b0=$(cpu_of "$bpid"); [ -n "$worker" ] && w0=$(cpu_of "$worker")
      echo "SELECT count(*) FROM cv_verify_batch(\$\$SELECT id, state, license_no FROM roster\$\$);" >&"${PSQL[1]}"
      read -r cnt <&"${PSQL[0]}"
      sleep 0.5
      b1=$(cpu_of "$bpid"); [ -n "$worker" ] && w1=$(cpu_of "$worker")
      exec {PSQL[1]}>&-; wait "$PSQL_PID" || true
      [ "$cnt" = "$ROWS" ] || { echo "batch returned $cnt rows of $ROWS" >&2; exit 1; }
      awk -v l="$label" -v r="$round" -v b0="$b0" -v b1="$b1" -v w0="$w0" -v w1="$w1" -v n="$ROWS" \
        'BEGIN { printf "%s batch %d: backend %.4f worker %.4f total %.4f\n", l, r, (b1-b0)*1000/n, (w1-w0)*1000/n, (b1-b0+w1-w0)*1000/n }'
    done
  )
}

results="$WORK/results"
for i in $(seq 1 "$RUNS"); do
  run_version 0.1.0 "$PGC_OLD" | tee -a "$results"
  run_version now "$PGC_NOW" | tee -a "$results"
done

echo
echo "CPU seconds per 1,000 cold records, medians of $RUNS runs ($ROWS records per batch):"
echo "| batch | 0.1.0 | this version (backend + worker) | of 0.1.0 |"
echo "|---|---|---|---|"
awk '
  { v=$1; r=$3; sub(":", "", r); k=v SUBSEP r; n[k]++; T[k, n[k]]=$9; B[k, n[k]]=$5; W[k, n[k]]=$7 }
  function med(A, k, c,   i, j, t, x) { for (i = 1; i <= c; i++) x[i] = A[k, i];
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
    return (c % 2) ? x[(c + 1) / 2] : (x[c / 2] + x[c / 2 + 1]) / 2 }
  END { for (r = 1; r <= 3; r++) { o = "0.1.0" SUBSEP r; m = "now" SUBSEP r;
    printf "| %d%s | %.4f | %.4f (%.4f + %.4f) | %.2f |\n", r, r == 1 ? " (first after the worker starts)" : "",
      med(T, o, n[o]), med(T, m, n[m]), med(B, m, n[m]), med(W, m, n[m]), med(T, m, n[m]) / med(T, o, n[o]) } }' "$results"
