#!/usr/bin/env bash
# The benchmark (README): cv_verify_batch against a baseline client doing the
# job the way the source documents do, in one run against the simulator with
# a fixed per-call latency and no rate limit; then the rate limiter's
# achieved calls per window with 1, 4 and 8 sessions, and a cached lookup
# against a primary-key SELECT under pgbench. Prints figures; asserts
# nothing. Usage: scripts/bench.sh [roster sizes...] (default: 10000 100000)
set -euo pipefail
source "$(dirname "$0")/lib/session.sh"

SIZES=("${@:-10000 100000}")
[ $# -eq 0 ] && SIZES=(10000 100000)
LATENCY_MS=50

"$CV_ROOT/scripts/setup.sh"
build_and_install
cluster_start "work_mem = '4MB'"
sim_start --rate-limit 0 --latency-ms "$LATENCY_MS"
BUILD="$CV_ROOT/build"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d bench -c "$1"; }
now() { date +%s.%N; }

psql -X -q -d postgres -c "CREATE DATABASE bench"
# One worker for the whole run, so its CPU can be read.
psql -X -q -d postgres -c "ALTER SYSTEM SET contractor_verify.worker_idle_timeout = '30min'" -c "SELECT pg_reload_conf()" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d bench <<SQL
CREATE EXTENSION contractor_verify;
CREATE SERVER contractor_verify FOREIGN DATA WRAPPER contractor_verify
  OPTIONS (url '$CV_SIM_URL', calls_per_minute '0', max_concurrent_calls '4');
CREATE USER MAPPING FOR CURRENT_USER SERVER contractor_verify OPTIONS (api_key '$CV_SIM_KEY');
CREATE TABLE app_licenses (id text PRIMARY KEY, state text, license_number text,
    license_status text, expiration_date date, error_code text);
CREATE TABLE baseline_results (id text, state text, license_number text,
    license_status text, expiration_date date, error_code text);
CREATE TABLE baseline_cache (state text, license_number text, payload jsonb,
    PRIMARY KEY (state, license_number));
SQL

# One roster: n rows, 10% of them repeating another row's license.
make_roster() {
  q "DROP TABLE IF EXISTS roster; CREATE TABLE roster AS
     SELECT 'c' || i AS id, 'CA' AS state,
            (1000000 + CASE WHEN i % 10 = 0 THEN i / 10 ELSE i END)::text AS license_no
     FROM generate_series(1, $1) AS i; ANALYZE roster"
}

# CPU seconds a process has used so far (user + system), from /proc.
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# The README's upsert into app_licenses from a source of (id, state,
# license_number, license_status, expiration_date, error_code), timed by psql.
timed_upsert() {  # timed_upsert SELECT_LIST FROM_CLAUSE [application_name]
  cat <<SQL
SET application_name = '${3:-cv_bench}';
\\set t0 \`date +%s.%N\`
INSERT INTO app_licenses AS l (id, state, license_number, license_status, expiration_date, error_code)
SELECT $1 FROM $2
ON CONFLICT (id) DO UPDATE SET
    license_status  = CASE WHEN EXCLUDED.error_code IS NULL THEN EXCLUDED.license_status ELSE l.license_status END,
    expiration_date = CASE WHEN EXCLUDED.error_code IS NULL THEN EXCLUDED.expiration_date ELSE l.expiration_date END,
    error_code      = EXCLUDED.error_code;
\\set t1 \`date +%s.%N\`
SELECT round((:t1 - :t0)::numeric, 3);
SQL
}

# The extension's job: one statement, the README's upsert. Prints seconds, the
# backend's peak private memory in kB (RssAnon, sampled every 50 ms; the peak
# RSS would also count the shared buffers the backend touched), and the CPU
# seconds of the backend and of the database's worker (which records answers).
extension_run() {
  local out; out=$(mktemp /tmp/cv_bench.XXXXXX)
  timed_upsert "v.id, v.state, v.license_number, v.license_status, v.expiration_date, v.error_code" \
    "cv_verify_batch(\$\$SELECT id, state, license_no FROM roster\$\$) AS v" cv_bench_extension |
    psql -X -q -At -v ON_ERROR_STOP=1 -d bench >"$out" &
  local psql_pid=$! pid="" peak=0 kb backend_cpu=0 worker="" worker_cpu0="" worker_cpu=0 c
  worker=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'contractor_verify worker' AND datname = 'bench'")
  [ -n "$worker" ] && worker_cpu0=$(cpu_of "$worker")
  while kill -0 "$psql_pid" 2>/dev/null; do
    [ -z "$pid" ] && pid=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'cv_bench_extension'")
    if [ -n "$pid" ] && kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null); then
      [ "${kb:-0}" -gt "$peak" ] && peak=$kb
      c=$(cpu_of "$pid"); [ "$c" != 0 ] && backend_cpu=$c
    fi
    if [ -z "$worker" ]; then
      worker=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'contractor_verify worker' AND datname = 'bench'")
      worker_cpu0=0
    fi
    [ -n "$worker" ] && { c=$(cpu_of "$worker"); [ "$c" != 0 ] && worker_cpu=$c; }
    sleep 0.05
  done
  wait "$psql_pid"
  local wcpu; wcpu=$(awk -v a="$worker_cpu" -v b="${worker_cpu0:-0}" 'BEGIN { d = a - b; printf "%.2f", d < 0 ? 0 : d }')
  echo "$(tail -1 "$out") $peak $backend_cpu $wcpu"
  rm -f "$out"
}

# The floor for a warm run: the same upsert as a plain SQL join of the roster
# with the cache, no function at all. Prints seconds.
join_run() {
  timed_upsert "r.id, r.state, r.license_no, c.license_status, c.expiration_date, c.error_code" \
    "roster r JOIN contractor_verify.license_cache c ON c.state = r.state AND c.license_number = r.license_no" |
    psql -X -q -At -v ON_ERROR_STOP=1 -d bench | tail -1
}

baseline_run() {
  "$BUILD/cv_baseline_client" --conninfo "dbname=bench" --url "$CV_SIM_URL" --key "$CV_SIM_KEY" \
    --roster roster --results baseline_results --cache baseline_cache
}

rows=()
for n in "${SIZES[@]}"; do
  log "roster of $n"
  make_roster "$n"
  q "TRUNCATE app_licenses, baseline_results, baseline_cache, contractor_verify.license_cache, contractor_verify.verification_history"
  sim_ctl POST /reset '{}' >/dev/null
  read -r ext_cold ext_cold_mem ext_cold_cpu ext_cold_wcpu <<<"$(extension_run)"
  ext_cold_calls=$(sim_ctl GET /counters | sed -E 's/.*"batch":([0-9]+).*/\1/')
  read -r ext_warm ext_warm_mem ext_warm_cpu ext_warm_wcpu <<<"$(extension_run)"
  floor=$(join_run)
  sim_ctl POST /reset '{}' >/dev/null
  base_cold=$(baseline_run | sed -E 's/.*seconds=([0-9.]+).*/\1/')
  base_cold_calls=$(sim_ctl GET /counters | sed -E 's/.*"batch":([0-9]+).*/\1/')
  q "TRUNCATE baseline_results"
  base_warm=$(baseline_run | sed -E 's/.*seconds=([0-9.]+).*/\1/')
  rows+=("$(q "SELECT format('| %s | cold | %s | %s s | %s rec/s | %s | %s s | %s rec/s | %sx | %s | %s | %s MB |',
      $n, $ext_cold_calls, $ext_cold, round($n / $ext_cold), $base_cold_calls, $base_cold,
      round($n / $base_cold), round($base_cold / $ext_cold, 1),
      round(($ext_cold_cpu + $ext_cold_wcpu) * 1000 / $n, 4) || ' (' || round($ext_cold_cpu * 1000 / $n, 4) || ' + ' || round($ext_cold_wcpu * 1000 / $n, 4) || ')',
      '-', round($ext_cold_mem / 1024.0, 1))")")
  rows+=("$(q "SELECT format('| %s | warm | %s | %s s | %s rec/s | %s | %s s | %s rec/s | %sx | %s | %s s | %s MB |',
      $n, 0, $ext_warm, round($n / $ext_warm), 0, $base_warm,
      round($n / $base_warm), round($base_warm / $ext_warm, 1),
      round(($ext_warm_cpu + $ext_warm_wcpu) * 1000 / $n, 4), $floor, round($ext_warm_mem / 1024.0, 1))")")
done

echo
echo "Roster verification, simulator at ${LATENCY_MS} ms per call, no rate limit (10% duplicate licenses):"
echo
echo "| records | cache | extension calls | extension | extension rate | baseline calls | baseline | baseline rate | speedup | CPU s per 1,000 records (backend + worker) | plain SQL join | backend peak private memory |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for r in "${rows[@]}"; do echo "$r"; done

# A 100,000-record job, cold: how long the submit takes, how long the worker
# takes, and the worker's peak private memory (sampled every 50 ms), which
# should not grow with the roster.
log "a 100,000-record job"
job_round() {  # job_round N: prints "n submit_s run_s worker_peak_kB"
  make_roster "$1"
  q "TRUNCATE contractor_verify.license_cache, contractor_verify.verification_history"
  sim_ctl POST /reset '{}' >/dev/null
  local t0 t1 t2 job status worker peak=0 kb
  t0=$(now)
  job=$(q "SELECT cv_job_submit(\$\$SELECT id, state, license_no FROM roster\$\$)")
  t1=$(now)
  while :; do
    status=$(q "SELECT job_status FROM cv_job_status($job)")
    [ "$status" = completed ] || [ "$status" = failed ] && break
    worker=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'contractor_verify worker' AND datname = 'bench'")
    if [ -n "$worker" ] && kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$worker/status" 2>/dev/null); then
      [ "${kb:-0}" -gt "$peak" ] && peak=$kb
    fi
    sleep 0.05
  done
  t2=$(now)
  echo "$1 $(echo "$t1 - $t0" | bc) $(echo "$t2 - $t1" | bc) $peak $status"
}
read -r j10 j10_submit j10_run j10_mem j10_status <<<"$(job_round 10000)"
read -r j100 j100_submit j100_run j100_mem j100_status <<<"$(job_round 100000)"
echo
echo "Verification jobs, cold, simulator at ${LATENCY_MS} ms per call, no rate limit:"
echo
echo "| records | submit | worker run | worker peak private memory | status |"
echo "|---|---|---|---|---|"
q "SELECT format('| %s | %s s | %s s | %s MB | %s |', $j10, round($j10_submit, 2), round($j10_run, 2), round($j10_mem / 1024.0, 1), '$j10_status')"
q "SELECT format('| %s | %s s | %s s | %s MB | %s |', $j100, round($j100_submit, 2), round($j100_run, 2), round($j100_mem / 1024.0, 1), '$j100_status')"

# The rate limiter: a limit of 10 calls per 6 s window (the standard plan's 10
# per minute, scaled down), 40 calls needed, 1 session and then 4 at once.
log "rate limiter"
q "ALTER SERVER contractor_verify OPTIONS (SET calls_per_minute '10', ADD rate_window '6s', SET max_concurrent_calls '2')"
rate_round() {  # rate_round SESSIONS FIRST_LICENSE
  local sessions=$1 base=$2 per=$((4000 / $1)) pids=() s
  sim_ctl POST /reset '{}' >/dev/null
  sim_ctl POST /config '{"rate_limit": 10, "rate_window_ms": 6000, "rate_mode": "fixed", "latency_ms": 50}' >/dev/null
  local t0; t0=$(now)
  for s in $(seq 1 "$sessions"); do
    q "SELECT count(*) FROM cv_verify_batch(\$\$SELECT 's$s-' || i, 'CA', ($base + $s * 10000 + i)::text FROM generate_series(1, $per) i\$\$)" >/dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  local c; c=$(sim_ctl GET /counters)
  # The steady rate: each of the 10 places in the window comes round again
  # every (offset[i+10] - offset[i]) ms; 6000 ms would be 100% of the limit.
  q "WITH c AS (SELECT '$c'::jsonb AS j),
          o AS (SELECT x::bigint AS t, row_number() OVER (ORDER BY x::bigint) AS n
                FROM c, jsonb_array_elements_text(j->'batch_call_offsets_ms') x),
          g AS (SELECT avg(b.t - a.t) AS period FROM o a JOIN o b ON b.n = a.n + 10)
     SELECT format('| %s | %s | %s | %s s | %s | %s%% | %s |', $sessions, j#>>'{calls,batch}',
                   j->>'max_batch_calls_in_window', round(period / 1000.0, 3),
                   round(10 * 6000 / period, 2), round(100 * 6000 / period, 1), j->>'rate_limited')
     FROM c, g"
}
sleep 7
r1=$(rate_round 1 3000000)
sleep 7
r4=$(rate_round 4 4000000)
sleep 7
r8=$(rate_round 8 5000000)
echo
echo "Rate limiter: limit 10 calls per 6 s window (rate_margin 250 ms), 40 calls of 100 records, simulator counting a fixed window:"
echo
echo "| sessions | calls | most calls in any 6 s | mean gap between a call and the 10th after it | calls per 6 s (steady) | of the limit | 429s |"
echo "|---|---|---|---|---|---|---|"
echo "$r1"
echo "$r4"
echo "$r8"

# A cached cv_verify against a primary-key SELECT of the same row, under
# pgbench (2 clients, simple protocol, 10 s each), over 5,000 cached licenses.
log "pgbench: cached cv_verify against a primary-key SELECT"
q "ALTER SERVER contractor_verify OPTIONS (SET calls_per_minute '0')"
q "SELECT count(*) FROM cv_verify_batch(\$\$SELECT i::text, 'CA', (5000000 + i)::text FROM generate_series(1, 5000) i\$\$)" >/dev/null
api_url=$(q "SELECT contractor_verify.canonical_url('$CV_SIM_URL')")
pgb_dir=$(mktemp -d /tmp/cv_pgbench.XXXXXX)
printf '\\set n random(5000001, 5005000)\nSELECT * FROM cv_verify('"'"'CA'"'"', :n::text);\n' >"$pgb_dir/verify.sql"
printf '\\set n random(5000001, 5005000)\nSELECT * FROM contractor_verify.license_cache WHERE api_url = '"'"'%s'"'"' AND state = '"'"'CA'"'"' AND license_number = :n::text;\n' "$api_url" >"$pgb_dir/pk.sql"
tps() { pgbench -n -c 2 -j 2 -T 10 -f "$1" bench 2>/dev/null | sed -nE 's/^tps = ([0-9.]+).*/\1/p'; }
tps_verify=$(tps "$pgb_dir/verify.sql")
tps_pk=$(tps "$pgb_dir/pk.sql")
rm -rf "$pgb_dir"
echo
echo "Cached lookups under pgbench (2 clients, 10 s each):"
echo
echo "| statement | transactions/s | time per lookup relative to the primary-key SELECT |"
echo "|---|---|---|"
q "SELECT format('| SELECT * FROM license_cache WHERE <primary key> | %s | 1.00x |', round($tps_pk))"
q "SELECT format('| SELECT * FROM cv_verify(state, license_number) | %s | %sx |', round($tps_verify), round($tps_pk / $tps_verify, 2))"
