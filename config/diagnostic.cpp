// SPDX-License-Identifier: Apache-2.0
// Rendering of configuration diagnostics for people.
#include "config/diagnostic.hpp"

namespace traverse::config {

std::string to_string(const Diagnostic& diagnostic) {
    std::string text;
    if (!diagnostic.path.empty()) text += diagnostic.path + ": ";
    text += diagnostic.message;
    if (diagnostic.line > 0) text += " (line " + std::to_string(diagnostic.line) + ")";
    return text;
}

} // namespace traverse::config
