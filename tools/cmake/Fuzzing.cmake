# SPDX-License-Identifier: Apache-2.0
# -DTRAVERSE_BUILD_FUZZERS=ON (clang only): every target is compiled with libFuzzer's coverage
# instrumentation, and tests/fuzz adds one libFuzzer binary per target (tools/fuzz.sh).
option(TRAVERSE_BUILD_FUZZERS "Build the libFuzzer targets (needs clang)" OFF)
if(TRAVERSE_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TRAVERSE_BUILD_FUZZERS needs clang (CXX=clang++-14), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  target_compile_options(traverse_sanitizers INTERFACE -fsanitize=fuzzer-no-link)
endif()
