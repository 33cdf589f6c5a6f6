// SPDX-License-Identifier: Apache-2.0
// One configuration error, located by YAML path and line.
#pragma once

#include <string>

namespace traverse::config {

/// A configuration problem: where it is and what is wrong.
struct Diagnostic {
    std::string path;    ///< YAML path like "listen[2].port"; empty for the whole document
    int line = 0;        ///< 1-based line in the YAML text; 0 if unknown
    std::string message; ///< what is wrong, e.g. "must be 0..65535, got 70000"
    bool operator==(const Diagnostic&) const = default; ///< field-wise comparison
};

/// "listen[2].port: must be 0..65535, got 70000 (line 12)"; parts that are unknown are left out.
std::string to_string(const Diagnostic& diagnostic);

} // namespace traverse::config
