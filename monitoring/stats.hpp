// SPDX-License-Identifier: Apache-2.0
// Every server counter, declared once; expanded into per-worker single-writer counter blocks.
#pragma once

#include <atomic>
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
    X(allocations_refused_quota, "Allocate refused by a per-user, per-IP or total quota")          \
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
    X(relay_dropped_no_allocation, "Send/ChannelData dropped: no allocation for the 5-tuple")

/// One worker's counters. Single writer (its worker thread), any number of readers.
struct WorkerCounters {
#define TRAVERSE_DECLARE_COUNTER(name, help) std::atomic<std::uint64_t> name{0};
    TRAVERSE_SERVER_COUNTERS(TRAVERSE_DECLARE_COUNTER)
#undef TRAVERSE_DECLARE_COUNTER
};

/// Adds `n` to a counter owned by the calling thread: a relaxed load and store, no locked
/// instruction, because exactly one thread writes each block.
inline void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

/// Visits every counter of a block as (name, help, value).
template <class F> void for_each(const WorkerCounters& block, F&& f) {
#define TRAVERSE_VISIT_COUNTER(name, help)                                                         \
    f(std::string_view{#name}, std::string_view{help}, block.name.load(std::memory_order_relaxed));
    TRAVERSE_SERVER_COUNTERS(TRAVERSE_VISIT_COUNTER)
#undef TRAVERSE_VISIT_COUNTER
}

} // namespace traverse::stats
