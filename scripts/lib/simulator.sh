# Starts the ContractorVerify simulator on a free loopback port.
# Source after common.sh. Exports CV_SIM_URL (the API base URL, ending in /v1),
# CV_SIM_CONTROL (the /_sim control base), CV_SIM_KEY and CV_SIM_KEY2.

sim_start() {
  CV_SIMDIR=$(mktemp -d /tmp/cvsim.XXXXXX)
  CV_SIM_KEY=${CV_SIM_KEY:-cv_test_key}
  # A second key: another API account (its own rate limit and quota).
  CV_SIM_KEY2=${CV_SIM_KEY2:-cv_test_key_2}
  "$CV_ROOT/build/cv_simulator" --port 0 --port-file "$CV_SIMDIR/port" --key "$CV_SIM_KEY" \
    --key "$CV_SIM_KEY2" \
    --quiet "$@" >"$CV_SIMDIR/sim.log" 2>&1 &
  CV_SIM_PID=$!
  local i
  for i in $(seq 1 100); do
    [ -s "$CV_SIMDIR/port" ] && break
    kill -0 "$CV_SIM_PID" 2>/dev/null || { cat "$CV_SIMDIR/sim.log" >&2; return 1; }
    sleep 0.05
  done
  [ -s "$CV_SIMDIR/port" ] || { echo "simulator did not start" >&2; return 1; }
  local port; port=$(cat "$CV_SIMDIR/port")
  export CV_SIM_URL="http://127.0.0.1:$port/v1" CV_SIM_CONTROL="http://127.0.0.1:$port/_sim"
  export CV_SIM_KEY CV_SIM_KEY2
}

sim_stop() {
  if [ -n "${CV_SIM_PID:-}" ]; then
    kill "$CV_SIM_PID" 2>/dev/null || true
    wait "$CV_SIM_PID" 2>/dev/null || true
    CV_SIM_PID=""
  fi
  [ -n "${CV_SIMDIR:-}" ] && rm -rf "$CV_SIMDIR"
  CV_SIMDIR=""
}

# sim_ctl METHOD PATH [JSON]: calls the control surface, prints the answer.
sim_ctl() {
  if [ $# -ge 3 ]; then
    curl -sf -X "$1" -H 'Content-Type: application/json' -d "$3" "$CV_SIM_CONTROL$2"
  else
    curl -sf -X "$1" "$CV_SIM_CONTROL$2"
  fi
}
