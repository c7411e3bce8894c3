#!/usr/bin/env bash
# Installs what building and testing Kotak needs on Debian 12, when missing:
# libclang for the RocksDB bindings, and the real mail clients the tests drive.
set -euo pipefail

need=()
for pkg in libclang1-14 libclang-common-14-dev isync curl fetchmail openssl offlineimap3; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "deps: installing ${need[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! python3 -c 'import pytest' 2>/dev/null; then
    echo "deps: installing pytest" >&2
    python3 -m pip install -q pytest
fi
