#!/usr/bin/env bash
# Quick start: install dependencies (Debian packages, then the npm packages the tests use), build, write the default random-weight model and generate
# text from it. The weights are random, so the text is gibberish; see README for the real
# BitNet b1.58 2B4T model.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tools/install-deps.sh
# Node packages of the test suite (koffi for bindings/node, openai for the `bitnet serve`
# tests): ctest fails on these tests without them.
(cd bindings/node && npm ci --no-audit --no-fund)
(cd tests/serve && npm ci --no-audit --no-fund)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build
if [ ! -f models/default.gguf ]; then
    mkdir -p models
    build/bin/bitnet gen-model --preset small -o models/default.gguf
fi
build/bin/bitnet generate -m models/default.gguf -p "The quick brown fox" -n 64 --temp 0.8 --seed 1
