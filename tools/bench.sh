#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Interleaved loopback benchmark: the same turnbench workloads against traverse (1 and 2 workers),
# coturn's turnserver when installed (1 and 2 relay threads) and the raw recvmmsg/sendmmsg
# baselines (echo and forwarder), repeated R times; prints medians and ratios, per server CPU
# second where that applies. Loopback only; every step bounded in time.
#
# usage: tools/bench.sh [--quick] [--reps R] [--duration S] [--build DIR] [--json-out FILE]
#                       [--no-gso]
#   --quick   one repetition of 1 s runs, 1-worker targets only (about 20 s)
#   default   5 repetitions of 2 s runs (about 5 minutes)
#   --no-gso  traverse with relay.udp_gso: false (every relayed datagram sent on its own)
# Per-CPU figures use utime+stime from /proc/PID/stat (10 ms ticks): short runs are coarse.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$ROOT/build"
REPS=5
DUR=2
GSO=true
QUICK=0
ALLOCS=3000
JSON_OUT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; REPS=1; DUR=1; ALLOCS=1000; shift ;;
    --reps) REPS="$2"; shift 2 ;;
    --duration) DUR="$2"; shift 2 ;;
    --build) BUILD="$2"; shift 2 ;;
    --json-out) JSON_OUT="$2"; shift 2 ;;
    --no-gso) GSO=false; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

TRAVERSE="$BUILD/server/app/traverse"
TB="$BUILD/tools/turnbench"
for bin in "$TRAVERSE" "$TB"; do
  [[ -x "$bin" ]] || { echo "bench.sh: $bin not built (cmake --build $BUILD)" >&2; exit 2; }
done
COTURN=$(command -v turnserver || true)

WORK=$(mktemp -d /tmp/traverse-bench.XXXXXX)
RESULTS="$WORK/results.jsonl"
: > "$RESULTS"
declare -A PID PORT
cleanup() {
  for t in "${!PID[@]}"; do kill "${PID[$t]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Ports: listeners 34510..34561, relay windows 12000..27999 (below the ephemeral range).
start_traverse() { # name workers port relay_first relay_last
  local name=$1 workers=$2 port=$3 first=$4 last=$5
  cat > "$WORK/$name.yaml" <<EOF
server:
  software: "Traverse-bench"
  workers: $workers
listen:
  - transport: udp
    address: 127.0.0.1
    port: $port
auth:
  realm: bench
  users:
    - name: alice
      password: wonderland
relay:
  addresses: [127.0.0.1]
  port_range: $first-$last
  rfc5766_channel_numbers: true
  udp_gso: $GSO
peers:
  allow: [127.0.0.1/32]
quotas:
  max_allocations_per_user: 16000
  max_allocations_per_ip: 16000
  max_allocations: 16000
  challenges_per_second: 100000
logging:
  level: warn
EOF
  "$TRAVERSE" --config "$WORK/$name.yaml" > "$WORK/$name.log" 2>&1 &
  PID[$name]=$!
  PORT[$name]=$port
}

start_coturn() { # name threads port relay_first relay_last
  local name=$1 threads=$2 port=$3 first=$4 last=$5
  "$COTURN" -n --listening-ip=127.0.0.1 --listening-port="$port" --relay-ip=127.0.0.1 \
    --min-port="$first" --max-port="$last" --lt-cred-mech --user=alice:wonderland --realm=bench \
    --allow-loopback-peers --no-tls --no-dtls --no-cli --no-tcp-relay --relay-threads="$threads" \
    --log-file=stdout --simple-log > "$WORK/$name.log" 2>&1 &
  PID[$name]=$!
  PORT[$name]=$port
}

wait_ready() { # name: a few Binding requests must come back within about 10 s
  local name=$1
  for _ in $(seq 1 40); do
    if "$TB" binding --server "127.0.0.1:${PORT[$name]}" --duration 0.2 --rate 50 --json \
         2>/dev/null | grep -q '"lost": 0,'; then
      return 0
    fi
    kill -0 "${PID[$name]}" 2>/dev/null || break
    sleep 0.25
  done
  echo "bench.sh: $name did not come up; log:" >&2
  cat "$WORK/$name.log" >&2
  exit 1
}

TARGETS=(traverse-w1)
start_traverse traverse-w1 1 34510 12000 15999
if [[ $QUICK -eq 0 ]]; then
  TARGETS+=(traverse-w2)
  start_traverse traverse-w2 2 34520 16000 19999
fi
if [[ -n "$COTURN" ]]; then
  TARGETS+=(coturn-m1)
  start_coturn coturn-m1 1 34530 20000 23999
  if [[ $QUICK -eq 0 ]]; then
    TARGETS+=(coturn-m2)
    start_coturn coturn-m2 2 34540 24000 27999
  fi
else
  echo "bench.sh: turnserver not installed; coturn columns left out" >&2
fi
TARGETS+=(raw)
"$TB" echo --listen 127.0.0.1:34550 --duration 900 > "$WORK/raw-echo.log" 2>&1 &
PID[raw-echo]=$!
PORT[raw]=34550
"$TB" echo-forward --listen 127.0.0.1:34560 --peer 127.0.0.1:34561 --duration 900 \
  > "$WORK/raw-forward.log" 2>&1 &
PID[raw-forward]=$!
PID[raw]=${PID[raw-echo]}

for t in "${TARGETS[@]}"; do wait_ready "$t"; done

CRED=(--user alice --password wonderland)
run() { # target workload rep args...
  local target=$1 workload=$2 rep=$3
  shift 3
  local out
  if out=$(timeout 60 "$TB" "$@" --json 2>"$WORK/last.err"); then
    echo "{\"target\": \"$target\", \"workload\": \"$workload\", \"rep\": $rep, \"result\": $out}" \
      >> "$RESULTS"
  else
    echo "bench.sh: $target $workload failed: $(cat "$WORK/last.err")" >&2
  fi
}

echo "bench.sh: targets ${TARGETS[*]}; $REPS repetition(s) of ${DUR}s runs" >&2
for rep in $(seq 1 "$REPS"); do
  # Allocations first, so that the first repetition measures RSS growth on a fresh server.
  for t in "${TARGETS[@]}"; do
    [[ $t == raw ]] && continue
    run "$t" allocs "$rep" allocs --server "127.0.0.1:${PORT[$t]}" "${CRED[@]}" --count "$ALLOCS" \
      --pid "${PID[$t]}"
  done
  for t in "${TARGETS[@]}"; do
    if [[ $t == raw ]]; then
      run raw binding "$rep" binding --server 127.0.0.1:34550 --duration "$DUR" --pid "${PID[raw-echo]}"
    else
      run "$t" binding "$rep" binding --server "127.0.0.1:${PORT[$t]}" --duration "$DUR" --pid "${PID[$t]}"
    fi
  done
  for t in "${TARGETS[@]}"; do
    if [[ $t == raw ]]; then
      run raw channel "$rep" relay --raw --server 127.0.0.1:34560 --peer-port 34561 \
        --allocations 4 --size 200 --duration "$DUR" --pid "${PID[raw-forward]}"
    else
      run "$t" channel "$rep" relay --server "127.0.0.1:${PORT[$t]}" "${CRED[@]}" \
        --allocations 4 --size 200 --duration "$DUR" --channels --pid "${PID[$t]}"
    fi
  done
  for t in "${TARGETS[@]}"; do
    [[ $t == raw ]] && continue
    run "$t" indication "$rep" relay --server "127.0.0.1:${PORT[$t]}" "${CRED[@]}" \
      --allocations 4 --size 200 --duration "$DUR" --send-indications --pid "${PID[$t]}"
  done
  for t in "${TARGETS[@]}"; do
    if [[ $t == raw ]]; then
      run raw paced20k "$rep" relay --raw --server 127.0.0.1:34560 --peer-port 34561 \
        --allocations 4 --size 200 --rate 20000 --duration "$DUR" --pid "${PID[raw-forward]}"
    else
      run "$t" paced20k "$rep" relay --server "127.0.0.1:${PORT[$t]}" "${CRED[@]}" \
        --allocations 4 --size 200 --rate 20000 --duration "$DUR" --channels --pid "${PID[$t]}"
    fi
  done
done

[[ -n "$JSON_OUT" ]] && cp "$RESULTS" "$JSON_OUT"

python3 - "$RESULTS" "$ALLOCS" "${TARGETS[@]}" <<'EOF'
import json, statistics, sys
path, allocs, targets = sys.argv[1], sys.argv[2], sys.argv[3:]
rows = [json.loads(line) for line in open(path)]
def med(target, workload, key):
    vals = [r["result"][key] for r in rows
            if r["target"] == target and r["workload"] == workload and key in r["result"]]
    if not vals:
        return None
    # RSS only grows on a fresh server: the first repetition is the one that measures it.
    return vals[0] if key == "rss_per_alloc_bytes" else statistics.median(vals)
metrics = [
    ("binding", "answered_per_s", "Binding answered/s"),
    ("binding", "answered_per_cpu_s", "Binding answered per server CPU-s"),
    ("binding", "rtt_p99_us", "Binding RTT p99 (us, at max rate)"),
    ("channel", "relayed_per_s", "ChannelData relayed pkt/s (both ways)"),
    ("channel", "relayed_per_cpu_s", "ChannelData relayed per server CPU-s"),
    ("channel", "loss_pct", "ChannelData loss %"),
    ("indication", "relayed_per_s", "Send/Data relayed pkt/s (both ways)"),
    ("indication", "relayed_per_cpu_s", "Send/Data relayed per server CPU-s"),
    ("paced20k", "rtt_p50_us", "Paced 20k pps RTT p50 (us)"),
    ("paced20k", "rtt_p99_us", "Paced 20k pps RTT p99 (us)"),
    ("paced20k", "loss_pct", "Paced 20k pps loss %"),
    ("allocs", "allocs_per_s", f"Allocations/s ({allocs}, 64 in flight)"),
    ("allocs", "allocs_per_cpu_s", "Allocations per server CPU-s"),
    ("allocs", "rss_per_alloc_bytes", "RSS growth per allocation, fresh server (bytes)"),
]
def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"
pairs = [(a, b) for a, b in [("traverse-w1", "coturn-m1"), ("traverse-w2", "coturn-m2"),
                             ("traverse-w1", "raw")] if a in targets and b in targets]
head = ["metric (median)"] + targets + [f"{a}/{b}" for a, b in pairs]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for workload, key, label in metrics:
    vals = [med(t, workload, key) for t in targets]
    ratios = []
    for a, b in pairs:
        va, vb = med(a, workload, key), med(b, workload, key)
        ratios.append(f"{va / vb:.2f}x" if va is not None and vb and "loss" not in key else "-")
    print("| " + " | ".join([label] + [fmt(v) for v in vals] + ratios) + " |")
EOF
