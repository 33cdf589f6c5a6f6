// SPDX-License-Identifier: Apache-2.0
// The server configuration as plain structs; the loader fills them, the composition root reads
// them.
#pragma once

#include "config/defaults.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace traverse::config {

/// Client-facing transport of a listener.
enum class Transport { udp, tcp, tls };

/// "udp", "tcp" or "tls".
std::string_view to_string(Transport transport);

/// One socket clients reach the server on.
struct Listener {
    Transport transport = Transport::udp;             ///< client transport
    std::string address{defaults::listener_address};  ///< IPv4/IPv6 literal (validated)
    std::uint16_t port = defaults::stun_port;         ///< 0 = ephemeral
    bool operator==(const Listener&) const = default; ///< field-wise comparison
};

/// TLS files; paths already resolved relative to the config file's directory.
struct Tls {
    std::string certificate;                     ///< PEM certificate chain; empty = not set
    std::string private_key;                     ///< PEM private key; empty = not set
    bool operator==(const Tls&) const = default; ///< field-wise comparison
};

/// RFC 5780 NAT behaviour discovery; when set, UDP listeners of the same family serve it from
/// four sockets (primary/alternate address x primary/alternate port).
struct Rfc5780 {
    std::string alternate_address;                                   ///< IP literal; empty = off
    std::uint16_t alternate_port = defaults::rfc5780_alternate_port; ///< 0 = ephemeral
    bool enabled() const { return !alternate_address.empty(); }      ///< true when configured
    bool operator==(const Rfc5780&) const = default;                 ///< field-wise comparison
};

/// "udp://127.0.0.1:3478" or "tcp://[::1]:0": the form parse_listen_spec() reads.
std::string to_string(const Listener& listener);

/// Resource limits for stream (TCP/TLS) clients.
struct Limits {
    std::uint32_t max_connections = defaults::max_connections; ///< per process
    std::chrono::seconds idle_timeout{defaults::idle_timeout}; ///< close idle connections
    std::chrono::seconds tls_handshake_timeout{defaults::tls_handshake_timeout}; ///< abandon slow
    std::uint32_t max_connections_per_ip = defaults::max_connections_per_ip;     ///< per client IP
    bool operator==(const Limits&) const = default; ///< field-wise comparison
};

/// Log line encoding.
enum class LogFormat { text, json };

/// "text" or "json".
std::string_view to_string(LogFormat format);

/// Logging settings.
struct Logging {
    std::string level{defaults::log_level};          ///< trace|debug|info|warn|error|off
    LogFormat format = LogFormat::text;              ///< line encoding
    bool operator==(const Logging&) const = default; ///< field-wise comparison
};

/// Process-wide settings.
struct Server {
    std::string software{defaults::software};       ///< SOFTWARE attribute; "" = not sent
    unsigned workers = defaults::workers;           ///< worker threads; 0 = auto (hardware threads)
    bool operator==(const Server&) const = default; ///< field-wise comparison
};

/// The whole configuration of the `traverse` binary.
struct ServerConfig {
    Server server;                   ///< process-wide settings
    std::vector<Listener> listeners; ///< client-facing sockets
    Tls tls;                         ///< certificate and key for `tls` listeners
    Rfc5780 rfc5780;                 ///< NAT behaviour discovery; off by default
    Limits limits;                   ///< stream connection limits
    Logging logging;                 ///< log level and format
    bool operator==(const ServerConfig&) const = default; ///< field-wise comparison
};

/// The configuration used without a config file: UDP and TCP on 127.0.0.1:3478 and [::1]:3478,
/// no TLS, RFC 5780 off.
ServerConfig default_config();

} // namespace traverse::config
