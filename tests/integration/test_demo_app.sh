#!/usr/bin/env bash
# tests/integration/test_demo_app.sh: the demo application over real HTTP
# on loopback: every endpoint, every BEHAVIOR key, a release switch without
# a restart, bad and oversized requests, many connections, SIGTERM.
set -euo pipefail
: "${DEMO_APP:?DEMO_APP must point at the demo-app binary}"

work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

mkdir -p "$work/app/releases/1"
echo "1.0" >"$work/app/releases/1/VERSION"
ln -sfn releases/1 "$work/app/current"

# A free port: let demo-app try until one binds (it exits 1 if taken).
for _ in $(seq 20); do
    port=$((20000 + RANDOM % 30000))
    "$DEMO_APP" --listen "127.0.0.1:$port" --dir "$work/app" \
        --pidfile "$work/pid" -v 2>"$work/log" &
    pid=$!
    for _ in $(seq 100); do
        [ -s "$work/pid" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    [ -s "$work/pid" ] && break
    wait "$pid" 2>/dev/null || true
    pid=
done
[ -n "$pid" ] || fail "demo-app did not start"
[ "$(cat "$work/pid")" = "$pid" ] || fail "pidfile does not hold the pid"
base=http://127.0.0.1:$port
ok "listening on $base, pid $pid"

# get PATH -> "STATUS BODY" (body on one line)
get() { curl -s -m 3 -o "$work/body" -w '%{http_code}' "$base$1" || true; }
body() { tr '\n' ' ' <"$work/body" | sed 's/ $//'; }
expect() { # path status body
    local st
    st=$(get "$1")
    [ "$st" = "$2" ] || fail "GET $1: status $st, want $2 (body: $(body))"
    [ -z "${3:-}" ] || [ "$(body)" = "$3" ] ||
        fail "GET $1: body '$(body)', want '$3'"
    ok "GET $1 -> $2 ${3:-}"
}
behave() { printf '%b' "$1" >"$work/app/releases/1/BEHAVIOR"; }
calm() { rm -f "$work/app/releases/1/BEHAVIOR"; }

expect /health 200 '{"status":"healthy","version":"1.0"}'
expect /health/ready 200 '{"status":"ready","version":"1.0"}'
expect /health/live 200 '{"status":"alive"}'
expect /version 200 '1.0'
expect /login 200
grep -q '<form' "$work/body" || fail "/login is not a login page"
expect /nope 404
expect '/health?probe=1' 200 '{"status":"healthy","version":"1.0"}'
st=$(curl -s -m 3 -o /dev/null -w '%{http_code}' -X POST "$base/health")
[ "$st" = 405 ] || fail "POST /health: $st, want 405"
st=$(curl -s -m 3 -I -o "$work/head" -w '%{http_code}' "$base/health")
[ "$st" = 200 ] && grep -qi '^content-length: 37' "$work/head" ||
    fail "HEAD /health: $st"
ok "POST -> 405, HEAD -> 200 without a body"

# A release switch is seen by the next request, without a restart.
mkdir -p "$work/app/releases/2"
echo " 2.0 " >"$work/app/releases/2/VERSION"
ln -sfn releases/2 "$work/app/current.new" && mv -T "$work/app/current.new" "$work/app/current"
expect /version 200 '2.0'
expect /health 200 '{"status":"healthy","version":"2.0"}'
ln -sfn releases/1 "$work/app/current.new" && mv -T "$work/app/current.new" "$work/app/current"
expect /version 200 '1.0'

behave 'ready=503\n'
expect /health/ready 503 '{"status":"not ready"}'
expect /health 200
behave 'health=500\n'
expect /health 500 '{"status":"unhealthy","version":"1.0"}'
expect /health/ready 200
behave 'version=0.9\n'
expect /version 200 '0.9'
expect /health 200 '{"status":"healthy","version":"0.9"}'
behave 'redirect=1\n'
st=$(curl -s -m 3 -o /dev/null -D "$work/hdr" -w '%{http_code}' "$base/health")
[ "$st" = 302 ] && grep -qi '^location: /login' "$work/hdr" ||
    fail "redirect=1: $st"
expect /login 200
ok "redirect=1 -> 302 Location: /login"
behave '# comment\nnonsense\nunknown=1\nready=abc\n'
expect /health/ready 200
ok "bad BEHAVIOR lines are ignored"

# ready_after_ms: 503 until the current symlink is that old.
behave 'ready_after_ms=800\n'
ln -sfn releases/1 "$work/app/current.new" && mv -T "$work/app/current.new" "$work/app/current"
expect /health/ready 503
sleep 1
expect /health/ready 200

# flap_ms: readiness alternates; both answers seen within a few periods.
behave 'flap_ms=100\n'
seen=""
for _ in $(seq 30); do
    seen="$seen $(get /health/ready)"
    sleep 0.03
done
case $seen in *200*) ;; *) fail "flap: never 200 ($seen)" ;; esac
case $seen in *503*) ;; *) fail "flap: never 503 ($seen)" ;; esac
ok "flap_ms=100 alternates"

# hang: accepts, never answers.
behave 'hang=1\n'
t0=$(date +%s%N)
rc=0
curl -s -m 0.5 -o /dev/null "$base/health" || rc=$?
[ "$rc" = 28 ] || fail "hang=1: curl exit $rc, want 28 (timeout)"
ok "hang=1 -> no answer"
calm

# No VERSION: unhealthy, not ready.
mv "$work/app/releases/1/VERSION" "$work/app/releases/1/VERSION.off"
expect /health 500
expect /health/ready 503
expect /version 500
mv "$work/app/releases/1/VERSION.off" "$work/app/releases/1/VERSION"

# Raw requests: bad ones get a 4xx, none takes the server down.
raw() { # bytes -> first line of the answer
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf '%b' "$1" >&3
    timeout 2 head -n 1 <&3 | tr -d '\r' || true
    exec 3<&- 3>&-
}
[ "$(raw 'GARBAGE\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] || fail "garbage"
[ "$(raw 'GET health HTTP/1.1\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] ||
    fail "relative target"
[ "$(raw 'GET /health HTTP/9.9\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] ||
    fail "bad version"
[ "$(raw 'GET /health HTTP/1.1\r\nX: \x01\x00\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] ||
    fail "NUL byte"
big=$(head -c 20000 /dev/zero | tr '\0' a)
[ "$(raw "GET /$big HTTP/1.1\r\n\r\n")" = "HTTP/1.1 431 Request Header Fields Too Large" ] ||
    fail "oversized request"
head -c 100000 /dev/urandom >"$work/noise"
exec 3<>"/dev/tcp/127.0.0.1/$port"
cat "$work/noise" >&3 2>/dev/null || true
exec 3<&- 3>&-
# Pipelined requests on one connection, in order.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /version HTTP/1.1\r\nHost: x\r\n\r\nGET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
timeout 2 cat <&3 >"$work/pipe" || true
exec 3<&- 3>&-
[ "$(grep -c '^HTTP/1.1 200' "$work/pipe")" = 2 ] || fail "pipelining"
kill -0 "$pid" || fail "demo-app died on bad input"
expect /health 200
ok "bad, oversized, random and pipelined requests handled"

# Many connections at once.
: >"$work/urls"
for i in $(seq 500); do echo "url = \"$base/health/ready?i=$i\"" >>"$work/urls"; done
curl -s -Z --parallel-max 200 -K "$work/urls" -o /dev/null -w '%{http_code}\n' \
    >"$work/codes" 2>/dev/null
[ "$(grep -c '^200$' "$work/codes")" = 500 ] ||
    fail "500 parallel requests: $(sort "$work/codes" | uniq -c | tr '\n' ' ')"
ok "500 requests, 200 in parallel: all 200"

grep -q 'GET /health 200' "$work/log" || fail "-v did not log requests"

# SIGTERM: clean exit, pidfile gone.
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
[ ! -e "$work/pid" ] || fail "pidfile left behind"
ok "SIGTERM -> exit 0, pidfile removed"

# Usage errors.
rc=0
"$DEMO_APP" --listen 127.0.0.1:1 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "missing --dir: exit $rc, want 2"
rc=0
"$DEMO_APP" --listen nowhere:80 --dir "$work/app" 2>"$work/err" || rc=$?
[ "$rc" = 1 ] && grep -q 'not an IPv4 address' "$work/err" ||
    fail "bad --listen: exit $rc"
ok "usage errors"
echo "demo-app: all checks passed"
