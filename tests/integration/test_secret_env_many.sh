#!/usr/bin/env bash
# tests/integration/test_secret_env_many.sh: a step's secret_env exports
# every name it lists, however many (a step once got the first 64 and the
# rest were dropped without a word), and `drover run` takes any number of
# --secret-env (it once refused a 65th). A local host, no network: it
# inherits drover's environment, so the command counts the names its own
# command line exports (coordinator/cmdwrap.c) instead of reading values.
set -euo pipefail
: "${DROVER:?DROVER must point at the drover binary}"
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -m 700 "$work/state"
printf '[web]\nh1 drover_transport=local\n' >"$work/inv.ini"

N=70
names=()
for i in $(seq 1 "$N"); do
    export "DROVER_T_S$i=secret-value-$i"
    names+=("DROVER_T_S$i")
done
list=$(IFS=,; echo "${names[*]}")
# count.sh PID: how many secret variables the shell PID exported.
cat >"$work/count.sh" <<'SH'
tr '\0' '\n' <"/proc/$1/cmdline" | grep -o 'export DROVER_T_S[0-9]*;' | wc -l
SH
cat >"$work/plan.yml" <<PLAN
name: many-secrets
steps:
  - name: count
    run: 'sh $work/count.sh \$\$ >$work/seen'
    secret_env: [$list]
PLAN
rc=0
"$DROVER" deploy -i "$work/inv.ini" --state-dir "$work/state" -e version=1 \
    "$work/plan.yml" >"$work/out" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$work/out"; fail "deploy exited $rc"; }
seen=$(tr -d ' ' <"$work/seen")
[ "$seen" = "$N" ] || fail "the step exported $seen of $N secret_env names"
echo "ok: $N secret_env names all exported"

flags=()
for n in "${names[@]}"; do flags+=(--secret-env "$n"); done
rm -f "$work/seen"
"$DROVER" run -i "$work/inv.ini" "${flags[@]}" all -- \
    "sh $work/count.sh \$\$ >$work/seen" >"$work/out" 2>&1 ||
    { cat "$work/out"; fail "run with $N --secret-env failed"; }
seen=$(tr -d ' ' <"$work/seen")
[ "$seen" = "$N" ] || fail "run exported $seen of $N --secret-env names"
echo "ok: run: $N --secret-env names all exported"
