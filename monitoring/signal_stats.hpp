// SPDX-License-Identifier: Apache-2.0
// traverse-signal's metrics, declared once: the counter block the signaling hub and its sessions
// write (one writer thread, the relay's io_context) and the exporter reads at scrape time.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace traverse::stats {

// X(member, reason label value). Why a frame from a client was not relayed or acted upon; the
// hub's error codes plus the session layer's slow-reader cut-off.
#define TRAVERSE_SIGNAL_DROP_REASONS(X)                                                            \
    X(bad_json, "bad_json")                                                                        \
    X(bad_message, "bad_message")                                                                  \
    X(unknown_type, "unknown_type")                                                                \
    X(too_large, "too_large")                                                                      \
    X(rate_limited, "rate_limited")                                                                \
    X(not_in_room, "not_in_room")                                                                  \
    X(unknown_peer, "unknown_peer")                                                                \
    X(room_full, "room_full")                                                                      \
    X(bad_room, "bad_room")                                                                        \
    X(unavailable, "unavailable")                                                                  \
    X(slow_reader, "slow_reader")

/// Drop reasons as an enum, in declaration order.
enum class SignalDrop : std::size_t {
#define TRAVERSE_SIGNAL_DROP_ENUM(member, label) member,
    TRAVERSE_SIGNAL_DROP_REASONS(TRAVERSE_SIGNAL_DROP_ENUM)
#undef TRAVERSE_SIGNAL_DROP_ENUM
        count
};

/// Label values of SignalDrop, same order.
inline constexpr std::array<std::string_view, static_cast<std::size_t>(SignalDrop::count)>
    signal_drop_labels{
#define TRAVERSE_SIGNAL_DROP_LABEL(member, label) std::string_view{label},
        TRAVERSE_SIGNAL_DROP_REASONS(TRAVERSE_SIGNAL_DROP_LABEL)
#undef TRAVERSE_SIGNAL_DROP_LABEL
    };

/// Upper bounds (seconds) of the time-to-match histogram buckets; +Inf is implied.
inline constexpr std::array<double, 10> signal_match_buckets{0.1, 0.5, 1,  2,   5,
                                                             10,  30,  60, 120, 300};

/// Every family traverse-signal publishes: name, type ("counter", "gauge", "histogram"), label
/// and help. monitoring/README.md lists them (checked by tests/unit/monitoring).
struct SignalFamily {
    std::string_view name;
    std::string_view type;
    std::string_view label;
    std::string_view help;
};
// clang-format off
inline constexpr std::array signal_families{
    SignalFamily{"traverse_signal_users_connected", "gauge", "", "WebSocket users connected to this node"},
    SignalFamily{"traverse_signal_queue_waiting", "gauge", "", "Users of this node waiting in the random-match queue"},
    SignalFamily{"traverse_signal_rooms_active", "gauge", "", "Rooms with at least one member on this node"},
    SignalFamily{"traverse_signal_matches_total", "counter", "", "Random matches made, counted once per matched user of this node"},
    SignalFamily{"traverse_signal_time_to_match_seconds", "histogram", "", "Time from queue (or next) to matched, per matched user of this node"},
    SignalFamily{"traverse_signal_frames_relayed_total", "counter", "", "Offers, answers and candidates forwarded to a room member"},
    SignalFamily{"traverse_signal_frames_dropped_total", "counter", "reason", "Client frames refused or connections cut, by reason (the error codes, and slow_reader)"},
    SignalFamily{"traverse_signal_connections_refused_total", "counter", "reason", "WebSocket upgrades refused, by reason (unauthorized, origin)"},
};
// clang-format on

/// The relay's counters. Written by the relay's io_context thread only (relaxed load and store,
/// as stats::add), read by the exporter's threads.
struct SignalCounters {
    std::atomic<std::int64_t> users{0};
    std::atomic<std::int64_t> waiting{0};
    std::atomic<std::int64_t> rooms{0};
    std::atomic<std::uint64_t> matches{0};
    std::atomic<std::uint64_t> frames_relayed{0};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(SignalDrop::count)> dropped{};
    std::atomic<std::uint64_t> refused_unauthorized{0};
    std::atomic<std::uint64_t> refused_origin{0};
    /// Non-cumulative bucket counts (index i: <= signal_match_buckets[i]; last: +Inf).
    std::array<std::atomic<std::uint64_t>, signal_match_buckets.size() + 1> match_buckets{};
    std::atomic<std::uint64_t> match_wait_microseconds{0}; ///< histogram sum

    void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void drop(SignalDrop reason) noexcept { bump(dropped[static_cast<std::size_t>(reason)]); }
    void set(std::atomic<std::int64_t>& gauge, std::int64_t v) noexcept {
        gauge.store(v, std::memory_order_relaxed);
    }
    /// One matched user who waited `wait`.
    void observe_match(std::chrono::duration<double> wait) noexcept {
        bump(matches);
        const double s = wait.count() < 0 ? 0 : wait.count();
        std::size_t i = 0;
        while (i < signal_match_buckets.size() && s > signal_match_buckets[i])
            ++i;
        bump(match_buckets[i]);
        bump(match_wait_microseconds, static_cast<std::uint64_t>(s * 1e6));
    }
};

} // namespace traverse::stats
