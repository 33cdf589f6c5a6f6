#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets with clang (ASan+UBSan, build dir build-fuzz) and fuzzes each one.
# Usage: tools/fuzz.sh [--ci] [--seconds N] [--jobs N] [TARGET...]
#   --ci         short bounded run for CI: 20 s per target unless --seconds says otherwise;
#                new inputs go to a scratch directory, the tree is left untouched
#   --seconds N  time per target (default 20 with --ci, else 300)
#   --merge      keep new coverage: merge what the run found into tests/fuzz/corpus/<target>/
#   TARGET       stun_parse stun_round_trip channel_data stream_framer config_yaml
#                signaling_hub turn_engine (default: all)
# A crash leaves the input in the scratch directory (printed) and the script fails; add that
# file to tests/fuzz/corpus/<target>/ with the fix, and the replay test keeps it fixed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
all=(stun_parse stun_round_trip channel_data stream_framer config_yaml signaling_hub turn_engine)
ci=0
seconds=""
merge=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
    --ci) ci=1 ;;
    --seconds) seconds="$2"; shift ;;
    --merge) merge=1 ;;
    -h|--help) sed -n '3,13p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1") ;;
    esac
    shift
done
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
if [ -z "$seconds" ]; then
    if [ "$ci" = 1 ]; then seconds=20; else seconds=300; fi
fi
cxx="${TRAVERSE_FUZZ_CXX:-clang++-14}"
command -v "$cxx" >/dev/null || { echo "fuzz.sh: $cxx not found (tools/setup/install-deps.sh test)" >&2; exit 1; }

build="$root/build-fuzz"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
echo "== fuzz: configure $build ($cxx, libFuzzer + ASan + UBSan)"
cmake -S "$root" -B "$build" "${generator[@]}" "${launcher[@]}" -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRAVERSE_BUILD_FUZZERS=ON \
    -DTRAVERSE_SANITIZE=address,undefined >/dev/null
echo "== fuzz: build"
cmake --build "$build" --parallel "${TRAVERSE_FUZZ_BUILD_JOBS:-2}" \
    --target $(printf '%s_fuzz ' "${targets[@]}")

scratch="$(mktemp -d "${TMPDIR:-/tmp}/traverse-fuzz.XXXXXX")"
failed=()
for t in "${targets[@]}"; do
    corpus="$root/tests/fuzz/corpus/$t"
    work="$scratch/$t"
    mkdir -p "$work/new" "$work/artifacts"
    echo "== fuzz: $t for ${seconds}s"
    # The seed corpus is read-only input; new inputs land in $work/new.
    if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$build/tests/fuzz/${t}_fuzz" "$work/new" "$corpus" -max_total_time="$seconds" \
        -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" >"$work/log" 2>&1; then
        failed+=("$t")
        echo "fuzz.sh: $t FAILED; input(s) in $work/artifacts:" >&2
        ls -l "$work/artifacts" >&2 || true
        grep -E "ERROR|invariant|SUMMARY|runtime error" "$work/log" | head -20 >&2 || true
        continue
    fi
    grep -E "stat::number_of_executed_units|cov:" "$work/log" | tail -2 || true
    if [ "$merge" = 1 ]; then
        "$build/tests/fuzz/${t}_fuzz" -merge=1 "$corpus" "$work/new" >/dev/null 2>&1
        echo "   merged into $corpus ($(ls "$corpus" | wc -l) files)"
    fi
done
if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz.sh: failures in: ${failed[*]} (logs and inputs under $scratch)" >&2
    exit 1
fi
rm -rf "$scratch"
echo "== fuzz: all ${#targets[@]} targets ran ${seconds}s each without a failure"
