#!/usr/bin/env bash
# The version has one source, the BITNET_VERSION_* macros of include/bitnet.h (CMake reads them
# for the library, pkg-config and CMake package files). The bindings ship their own package
# metadata, so this check fails when one of those drifts from the header.
# Usage: tests/check_versions.sh [source-dir]
set -euo pipefail
SRC=$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd)

macro() { sed -n "s/^#define BITNET_VERSION_$1 \([0-9][0-9]*\)$/\1/p" "$SRC/include/bitnet.h"; }
want="$(macro MAJOR).$(macro MINOR).$(macro PATCH)"
[[ $want =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "cannot read the version macros" >&2; exit 1; }

status=0
check() {  # check FILE FOUND
    if [[ $2 == "$want" ]]; then
        echo "ok   - $1: $2"
    else
        echo "FAIL - $1: '$2', the header says $want"
        status=1
    fi
}
check bindings/python/pyproject.toml \
    "$(sed -n 's/^version = "\(.*\)"$/\1/p' "$SRC/bindings/python/pyproject.toml")"
check bindings/python/bitnet/__init__.py \
    "$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$SRC/bindings/python/bitnet/__init__.py")"
check bindings/node/package.json \
    "$(node -p "require('$SRC/bindings/node/package.json').version")"
check bindings/node/package-lock.json \
    "$(node -p "require('$SRC/bindings/node/package-lock.json').version")"
exit $status
