#!/bin/bash
# The AMX checks for a machine that has AMX but no build environment (issue 13):
#   bench/amx_device_check.sh pack BUILD_DIR PACK_DIR   (here: binaries + their shared libraries
#                                                        + the dynamic loader, about 50 MB)
#   bash PACK_DIR/amx_device_check.sh run               (there: CPU flags, test_amx with real
#                                                        tiles, test_kernels per ISA, the GEMM by
#                                                        token count, decode and pp512 per ISA)
# The pack runs its binaries through its own loader, so the target's libraries do not matter.
set -u
case "${1:-}" in
pack)
    build=$2 pack=$3
    mkdir -p "$pack"
    bins="$build/tests/test_amx $build/tests/test_kernels $build/bench/bench_kernels $build/bin/bitnet"
    cp $bins "$pack"/
    for lib in $(ldd $bins | awk '/=>/ {print $3}' | sort -u); do cp -L "$lib" "$pack"/; done
    cp -L "$(ldd "$build/bin/bitnet" | awk '/ld-linux/ {print $1}')" "$pack"/ld-linux.so
    cp "$0" "$pack"/
    du -sh "$pack"
    ;;
run)
    p=$(cd "$(dirname "$0")" && pwd)
    run="$p/ld-linux.so --library-path $p"  # then $run $p/BINARY (also under timeout)
    log() { echo "### $*"; }
    log cpu; grep -m1 "model name" /proc/cpuinfo; nproc
    grep -o -w 'amx_tile\|amx_int8\|avx512_vnni' /proc/cpuinfo | sort | uniq -c
    log version; $run $p/bitnet --version
    log test_amx; timeout 120 $run $p/test_amx 2>&1 | grep -E "^\[ +(OK|FAILED|SKIPPED|PASSED) |Skipped|Failure|AMX not used"
    for isa in amx avx512 avx2; do
        log "test_kernels BITNET_ISA=$isa"; BITNET_ISA=$isa timeout 120 $run $p/test_kernels 2>&1 | tail -2
    done
    log "gemm by token count (GOP/s), gemv from memory (GB/s), one thread"
    timeout 300 $run $p/bench_kernels --benchmark_min_time=0.1 \
        --benchmark_filter='i2s_gemm_tok.*/k:2560/rows:6912|i2s_gemv_dram/(avx2|avx512)' 2>/dev/null |
        grep i2s | awk '{print $1, $NF}'
    model=${MODEL:-/tmp/2b4t.gguf}
    [ -f "$model" ] || $run $p/bitnet gen-model --preset 2b4t -o "$model" | tail -1
    for isa in avx2 avx512 amx; do
        log "bitnet bench BITNET_ISA=$isa"
        BITNET_ISA=$isa timeout 300 $run $p/bitnet bench -m "$model" -p 512 -n 64 -r 2 -t 1,2 --roofline 2>/dev/null |
            grep -E "pp|tg|kernels|roofline"
    done
    ;;
*) echo "usage: $0 pack BUILD_DIR PACK_DIR | run" >&2; exit 2 ;;
esac
