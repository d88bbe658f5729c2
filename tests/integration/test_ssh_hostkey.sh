#!/usr/bin/env bash
# tests/integration/test_ssh_hostkey.sh: host key checks against real sshd:
# a changed key is refused before authentication (host and SHA256 named),
# an unknown host is refused without --accept-new and recorded with it
# (file created 0600), hashed known_hosts entries match, and a host known
# only by its ed25519 key is reached although it also offers ECDSA (the
# host key preference comes from known_hosts).
set -euo pipefail
. "$(dirname "$0")/lib/fleet.sh"
: "${DROVER:?DROVER must point at the drover binary}"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

fleet_start 4
inv=$FLEET_INVENTORY
out=$FLEET_DIR/out
run() { # known_hosts pattern [flags...]
    local kh=$1 pat=$2
    shift 2
    "$DROVER" run -i "$inv" --key "$FLEET_KEY" --known-hosts "$kh" \
        --connect-timeout 5s "$@" "$pat" -- 'echo hello' >"$out" 2>&1
}

# 1. Everything known: works.
run "$FLEET_KNOWN_HOSTS" fleet || { cat "$out"; fail "known fleet"; }
grep -q '^4 hosts: 4 ok, 0 failed, 0 unreachable' "$out" || fail "summary: $(cat "$out")"
ok "known hosts reached"

# 2. Changed key on h2: refused before authentication.
old_fp=$(fleet_fingerprint 2)
fleet_rekey 2
new_fp=$(fleet_fingerprint 2)
[ "$old_fp" != "$new_fp" ] || fail "rekey did not change the key"
: >"$(fleet_host_dir 2)/sshd.log"
rc=0
run "$FLEET_KNOWN_HOSTS" h2 || rc=$?
[ $rc -eq 1 ] || { cat "$out"; fail "changed key: exit $rc, want 1"; }
grep -q '^h2: \[failed\].*HOST KEY CHANGED' "$out" || fail "no changed-key message: $(cat "$out")"
grep -qF "$new_fp" "$out" || fail "message lacks the fingerprint $new_fp: $(cat "$out")"
grep -qF '[127.0.1.2]:2222' "$out" || fail "message lacks the host: $(cat "$out")"
sleep 0.3
if grep -q 'Accepted publickey' "$(fleet_host_dir 2)/sshd.log"; then
    fail "h2 authenticated although its key changed"
fi
ok "changed key refused before authentication ($new_fp)"

# --accept-new does not override a changed key.
rc=0
run "$FLEET_KNOWN_HOSTS" h2 --accept-new || rc=$?
[ $rc -eq 1 ] && grep -q 'HOST KEY CHANGED' "$out" || fail "--accept-new accepted a changed key"
ok "--accept-new leaves changed keys refused"

# 3. Unknown hosts: refused, then recorded with --accept-new.
kh2=$FLEET_DIR/new/known_hosts
rc=0
run "$kh2" fleet || rc=$?
[ $rc -eq 1 ] || { cat "$out"; fail "unknown hosts: exit $rc, want 1"; }
[ "$(grep -c 'unknown host key ssh-ed25519 SHA256:' "$out")" -eq 4 ] || fail "unknown: $(cat "$out")"
grep -qF "$(fleet_fingerprint 3)" "$out" || fail "h3's fingerprint missing"
[ ! -e "$kh2" ] || fail "known_hosts written without --accept-new"
ok "unknown hosts refused"

run "$kh2" fleet --accept-new || { cat "$out"; fail "--accept-new run"; }
grep -q '^4 hosts: 4 ok' "$out" || fail "accept-new summary: $(cat "$out")"
[ "$(wc -l <"$kh2")" -eq 4 ] || fail "known_hosts has $(wc -l <"$kh2") lines, want 4"
[ "$(stat -c %a "$kh2")" = 600 ] || fail "known_hosts mode $(stat -c %a "$kh2")"
grep -q '^\[127.0.1.3\]:2222 ssh-ed25519 ' "$kh2" || fail "entry format: $(cat "$kh2")"
run "$kh2" fleet || { cat "$out"; fail "recorded hosts not accepted"; }
ok "--accept-new recorded 4 hosts (0600), then they are known"

# 4. Hashed entries (ssh-keygen -H) match.
ssh-keygen -q -H -f "$kh2" >/dev/null 2>&1
grep -q '^|1|' "$kh2" || fail "ssh-keygen -H did not hash"
run "$kh2" fleet || { cat "$out"; fail "hashed known_hosts"; }
ok "hashed known_hosts entries match"

# 5. h4 also offers an ECDSA key (libssh2 would negotiate it first) while
# known_hosts holds only its ed25519 key.
d4=$(fleet_host_dir 4)
ssh-keygen -q -t ecdsa -N '' -f "$d4/ssh_host_ecdsa_key"
sed -i "1i HostKey $d4/ssh_host_ecdsa_key" "$d4/sshd_config"
fleet_restart 4
run "$FLEET_KNOWN_HOSTS" h4 || { cat "$out"; fail "ed25519-only known host with an ECDSA key too"; }
grep -q '^h4: hello' "$out" || fail "h4 output: $(cat "$out")"
ok "host key preference follows known_hosts"

# 6. An ECDSA client key (libssh2 parses it; ed25519 keys we sign with
# ourselves) authenticates too.
ssh-keygen -q -t ecdsa -N '' -f "$FLEET_DIR/id_ecdsa"
cat "$FLEET_DIR/id_ecdsa.pub" >>"$FLEET_DIR/authorized_keys"
"$DROVER" run -i "$inv" --key "$FLEET_DIR/id_ecdsa" --known-hosts "$FLEET_KNOWN_HOSTS" \
    h1 -- 'echo ecdsa' >"$out" 2>&1 || { cat "$out"; fail "ECDSA client key"; }
grep -qx 'h1: ecdsa' "$out" || fail "ECDSA output: $(cat "$out")"
ok "ECDSA client key accepted"
