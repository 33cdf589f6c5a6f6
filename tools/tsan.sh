#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the threaded parts under ThreadSanitizer (build dir build-tsan: traverse with its
# worker threads, shared quota and reservation registry and metrics threads, and the
# shared-state unit test) and runs the tests that exercise them concurrently. A data race makes
# the server exit non-zero (TSan's exitcode 66), which fails the test that stopped it.
# traverse-signal is left out: it runs on one io_context on one thread (server.hpp), so TSan has
# nothing to check there, and its Beast-heavy build would double this step's time; the ASan
# build runs its tests.
# Usage: tools/tsan.sh            (TRAVERSE_SOAK_SECONDS applies to the soak, default 10 here)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-tsan"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
echo "== tsan: configure $build (-fsanitize=thread)"
cmake -S "$root" -B "$build" "${generator[@]}" "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTRAVERSE_SANITIZE=thread >/dev/null
echo "== tsan: build traverse, traverse_worker_tests"
cmake --build "$build" --parallel "${TRAVERSE_TSAN_BUILD_JOBS:-$(nproc)}" \
    --target traverse traverse_worker_tests
echo "== tsan: run"
# Integration suites that drive several workers at once (two by default), the metrics threads,
# floods and churn; the soak is shortened (TSan slows the server ~5x).
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0 second_deadlock_stack=1}"
TRAVERSE_SOAK_SECONDS="${TRAVERSE_SOAK_SECONDS:-10}" \
TRAVERSE_SOAK_MIN_ALLOCATIONS="${TRAVERSE_SOAK_MIN_ALLOCATIONS:-100}" \
    ctest --test-dir "$build" --output-on-failure -j2 --timeout 300 \
        -R '^(traverse_worker_tests|integration\.(turn|turn_transports|metrics|abuse|soak))$'
