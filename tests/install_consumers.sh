#!/usr/bin/env bash
# Checks that an installed libbitnet is usable and relocatable: installs a built tree into a
# temporary prefix, MOVES the prefix elsewhere, then builds and runs
#   1. examples/simple.c with nothing but pkg-config (cc ... $(pkg-config --cflags --libs bitnet)),
#   2. examples/cmake-consumer with find_package(bitnet CONFIG REQUIRED) / bitnet::bitnet,
# both on the tiny fixture model.
#
# Usage: tests/install_consumers.sh [BUILD_DIR] [FIXTURES_DIR]
#   BUILD_DIR     a configured and built tree (default: build)
#   FIXTURES_DIR  default: $BITNET_FIXTURES or <repo>/../shared/fixtures
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
FIXTURES=${2:-${BITNET_FIXTURES:-$ROOT/../shared/fixtures}}
MODEL="$FIXTURES/tiny-b158-i2s.gguf"
PROMPT="The quick brown fox jumps over the lazy dog."
CC=${CC:-cc}

fail() { echo "install_consumers.sh: FAIL: $*" >&2; exit 1; }
step() { printf '\n--> %s\n' "$*"; }

[ -f "$MODEL" ] || fail "fixture $MODEL not found (pass FIXTURES_DIR or set BITNET_FIXTURES)"
[ -f "$BUILD/CMakeCache.txt" ] || fail "$BUILD is not a CMake build tree"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bitnet-install.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

step "install into $WORK/staging"
cmake --install "$BUILD" --prefix "$WORK/staging" >/dev/null
PREFIX="$WORK/moved/elsewhere/prefix" # (no spaces: $(pkg-config ...) output cannot carry them)
mkdir -p "$(dirname "$PREFIX")"
mv "$WORK/staging" "$PREFIX"
echo "moved the prefix to $PREFIX"
# Nothing may still point at the first location.
if grep -rIl -- "$WORK/staging" "$PREFIX" >/dev/null 2>&1; then
    grep -rIl -- "$WORK/staging" "$PREFIX" >&2
    fail "installed files mention the original prefix: not relocatable"
fi

PC_FILE=$(find "$PREFIX" -name bitnet.pc -print -quit)
[ -n "$PC_FILE" ] || fail "bitnet.pc not installed"
PC_DIR=$(dirname "$PC_FILE")
CONFIG_FILE=$(find "$PREFIX" -name bitnetConfig.cmake -print -quit)
[ -n "$CONFIG_FILE" ] || fail "bitnetConfig.cmake not installed"

# ---- 1. pkg-config only ------------------------------------------------------------------------
step "pkg-config: build examples/simple.c"
pc() { PKG_CONFIG_PATH="$PC_DIR" PKG_CONFIG_LIBDIR="$PC_DIR" pkg-config "$@"; }
pc --exists bitnet || fail "pkg-config does not find bitnet in $PC_DIR"
LIBDIR=$(pc --variable=libdir bitnet)
INCDIR=$(pc --variable=includedir bitnet)
[ -f "$INCDIR/bitnet.h" ] || fail "pkg-config includedir $INCDIR has no bitnet.h"
ls "$LIBDIR"/libbitnet.so* >/dev/null 2>&1 || fail "pkg-config libdir $LIBDIR has no libbitnet.so"
echo "cflags: $(pc --cflags bitnet)"
echo "libs:   $(pc --libs bitnet)"
# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
"$CC" -std=c11 -Wall -Wextra -Werror "$ROOT/examples/simple.c" $(pc --cflags --libs bitnet) \
    -o "$WORK/simple"

step "pkg-config: run simple (LD_LIBRARY_PATH=libdir)"
out=$(LD_LIBRARY_PATH="$LIBDIR" "$WORK/simple" "$MODEL" "$PROMPT" 8) || fail "simple exited with $?"
printf '%s\n' "$out"
case "$out" in "$PROMPT"*) ;; *) fail "simple did not print the prompt first" ;; esac
[ "${#out}" -gt "${#PROMPT}" ] || fail "simple generated nothing"
# Errors are reported with the library's message and a non-zero status.
if LD_LIBRARY_PATH="$LIBDIR" "$WORK/simple" "$WORK/missing.gguf" x 1 2>"$WORK/err"; then
    fail "simple succeeded on a missing model"
fi
grep -q "missing.gguf" "$WORK/err" || fail "simple's error does not name the file: $(cat "$WORK/err")"

# ---- 2. CMake package ----------------------------------------------------------------------------
step "CMake: configure and build examples/cmake-consumer"
cmake -S "$ROOT/examples/cmake-consumer" -B "$WORK/cc" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_PREFIX_PATH=$PREFIX" >/dev/null
grep -q "bitnet_DIR:PATH=$(dirname "$CONFIG_FILE")" "$WORK/cc/CMakeCache.txt" ||
    fail "the consumer did not find the moved package: $(grep bitnet_DIR "$WORK/cc/CMakeCache.txt")"
cmake --build "$WORK/cc" >/dev/null

step "CMake: run bitnet_consumer (build-tree RPATH from the imported target)"
out=$("$WORK/cc/bitnet_consumer" "$MODEL" "$PROMPT") || fail "bitnet_consumer exited with $?"
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -q '^libbitnet [0-9]' || fail "no version line"
# The fox prompt is 11 tokens with BOS.
printf '%s\n' "$out" | grep -qx '11 tokens' || fail "expected '11 tokens'"

echo
echo "install_consumers.sh: OK (pkg-config and CMake consumers of a relocated prefix)"
