// SPDX-License-Identifier: Apache-2.0
// Every server counter, declared once; expanded into per-worker single-writer counter blocks.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace traverse::stats {

// X(name, help). Counters only grow; each worker owns one block and is its only writer.
#define TRAVERSE_SERVER_COUNTERS(X)                                                                \
    X(datagrams_received, "UDP datagrams received on client-facing sockets")                       \
    X(datagrams_sent, "UDP datagrams sent from client-facing sockets")                             \
    X(datagram_send_errors, "UDP datagrams the kernel refused to send")                            \
    X(malformed_dropped, "Datagrams dropped because they failed to parse as STUN")                 \
    X(unexpected_dropped, "Well-formed messages dropped without an answer (responses, unknown)")   \
    X(binding_requests, "STUN Binding requests answered (success or error)")                       \
    X(binding_indications, "STUN Binding indications received (keepalives)")                       \
    X(rfc3489_requests, "Binding requests in the RFC 3489 format (no magic cookie)")               \
    X(error_responses, "STUN error responses sent")                                                \
    X(stream_connections_accepted, "TCP and TLS client connections accepted")                      \
    X(stream_connections_refused, "TCP and TLS connections closed at accept by connection limits") \
    X(stream_garbage_closed, "TCP and TLS connections closed because they sent garbage")           \
    X(stream_idle_closed, "TCP and TLS connections closed by the idle timeout")                    \
    X(tls_handshake_failures, "TLS handshakes that failed or timed out")                           \
    X(turn_requests, "TURN requests (Allocate, Refresh, CreatePermission, ChannelBind)")           \
    X(challenges_sent, "401/438 answers with a fresh nonce")                                       \
    X(challenges_rate_limited, "Unauthenticated requests dropped by the per-source answer limit")  \
    X(auth_failures_bad_request, "Requests refused 400 by the credential checks")                  \
    X(auth_failures_stale_nonce, "Requests refused 438: nonce expired or not ours")                \
    X(auth_failures_unknown_user, "Requests refused 401: no such user")                            \
    X(auth_failures_bad_integrity, "Requests refused 401: MESSAGE-INTEGRITY did not verify")       \
    X(auth_failures_expired_rest, "Requests refused 401: REST credential past its expiry")         \
    X(auth_failures_wrong_credentials, "Requests refused 441: another user's allocation")          \
    X(allocations_created, "Allocations created")                                                  \
    X(allocations_deleted, "Allocations deleted by Refresh with LIFETIME 0 or connection close")   \
    X(allocations_expired, "Allocations that reached the end of their lifetime")                   \
    X(allocations_refused_quota_user, "Allocate refused 486: per-user allocation quota reached")   \
    X(allocations_refused_quota_ip,                                                                \
      "Allocate refused 486: per-client-IP allocation quota reached")                              \
    X(allocations_refused_quota_total,                                                             \
      "Allocate refused 508: server-wide allocation quota reached")                                \
    X(allocations_refused_capacity, "Allocate refused 508: no relay port or socket")               \
    X(allocations_refused_draining, "Allocate refused while draining (300 or 508)")                \
    X(allocation_mismatches, "Requests answered 437 (no allocation, or one already exists)")       \
    X(peers_refused, "Peer addresses refused 403 by the peer filter")                              \
    X(relayed_to_peer_packets, "Datagrams relayed client->peer")                                   \
    X(relayed_to_peer_bytes, "Payload bytes relayed client->peer")                                 \
    X(relayed_to_client_packets, "Datagrams relayed peer->client")                                 \
    X(relayed_to_client_bytes, "Payload bytes relayed peer->client")                               \
    X(relay_dropped_no_permission, "Datagrams dropped: no permission for the peer")                \
    X(relay_dropped_no_channel, "ChannelData dropped: channel not bound")                          \
    X(relay_dropped_bandwidth, "Datagrams dropped by the per-allocation bandwidth cap")            \
    X(relay_dropped_oversize, "Relayed datagrams dropped: larger than the relay's buffers")        \
    X(icmp_relayed, "ICMP errors from peers reported to clients in Data indications")              \
    X(relay_dropped_no_allocation, "Send/ChannelData dropped: no allocation for the 5-tuple")      \
    X(permissions_installed,                                                                       \
      "Permissions installed (a refresh of an existing one is not counted)")                       \
    X(permissions_removed, "Permissions removed (expired, or with their allocation)")              \
    X(channels_bound, "Channels bound (a refresh of a bound channel is not counted)")              \
    X(channels_unbound, "Channel bindings ended (expired, or with their allocation)")              \
    X(tcp_connections_opened, "TCP client connections opened")                                     \
    X(tcp_connections_closed, "TCP client connections closed")                                     \
    X(tls_connections_opened, "TLS client connections opened (before the handshake)")              \
    X(tls_connections_closed, "TLS client connections closed")                                     \
    X(kernel_drops_listener, "Datagrams the kernel dropped on client-facing sockets (SO_MEMINFO)") \
    X(kernel_drops_relay, "Datagrams the kernel dropped on relay sockets (SO_MEMINFO)")

// X(name, help). Gauges: the owning worker stores the current value (stats::set).
#define TRAVERSE_SERVER_GAUGES(X)                                                                  \
    X(relay_ports, "Relay ports in this worker's slice of relay.port_range")                       \
    X(relay_ports_free, "Relay ports of this worker's slice not held by an allocation")            \
    X(listeners_bound, "Listening sockets of this worker that are open and serving")

/// Request methods counted by result (label `method`), in index order.
inline constexpr std::array<std::string_view, 5> request_methods{
    "binding", "allocate", "refresh", "create_permission", "channel_bind"};

/// Index in request_methods of a STUN method number, or -1 for methods not counted.
constexpr int method_index(std::uint16_t stun_method) noexcept {
    switch (stun_method) {
    case 0x001:
        return 0;
    case 0x003:
        return 1;
    case 0x004:
        return 2;
    case 0x008:
        return 3;
    case 0x009:
        return 4;
    default:
        return -1;
    }
}

/// Result codes (label `code`): "success", the error codes the server sends (300: draining with
/// an alternate server), and "other".
inline constexpr std::array<std::string_view, 15> result_codes{
    "success", "300", "400", "401", "403", "420", "437",  "438",
    "440",     "441", "442", "443", "486", "508", "other"};

/// Index in result_codes of an answer: 0 for a success response, else the STUN error code.
constexpr std::size_t code_index(int code) noexcept {
    constexpr std::array<int, 13> errors{300, 400, 401, 403, 420, 437, 438,
                                         440, 441, 442, 443, 486, 508};
    if (code == 0) return 0;
    for (std::size_t i = 0; i < errors.size(); ++i)
        if (errors[i] == code) return i + 1;
    return result_codes.size() - 1;
}

/// Upper bounds (seconds) of the allocation lifetime histogram; a last +Inf bucket follows.
/// From failed ICE attempts (seconds) through the default 10-minute lifetime to long calls.
inline constexpr std::array<std::uint64_t, 13> lifetime_bounds{
    1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400};

/// One worker's counters. Single writer (its worker thread), any number of readers.
struct WorkerCounters {
#define TRAVERSE_DECLARE_COUNTER(name, help) std::atomic<std::uint64_t> name{0};
    TRAVERSE_SERVER_COUNTERS(TRAVERSE_DECLARE_COUNTER)
    TRAVERSE_SERVER_GAUGES(TRAVERSE_DECLARE_COUNTER)
#undef TRAVERSE_DECLARE_COUNTER
    /// Answers sent, [method index][code index] (method_index, code_index).
    std::array<std::array<std::atomic<std::uint64_t>, result_codes.size()>, request_methods.size()>
        responses{};
    /// Ended allocations by lifetime: per bucket (not cumulative), the last one is +Inf.
    std::array<std::atomic<std::uint64_t>, lifetime_bounds.size() + 1> lifetime_buckets{};
    /// Sum of the observed lifetimes in milliseconds.
    std::atomic<std::uint64_t> lifetime_sum_ms{0};
};

/// Adds `n` to a counter owned by the calling thread: a relaxed load and store, no locked
/// instruction, because exactly one thread writes each block.
inline void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

/// Stores the current value of a gauge owned by the calling thread.
inline void set(std::atomic<std::uint64_t>& gauge, std::uint64_t value) noexcept {
    gauge.store(value, std::memory_order_relaxed);
}

/// Counts one answer to a request of STUN method `stun_method`; `code` 0 is a success.
inline void count_response(WorkerCounters& block, std::uint16_t stun_method, int code) noexcept {
    const int m = method_index(stun_method);
    if (m >= 0) add(block.responses[static_cast<std::size_t>(m)][code_index(code)]);
}

/// Records the lifetime of an allocation that just ended.
inline void observe_lifetime(WorkerCounters& block, std::uint64_t milliseconds) noexcept {
    std::size_t bucket = 0;
    while (bucket < lifetime_bounds.size() && milliseconds > lifetime_bounds[bucket] * 1000)
        ++bucket;
    add(block.lifetime_buckets[bucket]);
    add(block.lifetime_sum_ms, milliseconds);
}

/// Visits every scalar counter and gauge of a block as (name, help, value).
template <class F> void for_each(const WorkerCounters& block, F&& f) {
#define TRAVERSE_VISIT_COUNTER(name, help)                                                         \
    f(std::string_view{#name}, std::string_view{help}, block.name.load(std::memory_order_relaxed));
    TRAVERSE_SERVER_COUNTERS(TRAVERSE_VISIT_COUNTER)
    TRAVERSE_SERVER_GAUGES(TRAVERSE_VISIT_COUNTER)
#undef TRAVERSE_VISIT_COUNTER
}

} // namespace traverse::stats
