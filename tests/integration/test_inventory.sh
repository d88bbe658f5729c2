#!/usr/bin/env bash
# tests/integration/test_inventory.sh: drover inventory against the
# expectations Ansible wrote for each case in tests/data/inventory/ (see
# regen.sh there): --list compared as JSON values (list order counts),
# --graph and --list-hosts compared line for line. Ansible is not needed.
set -u
: "${DROVER:?} ${TOP:?}"
data=$TOP/tests/data/inventory
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fail=0
checks=0

jsoneq() { # expected actual
    python3 - "$1" "$2" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
if a != b:
    def walk(x, y, path):
        if type(x) != type(y) and not (isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool) and not isinstance(y, bool)):
            print(f"  {path}: expected {json.dumps(x)} got {json.dumps(y)}"); return
        if isinstance(x, dict):
            for k in sorted(set(x) | set(y)):
                if k not in x: print(f"  {path}.{k}: unexpected {json.dumps(y[k])}")
                elif k not in y: print(f"  {path}.{k}: missing, expected {json.dumps(x[k])}")
                else: walk(x[k], y[k], f"{path}.{k}")
        elif x != y:
            print(f"  {path}: expected {json.dumps(x)} got {json.dumps(y)}")
    walk(a, b, "")
    sys.exit(1)
PY
}

for dir in "$data"/*/; do
    case=$(basename "$dir")
    [ -f "$dir/sources" ] || continue
    args=()
    while IFS= read -r s; do
        [ -n "$s" ] || continue
        if [ -e "$dir/$s" ]; then args+=(-i "$dir/$s"); else args+=(-i "$s"); fi
    done <"$dir/sources"
    checks=$((checks + 1))
    if ! "$DROVER" inventory "${args[@]}" --list >"$work/list.json" 2>"$work/err"; then
        echo "FAIL $case --list: exit $?"; cat "$work/err"; fail=$((fail + 1))
    elif ! jsoneq "$dir/list.json" "$work/list.json"; then
        echo "FAIL $case --list differs from ansible-inventory"; fail=$((fail + 1))
    else
        echo "ok   $case --list"
    fi
    checks=$((checks + 1))
    if ! "$DROVER" inventory "${args[@]}" --list --export >"$work/export.json" 2>"$work/err"; then
        echo "FAIL $case --list --export: exit $?"; cat "$work/err"; fail=$((fail + 1))
    elif ! jsoneq "$dir/export.json" "$work/export.json"; then
        echo "FAIL $case --list --export differs from ansible-inventory"; fail=$((fail + 1))
    else
        echo "ok   $case --list --export"
    fi
    if [ -f "$dir/graph" ]; then
        checks=$((checks + 1))
        : >"$work/graph.out"
        while IFS= read -r g; do
            printf '## %s\n' "$g" >>"$work/graph.out"
            "$DROVER" inventory "${args[@]}" --graph ${g:+"$g"} >>"$work/graph.out" 2>"$work/err"
        done <"$dir/graph"
        if diff -u "$dir/graph.out" "$work/graph.out"; then
            echo "ok   $case --graph"
        else
            echo "FAIL $case --graph"; fail=$((fail + 1))
        fi
    fi
    if [ -f "$dir/patterns.out" ]; then
        while IFS=$'\t' read -r p want; do
            checks=$((checks + 1))
            got=$("$DROVER" inventory "${args[@]}" --list-hosts "$p" 2>"$work/err" | tr '\n' ' ' | sed 's/ $//')
            if [ "$got" = "$want" ]; then
                echo "ok   $case --list-hosts '$p'"
            else
                echo "FAIL $case --list-hosts '$p'"
                echo "     want: $want"
                echo "     got:  $got"
                sed 's/^/     /' "$work/err"
                fail=$((fail + 1))
            fi
        done <"$dir/patterns.out"
    fi
done
echo "inventory cases: $checks checks, $fail failed"
[ "$fail" -eq 0 ]
