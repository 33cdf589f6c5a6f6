// SPDX-License-Identifier: Apache-2.0
// Assertion ladder: TRAVERSE_ASSERT (debug-only invariant), TRAVERSE_FATAL (environment failure).
#pragma once

#include <cstdio>
#include <cstdlib>

/// Debug-only invariant; `why` states the belief that makes it hold.
#ifndef NDEBUG
#define TRAVERSE_ASSERT(cond, why)                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: assertion failed: %s (%s)\n", __FILE__, __LINE__, #cond,  \
                         why);                                                                     \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)
#else
#define TRAVERSE_ASSERT(cond, why)                                                                 \
    do {                                                                                           \
        (void)sizeof(cond);                                                                        \
    } while (0)
#endif

/// A failure of the environment a healthy host never shows: print and abort in every build.
#define TRAVERSE_FATAL(msg)                                                                        \
    do {                                                                                           \
        std::fprintf(stderr, "%s:%d: fatal: %s\n", __FILE__, __LINE__, msg);                       \
        std::abort();                                                                              \
    } while (0)
