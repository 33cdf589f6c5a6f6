// SPDX-License-Identifier: Apache-2.0
// Where the waiting queue and room memberships live: in this process (MemoryRoomStore, the
// default) or shared by several traverse-signal nodes (RedisRoomStore, server/signaling/redis.*).
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace traverse::signaling {

using PeerId = std::string;

/// Shared state of the hub: the FIFO waiting queue and the member lists of rooms. Every call is
/// atomic with respect to other hubs sharing the store (several nodes on one Redis). A call that
/// cannot reach the shared state returns `unavailable`; the hub answers the client with an
/// `unavailable` error and keeps its own (local) view unchanged.
class RoomStore {
public:
    virtual ~RoomStore() = default;

    /// Result of queue_or_match: the partner popped from the queue (`peer` and `room` now form
    /// the room `room`, partner first), or the position `peer` was queued at.
    struct QueueResult {
        std::optional<PeerId> partner;
        std::size_t position = 0;
        bool unavailable = false;
    };
    /// Pops the longest-waiting live peer other than `peer` and makes `room` = [partner, peer];
    /// when nobody waits, appends `peer` to the queue.
    virtual QueueResult queue_or_match(const PeerId& peer, const std::string& room) = 0;
    /// Removes `peer` from the queue (no-op when absent). False when unavailable.
    virtual bool dequeue(const PeerId& peer) = 0;

    struct JoinResult {
        std::vector<PeerId> members; ///< members before `peer` joined, in join order
        bool full = false;
        bool unavailable = false;
    };
    /// Adds `peer` to the named room unless it already holds `capacity` members.
    virtual JoinResult join(const std::string& room, const PeerId& peer, std::size_t capacity) = 0;
    /// Removes `peer` from `room` (a room with no members left is deleted); returns the members
    /// that remain, or nullopt when unavailable.
    virtual std::optional<std::vector<PeerId>> leave(const std::string& room,
                                                     const PeerId& peer) = 0;
    /// Whether `peer` is a member of `room`; nullopt when unavailable.
    virtual std::optional<bool> is_member(const std::string& room, const PeerId& peer) = 0;
    /// Whether a room of that name exists (ids of new matched rooms must be fresh).
    virtual bool room_exists(const std::string& room) = 0;
};

/// The single-node store: a deque and a map, no I/O. Not thread-safe (the hub is not either).
class MemoryRoomStore final : public RoomStore {
public:
    QueueResult queue_or_match(const PeerId& peer, const std::string& room) override;
    bool dequeue(const PeerId& peer) override;
    JoinResult join(const std::string& room, const PeerId& peer, std::size_t capacity) override;
    std::optional<std::vector<PeerId>> leave(const std::string& room, const PeerId& peer) override;
    std::optional<bool> is_member(const std::string& room, const PeerId& peer) override;
    bool room_exists(const std::string& room) override { return rooms_.contains(room); }

    std::size_t waiting() const noexcept { return queue_.size(); }
    std::size_t rooms() const noexcept { return rooms_.size(); }

private:
    std::deque<PeerId> queue_;
    std::map<std::string, std::vector<PeerId>, std::less<>> rooms_;
};

} // namespace traverse::signaling
