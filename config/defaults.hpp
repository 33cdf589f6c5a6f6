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
/// How long SIGTERM waits for allocations to end before exiting; 0 = exit at once.
inline constexpr std::chrono::seconds drain_timeout{0};

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

/// REALM of the long-term credentials (RFC 8489 section 9.2). Static users' precomputed keys
/// depend on it.
inline constexpr std::string_view realm = "traverse";
/// A NONCE handed out in a 401/438 challenge is accepted for this long.
inline constexpr std::chrono::seconds nonce_lifetime{600};

/// Relay address: loopback, the development default (a production server sets its own).
inline constexpr std::string_view relay_address = "127.0.0.1";
/// Lowest relay port: the start of the dynamic range (RFC 6335 section 6, RFC 8656 section 7.2).
inline constexpr std::uint16_t relay_port_min = 49152;
/// Highest relay port.
inline constexpr std::uint16_t relay_port_max = 65535;
/// Allocation lifetime when the client asks for none (RFC 8656 section 7.2: 10 minutes).
inline constexpr std::chrono::seconds allocation_lifetime{600};
/// Longest allocation lifetime granted, whatever the client asks for.
inline constexpr std::chrono::seconds max_allocation_lifetime{3600};
/// Permission lifetime, fixed by RFC 8656 section 9 (not configurable).
inline constexpr std::chrono::seconds permission_lifetime{300};
/// Channel binding lifetime, fixed by RFC 8656 section 12 (not configurable).
inline constexpr std::chrono::seconds channel_lifetime{600};

/// Allocations one user may hold at once; 0 means unlimited.
inline constexpr std::uint32_t max_allocations_per_user = 100;
/// Allocations clients from one IP address may hold at once; 0 means unlimited.
inline constexpr std::uint32_t max_allocations_per_ip = 100;
/// Allocations per process; 0 means unlimited.
inline constexpr std::uint32_t max_allocations = 16'000;
/// Unauthenticated answers (401 and 438 challenges) per second per source-address bucket.
inline constexpr std::uint32_t challenges_per_second = 20;
/// Per-allocation bandwidth cap in bytes per second and direction; 0 = no cap.
inline constexpr std::uint64_t max_allocation_bytes_per_second = 0;

/// Metrics endpoint "ip:port"; empty means no metrics endpoint. The sample config uses
/// 127.0.0.1:9641.
inline constexpr std::string_view metrics_listen = "";

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

/// REALM must hold fewer than 128 characters (RFC 8489 section 14.9).
inline constexpr std::size_t max_realm_characters = 127;
/// USERNAME must be fewer than 509 bytes (RFC 8489 section 14.3).
inline constexpr std::size_t max_username_bytes = 508;
/// Hex digits of a static user's precomputed key: MD5 is 16 bytes.
inline constexpr std::size_t user_key_hex_digits = 32;
/// Shortest auth.nonce_lifetime.
inline constexpr std::chrono::seconds max_drain_timeout{86'400};
inline constexpr std::chrono::seconds min_nonce_lifetime{30};
/// Longest auth.nonce_lifetime: one day.
inline constexpr std::chrono::seconds max_nonce_lifetime{86'400};

/// Lowest port of relay.port_range (port 0 would mean "any port").
inline constexpr std::uint16_t min_relay_port = 1;
/// Shortest relay.allocation_lifetime and relay.max_allocation_lifetime.
inline constexpr std::chrono::seconds min_allocation_lifetime{60};
/// Longest relay.allocation_lifetime: one hour.
inline constexpr std::chrono::seconds max_default_allocation_lifetime{3600};
/// Longest relay.max_allocation_lifetime: one day.
inline constexpr std::chrono::seconds max_allocation_lifetime{86'400};

/// Largest value of the allocation quotas (0 = unlimited is also accepted).
inline constexpr std::uint32_t max_allocations = 1'000'000;
/// Smallest quotas.challenges_per_second.
inline constexpr std::uint32_t min_challenges_per_second = 1;
/// Largest quotas.challenges_per_second.
inline constexpr std::uint32_t max_challenges_per_second = 100'000;
/// Largest quotas.max_allocation_bytes_per_second (10 GB/s: beyond any single allocation).
inline constexpr std::uint64_t max_allocation_bytes_per_second = 10'000'000'000ull;

} // namespace traverse::config::bounds

// default_config() is declared in model.hpp next to the types it returns; including it here means
// either header gives access to it. model.hpp includes this file first, so the constants above
// are already defined when the model's member initializers use them.
#include "config/model.hpp"
