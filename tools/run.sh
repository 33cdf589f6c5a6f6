#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sets up (Debian packages, build, dev certificate and REST secret) and runs both servers on
# localhost: traverse on config/traverse.yaml (STUN/TURN on udp/tcp 127.0.0.1:3478 and
# [::1]:3478, TLS on 5349, metrics on 127.0.0.1:9641) and traverse-signal on 127.0.0.1:8080
# (demo page /, WebSocket /ws, GET /ice; metrics on 127.0.0.1:9642). The scrape config
# monitoring/prometheus/prometheus.example.yaml points at both metrics endpoints.
# Extra arguments go to traverse. Ctrl-C stops both.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/setup/install-deps.sh" build
"$root/tools/build.sh"
"$root/tools/gen-dev-files.sh"
"$root/build/server/app/traverse-signal" --listen 127.0.0.1:8080 \
    --turn-secret-file "$root/config/dev/rest-secret" --metrics 127.0.0.1:9642 &
signal_pid=$!
trap 'kill "$signal_pid" 2>/dev/null || true' EXIT
"$root/build/server/app/traverse" --config "$root/config/traverse.yaml" "$@"
