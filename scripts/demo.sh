#!/usr/bin/env bash
# The README's demo command: the main job end to end on the embedded default,
# a throwaway PostgreSQL cluster and the ContractorVerify simulator on
# loopback. Installs and builds what is missing, then stops everything.
set -euo pipefail
source "$(dirname "$0")/lib/session.sh"

"$CV_ROOT/scripts/setup.sh"
build_and_install
log "starting a throwaway cluster and the simulator"
cluster_start
# A 120-calls-a-minute plan, 200 ms a call, slow LA and MS boards: the batch
# below takes seconds instead of the minutes the 10-a-minute plan would.
sim_start --rate-limit 120 --latency-ms 200 --record-latency-ms 1 --slow-board-ms 20

psql -X -v ON_ERROR_STOP=1 -v sim_url="$CV_SIM_URL" -v sim_key="$CV_SIM_KEY" \
  -f "$CV_ROOT/scripts/demo/demo.sql"
