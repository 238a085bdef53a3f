#!/usr/bin/env bash
# Builds and installs the Python package offline into a throw-away virtual environment, exactly as
# users do (pip install --no-build-isolation --no-index), then runs the unit tests against the
# installed copy. The venv is fresh (no system site-packages): the package builds with its own
# stdlib-only backend (_build/backend.py), so neither setuptools nor wheel nor network is needed.
#
# Usage: check_install.sh [PYTHON]      (default python3; env BITNET_LIBRARY, BITNET_FIXTURES)
set -euo pipefail
PYTHON=${1:-python3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PKG=$(dirname "$HERE")

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Build from a copy: pip's in-tree build leaves build/ and *.egg-info/ behind.
mkdir "$WORK/src"
cp -r "$PKG/pyproject.toml" "$PKG/_build" "$PKG/bitnet" "$WORK/src/"
rm -rf "$WORK/src/bitnet/__pycache__" "$WORK/src/_build/__pycache__"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --no-build-isolation --no-index "$WORK/src"
# Run from elsewhere so that the source tree cannot be imported by accident.
cd "$WORK"
"$WORK/venv/bin/python" -c 'import bitnet, sys; print("installed", bitnet.__file__); sys.exit("site-packages" not in bitnet.__file__)'
BITNET_TEST_INSTALLED=1 "$WORK/venv/bin/python" -m unittest discover -s "$HERE" -v
