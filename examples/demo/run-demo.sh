#!/usr/bin/env bash
# examples/demo/run-demo.sh: what `make demo` shows. Starts a local fleet of
# 6 real sshd hosts (127.0.1.1-6, each with a demo-app), deploys version 2
# in waves [1, 2, 3] gated on health, then the broken version 3, which
# drover stops at its first wave and rolls back; shows the journal's
# history and a deployment record; then stops the fleet.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
DROVER=${DROVER:-$PWD/$BUILD/drover}
DEMO_APP=${DEMO_APP:-$PWD/$BUILD/demo-app}
export DEMO_APP
. tests/integration/lib/fleet.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
versions() {
    local x line=""
    for ((x = 1; x <= FLEET_N; x++)); do
        line="$line h$x=$(curl -s "http://$(fleet_addr "$x"):8080/version")"
    done
    echo "  versions:$line"
}

say "starting a fleet of 6 hosts (real sshd + demo-app on 127.0.1.1-6)"
fleet_start 6
versions
ssh_flags=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS" --state-dir "$FLEET_DIR/state")

say "drover deploy: version 2 in waves [1, 2, 3], each gated on /health and /health/ready"
"$DROVER" deploy -i "$FLEET_INVENTORY" "${ssh_flags[@]}" -e version=2 examples/demo/plan.yml
echo "  exit status: $?"
versions

say "drover deploy: version 3, a broken release (/health/ready answers 503)"
"$DROVER" deploy -i "$FLEET_INVENTORY" "${ssh_flags[@]}" -e version=3 examples/demo/plan.yml
rc=$?
echo "  exit status: $rc (the canary failed its gate and was rolled back to version 2; no later wave started)"
versions

say "drover history: every deploy is in the journal"
"$DROVER" history --state-dir "$FLEET_DIR/state"
last=$("$DROVER" history --state-dir "$FLEET_DIR/state" | awk 'NR == 2 {print $1}')
say "drover show $last --format markdown: the deployment record"
"$DROVER" show --state-dir "$FLEET_DIR/state" --format markdown "$last" | head -60

say "stopping the fleet"
fleet_stop
echo "done."
