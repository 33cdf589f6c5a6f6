#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Makes the self-signed localhost certificate the sample config uses (config/dev-tls/), once.
# For development and tests only: production servers use a real certificate.
set -euo pipefail
dir="${1:-$(cd "$(dirname "$0")/.." && pwd)/config/dev-tls}"
if [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ]; then
    exit 0
fi
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
    -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 600 "$dir/key.pem"
echo "gen-dev-cert: wrote $dir/cert.pem and $dir/key.pem"
