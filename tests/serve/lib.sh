# Helpers shared by the `bitnet serve` shell tests: start a server on a free loopback port,
# wait for it, stop it. Every wait is bounded; servers also stop by themselves (--exit-after).

# start_server LOGPREFIX ARGS... : sets SERVER_PID and URL.
start_server() {
    local log=$1; shift
    "$BITNET" serve --host 127.0.0.1 --port 0 --exit-after 300 "$@" >"$log.out" 2>"$log.err" &
    SERVER_PID=$!
    URL=""
    for _ in $(seq 1 200); do   # up to 20 s for the port line
        URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log.out" 2>/dev/null | head -1 || true)
        [ -n "$URL" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$URL" ]; then
        echo "server did not start:"; cat "$log.out" "$log.err"; return 1
    fi
    for _ in $(seq 1 300); do   # up to 30 s for the model to load
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] && return 0
        sleep 0.1
    done
    echo "server never became healthy:"; cat "$log.err"; return 1
}

# stop_server: SIGTERM, then wait (bounded) for a clean exit; sets STOP_RC to the exit status.
# Not to be called in a $(...) subshell: only this shell can reap the server (a zombie still
# answers kill -0).
stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 150); do
        # exited (a zombie of this shell) once ps reports state Z or nothing
        case "$(ps -o stat= -p "$SERVER_PID" 2>/dev/null)" in ""|Z*) break ;; esac
        sleep 0.1
    done
    if case "$(ps -o stat= -p "$SERVER_PID" 2>/dev/null)" in ""|Z*) false ;; *) true ;; esac; then
        kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; STOP_RC=137; return
    fi
    STOP_RC=0
    wait "$SERVER_PID" || STOP_RC=$?
}
