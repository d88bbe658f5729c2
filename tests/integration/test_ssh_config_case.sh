#!/usr/bin/env bash
# tests/integration/test_ssh_config_case.sh: drover names the destination
# as OpenSSH's ssh does (lowercase; numeric addresses canonical), against a
# real sshd on 127.0.0.1 ("localhost") with OpenSSH's own client as the
# oracle: ansible_host=LocalHost and HostName LOCALHOST are known by the
# "[localhost]:PORT" entry ssh accepts; IdentityFile ~/.ssh/%h names the
# file ssh uses; ansible_host=127.000.000.001 is known as 127.0.0.1;
# --accept-new writes the name ssh then accepts; HostName "" is refused
# with file:line:col (ssh refuses the config) instead of an empty address.
set -euo pipefail
# localhost is 127.0.0.1: the fleet's one host listens there, on a port of
# this test's own.
FLEET_NET=127.0.0 FLEET_PORT=22500
. "$(dirname "$0")/lib/fleet.sh"
: "${DROVER:?DROVER must point at the drover binary}"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

getent hosts localhost | grep -q '^127\.0\.0\.1' || fail "localhost is not 127.0.0.1 here"
fleet_start 1
home=$FLEET_DIR/home
mkdir -p "$home/.ssh"
chmod 700 "$home/.ssh"
unset SSH_AUTH_SOCK
out=$FLEET_DIR/out
err=$FLEET_DIR/err
port=$FLEET_PORT
# The entry ssh itself writes for localhost.
kh=$FLEET_DIR/kh_localhost
sed "s/^\[127\.0\.0\.1\]/[localhost]/" "$FLEET_KNOWN_HOSTS" >"$kh"
grep -q "^\[localhost\]:$port " "$kh" || fail "known_hosts: $(cat "$kh")"
cp "$FLEET_KEY" "$home/.ssh/localhost"
cat >"$home/.ssh/config" <<EOF
Host web1
    HostName LOCALHOST
Host *
    Port $port
    User root
    IdentityFile $home/.ssh/%h
    UserKnownHostsFile $kh
    StrictHostKeyChecking yes
EOF
cat >"$FLEET_DIR/case.ini" <<EOF
mixed ansible_host=LocalHost
web1
EOF

# The oracle: ssh reaches both with this config and nothing else (its
# known_hosts lookup and %h are lowercase).
for a in LocalHost web1; do
    ssh -F "$home/.ssh/config" -o BatchMode=yes -o IdentitiesOnly=yes \
        -o ConnectTimeout=5 "$a" true ||
        fail "ssh itself cannot reach $a with this config"
done

run() { # inventory pattern [flags...]
    local inv=$1 pat=$2
    shift 2
    HOME=$home "$DROVER" run -i "$inv" --connect-timeout 5s "$@" "$pat" -- \
        'set -- $SSH_CONNECTION; echo "at $3:$4"' >"$out" 2>"$err"
}

# 1. Mixed case: known by [localhost]:PORT, key from ~/.ssh/localhost.
run "$FLEET_DIR/case.ini" all || { cat "$out" "$err"; fail "mixed-case hosts"; }
grep -qx "mixed: at 127.0.0.1:$port" "$out" || fail "ansible_host=LocalHost: $(cat "$out")"
grep -qx "web1: at 127.0.0.1:$port" "$out" || fail "HostName LOCALHOST: $(cat "$out")"
ok "ansible_host=LocalHost and HostName LOCALHOST known as [localhost]; IdentityFile ~/.ssh/%h is ~/.ssh/localhost"

# 2. A numeric address in another form is known by its canonical one.
printf 'num ansible_host=127.000.000.001 ansible_port=%s ansible_user=root\n' "$port" >"$FLEET_DIR/num.ini"
run "$FLEET_DIR/num.ini" all --ssh-config none --key "$FLEET_KEY" \
    --known-hosts "$FLEET_KNOWN_HOSTS" ||
    { cat "$out" "$err"; fail "127.000.000.001"; }
grep -qx "num: at 127.0.0.1:$port" "$out" || fail "127.000.000.001: $(cat "$out")"
ok "ansible_host=127.000.000.001 known as [127.0.0.1]"

# 3. --accept-new writes the name ssh looks up: ssh accepts the entry.
tofu=$FLEET_DIR/kh_tofu
: >"$tofu"
printf 'mixed ansible_host=LocalHost ansible_port=%s ansible_user=root\n' "$port" >"$FLEET_DIR/tofu.ini"
run "$FLEET_DIR/tofu.ini" all --ssh-config none --key "$FLEET_KEY" \
    --known-hosts "$tofu" --accept-new || { cat "$out" "$err"; fail "--accept-new"; }
grep -q "^\[localhost\]:$port ssh-ed25519 " "$tofu" || fail "--accept-new wrote: $(cat "$tofu")"
ssh -F none -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$tofu" -i "$FLEET_KEY" -p "$port" root@LocalHost true ||
    fail "ssh does not accept the entry drover wrote: $(cat "$tofu")"
ok "--accept-new wrote [localhost]:$port, which ssh accepts"

# 4. HostName "": ssh refuses the config; so does drover, with where.
printf 'Host web1\n    HostName ""\n' >"$FLEET_DIR/empty.conf"
! ssh -G -F "$FLEET_DIR/empty.conf" web1 >/dev/null 2>&1 || fail "ssh accepted HostName \"\""
rc=0
run "$FLEET_DIR/case.ini" web1 --ssh-config "$FLEET_DIR/empty.conf" || rc=$?
[ $rc -eq 3 ] || { cat "$out" "$err"; fail "HostName \"\": exit $rc, want 3"; }
grep -qF "$FLEET_DIR/empty.conf:2:14: HostName is empty; ssh refuses such a config" "$err" ||
    fail "HostName \"\" message: $(cat "$err")"
grep -q 'at 127' "$out" && fail "a host was contacted with a bad config"
ok "HostName \"\" refused with file:line:col"
