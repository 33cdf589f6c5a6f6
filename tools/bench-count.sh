#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Per-packet cost of traverse's data path that does not depend on how busy the machine is:
# user-space instructions per packet (valgrind callgrind, counters zeroed once the server is up,
# so startup is excluded) and system calls per packet (perf's raw_syscalls:sys_enter on a native
# run). One worker, loopback only, windowed load (the server is the bottleneck, as at max rate).
#
# usage: tools/bench-count.sh [--build DIR] [--duration S] [--no-callgrind] [--no-syscalls]
#                             [--keep DIR] [WORKLOAD...]     WORKLOAD: binding channel indication (default all)
# --keep DIR saves each callgrind profile as DIR/WORKLOAD.callgrind (for callgrind_annotate).
# Needs valgrind and perf (Debian packages valgrind and linux-perf); perf must be allowed to
# read tracepoints (root, or kernel.perf_event_paranoid <= 1).
# Prints one line per workload and measurement, e.g.
#   channel  callgrind  packets=61234  instr/packet=1234
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$ROOT/build"
DUR=3
CALLGRIND=1
SYSCALLS=1
KEEP=""
WORKLOADS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --duration) DUR="$2"; shift 2 ;;
    --no-callgrind) CALLGRIND=0; shift ;;
    --no-syscalls) SYSCALLS=0; shift ;;
    --keep) KEEP="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    binding|channel|indication) WORKLOADS+=("$1"); shift ;;
    *) echo "bench-count.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ ${#WORKLOADS[@]} -eq 0 ]] && WORKLOADS=(binding channel indication)

TRAVERSE="$BUILD/server/app/traverse"
TB="$BUILD/tools/turnbench"
[[ $CALLGRIND -eq 0 ]] || command -v valgrind > /dev/null ||
  { echo "bench-count.sh: valgrind not installed (apt-get install valgrind)" >&2; exit 2; }
[[ $SYSCALLS -eq 0 ]] || command -v perf > /dev/null ||
  { echo "bench-count.sh: perf not installed (apt-get install linux-perf)" >&2; exit 2; }
for bin in "$TRAVERSE" "$TB"; do
  [[ -x "$bin" ]] || { echo "bench-count.sh: $bin not built" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/traverse-count.XXXXXX)
SERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$((35000 + RANDOM % 2000))
cat > "$WORK/traverse.yaml" <<EOF
server:
  workers: 1
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
  port_range: 40000-40999
  rfc5766_channel_numbers: true
peers:
  allow: [127.0.0.1/32]
quotas:
  challenges_per_second: 100000
logging:
  level: warn
EOF

start_server() { # prefix command words...
  "$@" "$TRAVERSE" --config "$WORK/traverse.yaml" > "$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 120); do
    if "$TB" binding --server "127.0.0.1:$PORT" --duration 0.3 --rate 20 --json 2>/dev/null |
         grep -q '"received": [1-9]'; then
      return 0
    fi
    sleep 0.5
  done
  echo "bench-count.sh: server did not come up" >&2
  cat "$WORK/server.log" >&2
  exit 1
}

stop_server() {
  kill -INT "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

workload() { # name -> runs turnbench, prints its JSON
  local args=(--server "127.0.0.1:$PORT" --duration "$DUR" --json)
  case "$1" in
    binding) "$TB" binding "${args[@]}" ;;
    channel) "$TB" relay "${args[@]}" --user alice --password wonderland --allocations 4 \
               --size 200 --channels ;;
    indication) "$TB" relay "${args[@]}" --user alice --password wonderland --allocations 4 \
                  --size 200 --send-indications ;;
  esac
}

packets() { # json -> packets the server handled (answers, or datagrams relayed both ways)
  /usr/bin/python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
if r["mode"] == "binding":
    print(int(r["received"]))
else:
    print(int(round(r["relayed_per_s"] * r["send_seconds"])))'
}

for w in "${WORKLOADS[@]}"; do
  if [[ $CALLGRIND -eq 1 ]]; then
    start_server valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p"
    sleep 0.5
    callgrind_control -z "$SERVER_PID" > /dev/null 2>&1
    json=$(workload "$w")
    callgrind_control -d "$SERVER_PID" > /dev/null 2>&1
    sleep 0.5
    stop_server
    n=$(packets <<< "$json")
    # The dump requested after the workload (file suffix .1) holds the costs since zeroing.
    instr=$(grep -h -E '^(totals|summary):' "$WORK"/cg.*.1 | head -1 | awk '{print $2}')
    loss=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["loss_pct"])' "$json")
    echo "$w  callgrind  packets=$n  loss%=$loss  instructions=$instr  instr/packet=$((instr / (n > 0 ? n : 1)))"
    [[ -n "$KEEP" ]] && mkdir -p "$KEEP" && cp "$WORK"/cg.*.1 "$KEEP/$w.callgrind"
    rm -f "$WORK"/cg.*
  fi
  if [[ $SYSCALLS -eq 1 ]]; then
    start_server
    perf stat -x, -e raw_syscalls:sys_enter -p "$SERVER_PID" -o "$WORK/perf.txt" &
    perf_pid=$!
    sleep 0.3
    json=$(workload "$w")
    kill -INT "$perf_pid"
    wait "$perf_pid" 2>/dev/null || true
    stop_server
    n=$(packets <<< "$json")
    calls=$(grep raw_syscalls "$WORK/perf.txt" | cut -d, -f1)
    per=$(/usr/bin/python3 -c "print(f'{$calls / max($n, 1):.3f}')")
    echo "$w  syscalls   packets=$n  syscalls=$calls  syscalls/packet=$per"
  fi
done
