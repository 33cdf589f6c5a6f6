#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sets up and runs every test: unit, integration, interop, fuzz-replay and bench-smoke suites on
# one build, then the unit, integration, interop and fuzz-replay suites again against an
# ASan+UBSan build, then the threaded parts under TSan (tools/tsan.sh), then a short bounded
# libFuzzer run of every fuzz target (tools/fuzz.sh --ci).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/setup/install-deps.sh" test
echo "== npm ci (tests/interop/webrtc: playwright-core, driving Debian's chromium)"
(cd "$root/tests/interop/webrtc" && npm ci --no-audit --no-fund --loglevel=error)

echo "== build (RelWithDebInfo, warnings as errors)"
"$root/tools/build.sh" -DTRAVERSE_WARNINGS_AS_ERRORS=ON
echo "== all suites"
ctest --test-dir "$root/build" --output-on-failure --timeout 300 -j2

if [ "${TRAVERSE_SKIP_SANITIZERS:-0}" != 1 ]; then
    echo "== every suite again against an ASan+UBSan build (unit tests and the traverse binary)"
    generator=()
    command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
    cmake -S "$root" -B "$root/build-asan" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug \
        -DTRAVERSE_SANITIZE=address,undefined -DTRAVERSE_WARNINGS_AS_ERRORS=ON >/dev/null
    # Integration and interop suites in this tree run the sanitized traverse (ctest passes its
    # path), so a leak or undefined behaviour in the server fails them.
    cmake --build "$root/build-asan" --parallel "$(nproc)"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$root/build-asan" --output-on-failure -L 'unit|integration|interop|fuzz' -j2
fi

if [ "${TRAVERSE_SKIP_TSAN:-0}" != 1 ]; then
    # The threaded parts (workers, shared quota and reservations, metrics, signaling) under
    # ThreadSanitizer: about a minute of tests after the build.
    "$root/tools/tsan.sh"
fi

if [ "${TRAVERSE_SKIP_FUZZ:-0}" != 1 ]; then
    # Seven targets x TRAVERSE_FUZZ_SECONDS (default 15 s) plus a clang build in build-fuzz.
    "$root/tools/fuzz.sh" --ci --seconds "${TRAVERSE_FUZZ_SECONDS:-15}"
fi
