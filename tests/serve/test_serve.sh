#!/usr/bin/env bash
# End-to-end test of `bitnet serve` with curl: endpoints, SSE framing, API key, CORS, a table of
# malformed requests (each must get its 4xx while the server keeps serving), the bounded queue
# (503 + Retry-After), a disconnecting client freeing its slot, and graceful SIGTERM.
# Usage: test_serve.sh path/to/bitnet model.gguf
set -uo pipefail
BITNET=$1
MODEL=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
TMP=$(mktemp -d)
trap 'kill -KILL $SERVER_PID 2>/dev/null; rm -rf "$TMP"' EXIT
PASS=0; FAIL=0
pass() { PASS=$((PASS + 1)); }
fail() { FAIL=$((FAIL + 1)); echo "FAIL: $*"; }
check() { if eval "$2"; then pass; else fail "$1"; fi; }

# A file that is not a model: a message and exit status 1, promptly.
timeout 30 "$BITNET" serve -m "$HERE/lib.sh" --port 0 >"$TMP/bad.out" 2>"$TMP/bad.err"
BAD_RC=$?
check "not a model: exit 1 (got $BAD_RC)" '[ "$BAD_RC" = 1 ] && grep -q "GGUF" "$TMP/bad.err"'

KEY=test-key-123
start_server "$TMP/a" -m "$MODEL" -c 2048 -t 1 -np 2 --queue 4 --api-key "$KEY" \
    --cors https://example.test --max-body-kib 64 --max-tokens 512 || exit 1
AUTH=(-H "Authorization: Bearer $KEY")
# req METHOD PATH [BODY] -> body in $TMP/body, status in $STATUS, headers in $TMP/hdr
req() {
    local m=$1 p=$2 b=${3-}
    if [ -n "$b" ]; then
        STATUS=$(curl -s -m 30 -D "$TMP/hdr" -o "$TMP/body" -w '%{http_code}' -X "$m" "${AUTH[@]}" \
                 -H 'Content-Type: application/json' --data-binary "$b" "$URL$p")
    else
        STATUS=$(curl -s -m 30 -D "$TMP/hdr" -o "$TMP/body" -w '%{http_code}' -X "$m" "${AUTH[@]}" "$URL$p")
    fi
}
# Debian's python3 first: a pyenv shim costs seconds per start, and this test starts it often.
PY=$(command -v /usr/bin/python3 || command -v python3)
jq_ok() { "$PY" -c "import json,sys; d=json.load(open('$TMP/body')); sys.exit(0 if ($1) else 1)"; }

# ---- the endpoints ----
req GET /health;            check "health 200" '[ $STATUS = 200 ] && jq_ok "d[\"status\"]==\"ok\""'
req GET /v1/models;         check "models" '[ $STATUS = 200 ] && jq_ok "d[\"object\"]==\"list\" and len(d[\"data\"])==1"'
req POST /v1/chat/completions '{"model":"x","messages":[{"role":"user","content":"Hello"}],"max_tokens":6,"temperature":0}'
check "chat non-stream" '[ $STATUS = 200 ] && jq_ok "d[\"object\"]==\"chat.completion\" and d[\"choices\"][0][\"message\"][\"role\"]==\"assistant\" and d[\"usage\"][\"completion_tokens\"]<=6 and d[\"usage\"][\"total_tokens\"]==d[\"usage\"][\"prompt_tokens\"]+d[\"usage\"][\"completion_tokens\"]"'
req POST /v1/completions '{"prompt":"The quick brown fox","max_tokens":5,"temperature":0,"logprobs":2}'
check "completion with logprobs" '[ $STATUS = 200 ] && jq_ok "d[\"object\"]==\"text_completion\" and len(d[\"choices\"][0][\"logprobs\"][\"tokens\"])==d[\"usage\"][\"completion_tokens\"] and all(len(t)<=2 for t in d[\"choices\"][0][\"logprobs\"][\"top_logprobs\"]) and all(lp<=0 for lp in d[\"choices\"][0][\"logprobs\"][\"token_logprobs\"])"'
req POST /v1/chat/completions '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":4,"logprobs":true,"top_logprobs":3,"temperature":0}'
check "chat logprobs" '[ $STATUS = 200 ] && jq_ok "all(len(t[\"top_logprobs\"])==3 and t[\"top_logprobs\"][0][\"logprob\"]>=t[\"logprob\"]-1e-6 for t in d[\"choices\"][0][\"logprobs\"][\"content\"])"'

# Streaming: every event is "data: <json>", the last is [DONE], usage chunk when asked.
curl -sN -m 30 "${AUTH[@]}" "$URL/v1/chat/completions" \
    -d '{"messages":[{"role":"user","content":"Hello"}],"max_tokens":8,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}' \
    >"$TMP/sse"
check "SSE ends with [DONE]" '[ "$(grep -v "^$" "$TMP/sse" | tail -1)" = "data: [DONE]" ]'
check "SSE frames are JSON" '"$PY" - "$TMP/sse" <<PY
import json, sys
events = [l[6:] for l in open(sys.argv[1]).read().split("\n\n") if l.strip()]
assert events[-1] == "[DONE]"
chunks = [json.loads(e) for e in events[:-1]]
assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
assert all(c["object"] == "chat.completion.chunk" for c in chunks)
assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] <= 8
assert chunks[-2]["choices"][0]["finish_reason"] in ("stop", "length")
PY'
# Non-streaming and streaming give the same text at temperature 0.
req POST /v1/chat/completions '{"messages":[{"role":"user","content":"Hello"}],"max_tokens":8,"temperature":0}'
check "stream text == non-stream text" '"$PY" - "$TMP/sse" "$TMP/body" <<PY
import json, sys
events = [l[6:] for l in open(sys.argv[1]).read().split("\n\n") if l.strip()][:-1]
text = "".join(c["choices"][0]["delta"].get("content", "") for c in map(json.loads, events) if c["choices"])
assert text == json.load(open(sys.argv[2]))["choices"][0]["message"]["content"], text
PY'
# Stop sequence: the text ends before it and never contains it.
req POST /v1/completions '{"prompt":"The quick brown fox","max_tokens":12,"temperature":0}'
FULL=$("$PY" -c "import json; print(json.load(open('$TMP/body'))['choices'][0]['text'])")
STOP=$("$PY" -c "import sys; t=sys.argv[1]; print(t[3:6] if len(t)>=6 else '')" "$FULL")
if [ -n "$STOP" ]; then
    req POST /v1/completions "$("$PY" -c "import json,sys; print(json.dumps({'prompt':'The quick brown fox','max_tokens':12,'temperature':0,'stop':[sys.argv[1]]}))" "$STOP")"
    check "stop sequence cuts the text" '"$PY" -c "import json,sys; d=json.load(open(\"$TMP/body\")); t=d[\"choices\"][0][\"text\"]; full=sys.argv[1]; stop=sys.argv[2]; sys.exit(0 if t==full[:full.find(stop)] and d[\"choices\"][0][\"finish_reason\"]==\"stop\" else 1)" "$FULL" "$STOP"'
fi
# tokenize / detokenize round trip
req POST /tokenize '{"content":"Hello world"}'
TOKS=$("$PY" -c "import json; print(json.dumps(json.load(open('$TMP/body'))['tokens']))")
req POST /detokenize "{\"tokens\":$TOKS}"
check "tokenize/detokenize round trip" 'jq_ok "d[\"content\"]==\"Hello world\""'
# metrics
req GET /metrics
check "metrics text" '[ $STATUS = 200 ] && grep -q "^bitnet_generated_tokens_total [1-9]" "$TMP/body" && grep -q "^bitnet_slots_total 2" "$TMP/body"'
# chat page
STATUS=$(curl -s -o "$TMP/page" -w '%{http_code}' "$URL/")
check "chat page" '[ $STATUS = 200 ] && grep -q "/v1/chat/completions" "$TMP/page"'
# embeddings (MEAN pooling, L2-normalised): the OpenAI shape; identical inputs give identical
# unit vectors, a text alone equals the same text in a list, another text differs
req POST /v1/embeddings '{"model":"m","input":["hello world","other text","hello world"]}'
cp "$TMP/body" "$TMP/emb3"
req POST /v1/embeddings '{"model":"m","input":"hello world"}'
check "embeddings: shape, unit length, identical inputs, alone == in a list" '"$PY" - "$TMP/emb3" "$TMP/body" <<"PYEOF"
import json, math, sys
many, one = (json.load(open(f)) for f in sys.argv[1:3])
v = [d["embedding"] for d in many["data"]]
assert many["object"] == "list" and [d["index"] for d in many["data"]] == [0, 1, 2]
assert all(d["object"] == "embedding" for d in many["data"]) and len(set(map(len, v))) == 1 and len(v[0]) > 1
assert many["usage"]["prompt_tokens"] == many["usage"]["total_tokens"] > 3
assert all(abs(math.sqrt(sum(x * x for x in e)) - 1) < 1e-5 for e in v)
assert v[0] == v[2] and v[0] != v[1] and one["data"][0]["embedding"] == v[0]
PYEOF'
req POST /v1/embeddings '{"input":[1,2]}'
check "embeddings: non-string input -> 400" '[ $STATUS = 400 ]'

# ---- slot choice: a prompt that extends one slot's cache goes to that slot (2 slots) ----
reused() { curl -s "${AUTH[@]}" "$URL/metrics" | sed -n 's/^bitnet_prompt_tokens_reused_total //p'; }
req POST /v1/completions '{"prompt":"alpha beta gamma delta epsilon","max_tokens":1,"temperature":0}'
req POST /v1/completions '{"prompt":"zzz something else entirely","max_tokens":1,"temperature":0}'
R0=$(reused)
req POST /v1/completions '{"prompt":"alpha beta gamma delta epsilon zeta eta","max_tokens":1,"temperature":0}'
R1=$(reused)
check "slot affinity: the extending prompt reused its slot's cache ($R0 -> $R1)" '[ $((R1 - R0)) -ge 5 ]'

# ---- API key and CORS ----
check "no key -> 401" '[ "$(curl -s -o /dev/null -w "%{http_code}" "$URL/v1/models")" = 401 ]'
check "wrong key -> 401" '[ "$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer nope" "$URL/v1/models")" = 401 ]'
check "health needs no key" '[ "$(curl -s -o /dev/null -w "%{http_code}" "$URL/health")" = 200 ]'
check "CORS header" 'curl -s -D - -o /dev/null "${AUTH[@]}" "$URL/v1/models" | grep -qi "^access-control-allow-origin: https://example.test"'
check "CORS preflight" '[ "$(curl -s -o /dev/null -w "%{http_code}" -X OPTIONS "$URL/v1/chat/completions")" = 204 ]'

# ---- malformed requests: expected status | method | path | body ----
BIG=$(head -c 70000 /dev/zero | tr '\0' 'a')
BAD_UTF8=$(printf '{"prompt":"\xff\xfe","max_tokens":2}')
while IFS='|' read -r want method path body; do
    [ -z "$want" ] && continue
    req "$method" "$path" "$body"
    # OpenAI's error shape, checked without starting python for each of the many cases
    if [ "$STATUS" = "$want" ] && grep -q '^{"error":{"code":[^,]*,"message":"[^"]' "$TMP/body" &&
       grep -q '"type":"[a-z_]*"}}$' "$TMP/body"; then
        pass
    else
        fail "malformed: $method $path ${body:0:60} -> $STATUS (want $want): $(head -c 200 "$TMP/body")"
    fi
done <<TABLE
400|POST|/v1/chat/completions|{
400|POST|/v1/chat/completions|not json
400|POST|/v1/chat/completions|[]
400|POST|/v1/chat/completions|"hello"
400|POST|/v1/chat/completions|{}
400|POST|/v1/chat/completions|{"messages":[]}
400|POST|/v1/chat/completions|{"messages":"hi"}
400|POST|/v1/chat/completions|{"messages":[1]}
400|POST|/v1/chat/completions|{"messages":[{"content":"x"}]}
400|POST|/v1/chat/completions|{"messages":[{"role":"wizard","content":"x"}]}
400|POST|/v1/chat/completions|{"messages":[{"role":"user"}]}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":5}]}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}
400|POST|/v1/chat/completions|{"messages":[{"role":"tool","content":"x"}]}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"max_tokens":-1}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"max_tokens":0}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"max_tokens":100000000}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"max_tokens":"5"}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"max_tokens":2.5}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"temperature":-1}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"temperature":1e999}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"top_p":1.5}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"min_p":-0.1}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"top_k":-3}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"presence_penalty":3}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"frequency_penalty":"high"}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"repeat_penalty":0}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"seed":"abc"}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"stop":5}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"stop":[""]}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"stream":"yes"}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"n":3}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"top_logprobs":3}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":50}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}
400|POST|/v1/chat/completions|{"messages":[{"role":"user","content":"a\u0000b"}]}
400|POST|/v1/completions|{}
400|POST|/v1/completions|{"prompt":["a","b"]}
400|POST|/v1/completions|{"prompt":[-1]}
400|POST|/v1/completions|{"prompt":[99999999]}
400|POST|/v1/completions|{"prompt":"x","temperature":"hot"}
400|POST|/v1/completions|{"prompt":"x","echo":true}
400|POST|/v1/completions|{"prompt":"x","logprobs":9}
400|POST|/v1/completions|$BAD_UTF8
400|POST|/v1/completions|{"prompt":"$(printf 'word %.0s' $(seq 1 1100))","max_tokens":2}
413|POST|/v1/completions|{"prompt":"$BIG"}
400|POST|/tokenize|{"content":5}
400|POST|/detokenize|{"tokens":[-5]}
400|POST|/detokenize|{"tokens":"abc"}
404|GET|/v1/nothing-here|
400|POST|/v1/embeddings|{"input":{"a":1}}
TABLE
# A large JSON body within --max-body-kib is accepted (cpp-httplib's 8 KiB cap applies to
# form-encoded bodies only, and the 413 then says so).
LARGE="{\"prompt\":\"$(head -c 20000 /dev/zero | tr '\0' 'a')\",\"max_tokens\":1}"
req POST /v1/completions "$LARGE"
check "20 KB JSON body: not 413 (got $STATUS)" '[ "$STATUS" = 200 ] || [ "$STATUS" = 400 ]'
STATUS=$(curl -s -o "$TMP/body" -w '%{http_code}' "${AUTH[@]}" "$URL/v1/completions" --data-binary "$LARGE")
check "20 KB form-encoded body: 413 naming the content type" '[ "$STATUS" = 413 ] && grep -q "application/json" "$TMP/body"'
# ... and it still serves.
req POST /v1/completions '{"prompt":"still alive","max_tokens":2,"temperature":0}'
check "serves after malformed requests" '[ $STATUS = 200 ]'
req GET /health; check "healthy after malformed requests" '[ $STATUS = 200 ]'

# the reference for chunked prefill on the second server (-b 3)
req POST /v1/completions '{"prompt":"The quick brown fox jumps over","max_tokens":6,"temperature":0}'
TA=$(cat "$TMP/body" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['choices'][0]['text'])")
# ---- a client that disconnects mid-stream frees its slot (-c 2048: 1024 positions a slot, so
# the 500 tokens outlast the 0.5 s client) ----
curl -sN -m 0.5 "${AUTH[@]}" "$URL/v1/completions" -d '{"prompt":"go","max_tokens":500,"temperature":1,"stream":true}' >/dev/null
freed=no
for _ in $(seq 1 50); do
    req GET /metrics
    if grep -q '^bitnet_slots_busy 0' "$TMP/body" && grep -q '^bitnet_requests_total{result="cancelled"} [1-9]' "$TMP/body"; then freed=yes; break; fi
    sleep 0.1
done
check "disconnect frees the slot (cancelled)" '[ $freed = yes ]'

# ---- graceful SIGTERM: a running stream ends with [DONE], new requests are refused, exit 0 ----
curl -sN -m 30 "${AUTH[@]}" "$URL/v1/completions" -d '{"prompt":"go","max_tokens":300,"temperature":0,"stream":true}' >"$TMP/term" &
CURL=$!
sleep 0.3
stop_server
wait $CURL
check "SIGTERM: exit status 0 (got $STOP_RC)" '[ "$STOP_RC" = 0 ]'
check "SIGTERM: running stream finished with [DONE]" 'grep -q "^data: \[DONE\]" "$TMP/term"'

# ---- bounded queue: 1 slot, queue of 1 -> a third concurrent request gets 503 + Retry-After ----
start_server "$TMP/b" -m "$MODEL" -c 1024 -t 1 -np 1 -b 3 --queue 1 --embeddings --pooling none || exit 1
AUTH=()
PIDS=()
for i in 1 2 3; do
    curl -s -m 20 -D "$TMP/q$i.hdr" -o "$TMP/q$i.body" -w '%{http_code}' "$URL/v1/completions" \
        -d '{"prompt":"go","max_tokens":400,"temperature":1}' >"$TMP/q$i.status" &
    PIDS+=($!)
    sleep 0.1
done
wait "${PIDS[@]}"
REJECTED=$(cat "$TMP"/q*.status | tr -s ' ' '\n' | grep -c 503 || true)
check "queue full -> 503 (got: $(cat "$TMP"/q*.status | tr '\n' ' '))" '[ "$REJECTED" -ge 1 ]'
check "503 carries Retry-After" 'grep -qi "^retry-after:" $(grep -l 503 "$TMP"/q*.status | sed "s/status$/hdr/" | head -1)'
# ---- prefix reuse: a prompt that extends the slot's cached tokens evaluates only the new part,
# with the same result as from scratch (1 slot, so every request lands on the same KV cache) ----
LONG='{"prompt":"The quick brown fox jumps over","max_tokens":6,"temperature":0}'
req POST /v1/completions "$LONG"; T1=$(cat "$TMP/body" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['choices'][0]['text'])")
req POST /v1/completions '{"prompt":"The quick brown fox","max_tokens":1,"temperature":0}'
R0=$(reused)
req POST /v1/completions "$LONG"; T2=$(cat "$TMP/body" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['choices'][0]['text'])")
R1=$(reused)
check "prefix reuse: cached prompt tokens not recomputed ($R0 -> $R1)" '[ "$R1" -gt "$R0" ]'
check "prefix reuse: same text as from scratch" '[ "$T1" = "$T2" ]'
check "chunked prefill (-b 3) gives the text of a one-chunk prefill" '[ "$T1" = "$TA" ]'
# partial reuse: a prompt that shares only a prefix with the cached tokens keeps that prefix
OTHER='{"prompt":"The quick brown fox sat down on the","max_tokens":6,"temperature":0}'
text_of() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['choices'][0]['text'])" "$TMP/body"; }
req POST /v1/completions "$OTHER"; T3=$(text_of)
req POST /v1/completions "$LONG"
R2=$(reused)
req POST /v1/completions "$OTHER"; T4=$(text_of)
R3=$(reused)
check "partial prefix reuse: shared prefix not recomputed ($R2 -> $R3)" '[ "$R3" -gt "$R2" ]'
check "partial prefix reuse: same text" '[ "$T3" = "$T4" ]'
# --pooling none (context made at start by --embeddings): one unit vector per prompt token
req POST /v1/embeddings '{"input":"hello world"}'
check "embeddings --pooling none: a unit vector per token" '"$PY" - "$TMP/body" <<"PYEOF"
import json, math, sys
d = json.load(open(sys.argv[1]))
rows = d["data"][0]["embedding"]
assert len(rows) == d["usage"]["prompt_tokens"] > 1 and all(len(r) == len(rows[0]) > 1 for r in rows)
assert all(abs(math.sqrt(sum(x * x for x in r)) - 1) < 1e-5 for r in rows) and rows[0] != rows[-1]
PYEOF'

stop_server
check "second server: exit 0 (got $STOP_RC)" '[ "$STOP_RC" = 0 ]'

echo "test_serve.sh: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
