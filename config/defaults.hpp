// SPDX-License-Identifier: Apache-2.0
// Every default value and accepted range of the server configuration, in one place.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

/// Default values: what the server uses for a key that the configuration leaves out.
namespace traverse::config::defaults {

/// SOFTWARE attribute value; empty means the attribute is not sent.
inline constexpr std::string_view software = "Traverse";
/// Worker threads; 0 means one per hardware thread.
inline constexpr unsigned workers = 0;

/// Listener address: loopback, so an unconfigured server is never reachable from outside.
inline constexpr std::string_view listener_address = "127.0.0.1";
/// Listener address of the IPv6 half of the no-config-file listeners.
inline constexpr std::string_view listener_address_v6 = "::1";
/// STUN/TURN port over UDP and TCP (RFC 8489 section 9).
inline constexpr std::uint16_t stun_port = 3478;
/// STUN/TURN port over TLS (RFC 8489 section 9); the default for `tls` listeners.
inline constexpr std::uint16_t stuns_port = 5349;

/// RFC 5780 alternate port; 0 means ephemeral, chosen when the socket binds.
inline constexpr std::uint16_t rfc5780_alternate_port = 0;

/// TCP/TLS connections per process.
inline constexpr std::uint32_t max_connections = 4096;
/// TCP/TLS connections from one client IP address.
inline constexpr std::uint32_t max_connections_per_ip = 64;
/// A TCP/TLS connection with no traffic for this long is closed.
inline constexpr std::chrono::seconds idle_timeout{60};
/// A TLS handshake that takes longer than this is abandoned.
inline constexpr std::chrono::seconds tls_handshake_timeout{10};

/// Log level name.
inline constexpr std::string_view log_level = "info";

} // namespace traverse::config::defaults

/// Accepted ranges, checked by the loader and documented in schema.md.
namespace traverse::config::bounds {

/// Largest explicit worker count (`workers: auto` has no upper bound).
inline constexpr unsigned max_workers = 256;
/// Largest value of limits.max_connections and limits.max_connections_per_ip.
inline constexpr std::uint32_t max_connections = 1'000'000;
/// Shortest limits.idle_timeout.
inline constexpr std::chrono::seconds min_idle_timeout{1};
/// Longest limits.idle_timeout: one day.
inline constexpr std::chrono::seconds max_idle_timeout{86'400};
/// Shortest limits.tls_handshake_timeout.
inline constexpr std::chrono::seconds min_tls_handshake_timeout{1};
/// Longest limits.tls_handshake_timeout: five minutes.
inline constexpr std::chrono::seconds max_tls_handshake_timeout{300};
/// SOFTWARE must hold fewer than 128 characters (RFC 8489 section 14.14).
inline constexpr std::size_t max_software_characters = 127;

} // namespace traverse::config::bounds

// default_config() is declared in model.hpp next to the types it returns; including it here means
// either header gives access to it. model.hpp includes this file first, so the constants above
// are already defined when the model's member initializers use them.
#include "config/model.hpp"
