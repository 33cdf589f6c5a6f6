// SPDX-License-Identifier: Apache-2.0
// Hub: message validation and dispatch, matchmaking, rooms, relaying with a server-set sender.
#include "server/signaling/hub.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace traverse::signaling {

using json = nlohmann::json;

namespace {

/// Room names: 1..max characters of [A-Za-z0-9_.-]; random rooms use a '~' prefix, so a name
/// can never reach one.
bool valid_room_name(std::string_view name, std::size_t max) {
    if (name.empty() || name.size() > max) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
    });
}

/// The deepest nesting of arrays and objects in `text`, counted outside strings, stopping
/// early once above `limit`. A linear scan before parsing, so nothing recursive ever sees a
/// deeper document.
std::size_t nesting_depth(std::string_view text, std::size_t limit) {
    std::size_t depth = 0;
    std::size_t deepest = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
            if (deepest > limit) break;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

Hub::Hub(HubOptions options, std::uint64_t random_seed, RoomStore* store,
         stats::SignalCounters* stats)
    : options_(options), store_(store), stats_(stats) {
    if (random_seed == 0)
        random_seed = std::random_device{}() * 0x9E3779B97F4A7C15ull ^ std::random_device{}();
    random_.seed(random_seed);
    if (!store_) {
        own_store_ = std::make_unique<MemoryRoomStore>();
        store_ = own_store_.get();
    }
}

std::string Hub::new_id(std::string_view prefix) {
    static constexpr char alphabet[] = "abcdefghijkmnopqrstuvwxyz23456789";
    std::string id(prefix);
    for (int i = 0; i < 12; ++i)
        id += alphabet[random_() % (sizeof alphabet - 1)];
    return id;
}

std::string Hub::error_frame(std::string_view code, std::string_view message) {
    return dump(json{{"type", "error"}, {"code", code}, {"message", message}});
}

void Hub::send(Outbox& out, const PeerId& to, std::string frame) {
    out.push_back(Outgoing{to, std::make_shared<const std::string>(std::move(frame)), {}});
}

namespace {

std::optional<stats::SignalDrop> drop_reason(std::string_view code) {
    using stats::SignalDrop;
    if (code == errors::bad_json) return SignalDrop::bad_json;
    if (code == errors::bad_message) return SignalDrop::bad_message;
    if (code == errors::unknown_type) return SignalDrop::unknown_type;
    if (code == errors::too_large) return SignalDrop::too_large;
    if (code == errors::rate_limited) return SignalDrop::rate_limited;
    if (code == errors::not_in_room) return SignalDrop::not_in_room;
    if (code == errors::unknown_peer) return SignalDrop::unknown_peer;
    if (code == errors::room_full) return SignalDrop::room_full;
    if (code == errors::bad_room) return SignalDrop::bad_room;
    if (code == errors::unavailable) return SignalDrop::unavailable;
    return std::nullopt;
}

} // namespace

void Hub::send_error(Outbox& out, const PeerId& to, std::string_view code,
                     std::string_view message) {
    if (stats_)
        if (auto reason = drop_reason(code)) stats_->drop(*reason);
    send(out, to, error_frame(code, message));
}

void Hub::set_queued(User& user, bool queued) {
    if (user.queued == queued) return;
    user.queued = queued;
    if (queued)
        ++waiting_;
    else
        --waiting_;
}

void Hub::update_gauges() {
    if (!stats_) return;
    stats_->set(stats_->users, static_cast<std::int64_t>(users_.size()));
    stats_->set(stats_->waiting, static_cast<std::int64_t>(waiting_));
    stats_->set(stats_->rooms, static_cast<std::int64_t>(local_rooms_.size()));
}

void Hub::set_room(User& user, std::string room) {
    if (!user.room.empty()) {
        auto it = local_rooms_.find(user.room);
        if (it != local_rooms_.end() && --it->second == 0) local_rooms_.erase(it);
    }
    user.room = std::move(room);
    if (!user.room.empty()) ++local_rooms_[user.room];
}

PeerId Hub::connect(Time now) {
    PeerId id;
    do {
        id = new_id("p-");
    } while (users_.contains(id));
    User u;
    u.tokens = options_.message_burst;
    u.refilled = now;
    users_.emplace(id, u);
    update_gauges();
    return id;
}

void Hub::disconnect(const PeerId& peer, Outbox& out) {
    auto it = users_.find(peer);
    if (it == users_.end()) return;
    dequeue(peer, it->second);
    leave_room(peer, it->second, out);
    set_room(it->second, {});
    set_queued(it->second, false);
    users_.erase(it);
    update_gauges();
}

std::optional<std::string> Hub::room_of(const PeerId& peer) const {
    auto it = users_.find(peer);
    if (it == users_.end() || it->second.room.empty()) return std::nullopt;
    return it->second.room;
}

bool Hub::take_token(User& user, Time now) {
    const double elapsed = std::chrono::duration<double>(now - user.refilled).count();
    user.tokens =
        std::min(options_.message_burst, user.tokens + elapsed * options_.messages_per_second);
    user.refilled = now;
    if (user.tokens < 1) return false;
    user.tokens -= 1;
    return true;
}

void Hub::on_message(Time now, const PeerId& peer, std::string_view frame, Outbox& out) {
    auto it = users_.find(peer);
    if (it == users_.end()) return;
    User& user = it->second;
    if (!take_token(user, now)) {
        send_error(out, peer, errors::rate_limited, "too many messages; slow down");
        return;
    }
    if (frame.size() > options_.max_frame_bytes) {
        send_error(out, peer, errors::too_large,
                   "message larger than " + std::to_string(options_.max_frame_bytes) + " bytes");
        return;
    }
    if (nesting_depth(frame, options_.max_json_depth) > options_.max_json_depth) {
        send_error(out, peer, errors::bad_json,
                   "JSON nested deeper than " + std::to_string(options_.max_json_depth) +
                       " levels");
        return;
    }
    json message = json::parse(frame, nullptr, /*allow_exceptions=*/false);
    if (message.is_discarded()) {
        send_error(out, peer, errors::bad_json, "the message is not valid JSON");
        return;
    }
    if (!message.is_object() || !message.contains("type") || !message["type"].is_string()) {
        send_error(out, peer, errors::bad_message, "a message is a JSON object with a \"type\"");
        return;
    }
    const std::string type = message["type"].get<std::string>();
    if (type == "queue" || type == "next") {
        handle_queue(now, peer, user, out);
    } else if (type == "join") {
        auto room = message.find("room");
        if (room == message.end() || !room->is_string()) {
            send_error(out, peer, errors::bad_message, "join needs a \"room\" string");
            return;
        }
        handle_join(peer, user, room->get<std::string>(), out);
    } else if (type == "leave") {
        handle_leave(peer, user, out);
    } else if (type == "offer" || type == "answer" || type == "candidate") {
        handle_relay(peer, user, message, out);
    } else {
        send_error(out, peer, errors::unknown_type, "unknown message type \"" + type + "\"");
    }
    update_gauges();
}

bool Hub::dequeue(const PeerId& peer, User& user) {
    if (!user.queued) return true;
    if (!store_->dequeue(peer)) return false;
    set_queued(user, false);
    return true;
}

void Hub::tell_left(const std::string& room, const PeerId& peer,
                    const std::vector<PeerId>& remaining, Outbox& out) {
    auto frame = std::make_shared<const std::string>(
        dump(json{{"type", "peer-left"}, {"room", room}, {"peer", peer}}));
    for (const auto& m : remaining)
        out.push_back(Outgoing{m, frame, {}});
}

bool Hub::leave_room(const PeerId& peer, User& user, Outbox& out) {
    if (user.room.empty()) return true;
    auto remaining = store_->leave(user.room, peer);
    if (!remaining) return false;
    tell_left(user.room, peer, *remaining, out);
    set_room(user, {});
    return true;
}

void Hub::handle_queue(Time now, const PeerId& peer, User& user, Outbox& out) {
    // "next" and "queue" both leave the current room first: a user is in one place at a time.
    if (!leave_room(peer, user, out)) {
        send_error(out, peer, errors::unavailable, "shared state unreachable; try again");
        return;
    }
    if (user.queued) return; // already waiting: queueing twice changes nothing
    // Pair with the longest-waiting user; the one who waited becomes the initiator.
    std::string room_id;
    do {
        room_id = new_id("~r-");
    } while (store_->room_exists(room_id));
    auto result = store_->queue_or_match(peer, room_id);
    if (result.unavailable) {
        send_error(out, peer, errors::unavailable, "shared state unreachable; try again");
        return;
    }
    if (!result.partner) {
        set_queued(user, true);
        user.queued_at = now;
        send(out, peer, dump(json{{"type", "queued"}, {"position", result.position}}));
        return;
    }
    const PeerId& other = *result.partner;
    set_room(user, room_id);
    if (stats_) stats_->observe_match(std::chrono::seconds(0));
    auto matched_other = std::make_shared<const std::string>(
        dump(json{{"type", "matched"}, {"room", room_id}, {"peer", peer}, {"initiator", true}}));
    auto other_it = users_.find(other);
    if (other_it != users_.end()) {
        // The partner is ours: update it here.
        set_queued(other_it->second, false);
        set_room(other_it->second, room_id);
        if (stats_) stats_->observe_match(now - other_it->second.queued_at);
        out.push_back(Outgoing{other, matched_other, {}});
    } else {
        // On another node: its hub adopts the room when the frame arrives (adopt_room).
        out.push_back(Outgoing{other, matched_other, room_id});
    }
    send(out, peer,
         dump(json{{"type", "matched"}, {"room", room_id}, {"peer", other}, {"initiator", false}}));
}

bool Hub::adopt_room(Time now, const PeerId& peer, const std::string& room, Outbox& out) {
    auto it = users_.find(peer);
    if (it == users_.end() || !it->second.queued) {
        // Gone, or moved on (joined a room) while another node popped it from the queue.
        if (auto remaining = store_->leave(room, peer)) tell_left(room, peer, *remaining, out);
        return false;
    }
    User& user = it->second;
    set_queued(user, false);
    set_room(user, room);
    if (stats_) stats_->observe_match(now - user.queued_at);
    update_gauges();
    return true;
}

void Hub::handle_join(const PeerId& peer, User& user, std::string_view name, Outbox& out) {
    if (!valid_room_name(name, options_.max_room_name)) {
        send_error(out, peer, errors::bad_room,
                   "room names are 1.." + std::to_string(options_.max_room_name) +
                       " characters of letters, digits, '-', '_' and '.'");
        return;
    }
    if (user.room == name) {
        send_error(out, peer, errors::bad_message, "already in this room");
        return;
    }
    const std::string room(name);
    auto joined_room = store_->join(room, peer, options_.room_capacity);
    if (joined_room.unavailable) {
        send_error(out, peer, errors::unavailable, "shared state unreachable; try again");
        return;
    }
    if (joined_room.full) {
        send_error(out, peer, errors::room_full,
                   "the room already has " + std::to_string(options_.room_capacity) + " members");
        return;
    }
    // Now a member of the new room: leave the queue and the old room. If the shared state fails
    // here the old room keeps a stale entry that its TTL removes (RedisRoomStore).
    dequeue(peer, user);
    leave_room(peer, user, out);
    json peers = json::array();
    for (const auto& m : joined_room.members)
        peers.push_back(m);
    auto joined = std::make_shared<const std::string>(
        dump(json{{"type", "peer-joined"}, {"room", name}, {"peer", peer}}));
    for (const auto& m : joined_room.members)
        out.push_back(Outgoing{m, joined, {}});
    set_room(user, room);
    send(out, peer, dump(json{{"type", "joined"}, {"room", name}, {"peers", peers}}));
}

void Hub::handle_leave(const PeerId& peer, User& user, Outbox& out) {
    if (!dequeue(peer, user)) {
        send_error(out, peer, errors::unavailable, "shared state unreachable; try again");
        return;
    }
    if (user.room.empty()) {
        send_error(out, peer, errors::not_in_room, "not in a room");
        return;
    }
    if (!leave_room(peer, user, out)) {
        send_error(out, peer, errors::unavailable, "shared state unreachable; try again");
        return;
    }
    send(out, peer, dump(json{{"type", "left"}}));
}

void Hub::handle_relay(const PeerId& peer, User& user, const json& message, Outbox& out) {
    const std::string type = message["type"].get<std::string>();
    if (user.room.empty()) {
        send_error(out, peer, errors::not_in_room, type + " needs a room: queue or join first");
        return;
    }
    auto to = message.find("to");
    if (to == message.end() || !to->is_string()) {
        send_error(out, peer, errors::bad_message, type + " needs a \"to\" peer id");
        return;
    }
    const std::string target = to->get<std::string>();
    std::optional<bool> member = target == peer ? false : store_->is_member(user.room, target);
    if (!member) {
        send_error(out, peer, errors::unavailable, "shared state unreachable; try again");
        return;
    }
    if (!*member) {
        send_error(out, peer, errors::unknown_peer, "no peer \"" + target + "\" in your room");
        return;
    }
    // Only the fields of each type are forwarded; "from" is always set by the server.
    json forward{{"type", type}, {"from", peer}};
    if (type == "candidate") {
        auto c = message.find("candidate");
        if (c == message.end() || !(c->is_object() || c->is_null())) {
            send_error(out, peer, errors::bad_message, "candidate needs a \"candidate\" object");
            return;
        }
        forward["candidate"] = *c;
    } else {
        auto sdp = message.find("sdp");
        if (sdp == message.end() || !sdp->is_string()) {
            send_error(out, peer, errors::bad_message, type + " needs an \"sdp\" string");
            return;
        }
        forward["sdp"] = *sdp;
    }
    if (stats_) stats_->bump(stats_->frames_relayed);
    send(out, target, dump(forward));
}

} // namespace traverse::signaling
