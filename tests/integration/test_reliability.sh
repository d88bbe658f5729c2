#!/usr/bin/env bash
# tests/integration/test_reliability.sh: the short run of the random-
# operations suite (tests/reliability/driver.py, docs/reliability.md) on a
# mixed fleet of 2 sshd hosts and 2 drover-agents with the demo-app: the
# regression seeds of tests/reliability/regressions.txt, then one new seed
# (printed; replay it with driver.py --seed N). Every invariant I1-I7 is
# checked after every command against what the hosts recorded. Plans use
# short gates (interval 100ms, healthy_deadline 2s). `make reliability`
# runs the same driver for 30 minutes on other addresses.
set -euo pipefail
export FLEET_NET=${FLEET_NET:-127.0.40} FLEET_PORT=${FLEET_PORT:-24001}
export FLEET_APP_PORT=${FLEET_APP_PORT:-24002}
export AGENTS_NET=${AGENTS_NET:-127.0.41} AGENTS_PORT=${AGENTS_PORT:-24003}
python3 "$TOP/tests/reliability/driver.py" \
    --replay "$TOP/tests/reliability/regressions.txt" \
    --ops "${RELIABILITY_OPS:-10}" ${SEED:+--seed "$SEED"}
