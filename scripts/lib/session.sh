# What the README's commands share: the helpers, and a trap that stops the
# throwaway cluster and the simulator however the script ends. Source first.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$CV_ROOT/scripts/lib/cluster.sh"
source "$CV_ROOT/scripts/lib/simulator.sh"

cleanup() { sim_stop; cluster_stop; }
trap cleanup EXIT
trap 'exit 130' INT TERM
