#!/usr/bin/env bash
# Builds and installs the Python package offline into a throw-away virtual environment, exactly as
# users do (pip install --no-build-isolation --no-index), then runs the unit tests against the
# installed copy. Exit status 77 (CTest: skipped) when this Python cannot build wheels offline
# (it needs setuptools >= 61 and, for setuptools < 70.1, wheel: Debian's python3-setuptools,
# python3-wheel and python3-venv).
#
# Usage: check_install.sh [PYTHON]      (default python3; env BITNET_LIBRARY, BITNET_FIXTURES)
set -euo pipefail
PYTHON=${1:-python3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PKG=$(dirname "$HERE")

if ! "$PYTHON" - <<'PY'
import sys
try:
    import setuptools, venv  # noqa: F401
except ImportError as e:
    sys.exit(f"{e}")
major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
if (major, minor) < (61, 0):
    sys.exit(f"setuptools {setuptools.__version__} is older than 61")
if (major, minor) < (70, 1):
    try:
        import wheel  # noqa: F401
    except ImportError:
        sys.exit(f"setuptools {setuptools.__version__} needs the 'wheel' package to build wheels")
PY
then
    echo "check_install.sh: $PYTHON cannot build the package offline; skipped" >&2
    exit 77
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Build from a copy: pip's in-tree build leaves build/ and *.egg-info/ behind.
mkdir "$WORK/src"
cp -r "$PKG/pyproject.toml" "$PKG/bitnet" "$WORK/src/"
rm -rf "$WORK/src/bitnet/__pycache__"
"$PYTHON" -m venv --system-site-packages "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --no-build-isolation --no-index "$WORK/src"
# Run from elsewhere so that the source tree cannot be imported by accident.
cd "$WORK"
"$WORK/venv/bin/python" -c 'import bitnet, sys; print("installed", bitnet.__file__); sys.exit("site-packages" not in bitnet.__file__)'
BITNET_TEST_INSTALLED=1 "$WORK/venv/bin/python" -m unittest discover -s "$HERE" -v
