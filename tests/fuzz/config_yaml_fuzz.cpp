// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the YAML configuration loader on arbitrary text. It must never throw or crash;
// it returns either a configuration or at least one diagnostic, each with a message.
#include "config/load.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Deeply nested flow collections make yaml-cpp recurse once per level; real configs are a
    // few kilobytes, and the loader reads files that an operator wrote, so bound the size.
    if (size > 16 * 1024) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    // Relative file references (TLS files, secret_file) resolve into a directory that does not
    // exist, so the fuzzer never reads files by accident.
    const auto result = traverse::config::load_string(text, "/nonexistent-traverse-fuzz");
    FUZZ_CHECK(result.ok() == result.errors.empty());
    for (const auto& d : result.errors)
        FUZZ_CHECK(!d.message.empty());
    return 0;
}
