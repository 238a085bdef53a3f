#!/bin/sh
# Cross-compiles test_kernels for aarch64 (NEON kernels) and runs it under qemu-user.
# Needs: apt-get install g++-aarch64-linux-gnu qemu-user (and the googletest sources in
# /usr/src/googletest, from libgtest-dev). Usage: tests/run_kernels_aarch64.sh [gtest args]
set -eu
cd "$(dirname "$0")/.."
out=${BITNET_AARCH64_BUILD:-build-aarch64}
gt=/usr/src/googletest/googletest
cxx="aarch64-linux-gnu-g++ -std=c++20 -O2 -Iinclude -Ilib -I. -Itests -isystem $gt/include"
mkdir -p "$out"
[ -f "$out/gtest.o" ] || $cxx -I"$gt" -c "$gt/src/gtest-all.cc" -o "$out/gtest.o"
[ -f "$out/gtest_main.o" ] || $cxx -I"$gt" -c "$gt/src/gtest_main.cc" -o "$out/gtest_main.o"
for src in kernels/*_scalar.cpp kernels/dispatch.cpp lib/common/log.cpp tests/test_kernels.cpp tests/test_rowwise.cpp; do
    # kernels/ is built with -ffp-contract=off, as in CMakeLists.txt
    $cxx -ffp-contract=off -c "$src" -o "$out/$(basename "$src" .cpp).o"
done
for src in kernels/*_neon.cpp; do
    $cxx -ffp-contract=off -march=armv8.2-a+dotprod+fp16 -c "$src" -o "$out/$(basename "$src" .cpp).o"
done
aarch64-linux-gnu-g++ -static "$out"/*.o -o "$out/test_kernels" -lpthread 2>"$out/link.log" || { cat "$out/link.log" >&2; exit 1; }
# -cpu max has dotprod and fp16; e.g. -cpu cortex-a57 (no dotprod) checks the scalar fallback.
qemu-aarch64 -cpu "${QEMU_CPU:-max}" "$out/test_kernels" "$@"
