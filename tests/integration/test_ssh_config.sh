#!/usr/bin/env bash
# tests/integration/test_ssh_config.sh: ~/.ssh/config against real sshd:
# an inventory that names hosts only by alias reaches them all through
# HostName, Port, User, IdentityFile (tried in order: a key the hosts
# refuse comes first) and UserKnownHostsFile, from an Include'd file; an
# inventory's ansible_port, ansible_user and ansible_ssh_private_key_file
# beat the config and ansible_host is the alias looked up; --known-hosts
# and --key beat the config; a ProxyJump
# host is refused with file:line; StrictHostKeyChecking accept-new and
# no (warned once); Match warned; a bad config fails before any host;
# --ssh-config none leaves the aliases unresolved, with a clear error.
set -euo pipefail
. "$(dirname "$0")/lib/fleet.sh"
: "${DROVER:?DROVER must point at the drover binary}"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

fleet_start 4
home=$FLEET_DIR/home
mkdir -p "$home/.ssh/conf.d"
chmod 700 "$home/.ssh"
cp "$FLEET_KEY" "$home/.ssh/fleet_key"
ssh-keygen -q -t ed25519 -N '' -C refused -f "$home/.ssh/other_key"
out=$FLEET_DIR/out
err=$FLEET_DIR/err
unset SSH_AUTH_SOCK

cat >"$home/.ssh/config" <<EOF
# drover's ssh config test: the hosts are known only by these aliases
Include conf.d/*.conf
Host web1
    HostName 127.0.1.1
Host web2
    HostName=127.0.1.2
Host web3
    HostName "127.0.1.3"
Host web4
    hostname 127.0.1.4
Host jumpy
    HostName 127.0.1.1
    ProxyJump bastion.example.com
EOF
cat >"$home/.ssh/conf.d/50-fleet.conf" <<EOF
Host web* jumpy !web9
    Port 2222
    User root
    IdentityFile ~/.ssh/missing_key
    IdentityFile ~/.ssh/other_key
    IdentityFile %d/.ssh/fleet_key
    UserKnownHostsFile $FLEET_KNOWN_HOSTS
    StrictHostKeyChecking yes
EOF
cat >"$FLEET_DIR/alias.ini" <<EOF
[fleet]
web1
web2
web3
web4
[jump]
jumpy
EOF

run() { # inventory pattern [flags...]
    local inv=$1 pat=$2
    shift 2
    HOME=$home "$DROVER" run -i "$inv" --connect-timeout 5s "$@" "$pat" -- \
        'set -- $SSH_CONNECTION; echo "at $3:$4 as $(id -un)"' >"$out" 2>"$err"
}

# 1. Aliases only: everything comes from ~/.ssh/config.
run "$FLEET_DIR/alias.ini" fleet || { cat "$out" "$err"; fail "alias fleet"; }
for x in 1 2 3 4; do
    grep -qx "web$x: at 127.0.1.$x:2222 as root" "$out" ||
        fail "web$x not reached through the config: $(cat "$out")"
done
grep -q '^4 hosts: 4 ok, 0 failed, 0 unreachable' "$out" || fail "summary: $(cat "$out")"
grep -q 'missing_key' "$err" && fail "a missing IdentityFile was reported: $(cat "$err")"
ok "hosts named by alias only reached (HostName, Port, User, IdentityFile in order, UserKnownHostsFile, Include)"

# 2. Inventory variables beat the config; ansible_host is the alias.
# (web4's own key is the refused one: the config's list is not tried.)
cat >"$FLEET_DIR/override.ini" <<EOF
web1 ansible_port=2299
other ansible_host=web2
web3 ansible_user=nobody-here
web4 ansible_ssh_private_key_file=~/.ssh/other_key
EOF
rc=0
run "$FLEET_DIR/override.ini" all || rc=$?
[ $rc -ne 0 ] || fail "ansible_port 2299 did not win: $(cat "$out")"
grep -q '^web1: \[unreachable\].*127.0.1.1:2299' "$out" ||
    fail "web1 should have gone to 127.0.1.1:2299: $(cat "$out")"
grep -qx 'other: at 127.0.1.2:2222 as root' "$out" ||
    fail "ansible_host=web2 was not looked up as an alias: $(cat "$out")"
grep -q '^web3: \[failed\].*user nobody-here' "$out" ||
    fail "ansible_user did not beat User: $(cat "$out")"
grep -q "^web4: \[failed\].*key $home/.ssh/other_key refused (" "$out" ||
    fail "ansible_ssh_private_key_file did not beat IdentityFile: $(cat "$out")"
ok "ansible_port, ansible_user, ansible_ssh_private_key_file beat the config; ansible_host is the alias looked up"

# 3. Flags beat the config: --known-hosts replaces UserKnownHostsFile.
: >"$FLEET_DIR/empty_kh"
rc=0
run "$FLEET_DIR/alias.ini" web1 --known-hosts "$FLEET_DIR/empty_kh" || rc=$?
[ $rc -eq 1 ] && grep -q 'unknown host key' "$out" ||
    fail "--known-hosts did not beat UserKnownHostsFile: $(cat "$out")"
# and --key replaces the IdentityFiles (other_key alone is refused).
rc=0
run "$FLEET_DIR/alias.ini" web1 --key "$home/.ssh/other_key" || rc=$?
[ $rc -eq 1 ] && grep -q 'other_key refused' "$out" ||
    fail "--key did not beat IdentityFile: $(cat "$out")"
ok "--known-hosts and --key beat the config"

# 4. ProxyJump: refused with file:line, never connected directly.
rc=0
run "$FLEET_DIR/alias.ini" jump || rc=$?
[ $rc -eq 1 ] || { cat "$out" "$err"; fail "ProxyJump host: exit $rc, want 1"; }
grep -qF "jumpy: [failed] jumpy: $home/.ssh/config:13: ProxyJump: drover cannot reach a host through a jump host" "$out" ||
    fail "ProxyJump message: $(cat "$out")"
grep -q 'at 127.0.1.1' "$out" && fail "ProxyJump host was reached directly"
ok "ProxyJump host refused with file:line"

# 5. --ssh-config none: the aliases do not resolve, and the message says why.
rc=0
run "$FLEET_DIR/alias.ini" web1 --ssh-config none --key "$FLEET_KEY" || rc=$?
[ $rc -eq 4 ] || { cat "$out" "$err"; fail "--ssh-config none: exit $rc, want 4"; }
grep -q "^web1: \[unreachable\] web1: cannot resolve address 'web1': .* (--ssh-config none: no ssh config was read)" "$out" ||
    fail "--ssh-config none message: $(cat "$out")"
ok "--ssh-config none: aliases fail to resolve with a clear error"

# 6. --ssh-config FILE; StrictHostKeyChecking accept-new records, no warns
# once and behaves as accept-new; Match warned and ignored.
cfg=$FLEET_DIR/tofu.conf
kh=$FLEET_DIR/tofu_known_hosts
cat >"$cfg" <<EOF
Host web1
    HostName 127.0.1.1
Host web2
    HostName 127.0.1.2
Host web3
    HostName 127.0.1.3
Host web4
    HostName 127.0.1.4
Match host web1
    Port 1
Host web1 web2
    StrictHostKeyChecking accept-new
Host web3 web4
    StrictHostKeyChecking no
Host web?
    Port 2222
    User root
    IdentityFile $FLEET_KEY
    UserKnownHostsFile $kh
EOF
run "$FLEET_DIR/alias.ini" fleet --ssh-config "$cfg" || { cat "$out" "$err"; fail "accept-new fleet"; }
grep -q '^4 hosts: 4 ok' "$out" || fail "accept-new: $(cat "$out")"
[ "$(grep -c '2222' "$kh")" -eq 4 ] || fail "accept-new did not record 4 keys: $(cat "$kh")"
[ "$(grep -c 'StrictHostKeyChecking no: drover treats it as accept-new' "$err")" -eq 1 ] ||
    fail "StrictHostKeyChecking no not warned exactly once: $(cat "$err")"
grep -qF "$cfg:9: Match blocks are not supported" "$err" || fail "Match not warned: $(cat "$err")"
# A changed key is still refused under "no".
fleet_rekey 3
rc=0
run "$FLEET_DIR/alias.ini" web3 --ssh-config "$cfg" || rc=$?
[ $rc -eq 1 ] && grep -q 'HOST KEY CHANGED' "$out" ||
    fail "StrictHostKeyChecking no accepted a changed key: $(cat "$out")"
ok "StrictHostKeyChecking accept-new / no (warned once, changed key refused); Match warned"

# 7. A bad config stops before any host, with file:line:col.
printf 'Host web1\n    Port http\n' >"$FLEET_DIR/bad.conf"
rc=0
run "$FLEET_DIR/alias.ini" fleet --ssh-config "$FLEET_DIR/bad.conf" || rc=$?
[ $rc -eq 3 ] || { cat "$out" "$err"; fail "bad config: exit $rc, want 3"; }
grep -qF "$FLEET_DIR/bad.conf:2:10: Port 'http' is not a port number (1-65535)" "$err" ||
    fail "bad config message: $(cat "$err")"
[ -s "$out" ] && fail "hosts were contacted with a bad config: $(cat "$out")"
rc=0
run "$FLEET_DIR/alias.ini" fleet --ssh-config "$FLEET_DIR/nonexistent" || rc=$?
[ $rc -eq 3 ] && grep -q "nonexistent: cannot read the ssh config: No such file" "$err" ||
    fail "missing --ssh-config: exit $rc: $(cat "$err")"
ok "bad and missing configs refused before any host, with their location"
