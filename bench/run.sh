#!/usr/bin/env bash
# bench/run.sh: `make bench` runs every executable benchmark script in
# bench/ (bench/README.md describes each). BUILD names the build directory.
set -euo pipefail
cd "$(dirname "$0")"
status=0
for b in *; do
    [ -f "$b" ] && [ -x "$b" ] && [ "$b" != run.sh ] || continue
    echo "== bench/$b" >&2
    ./"$b" || status=1
done
exit $status
