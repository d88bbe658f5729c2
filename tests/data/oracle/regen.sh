#!/usr/bin/env bash
# tests/data/oracle/regen.sh: rewrite the differential tests' expected
# answers from the oracles themselves: inventory.json from Ansible
# (ansible-core 2.14: apt-get install ansible-core; not a build or test
# dependency) and sshconfig.json from OpenSSH's `ssh -G` (9.2). The tests
# (tests/unit/inventory/test_inv_oracle.c, the oracle case of
# tests/unit/coordinator/test_sshconfig.c) only read these files, so CI
# needs neither tool. Review the diff: a changed answer is a change in
# the oracle or in the generators, never something to accept blindly.
# Usage: tests/data/oracle/regen.sh [inventory] [sshconfig]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
what=("$@")
[ ${#what[@]} -gt 0 ] || what=(inventory sshconfig)
for w in "${what[@]}"; do
    case $w in
    inventory)
        /usr/bin/python3 -c 'import ansible' 2>/dev/null ||
            { echo "regen: ansible is not installed (apt-get install ansible-core)" >&2; exit 1; }
        /usr/bin/python3 "$here/gen_inventory.py" 2>/dev/null ;;
    sshconfig)
        command -v ssh >/dev/null || { echo "regen: ssh is not installed" >&2; exit 1; }
        /usr/bin/python3 "$here/gen_sshconfig.py" ;;
    *) echo "regen: unknown oracle '$w' (inventory, sshconfig)" >&2; exit 2 ;;
    esac
done
