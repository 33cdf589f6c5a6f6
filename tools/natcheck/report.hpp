// SPDX-License-Identifier: Apache-2.0
// natcheck's output: a short human report, or one JSON object with stable keys.
#pragma once

#include "tools/natcheck/classify.hpp"
#include "tools/natcheck/probes.hpp"

#include <string>

namespace traverse::natcheck {

/// The human report: plain words first, details after.
std::string render_text(const Results& r, const Classification& c);

/// One JSON object (keys: server, public_address, local_address, behind_nat, udp, tcp, tls,
/// mapping, mapping_reason, filtering, filtering_reason, hairpinning, nat_type, server_checks,
/// turn, ipv6, binding_lifetime, verdict, verdict_text, error).
std::string render_json(const Results& r, const Classification& c);

/// JSON string literal for text (quotes, backslashes and control characters escaped).
std::string json_string(const std::string& text);

} // namespace traverse::natcheck
