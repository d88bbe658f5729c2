#!/usr/bin/env bash
# tests/integration/test_demo_app.sh: the demo application over real HTTP
# on loopback: every endpoint (health aliases, the login with its CSRF
# token, the JSON API, /metrics, migrations), every BEHAVIOR key (latency
# on parallel connections included), a release switch without a restart,
# request bodies, bad and oversized requests, many connections, SIGTERM.
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
# relink: current is a new symlink to release 1 (a deploy: /metrics restarts)
relink() { ln -sfn releases/1 "$work/app/current.new" && mv -T "$work/app/current.new" "$work/app/current"; }
# py CODE: run python3 CODE with `m` = the metrics in $work/body as a dict
# {"name{labels}": value}; an AssertionError fails the test
py() {
    python3 - "$work/body" "$1" <<'PY' || fail "check failed: $1 (body: $(body))"
import json, sys
text = open(sys.argv[1]).read()
m = {}
for line in text.splitlines():
    if line and not line.startswith("#"):
        k, v = line.rsplit(" ", 1)
        m[k] = float(v)
exec(sys.argv[2])
PY
}

expect /health 200 '{"status":"healthy","version":"1.0"}'
expect /health/ready 200 '{"status":"ready","version":"1.0"}'
expect /health/live 200 '{"status":"alive"}'
expect /version 200 '1.0'
expect /login 200
grep -q '<form' "$work/body" || fail "/login is not a login page"
expect /nope 404
expect '/health?probe=1' 200 '{"status":"healthy","version":"1.0"}'
expect /healthz 200 '{"status":"alive"}'
expect /api/healthz 200 '{"status":"alive"}'
expect /readyz 200 '{"status":"ready","version":"1.0"}'
expect /api/readyz 200 '{"status":"ready","version":"1.0"}'
behave 'ready=503\n'
expect /readyz 503 '{"status":"not ready"}'
expect /api/readyz 503 '{"status":"not ready"}'
calm
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
behave '# comment\nnonsense\nunknown=1\nready=abc\nstatus:nope=500\nstatus:/x=999\nerror_rate=2\n'
expect /health/ready 200
expect /x 404
ok "bad BEHAVIOR lines are ignored"
calm

# Login: GET gives a token (cookie + hidden input), POST needs it back.
login() { # curl args... -> status of POST /login, Location in $work/hdr
    curl -s -m 3 -o "$work/body" -D "$work/hdr" -w '%{http_code}' "$@" "$base/login" || true
}
st=$(curl -s -m 3 -c "$work/jar" -o "$work/body" -w '%{http_code}' "$base/login")
[ "$st" = 200 ] || fail "GET /login: $st"
token=$(grep -o 'name="csrf_token" value="[0-9a-f]*"' "$work/body" | grep -o '[0-9a-f]\{32\}') ||
    fail "GET /login: no csrf_token input ($(body))"
[ "$(awk '$6 == "csrf_token" { print $7 }' "$work/jar")" = "$token" ] ||
    fail "GET /login: the cookie is not the form's token"
st=$(login -b "$work/jar" -d "user=u&password=p&csrf_token=$token")
[ "$st" = 302 ] && grep -qi '^location: /' "$work/hdr" || fail "POST /login with the token: $st"
st=$(login -b "$work/jar" -X POST -H "X-CSRF-Token: $token")
[ "$st" = 302 ] || fail "POST /login with X-CSRF-Token: $st"
st=$(login -b "$work/jar" -d "user=u&password=p")
[ "$st" = 400 ] && grep -q 'CSRF' "$work/body" || fail "POST /login without the token: $st"
st=$(login -d "user=u&csrf_token=$token")
[ "$st" = 400 ] || fail "POST /login without the cookie: $st"
st=$(login -b "$work/jar" -d "csrf_token=0$token")
[ "$st" = 400 ] || fail "POST /login with another token: $st"
st=$(curl -s -m 3 -o /dev/null -c "$work/jar2" -w '%{http_code}' "$base/login")
[ "$(awk '$6 == "csrf_token" { print $7 }' "$work/jar2")" != "$token" ] ||
    fail "GET /login gave the same token twice"
st=$(curl -s -m 3 -o /dev/null -w '%{http_code}' -X PUT "$base/login")
[ "$st" = 405 ] || fail "PUT /login: $st, want 405"
behave 'login=broken\n'
st=$(login -b "$work/jar" -d "csrf_token=$token")
[ "$st" = 400 ] || fail "login=broken: POST /login $st, want 400"
calm
ok "login: token in cookie and form; 302 with it, 400 without, login=broken 400"

# The JSON API.
expect '/api/v1/students?limit=3' 200
python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); assert [s["id"] for s in l] == [1,2,3], l' \
    "$work/body" || fail "limit=3: $(body)"
expect /api/v1/students 200
python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))) == 10' "$work/body" ||
    fail "no limit: not 10 students"
expect '/api/v1/students?limit=1000&x=1' 200
python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))) == 100' "$work/body" ||
    fail "limit=1000: not capped at 100"
expect '/api/v1/students?limit=0' 200 '[]'
expect '/api/v1/students?limit=x' 400 '{"error":"limit must be a whole number"}'

# status:/PATH=CODE
behave 'status:/api/healthz=503\nstatus:/login=500\n'
expect /api/healthz 503
expect /healthz 200
expect /login 500
st=$(login -d x=1)
[ "$st" = 500 ] || fail "status:/login=500: POST $st"
calm

# rate_limit=N: the N+1th answer of an API path in a minute is 429; other
# paths and other API paths keep their own count; a new release forgets.
behave 'rate_limit=3\nstatus:/api/v1/courses=200\n'
relink
for _ in 1 2 3; do expect '/api/v1/courses?limit=1' 200 >/dev/null; done
expect '/api/v1/courses?limit=2' 429 '{"error":"rate limit exceeded"}'
expect '/api/v1/students?limit=1' 200 >/dev/null
for _ in 1 2 3 4 5; do expect /health 200 >/dev/null; done
relink
expect '/api/v1/courses?limit=1' 200 >/dev/null
calm
expect '/api/v1/courses?limit=1' 404 >/dev/null
ok "rate_limit=3: the 4th request of a path in a minute is 429, health never"

# static files: GET / and /assets/NAME from the release's static/
expect / 404
mkdir -p "$work/app/releases/1/static/assets"
echo '<script src="/assets/app-1.js"></script>' >"$work/app/releases/1/static/index.html"
echo 'console.log(1)' >"$work/app/releases/1/static/assets/app-1.js"
expect / 200 '<script src="/assets/app-1.js"></script>'
expect /assets/app-1.js 200 'console.log(1)'
expect /assets/app-2.js 404
st=$(curl -s -m 3 --path-as-is -o /dev/null -w '%{http_code}' "$base/assets/../VERSION")
[ "$st" = 404 ] || fail "GET /assets/../VERSION: $st, want 404"
expect /assets/.hidden 404
rm -r "$work/app/releases/1/static"
ok "static files: / and /assets/NAME served from the release, nothing else"

# /metrics: counts since the release changed; error_rate counts 5xx.
relink
expect /metrics 200
py 'assert not any(k.startswith("http_requests_total") for k in m), m'
for _ in 1 2 3; do expect /health 200 >/dev/null; done
expect /nope 404 >/dev/null
expect /metrics 200
py '
assert m["http_requests_total{code=\"200\"}"] == 4, m
assert m["http_requests_total{code=\"404\"}"] == 1, m
assert m["http_request_duration_seconds_count"] == 5, m
assert m["http_request_duration_seconds_bucket{le=\"+Inf\"}"] == 5, m
b = [v for k, v in m.items() if k.startswith("http_request_duration_seconds_bucket")]
assert b == sorted(b) and len(b) == 12, b'
behave 'error_rate=0.5\n'
relink
for _ in 1 2 3 4; do expect /health 200 >/dev/null; done
expect /metrics 200
py '
assert m["http_requests_total{code=\"500\"}"] == 2, m
assert m["http_requests_total{code=\"200\"}"] == 2, m'
calm
relink
ok "metrics: counters restart with the release; error_rate=0.5 counts half as 500"

# latency_ms: every answer waits, connections do not wait for each other.
behave 'latency_ms=400\n'
t0=$(date +%s%N)
lat=()
for i in 1 2 3 4 5; do
    curl -s -m 3 -o /dev/null -w '%{http_code} %{time_total}\n' "$base/health" >"$work/lat$i" &
    lat+=($!)
done
wait "${lat[@]}"
t1=$(date +%s%N)
for i in 1 2 3 4 5; do
    read -r st secs <"$work/lat$i"
    [ "$st" = 200 ] || fail "latency_ms: status $st"
    python3 -c "import sys; assert float(sys.argv[1]) >= 0.39, sys.argv[1]" "$secs" ||
        fail "latency_ms=400: an answer came after ${secs}s"
done
[ $(((t1 - t0) / 1000000)) -lt 1200 ] ||
    fail "latency_ms=400: 5 parallel requests took $(((t1 - t0) / 1000000)) ms (serialized?)"
expect /metrics 200
py 'assert m["http_request_duration_seconds_bucket{le=\"0.25\"}"] == 0 and m["http_request_duration_seconds_count"] == 5, m'
calm
ok "latency_ms=400: 5 parallel answers in $(((t1 - t0) / 1000000)) ms"

# Migrations: /health reports the database's, readiness waits for it.
mkdir -p "$work/app/db"
echo 9 >"$work/app/db/alembic_version"
expect /health 200 '{"status":"healthy","version":"1.0","migration":"9"}'
echo 10 >"$work/app/releases/1/MIGRATION"
expect /readyz 503 '{"status":"not ready","reason":"migration pending","migration":"9","release_migration":"10"}'
expect /health/ready 503
echo 10 >"$work/app/db/alembic_version"
expect /readyz 200
echo 9 >"$work/app/releases/1/MIGRATION"
expect /health/ready 200
rm -f "$work/app/db/alembic_version"
expect /health 200 '{"status":"healthy","version":"1.0"}'
expect /api/readyz 503
rm -f "$work/app/releases/1/MIGRATION"
expect /api/readyz 200
ok "migrations: reported, readiness 503 while the release's is newer"

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
# A request body is read: the connection serves the next request.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nuser=a&b=cGET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
timeout 2 cat <&3 >"$work/pipe" || true
exec 3<&- 3>&-
grep -q '^HTTP/1.1 400' "$work/pipe" && grep -q '^HTTP/1.1 200' "$work/pipe" ||
    fail "POST with a body, then GET: $(tr -d '\r' <"$work/pipe" | grep '^HTTP')"
[ "$(raw 'POST /login HTTP/1.1\r\nContent-Length: 5000\r\n\r\n')" = "HTTP/1.1 413 Content Too Large" ] ||
    fail "oversized body"
[ "$(raw 'POST /login HTTP/1.1\r\nContent-Length: -1\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] ||
    fail "bad Content-Length"
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
