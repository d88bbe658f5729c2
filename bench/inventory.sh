#!/usr/bin/env bash
# bench/inventory.sh: parse a generated 10,000-host INI inventory with 100
# groups and resolve a three-term host pattern with `drover inventory
# --list-hosts`; wall time (median of 20 runs), CPU time and peak RSS, next to
# `drover inventory --list` and Ansible's `ansible-inventory --list` and
# `ansible --list-hosts` on the same file. Targets: under 50 ms and under
# 20 MB for --list-hosts. Writes bench/results/inventory.txt.
set -euo pipefail
cd "$(dirname "$0")"
BUILD=${BUILD:-build}
DROVER=${DROVER:-../$BUILD/drover}
RUNS=${RUNS:-20}
PATTERN='region1:&g1*:!g15'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
inv=$work/hosts.ini

# 90 host groups of 111-112 hosts, 10 regions of 9 groups each (100 groups),
# two variables per host and per group.
awk 'BEGIN {
    for (g = 0; g < 90; g++) {
        printf "[g%02d]\n", g
        for (i = g; i < 10000; i += 90)
            printf "host%05d.dc%d.example.com ansible_host=10.%d.%d.%d ansible_port=%d\n", \
                i, i % 3, int(i / 65536) % 256, int(i / 256) % 256, i % 256, 2200 + i % 50
        printf "[g%02d:vars]\nsize=%d\nowner=team%d\n\n", g, g * 10, g % 7
    }
    for (r = 0; r < 10; r++) {
        printf "[region%d:children]\n", r
        for (g = r * 9; g < r * 9 + 9; g++)
            printf "g%02d\n", g
        printf "[region%d:vars]\nregion=r%d\n\n", r, r
    }
}' >"$inv"
hosts=$(grep -c '^host' "$inv")

median_ms() { # command...: median wall milliseconds over $RUNS runs
    local t=() i s e
    for ((i = 0; i < RUNS; i++)); do
        s=$(date +%s%N)
        "$@" >/dev/null 2>&1
        e=$(date +%s%N)
        t+=($(((e - s) / 1000)))
    done
    printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}
cpu_ms() { # command...: mean user+system CPU milliseconds over $RUNS runs
    # (on a shared machine the wall time includes waiting for a core).
    /usr/bin/time -f '%U %S' bash -c 'for ((i = 0; i < $0; i++)); do "$@" >/dev/null 2>&1; done' \
        "$RUNS" "$@" 2>&1 | tail -1 | awk -v n="$RUNS" '{printf "%.1f", ($1 + $2) * 1000 / n}'
}
rss_mb() { # command...: peak resident set size in MB
    /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.1f", $1/1024}'
}

out=results/inventory.txt
mkdir -p results
matched=$("$DROVER" inventory -i "$inv" --list-hosts "$PATTERN" | wc -l)
{
    echo "# bench/inventory.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores"
    echo "# $hosts hosts, 100 groups; pattern '$PATTERN' matches $matched hosts"
    echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-44s %9s %9s %9s\n' "command" "wall ms" "CPU ms" "peak MB"
    row() { # label command...
        local label=$1
        shift
        printf '%-44s %9s %9s %9s\n' "$label" "$(median_ms "$@")" \
            "$(cpu_ms "$@")" "$(rss_mb "$@")"
    }
    row "drover inventory --list-hosts PATTERN" \
        "$DROVER" inventory -i "$inv" --list-hosts "$PATTERN"
    row "drover inventory --list" "$DROVER" inventory -i "$inv" --list
    row "drover --version (process start alone)" "$DROVER" --version
    if command -v ansible-inventory >/dev/null; then
        RUNS=3
        row "ansible-inventory --list (3 runs)" \
            ansible-inventory -i "$inv" --list
        row "ansible PATTERN --list-hosts (3 runs)" \
            ansible -i "$inv" "$PATTERN" --list-hosts
    else
        echo "ansible-inventory: not installed (apt-get install ansible)"
    fi
} | tee "$out"
