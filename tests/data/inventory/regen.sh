#!/usr/bin/env bash
# tests/data/inventory/regen.sh: write each case's expectations from
# Ansible itself (ansible-inventory and ansible --list-hosts). Needs ansible
# (apt-get install ansible); the tests only read what this writes.
# Usage: tests/data/inventory/regen.sh [CASE...]
#
# A case is a directory holding:
#   sources       the -i arguments, one per line, relative to the case
#   patterns      host patterns, one per line (optional)
#   graph         group names for --graph, one per line (optional)
# and gets:
#   list.json     ansible-inventory --list
#   export.json   ansible-inventory --list --export
#   graph.out     ansible-inventory --graph GROUP for each group in graph
#   patterns.out  PATTERN<TAB>host host host, from ansible --list-hosts
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cases=("$@")
[ ${#cases[@]} -gt 0 ] || mapfile -t cases < <(cd "$here" && ls -d */ | tr -d /)
# Run Ansible away from any group_vars/ next to the working directory.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_PATTERN_MISMATCH=ignore \
    ANSIBLE_INVENTORY_UNPARSED_WARNING=False ANSIBLE_LOCALHOST_WARNING=False
for c in "${cases[@]}"; do
    dir=$here/$c
    [ -f "$dir/sources" ] || continue
    args=()
    while IFS= read -r s; do
        [ -n "$s" ] || continue
        if [ -e "$dir/$s" ]; then args+=(-i "$dir/$s"); else args+=(-i "$s"); fi
    done <"$dir/sources"
    ansible-inventory "${args[@]}" --list >"$dir/list.json"
    ansible-inventory "${args[@]}" --list --export >"$dir/export.json"
    if [ -f "$dir/graph" ]; then
        : >"$dir/graph.out"
        while IFS= read -r g; do
            printf '## %s\n' "$g" >>"$dir/graph.out"
            ansible-inventory "${args[@]}" --graph ${g:+"$g"} >>"$dir/graph.out"
        done <"$dir/graph"
    fi
    if [ -f "$dir/patterns" ]; then
        : >"$dir/patterns.out"
        while IFS= read -r p; do
            [ -n "$p" ] || continue
            hosts=$(ansible "${args[@]}" "$p" --list-hosts 2>/dev/null |
                tail -n +2 | sed 's/^ *//' | tr '\n' ' ' | sed 's/ $//')
            printf '%s\t%s\n' "$p" "$hosts" >>"$dir/patterns.out"
        done <"$dir/patterns"
    fi
    echo "regen: $c"
done
