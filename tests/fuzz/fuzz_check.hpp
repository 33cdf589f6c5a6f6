// SPDX-License-Identifier: Apache-2.0
// FUZZ_CHECK: an invariant of a fuzz target; a violation prints where and aborts, so libFuzzer
// saves the input and the replay test fails (also in release builds, unlike assert).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);    \
            std::abort();                                                                          \
        }                                                                                          \
    } while (false)
