// SPDX-License-Identifier: Apache-2.0
// The server configuration as plain structs; the loader fills them, the composition root reads
// them.
#pragma once

#include "config/defaults.hpp"

#include <chrono>
#include <cstdint>
#include <map>
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
    std::string level{defaults::log_level};              ///< trace|debug|info|warn|error|off
    LogFormat format = LogFormat::text;                  ///< line encoding
    std::map<std::string, std::string> modules;          ///< module -> level, overrides `level`
    std::uint32_t rate_limit = defaults::log_rate_limit; ///< lines/s per per-packet call site
    bool operator==(const Logging&) const = default;     ///< field-wise comparison
};

/// Process-wide settings.
struct Server {
    std::string software{defaults::software}; ///< SOFTWARE attribute; "" = not sent
    unsigned workers = defaults::workers;     ///< worker threads; 0 = auto (hardware threads)
    /// SIGTERM drains: no new allocations, relaying goes on until allocations end or this
    /// much time has passed; 0 exits at once.
    std::chrono::seconds drain_timeout{defaults::drain_timeout};
    /// While draining, Allocate is answered 300 with this ALTERNATE-SERVER ("ip:port",
    /// "[v6]:port"); empty answers 508.
    std::string alternate_server;
    /// Unix-domain socket for `traverse ctl` (reload, drain, status); empty = none.
    std::string control_socket;
    /// When started as root: the user (and group; empty = the user's primary group) to switch
    /// to once every listening socket is bound. Empty = keep running as started.
    std::string user;
    std::string group;
    bool operator==(const Server&) const = default; ///< field-wise comparison
};

/// A long-term credential user (RFC 8489 section 9.2) configured in the file. Exactly one of
/// `password` and `key` is set.
struct StaticUser {
    std::string name;     ///< USERNAME; non-empty, no ':' (TURN REST usernames use it)
    std::string password; ///< plain password; empty when `key` is set
    std::string key;      ///< 32 lowercase hex digits, MD5(name ":" realm ":" password); or empty
    bool operator==(const StaticUser&) const = default; ///< field-wise comparison
};

/// Long-term credentials for TURN; without any, the server is STUN-only (TURN requests refused).
struct Auth {
    std::string realm{
        defaults::realm}; ///< REALM; fewer than 128 characters, no double quote or backslash
    std::vector<StaticUser> users; ///< static users
    /// TURN REST API shared secrets, newest first; any of them verifies. The loader fills this
    /// from `secret_file`; inline `secrets:` in YAML exist for tests.
    std::vector<std::string> secrets;
    /// File the secrets were read from (one per line), resolved against the config file's
    /// directory; empty when not set. Informational once loaded: `secrets` holds its content.
    std::string secret_file;
    std::chrono::seconds nonce_lifetime{defaults::nonce_lifetime}; ///< 30s..1d
    /// True when any credential is configured, i.e. the server relays (TURN).
    bool enabled() const { return !users.empty() || !secrets.empty(); }
    bool operator==(const Auth&) const = default; ///< field-wise comparison
};

/// One address relay sockets bind to.
struct RelayAddress {
    std::string address;  ///< IP literal to bind; never 0.0.0.0 or ::
    std::string external; ///< IP reported in XOR-RELAYED-ADDRESS; empty = `address`
    bool operator==(const RelayAddress&) const = default; ///< field-wise comparison
};

/// TURN relay sockets and allocation lifetimes.
struct Relay {
    /// At most one address per family (IPv4, IPv6); at least one.
    std::vector<RelayAddress> addresses{RelayAddress{std::string{defaults::relay_address}, {}}};
    std::uint16_t port_min = defaults::relay_port_min; ///< inclusive, 1..65535
    std::uint16_t port_max = defaults::relay_port_max; ///< inclusive, >= port_min
    std::chrono::seconds default_lifetime{defaults::allocation_lifetime}; ///< 60s..1h
    std::chrono::seconds max_lifetime{defaults::max_allocation_lifetime}; ///< 60s..1d, >= default
    std::chrono::seconds permission_lifetime{defaults::permission_lifetime}; ///< RFC 8656; no key
    std::chrono::seconds channel_lifetime{defaults::channel_lifetime};       ///< RFC 8656; no key
    /// Accept RFC 5766's channel numbers 0x4000..0x7FFE, not only RFC 8656's 0x4000..0x4FFF.
    bool rfc5766_channel_numbers = false;
    /// Send runs of relayed datagrams to one destination as UDP GSO sends (UDP_SEGMENT).
    bool udp_gso = true;
    bool operator==(const Relay&) const = default; ///< field-wise comparison
};

/// Peer address filter over the server's built-in denied ranges. Entries are CIDR prefixes
/// ("10.0.0.0/8", "::1/128") or bare IP literals (a host prefix), as written in the file.
struct Peers {
    std::vector<std::string> allow; ///< let through despite the built-in denied ranges
    std::vector<std::string> deny;  ///< refuse; checked before `allow`
    bool operator==(const Peers&) const = default; ///< field-wise comparison
};

/// Allocation and challenge limits.
struct Quotas {
    std::uint32_t max_allocations_per_user = defaults::max_allocations_per_user; ///< 0 = no limit
    std::uint32_t max_allocations_per_ip = defaults::max_allocations_per_ip;     ///< 0 = no limit
    std::uint32_t max_allocations = defaults::max_allocations;                   ///< 0 = no limit
    std::uint32_t challenges_per_second = defaults::challenges_per_second;       ///< 1..100000
    /// Relayed payload bytes per second and direction per allocation; 0 = no cap.
    std::uint64_t max_allocation_bytes_per_second = defaults::max_allocation_bytes_per_second;
    bool operator==(const Quotas&) const = default; ///< field-wise comparison
};

/// The Prometheus endpoint (/metrics, /healthz, /readyz).
struct Metrics {
    std::string listen{defaults::metrics_listen}; ///< "127.0.0.1:9641", "[::1]:9641"; "" = off
    bool per_worker = false; ///< one series per worker (`worker` label) instead of sums
    bool enabled() const { return !listen.empty(); } ///< true when configured
    bool operator==(const Metrics&) const = default; ///< field-wise comparison
};

/// The whole configuration of the `traverse` binary.
struct ServerConfig {
    Server server;                   ///< process-wide settings
    std::vector<Listener> listeners; ///< client-facing sockets
    Tls tls;                         ///< certificate and key for `tls` listeners
    Rfc5780 rfc5780;                 ///< NAT behaviour discovery; off by default
    Limits limits;                   ///< stream connection limits
    Logging logging;                 ///< log level and format
    Auth auth;                       ///< TURN credentials; none = STUN-only
    Relay relay;                     ///< relay addresses, ports and lifetimes
    Peers peers;                     ///< peer address filter
    Quotas quotas;                   ///< allocation and challenge limits
    Metrics metrics;                 ///< Prometheus endpoint; off by default
    bool operator==(const ServerConfig&) const = default; ///< field-wise comparison
};

/// The configuration used without a config file: UDP and TCP on 127.0.0.1:3478 and [::1]:3478,
/// no TLS, RFC 5780 off.
ServerConfig default_config();

} // namespace traverse::config
