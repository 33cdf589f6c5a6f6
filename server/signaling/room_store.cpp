// SPDX-License-Identifier: Apache-2.0
// MemoryRoomStore: the waiting queue and rooms of a single traverse-signal node.
#include "server/signaling/room_store.hpp"

#include <algorithm>

namespace traverse::signaling {

RoomStore::QueueResult MemoryRoomStore::queue_or_match(const PeerId& peer,
                                                       const std::string& room) {
    QueueResult result;
    while (!queue_.empty()) {
        PeerId other = queue_.front();
        queue_.pop_front();
        if (other == peer) continue;
        rooms_[room] = {other, peer};
        result.partner = std::move(other);
        return result;
    }
    queue_.push_back(peer);
    result.position = queue_.size();
    return result;
}

bool MemoryRoomStore::dequeue(const PeerId& peer) {
    queue_.erase(std::remove(queue_.begin(), queue_.end(), peer), queue_.end());
    return true;
}

RoomStore::JoinResult MemoryRoomStore::join(const std::string& room, const PeerId& peer,
                                            std::size_t capacity) {
    JoinResult result;
    auto& members = rooms_[room];
    if (members.size() >= capacity) {
        result.full = true;
        return result;
    }
    result.members = members;
    members.push_back(peer);
    return result;
}

std::optional<std::vector<PeerId>> MemoryRoomStore::leave(const std::string& room,
                                                          const PeerId& peer) {
    auto it = rooms_.find(room);
    if (it == rooms_.end()) return std::vector<PeerId>{};
    auto& members = it->second;
    members.erase(std::remove(members.begin(), members.end(), peer), members.end());
    std::vector<PeerId> remaining = members;
    if (members.empty()) rooms_.erase(it);
    return remaining;
}

std::optional<bool> MemoryRoomStore::is_member(const std::string& room, const PeerId& peer) {
    auto it = rooms_.find(room);
    return it != rooms_.end() &&
           std::find(it->second.begin(), it->second.end(), peer) != it->second.end();
}

} // namespace traverse::signaling
