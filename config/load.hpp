// SPDX-License-Identifier: Apache-2.0
// YAML to ServerConfig, collecting every error with its YAML path and line; value parsers shared
// with command-line overrides.
#pragma once

#include "config/diagnostic.hpp"
#include "config/model.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace traverse::config {

/// Outcome of loading a configuration: a config, or every problem found.
struct LoadResult {
    std::optional<ServerConfig> config;            ///< set only when `errors` is empty
    std::vector<Diagnostic> errors;                ///< document order, then cross-field rules
    bool ok() const { return config.has_value(); } ///< true when the configuration is usable
};

/// Loads a YAML file; relative paths (TLS files, auth.secret_file) resolve against the file's
/// directory. A missing or unreadable file yields one diagnostic. auth.secret_file is read
/// here, into auth.secrets.
LoadResult load_file(const std::string& path);

/// Loads YAML text; relative paths resolve against `base_dir`. Empty text gives the defaults.
LoadResult load_string(std::string_view yaml, const std::string& base_dir = ".");

/// Every key the loader accepts, as schema paths: "server.workers", "listen[].port", ...
std::vector<std::string_view> known_keys();

/// A parsed value, or why the text could not be parsed.
template <typename T> struct Parsed {
    std::optional<T> value; ///< set on success
    std::string error;      ///< e.g. "expected udp, tcp or tls, got 'sctp'"; empty on success
    bool ok() const { return value.has_value(); }   ///< true on success
    explicit operator bool() const { return ok(); } ///< same as ok()
};

/// "udp://127.0.0.1:3478", "tcp://[::1]:0", "tls://127.0.0.1:5349"; without ":port" the port is
/// 3478 (udp, tcp) or 5349 (tls).
Parsed<Listener> parse_listen_spec(std::string_view spec);

/// "30s", "10m", "1h", "1d", "1h30m", "1000ms" or a bare number of seconds ("45"); durations
/// that are not whole seconds ("500ms") are rejected. No range check.
Parsed<std::chrono::seconds> parse_duration(std::string_view text);

/// "auto" (0: one worker per hardware thread) or 1..256.
Parsed<unsigned> parse_workers(std::string_view text);

/// trace | debug | info | warn | error | off.
Parsed<std::string> parse_log_level(std::string_view text);

/// text | json.
Parsed<LogFormat> parse_log_format(std::string_view text);

/// udp | tcp | tls.
Parsed<Transport> parse_transport(std::string_view text);

/// 0..65535 (0 = ephemeral).
Parsed<std::uint16_t> parse_port(std::string_view text);

/// Inclusive range of relay ports.
struct PortRange {
    std::uint16_t min = 0;                             ///< first port
    std::uint16_t max = 0;                             ///< last port, >= min
    bool operator==(const PortRange&) const = default; ///< field-wise comparison
};

/// "49152-65535": two ports 1..65535, the first not above the second.
Parsed<PortRange> parse_port_range(std::string_view text);

/// "10.0.0.0/8", "::1/128" or a bare IP literal; the prefix length fits the family (host bits
/// may be set). The value is the text itself, which turn::Cidr::parse also accepts.
Parsed<std::string> parse_cidr(std::string_view text);

/// A REALM: 1..127 characters, no double quote, backslash or control character.
Parsed<std::string> parse_realm(std::string_view text);

/// A static user name: 1..508 bytes, no ':' (TURN REST usernames are "expiry:name").
Parsed<std::string> parse_user_name(std::string_view text);

/// A static user's key: 32 hex digits, returned in lower case. Errors never repeat the text.
Parsed<std::string> parse_user_key(std::string_view text);

} // namespace traverse::config
