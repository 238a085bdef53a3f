#!/usr/bin/env bash
# Installs the Debian packages libbitnet needs to build and test (skips apt when all are there).
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config libopenblas-dev libhwloc-dev libpcre2-dev
      libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev libcpp-httplib-dev
      libsentencepiece-dev sentencepiece
      python3 python3-numpy python3-setuptools python3-wheel python3-venv clang libclang-rt-14-dev doxygen nodejs npm
      g++-aarch64-linux-gnu qemu-user curl
      chromium nginx)  # chromium: the chat page test (tests/serve); nginx: the two-replica test
missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
# node/npm/python3 may come from elsewhere (pyenv, nodesource): do not install Debian's then.
filtered=()
for p in "${missing[@]}"; do
    case "$p" in
        nodejs | npm) command -v node >/dev/null && command -v npm >/dev/null && continue ;;
        python3) command -v python3 >/dev/null && continue ;;
    esac
    filtered+=("$p")
done
if ((${#filtered[@]} == 0)); then
    echo "install-deps: all build dependencies are installed"
    exit 0
fi
echo "install-deps: installing ${filtered[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${filtered[@]}"
