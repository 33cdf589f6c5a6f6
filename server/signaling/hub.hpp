// SPDX-License-Identifier: Apache-2.0
// The signaling relay's sans-IO core: connected users, the 1:1 waiting queue, named rooms, and
// relaying offers, answers and candidates between room members (docs/signaling.md).
#pragma once

#include "monitoring/signal_stats.hpp"
#include "server/signaling/room_store.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace traverse::signaling {

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;

/// Limits and sizes of the core; the composition root fills them from the configuration.
struct HubOptions {
    std::size_t room_capacity = 2;           ///< default and maximum members of a named room
    std::size_t max_frame_bytes = 64 * 1024; ///< larger frames are refused (too-large)
    double messages_per_second = 20;         ///< per connection, token bucket refill rate
    double message_burst = 40;               ///< per connection, bucket size
    std::size_t max_room_name = 64;          ///< characters of a named room
    /// Deepest nesting of arrays and objects accepted (bad-json beyond): serialising a relayed
    /// candidate recurses once per level, and a 64 KiB frame of '[' would exhaust a thread's
    /// stack. Real candidates nest two or three levels.
    std::size_t max_json_depth = 32;
};

/// One frame to send: the recipient and the text. Payloads relayed to several peers share one
/// immutable string. `matched_room` is set on the "matched" frame to a partner that may be
/// connected to another node: that node's hub must learn the room (Hub::adopt_room).
struct Outgoing {
    PeerId to;
    std::shared_ptr<const std::string> frame;
    std::string matched_room;
};

/// What a call into the hub produced, in order.
using Outbox = std::vector<Outgoing>;

/// Stable error codes sent in {"type":"error","code":...} frames.
namespace errors {
inline constexpr std::string_view bad_json = "bad-json";
inline constexpr std::string_view bad_message = "bad-message";
inline constexpr std::string_view unknown_type = "unknown-type";
inline constexpr std::string_view too_large = "too-large";
inline constexpr std::string_view rate_limited = "rate-limited";
inline constexpr std::string_view not_in_room = "not-in-room";
inline constexpr std::string_view unknown_peer = "unknown-peer";
inline constexpr std::string_view room_full = "room-full";
inline constexpr std::string_view bad_room = "bad-room";
inline constexpr std::string_view unavailable = "unavailable";
} // namespace errors

/// Users, queue and rooms. Single-threaded: the session layer serialises calls (one strand or
/// one thread). It never stores SDP or candidates: they are forwarded and forgotten.
class Hub {
public:
    /// `random_seed` makes peer and room ids reproducible in tests; 0 seeds from the OS.
    /// `store` holds the queue and rooms (null: a private MemoryRoomStore); `stats` (optional)
    /// receives the relay's metrics. Both must outlive the hub.
    explicit Hub(HubOptions options = {}, std::uint64_t random_seed = 0, RoomStore* store = nullptr,
                 stats::SignalCounters* stats = nullptr);

    /// A new connection; returns its peer id (the caller sends the welcome frame).
    PeerId connect(Time now);
    /// The connection is gone: leaves its room and the queue, tells the others.
    void disconnect(const PeerId& peer, Outbox& out);
    /// One text frame from `peer`. Errors are answered to `peer`; the connection stays usable.
    void on_message(Time now, const PeerId& peer, std::string_view frame, Outbox& out);
    /// A hub on another node matched our queued `peer` into `room` (the Outgoing carried
    /// `matched_room`). Returns false when `peer` is no longer waiting here (gone, or already
    /// elsewhere): it is then taken out of `room` again and the partner is told peer-left.
    bool adopt_room(Time now, const PeerId& peer, const std::string& room, Outbox& out);

    /// Users connected to this hub.
    std::size_t users() const noexcept { return users_.size(); }
    /// Users of this hub waiting in the queue.
    std::size_t waiting() const noexcept { return waiting_; }
    /// Rooms with at least one member connected to this hub.
    std::size_t rooms() const noexcept { return local_rooms_.size(); }
    /// The room `peer` is in, if any.
    std::optional<std::string> room_of(const PeerId& peer) const;

    /// {"type":"error","code":...,"message":...}
    static std::string error_frame(std::string_view code, std::string_view message);

private:
    struct User {
        std::string room; ///< empty when in no room
        bool queued = false;
        Time queued_at{};
        double tokens = 0;
        Time refilled{};
    };

    bool take_token(User& user, Time now);
    void handle_queue(Time now, const PeerId& peer, User& user, Outbox& out);
    void handle_join(const PeerId& peer, User& user, std::string_view room, Outbox& out);
    void handle_leave(const PeerId& peer, User& user, Outbox& out);
    void handle_relay(const PeerId& peer, User& user, const nlohmann::json& message, Outbox& out);
    bool leave_room(const PeerId& peer, User& user, Outbox& out);
    void tell_left(const std::string& room, const PeerId& peer,
                   const std::vector<PeerId>& remaining, Outbox& out);
    bool dequeue(const PeerId& peer, User& user);
    void set_room(User& user, std::string room);
    void set_queued(User& user, bool queued);
    void update_gauges();
    void send(Outbox& out, const PeerId& to, std::string frame);
    void send_error(Outbox& out, const PeerId& to, std::string_view code, std::string_view message);
    std::string new_id(std::string_view prefix);

    HubOptions options_;
    std::mt19937_64 random_;
    std::unique_ptr<MemoryRoomStore> own_store_; ///< when no store was given
    RoomStore* store_;
    stats::SignalCounters* stats_;
    std::unordered_map<PeerId, User> users_;
    std::unordered_map<std::string, std::size_t> local_rooms_; ///< room -> members of this hub
    std::size_t waiting_ = 0;                                  ///< users with queued == true
};

} // namespace traverse::signaling
