#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Makes the development files the sample config uses, once, in config/dev/ (gitignored):
# a self-signed localhost certificate and key, and a random TURN REST API secret.
# For development and tests only: production servers use a real certificate and secret.
set -euo pipefail
dir="${1:-$(cd "$(dirname "$0")/.." && pwd)/config/dev}"
mkdir -p "$dir"
if [ ! -s "$dir/cert.pem" ] || [ ! -s "$dir/key.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
        -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
        -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
    chmod 600 "$dir/key.pem"
    echo "gen-dev-files: wrote $dir/cert.pem and $dir/key.pem"
fi
if [ ! -s "$dir/rest-secret" ]; then
    (umask 077 && openssl rand -hex 32 >"$dir/rest-secret")
    echo "gen-dev-files: wrote $dir/rest-secret"
fi
