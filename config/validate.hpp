// SPDX-License-Identifier: Apache-2.0
// Cross-field rules of the server configuration (each field is already valid on its own).
#pragma once

#include "config/diagnostic.hpp"
#include "config/model.hpp"

#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace traverse::config {

/// What the loader knows about where values came from, so rules can name lines.
struct SourceMap {
    /// YAML path ("tls.certificate", "listen[2]") -> 1-based line of its key.
    std::map<std::string, int, std::less<>> lines;
    /// Top-level sections ("listen", "tls") with errors of their own; rules reading them are
    /// skipped so that one mistake is not reported again as a cross-field problem.
    std::set<std::string, std::less<>> sections_with_errors;

    /// Line of `path`, else of its nearest recorded parent; 0 if none is recorded.
    int line_of(std::string_view path) const;
};

/// Checks the rules that span fields: listeners present and not duplicated, TLS files set and
/// readable for tls listeners, RFC 5780 addresses consistent with the UDP listeners, static
/// users unique with one of password and key, relay addresses one per family and specific,
/// the port range ordered, the longest allocation lifetime not below the default one. Values
/// of auth, relay and peers are checked again for configurations built in code. Messages never
/// repeat a password, key or secret. Returns every violation, in a stable order; empty means
/// valid. Also usable after command-line overrides, with an empty SourceMap. Does not read
/// auth.secret_file: the loader does.
std::vector<Diagnostic> validate(const ServerConfig& config, const SourceMap& source = {});

} // namespace traverse::config
