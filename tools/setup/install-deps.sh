#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages Traverse builds and tests with; a no-op when all are present.
# Usage: tools/setup/install-deps.sh [build|test]   (test adds the interop clients)
set -euo pipefail

want=(
    build-essential cmake pkg-config ninja-build
    libboost1.81-dev libssl-dev libyaml-cpp-dev prometheus-cpp-dev doctest-dev
    nlohmann-json3-dev openssl
)
if [ "${1:-build}" = "test" ]; then
    # Third-party clients the interop tests drive, and python3 for the test scripts.
    want+=(coturn stun-client python3 python3-aioice python3-websocket iproute2 procps chromium)
    # nftables: the NAT lab (tests/nat) builds real Linux NAT in network namespaces.
    want+=(nftables)
    # systemd-analyze checks the shipped unit file.
    want+=(systemd)
    # promtool and prometheus: the monitoring tests check the rules and scrape a live server.
    want+=(prometheus)
    # clang 14 and its runtime (libFuzzer, sanitizers): tools/fuzz.sh builds the fuzz targets.
    want+=(clang-14 libclang-rt-14-dev)
    # redis-server: traverse-signal's scale-out tests run two nodes on a real Redis.
    want+=(redis-server)
    # Node.js and npm drive Chromium for tests/interop/webrtc. The machines ship NodeSource's
    # nodejs (with npm); Debian's npm would pull Debian's older nodejs, so only as a fallback.
    command -v node >/dev/null 2>&1 || want+=(nodejs)
    command -v npm >/dev/null 2>&1 || want+=(npm)
fi

missing=()
for pkg in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#want[@]} packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or: sudo $0 $*)" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Do not let package scripts start daemons (coturn) on the build machine.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
