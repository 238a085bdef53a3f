#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, -fsanitize=fuzzer,address,undefined) in build-fuzz,
# generates the seed corpora and runs each harness for SECONDS seconds (default 60), JOBS
# harnesses at a time (default: the number of CPUs). Exits non-zero on any finding: crash, sanitizer report, leak, timeout, out-of-memory
# or a broken property (harness "FINDING"). Inputs that triggered a finding are left in
# build-fuzz/fuzz-artifacts/<harness>/; copy them to tests/fuzz/regressions/<harness>/ once fixed.
#
# Usage: tests/fuzz/run_fuzzers.sh [SECONDS] [HARNESS...]
# Environment: BITNET_FUZZ_BUILD (build dir, default build-fuzz), BITNET_FIXTURES, JOBS.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$(pwd)
SECS=${1:-60}
shift || true
HARNESSES=("$@")
if ((${#HARNESSES[@]} == 0)); then HARNESSES=(fuzz_gguf fuzz_tokenizer fuzz_chat_sampling fuzz_safetensors fuzz_server_request); fi
BUILD=${BITNET_FUZZ_BUILD:-$ROOT/build-fuzz}
JOBS=${JOBS:-$(nproc)}

CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S "$ROOT" -B "$BUILD" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBITNET_FUZZ=ON \
    -DBITNET_BUILD_TESTS=OFF -DBITNET_BUILD_BENCH=OFF -DBITNET_BUILD_TOOLS=OFF >/dev/null || exit 1
cmake --build "$BUILD" --target fuzzers -j "$JOBS" || exit 1

"$BUILD/fuzz/make_seeds" "$BUILD/fuzz-seeds" || exit 1

max_len() {
    case $1 in
        fuzz_gguf) echo 131072 ;;   # the seed models are up to ~100 KB
        *) echo 4096 ;;
    esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Runs one harness for SECS seconds; its summary line goes to $BUILD/fuzz-logs/<harness>.result.
run_one() {
    local h=$1
    local corpus="$BUILD/fuzz-corpus/$h" artifacts="$BUILD/fuzz-artifacts/$h"
    local log="$BUILD/fuzz-logs/$h.log" result="$BUILD/fuzz-logs/$h.result"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    local dict=() regressions=()
    if [ -f "$ROOT/tests/fuzz/$h.dict" ]; then dict=(-dict="$ROOT/tests/fuzz/$h.dict"); fi
    # a harness has a regressions folder once an input of it had to be kept
    if [ -d "$ROOT/tests/fuzz/regressions/$h" ]; then regressions=("$ROOT/tests/fuzz/regressions/$h"); fi
    echo "==> $h for ${SECS}s (log: $log)"
    # New inputs go to the first directory (kept between runs); seeds and saved regressions
    # are read too.
    "$BUILD/fuzz/$h" -max_total_time="$SECS" -max_len="$(max_len "$h")" -timeout=20 \
        -rss_limit_mb=3072 -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" \
        "$corpus" "$BUILD/fuzz-seeds/$h" "${regressions[@]}" >"$log" 2>&1
    local rc=$?
    local execs cov
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ "$rc" -ne 0 ]; then
        echo "!!! $h FAILED (exit $rc); last lines of the log:"
        tail -n 60 "$log"
        echo "$h: FAILED (exit $rc), ${execs:-?} executions" >"$result"
    else
        echo "$h: ok, ${execs:-?} executions, ${cov:-cov ?}" >"$result"
    fi
}

# The harnesses are single-threaded: JOBS of them run at once (each still gets SECS seconds).
mkdir -p "$BUILD/fuzz-logs"
for h in "${HARNESSES[@]}"; do
    rm -f "$BUILD/fuzz-logs/$h.result"
    while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
    run_one "$h" &
done
wait

status=0
echo
for h in "${HARNESSES[@]}"; do
    line=$(cat "$BUILD/fuzz-logs/$h.result" 2>/dev/null || echo "$h: FAILED (no result)")
    echo "$line"
    [[ $line == "$h: ok,"* ]] || status=1
done
exit $status
