#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sets up (Debian packages, build, dev certificate) and runs traverse on config/traverse.yaml:
# STUN on udp/tcp 127.0.0.1:3478 and [::1]:3478, TLS on 5349. Extra arguments go to traverse.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/setup/install-deps.sh" build
"$root/tools/build.sh"
"$root/tools/gen-dev-files.sh"
exec "$root/build/server/app/traverse" --config "$root/config/traverse.yaml" "$@"
