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
    X(tls_handshake_failures, "TLS handshakes that failed or timed out")

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
    f(std::string_view{#name}, std::string_view{help},                                             \
      block.name.load(std::memory_order_relaxed));
    TRAVERSE_SERVER_COUNTERS(TRAVERSE_VISIT_COUNTER)
#undef TRAVERSE_VISIT_COUNTER
}

} // namespace traverse::stats
