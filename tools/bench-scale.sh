#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Scale check: many concurrent allocations (default 16,000: a full 16 k port range) on a
# 2-worker traverse, all carrying paced ChannelData, compared with a small run at the same packet
# rate (loss must not grow with the allocation count); and the server's RSS before the
# allocations, at their peak, and after they ended (is the memory returned?). Loopback only.
#
# usage: tools/bench-scale.sh [--build DIR] [--allocations N] [--small N] [--rate PPS]
#                             [--duration S] [--workers W]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$ROOT/build"
N=16000
SMALL=1000
RATE=20000
DUR=10
WORKERS=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --allocations) N="$2"; shift 2 ;;
    --small) SMALL="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --duration) DUR="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "bench-scale.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
TRAVERSE="$BUILD/server/app/traverse"
TB="$BUILD/tools/turnbench"
for bin in "$TRAVERSE" "$TB"; do
  [[ -x "$bin" ]] || { echo "bench-scale.sh: $bin not built" >&2; exit 2; }
done

# One relay socket per allocation in the server, one client socket per allocation in turnbench:
# each process needs N descriptors and some slack.
NOFILE=$((N + 1024))
if (( $(ulimit -Hn) < NOFILE )); then
  ulimit -Hn "$NOFILE" 2>/dev/null ||
    { echo "bench-scale.sh: hard fd limit $(ulimit -Hn) < $NOFILE and cannot be raised" >&2; exit 1; }
fi
ulimit -n "$NOFILE"

WORK=$(mktemp -d /tmp/traverse-scale.XXXXXX)
SERVER_PID=""
SAMPLER_PID=""
cleanup() {
  [[ -n "$SAMPLER_PID" ]] && kill "$SAMPLER_PID" 2>/dev/null || true
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$((37000 + RANDOM % 2000))
# A relay range with 1/8 slack over N, split evenly between the workers (SO_REUSEPORT spreads
# clients by hash, so one worker gets a few more than N / WORKERS).
FIRST=12000 # below the ephemeral range, where the client sockets get their ports
LAST=$((FIRST + N + N / 8))
cat > "$WORK/traverse.yaml" <<EOF
server:
  workers: $WORKERS
listen:
  - transport: udp
    address: 127.0.0.1
    port: $PORT
auth:
  realm: bench
  users:
    - name: alice
      password: wonderland
relay:
  addresses: [127.0.0.1]
  port_range: $FIRST-$LAST
  rfc5766_channel_numbers: true
peers:
  allow: [127.0.0.1/32]
quotas:
  max_allocations_per_user: $((N + 1000))
  max_allocations_per_ip: $((N + 1000))
  max_allocations: $((N + 1000))
  challenges_per_second: 100000
logging:
  level: warn
EOF
"$TRAVERSE" --config "$WORK/traverse.yaml" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
up=0
for _ in $(seq 1 40); do
  if "$TB" binding --server "127.0.0.1:$PORT" --duration 0.2 --rate 50 --json 2>/dev/null |
       grep -q '"received": [1-9]'; then
    up=1
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.25
done
if [[ $up -eq 0 ]]; then
  echo "bench-scale.sh: traverse did not come up; log:" >&2
  cat "$WORK/server.log" >&2
  exit 1
fi

rss() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
relay() { # allocations -> JSON of one paced ChannelData run
  "$TB" relay --server "127.0.0.1:$PORT" --user alice --password wonderland --allocations "$1" \
    --size 200 --rate "$RATE" --duration "$DUR" --channels --pid "$SERVER_PID" --json
}

rss_start=$(rss)
small=$(relay "$SMALL")
sleep 2.5 # a tick or two: released allocations freed, memory trimmed
rss_before=$(rss)
# Peak: sample RSS while the big run sets up, relays and releases.
( peak=0; while kill -0 "$SERVER_PID" 2>/dev/null; do
    r=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
    (( r > peak )) && peak=$r && echo "$peak" > "$WORK/peak"
    sleep 0.1
  done ) &
SAMPLER_PID=$!
big=$(relay "$N")
sleep 2.5
rss_after=$(rss)
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
rss_peak=$(cat "$WORK/peak")

/usr/bin/python3 - "$small" "$big" "$rss_start" "$rss_before" "$rss_peak" "$rss_after" \
  "$SMALL" "$N" "$RATE" "$DUR" "$WORKERS" <<'EOF'
import json, sys
small, big = json.loads(sys.argv[1]), json.loads(sys.argv[2])
start, before, peak, after = (int(v) for v in sys.argv[3:7])
n_small, n, rate, dur, workers = sys.argv[7:12]
print(f"traverse, {workers} workers, paced ChannelData at {rate} pkt/s, 200-byte payloads, {dur} s")
print("| allocations | sent | received | loss % | RTT p50 (us) | RTT p99 (us) | relayed per server CPU-s |")
print("|---|---|---|---|---|---|---|")
for count, r in ((n_small, small), (n, big)):
    print(f"| {int(count):,} | {r['sent']:,} | {r['received']:,} | {r['loss_pct']:.3f} | "
          f"{r['rtt_p50_us']:.0f} | {r['rtt_p99_us']:.0f} | {r['relayed_per_cpu_s']:,.0f} |")
per = (peak - before) * 1024 / int(n)
print()
print(f"server RSS (KiB): at start {start:,}; before the {int(n):,}-allocation run {before:,}; "
      f"peak {peak:,}; after they ended {after:,}")
print(f"peak growth per allocation: {per:,.0f} bytes (server RSS only: kernel socket buffers "
      f"are not in it); returned after the run: {(peak - after) / max(peak - before, 1) * 100:.0f}% "
      f"of the growth")
EOF
