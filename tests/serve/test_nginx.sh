#!/usr/bin/env bash
# Scale-out without a distribution layer of our own: two `bitnet serve` replicas behind Debian's
# nginx, configured by tools/serve/deploy/nginx.conf (the documented deployment, its addresses
# replaced by free loopback ports). Requests are spread over both replicas; one replica is killed
# (SIGKILL) while streams run; every request sent after that must still succeed, streaming too,
# and give the same text as before the kill (temperature 0, same model on both).
# Usage: test_nginx.sh path/to/bitnet model.gguf
set -uo pipefail
BITNET=$1
MODEL=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEPLOY_CONF="$HERE/../../tools/serve/deploy/nginx.conf"
. "$HERE/lib.sh"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
    echo "FAIL: nginx is not installed: run tools/install-deps.sh (Debian package nginx)"; exit 1
fi
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
PASS=0; FAIL=0
pass() { PASS=$((PASS + 1)); }
fail() { FAIL=$((FAIL + 1)); echo "FAIL: $*"; }
check() { if eval "$2"; then pass; else fail "$1"; fi; }
PY=$(command -v /usr/bin/python3 || command -v python3)

# ---- two replicas (same model; 4 slots of 2048 positions each, room for the long streams) ----
start_server "$TMP/r1" -m "$MODEL" -t 1 -np 4 -c 8192 || exit 1
R1_PID=$SERVER_PID; R1=${URL#http://}; PIDS+=("$R1_PID")
start_server "$TMP/r2" -m "$MODEL" -t 1 -np 4 -c 8192 || exit 1
R2_PID=$SERVER_PID; R2=${URL#http://}; PIDS+=("$R2_PID")

# ---- nginx on a free loopback port, everything (pid, logs, temp files) in $TMP ----
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_nginx() {
    local port=$1
    sed -e "s/127\.0\.0\.1:8081/$R1/; s/127\.0\.0\.1:8082/$R2/; s/listen 127\.0\.0\.1:8080;/listen 127.0.0.1:$port;/" \
        "$DEPLOY_CONF" >"$TMP/bitnet.conf"
    # master_process off: one process, so it never switches to another user (that one could
    # not write into $TMP).
    cat >"$TMP/nginx.conf" <<EOF
daemon off;
master_process off;
pid $TMP/nginx.pid;
error_log $TMP/error.log warn;
events { worker_connections 256; }
http {
    log_format upstream '\$status \$upstream_addr \$upstream_status "\$request" phase=\$http_x_test_phase';
    access_log $TMP/access.log upstream;
    client_body_temp_path $TMP/client_body;
    proxy_temp_path $TMP/proxy;
    fastcgi_temp_path $TMP/fastcgi;
    uwsgi_temp_path $TMP/uwsgi;
    scgi_temp_path $TMP/scgi;
    include $TMP/bitnet.conf;
}
EOF
    "$NGINX" -p "$TMP" -e "$TMP/error.log" -c "$TMP/nginx.conf" >"$TMP/nginx.out" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    LB="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do  # up to 10 s
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$LB/health")" = 200 ] && return 0
        kill -0 "$NGINX_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
for attempt in 1 2 3; do   # another process may take the free port first: try another
    start_nginx "$(free_port)" && break
    kill -KILL "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null
    if [ "$attempt" = 3 ]; then echo "FAIL: nginx did not start:"; cat "$TMP/nginx.out" "$TMP/error.log"; exit 1; fi
done

CHAT='{"messages":[{"role":"user","content":"Hello"}],"max_tokens":8,"temperature":0}'
COMP='{"prompt":"The quick brown fox","max_tokens":8,"temperature":0,"stream":true}'
# chat_text FILE / stream_text FILE: the generated text of a response (fails on a bad one)
chat_text() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["choices"][0]["message"]["content"])' "$1"; }
stream_text() { "$PY" - "$1" <<'PY'
import json, sys
events = [e[6:] for e in open(sys.argv[1]).read().split("\n\n") if e.strip()]
assert events and events[-1] == "[DONE]", "stream ends with [DONE]"
print("".join(json.loads(e)["choices"][0]["text"] for e in events[:-1]))
PY
}
# one_request N: the Nth request of a run (even: chat, odd: streaming completion) through nginx;
# prints "ok" when it succeeded with the expected text.
one_request() {
    local n=$1 out="$TMP/resp.$1" code text
    if ((n % 2 == 0)); then
        code=$(curl -s -m 30 -H "X-Test-Phase: $PHASE" -o "$out" -w '%{http_code}' "$LB/v1/chat/completions" -d "$CHAT")
        text=$(chat_text "$out" 2>/dev/null) || code="bad-body:$code"
        [ "$code" = 200 ] && [ "$text" = "$WANT_CHAT" ] && { echo ok; return; }
    else
        code=$(curl -sN -m 30 -H "X-Test-Phase: $PHASE" -o "$out" -w '%{http_code}' "$LB/v1/completions" -d "$COMP")
        text=$(stream_text "$out" 2>/dev/null) || code="bad-stream:$code"
        [ "$code" = 200 ] && [ "$text" = "$WANT_COMP" ] && { echo ok; return; }
    fi
    echo "request $n: HTTP $code, text $(printf %q "${text-}"): $(head -c 200 "$out")"
}

# The texts every request must give, asked of replica 1 directly.
curl -s -m 30 -o "$TMP/want_chat" "http://$R1/v1/chat/completions" -d "$CHAT"
curl -sN -m 30 -o "$TMP/want_comp" "http://$R1/v1/completions" -d "$COMP"
WANT_CHAT=$(chat_text "$TMP/want_chat") && WANT_COMP=$(stream_text "$TMP/want_comp") ||
    { echo "FAIL: reference requests"; exit 1; }
check "reference texts are not empty" '[ -n "$WANT_CHAT" ] && [ -n "$WANT_COMP" ]'

# ---- both replicas up: 10 requests, spread over both ----
PHASE=before
for n in $(seq 0 9); do
    r=$(one_request "$n"); check "before the kill: $r" '[ "$r" = ok ]'
done
N1=$(grep -c " $R1 200 .*phase=before$" "$TMP/access.log"); N2=$(grep -c " $R2 200 .*phase=before$" "$TMP/access.log")
check "requests spread over both replicas (replica 1: $N1, replica 2: $N2)" '[ "$N1" -ge 3 ] && [ "$N2" -ge 3 ]'

# ---- long streams running on both (a second or more each), then replica 1 dies ----
LONG='{"prompt":"Once upon a time","max_tokens":400,"temperature":0,"stream":true}'
for i in 1 2 3 4; do
    curl -sN -m 120 -o "$TMP/long.$i" "$LB/v1/completions" -d "$LONG" &
    PIDS+=("$!")
done
for _ in $(seq 1 100); do   # up to 10 s until all four streams have sent tokens
    started=0
    for i in 1 2 3 4; do grep -q '^data: {' "$TMP/long.$i" 2>/dev/null && started=$((started + 1)); done
    [ "$started" = 4 ] && break
    sleep 0.1
done
check "four streams running when replica 1 is killed ($started)" '[ "$started" = 4 ]'
kill -KILL "$R1_PID"; wait "$R1_PID" 2>/dev/null
LONG_PIDS=("${PIDS[@]: -4}")

# ---- every request from now on must succeed, streaming and not ----
PHASE=after
AFTER_START=$SECONDS
OK=0
for n in $(seq 0 19); do
    r=$(one_request "$n")
    if [ "$r" = ok ]; then OK=$((OK + 1)); else fail "after the kill: $r"; fi
done
check "after the kill: 20 of 20 requests succeeded ($OK)" '[ "$OK" = 20 ]'
N2=$(grep -c "^200 \(.*, \)\?$R2 \(.*, \)\?200 .*phase=after$" "$TMP/access.log")
check "after the kill: replica 2 served them all ($N2 of 20)" '[ "$N2" = 20 ]'
# nginx tried the dead replica once per fail_timeout (10 s) at most: max_fails=1 leaves it out
TRIED_DEAD=$(grep -c "$R1.*phase=after$" "$TMP/access.log")
MAX_TRIES=$((1 + (SECONDS - AFTER_START) / 10))
check "the dead replica was tried $TRIED_DEAD times (at most $MAX_TRIES)" '[ "$TRIED_DEAD" -le "$MAX_TRIES" ]'
# the long streams: those on replica 1 were cut by the kill, those on replica 2 ran to the end
wait "${LONG_PIDS[@]}" 2>/dev/null
CUT=0; DONE=0
for i in 1 2 3 4; do
    if [ "$(grep -v '^$' "$TMP/long.$i" | tail -1)" = "data: [DONE]" ]; then DONE=$((DONE + 1)); else CUT=$((CUT + 1)); fi
done
check "the kill hit running streams: $CUT cut, $DONE complete" '[ "$CUT" -ge 1 ] && [ "$DONE" -ge 1 ]'
check "nginx logged the dead replica" 'grep -q "connect() failed" "$TMP/error.log"'
check "replica 2 still healthy through nginx" '[ "$(curl -s -o /dev/null -w "%{http_code}" "$LB/health")" = 200 ]'
grep -iE 'ERROR|AddressSanitizer|terminate' "$TMP/r2.err" && fail "replica 2 logged an error"
[ "$FAIL" = 0 ] || { echo "--- nginx access log"; cat "$TMP/access.log"; }

echo "test_nginx: long streams at the kill: $CUT cut, $DONE complete; after the kill: $OK of 20 succeeded"
echo "test_nginx: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
