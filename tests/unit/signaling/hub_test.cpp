// SPDX-License-Identifier: Apache-2.0
// The signaling core alone: matchmaking, rooms, relaying with server-set senders, errors.
#include "server/signaling/hub.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace traverse::signaling;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Fixture {
    Hub hub{HubOptions{}, 42};
    Time now = Time{} + 100s;
    Outbox out;

    PeerId connect() { return hub.connect(now); }
    std::vector<std::pair<PeerId, json>> say(const PeerId& from, const json& message) {
        return say_raw(from, message.dump());
    }
    std::vector<std::pair<PeerId, json>> say_raw(const PeerId& from, std::string_view frame) {
        out.clear();
        hub.on_message(now, from, frame, out);
        return decoded();
    }
    std::vector<std::pair<PeerId, json>> decoded() const {
        std::vector<std::pair<PeerId, json>> v;
        for (const auto& o : out)
            v.emplace_back(o.to, json::parse(*o.frame));
        return v;
    }
    std::string error_code_of(const std::vector<std::pair<PeerId, json>>& replies) {
        REQUIRE(replies.size() == 1);
        REQUIRE(replies[0].second["type"] == "error");
        CHECK(replies[0].second["message"].is_string());
        return replies[0].second["code"];
    }
};

} // namespace

TEST_SUITE("signaling.hub") {

    TEST_CASE("two queued users are matched into a room, the longest waiting one initiates") {
        Fixture f;
        auto a = f.connect();
        auto b = f.connect();
        CHECK(a != b);
        auto r = f.say(a, {{"type", "queue"}});
        REQUIRE(r.size() == 1);
        CHECK(r[0].second["type"] == "queued");
        CHECK(f.hub.waiting() == 1);
        r = f.say(b, {{"type", "queue"}});
        REQUIRE(r.size() == 2);
        CHECK(r[0].first == a);
        CHECK(r[0].second["type"] == "matched");
        CHECK(r[0].second["peer"] == b);
        CHECK(r[0].second["initiator"] == true);
        CHECK(r[1].first == b);
        CHECK(r[1].second["peer"] == a);
        CHECK(r[1].second["initiator"] == false);
        CHECK(r[0].second["room"] == r[1].second["room"]);
        CHECK(f.hub.waiting() == 0);
        CHECK(f.hub.rooms() == 1);
    }

    TEST_CASE("offers, answers and candidates reach the room peer with a server-set sender") {
        Fixture f;
        auto a = f.connect(), b = f.connect();
        f.say(a, {{"type", "queue"}});
        f.say(b, {{"type", "queue"}});
        // A forged "from" is ignored; the server writes the real sender.
        auto r =
            f.say(a, {{"type", "offer"}, {"to", b}, {"sdp", "v=0 offer"}, {"from", "mallory"}});
        REQUIRE(r.size() == 1);
        CHECK(r[0].first == b);
        CHECK(r[0].second == json{{"type", "offer"}, {"from", a}, {"sdp", "v=0 offer"}});
        r = f.say(b, {{"type", "answer"}, {"to", a}, {"sdp", "v=0 answer"}});
        CHECK(r[0].second == json{{"type", "answer"}, {"from", b}, {"sdp", "v=0 answer"}});
        json cand{{"candidate", "candidate:1 1 udp 1 127.0.0.1 5000 typ relay"}, {"sdpMid", "0"}};
        r = f.say(b, {{"type", "candidate"}, {"to", a}, {"candidate", cand}});
        CHECK(r[0].second == json{{"type", "candidate"}, {"from", b}, {"candidate", cand}});
        r = f.say(b,
                  {{"type", "candidate"}, {"to", a}, {"candidate", nullptr}}); // end of candidates
        CHECK(r[0].second["candidate"].is_null());
    }

    TEST_CASE(
        "relaying outside a room or to a stranger is refused and the connection stays usable") {
        Fixture f;
        auto a = f.connect(), b = f.connect(), c = f.connect();
        CHECK(f.error_code_of(f.say(a, {{"type", "offer"}, {"to", b}, {"sdp", "x"}})) ==
              "not-in-room");
        f.say(a, {{"type", "queue"}});
        f.say(b, {{"type", "queue"}});
        CHECK(f.error_code_of(f.say(a, {{"type", "offer"}, {"to", c}, {"sdp", "x"}})) ==
              "unknown-peer");
        CHECK(f.error_code_of(f.say(a, {{"type", "offer"}, {"to", a}, {"sdp", "x"}})) ==
              "unknown-peer");
        CHECK(f.error_code_of(f.say(a, {{"type", "offer"}, {"to", b}})) == "bad-message");
        CHECK(f.error_code_of(f.say(a, {{"type", "candidate"}, {"to", b}, {"candidate", 5}})) ==
              "bad-message");
        auto r = f.say(a, {{"type", "offer"}, {"to", b}, {"sdp", "still works"}});
        CHECK(r[0].first == b);
    }

    TEST_CASE("malformed frames get stable error codes") {
        Fixture f;
        auto a = f.connect();
        CHECK(f.error_code_of(f.say_raw(a, "{not json")) == "bad-json");
        CHECK(f.error_code_of(f.say_raw(a, "[1,2]")) == "bad-message");
        CHECK(f.error_code_of(f.say_raw(a, R"({"type":7})")) == "bad-message");
        CHECK(f.error_code_of(f.say(a, {{"type", "dance"}})) == "unknown-type");
        CHECK(f.error_code_of(f.say_raw(a, std::string(70 * 1024, ' '))) == "too-large");
        CHECK(f.error_code_of(f.say(a, {{"type", "join"}})) == "bad-message");
        CHECK(f.error_code_of(f.say(a, {{"type", "join"}, {"room", "no spaces"}})) == "bad-room");
        CHECK(f.error_code_of(f.say(a, {{"type", "join"}, {"room", "~r-abc"}})) == "bad-room");
        CHECK(f.error_code_of(f.say(a, {{"type", "leave"}})) == "not-in-room");
    }

    TEST_CASE("deeply nested JSON is refused before it is parsed or relayed") {
        Fixture f;
        auto a = f.connect();
        auto b = f.connect();
        f.say(a, {{"type", "join"}, {"room", "deep"}});
        f.say(b, {{"type", "join"}, {"room", "deep"}});
        // 32000 levels fit in a 64 KiB frame; relaying them once overflowed the stack.
        const std::string deep = R"({"type":"candidate","to":")" + b + R"(","candidate":{"a":)" +
                                 std::string(32000, '[') + std::string(32000, ']') + "}}";
        REQUIRE(deep.size() < HubOptions{}.max_frame_bytes);
        CHECK(f.error_code_of(f.say_raw(a, deep)) == "bad-json");
        // Brackets inside strings do not count; 32 levels are still fine.
        const std::string ok =
            R"({"type":"candidate","to":")" + b +
            R"(","candidate":{"s":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[","a":)" +
            std::string(30, '[') + std::string(30, ']') + "}}";
        auto replies = f.say_raw(a, ok);
        REQUIRE(replies.size() == 1);
        CHECK(replies[0].first == b);
        CHECK(replies[0].second["type"] == "candidate");
    }

    TEST_CASE("named rooms announce joins and leaves and refuse members beyond capacity") {
        Fixture f;
        auto a = f.connect(), b = f.connect(), c = f.connect();
        auto r = f.say(a, {{"type", "join"}, {"room", "team-1"}});
        REQUIRE(r.size() == 1);
        CHECK(r[0].second ==
              json{{"type", "joined"}, {"room", "team-1"}, {"peers", json::array()}});
        r = f.say(b, {{"type", "join"}, {"room", "team-1"}});
        REQUIRE(r.size() == 2);
        CHECK(r[0].first == a);
        CHECK(r[0].second == json{{"type", "peer-joined"}, {"room", "team-1"}, {"peer", b}});
        CHECK(r[1].second["peers"] == json::array({a}));
        CHECK(f.error_code_of(f.say(c, {{"type", "join"}, {"room", "team-1"}})) == "room-full");
        r = f.say(a, {{"type", "leave"}});
        REQUIRE(r.size() == 2);
        CHECK(r[0].first == b);
        CHECK(r[0].second == json{{"type", "peer-left"}, {"room", "team-1"}, {"peer", a}});
        CHECK(r[1].second["type"] == "left");
        CHECK(f.say(c, {{"type", "join"}, {"room", "team-1"}}).size() == 2);
    }

    TEST_CASE("a mesh room holds up to its configured capacity") {
        HubOptions o;
        o.room_capacity = 8;
        Hub hub(o, 7);
        Outbox out;
        std::vector<PeerId> peers;
        for (int i = 0; i < 8; ++i) {
            peers.push_back(hub.connect(Time{}));
            out.clear();
            hub.on_message(Time{}, peers.back(), R"({"type":"join","room":"mesh"})", out);
            CHECK(out.size() == static_cast<std::size_t>(i) + 1); // i announcements + joined
        }
        auto ninth = hub.connect(Time{});
        out.clear();
        hub.on_message(Time{}, ninth, R"({"type":"join","room":"mesh"})", out);
        CHECK(json::parse(*out[0].frame)["code"] == "room-full");
    }

    TEST_CASE("a disconnect tells the room and leaves the queue; next requeues") {
        Fixture f;
        auto a = f.connect(), b = f.connect(), c = f.connect();
        f.say(a, {{"type", "queue"}});
        f.say(b, {{"type", "queue"}});
        f.out.clear();
        f.hub.disconnect(a, f.out);
        auto r = f.decoded();
        REQUIRE(r.size() == 1);
        CHECK(r[0].first == b);
        CHECK(r[0].second["type"] == "peer-left");
        CHECK(f.hub.rooms() == 1); // b is still in it, alone
        // b looks for someone new; c queued meanwhile gets matched with b.
        f.say(c, {{"type", "queue"}});
        r = f.say(b, {{"type", "next"}});
        REQUIRE(r.size() == 2);
        CHECK(r[0].first == c);
        CHECK(r[0].second["initiator"] == true);
        // A queued user who disconnects is no longer matched.
        auto d = f.connect(), e = f.connect();
        f.say(d, {{"type", "queue"}});
        f.out.clear();
        f.hub.disconnect(d, f.out);
        CHECK(f.hub.waiting() == 0);
        CHECK(f.say(e, {{"type", "queue"}})[0].second["type"] == "queued");
        CHECK(f.hub.users() == 3);
    }

    TEST_CASE("next from a matched room tells the old peer and queues again") {
        Fixture f;
        auto a = f.connect(), b = f.connect();
        f.say(a, {{"type", "queue"}});
        f.say(b, {{"type", "queue"}});
        auto r = f.say(a, {{"type", "next"}});
        REQUIRE(r.size() == 2);
        CHECK(r[0].first == b);
        CHECK(r[0].second["type"] == "peer-left");
        CHECK(r[1].second["type"] == "queued");
        // b stays in the (now one-member) room until it asks for someone new; then it meets
        // the queue, where a is already waiting (and, having waited, initiates).
        CHECK(f.hub.room_of(b));
        r = f.say(b, {{"type", "next"}});
        REQUIRE(r.size() == 2);
        CHECK(r[0].first == a);
        CHECK(r[0].second["type"] == "matched");
        CHECK(r[0].second["initiator"] == true);
        CHECK(f.hub.rooms() == 1); // the old room closed with its last member
    }

    TEST_CASE("messages beyond the per-connection rate are refused until the bucket refills") {
        HubOptions o;
        o.messages_per_second = 10;
        o.message_burst = 5;
        Hub hub(o, 3);
        auto a = hub.connect(Time{});
        Outbox out;
        int limited = 0;
        for (int i = 0; i < 8; ++i) {
            out.clear();
            hub.on_message(Time{}, a, R"({"type":"dance"})", out);
            if (json::parse(*out[0].frame)["code"] == "rate-limited") ++limited;
        }
        CHECK(limited == 3);
        out.clear();
        hub.on_message(Time{} + 200ms, a, R"({"type":"dance"})", out);
        CHECK(json::parse(*out[0].frame)["code"] == "unknown-type");
    }

} // TEST_SUITE

TEST_SUITE("signaling.hub.store") {

    TEST_CASE("a partner held by another hub is matched through the shared store") {
        // Two hubs on one store play two nodes; frames for the other node's user carry the room.
        MemoryRoomStore store;
        Hub one(HubOptions{}, 1, &store), two(HubOptions{}, 2, &store);
        Time now = Time{} + 10s;
        Outbox out;
        auto a = one.connect(now);
        auto b = two.connect(now);
        one.on_message(now, a, R"({"type":"queue"})", out);
        REQUIRE(out.size() == 1);
        out.clear();
        two.on_message(now + 2s, b, R"({"type":"queue"})", out);
        REQUIRE(out.size() == 2);
        CHECK(out[0].to == a);
        const std::string room = json::parse(*out[0].frame)["room"];
        CHECK(out[0].matched_room == room);
        CHECK(out[1].to == b);
        CHECK(out[1].matched_room.empty());
        CHECK(two.room_of(b) == room);
        CHECK_FALSE(one.room_of(a));
        Outbox more;
        CHECK(one.adopt_room(now + 2s, a, room, more));
        CHECK(more.empty());
        CHECK(one.room_of(a) == room);
        CHECK(one.waiting() == 0);
        // Relaying now works across the hubs' shared membership.
        out.clear();
        one.on_message(now, a, json{{"type", "offer"}, {"to", b}, {"sdp", "x"}}.dump(), out);
        REQUIRE(out.size() == 1);
        CHECK(out[0].to == b);
    }

    TEST_CASE("a room adopted by a user who moved on is left again with peer-left") {
        MemoryRoomStore store;
        Hub one(HubOptions{}, 1, &store), two(HubOptions{}, 2, &store);
        Time now = Time{} + 10s;
        Outbox out;
        auto a = one.connect(now);
        auto b = two.connect(now);
        one.on_message(now, a, R"({"type":"queue"})", out);
        out.clear();
        two.on_message(now, b, R"({"type":"queue"})", out);
        const std::string room = out[0].matched_room;
        // Meanwhile a joined a named room on its own node.
        Outbox ignored;
        one.on_message(now, a, R"({"type":"join","room":"x"})", ignored);
        Outbox more;
        CHECK_FALSE(one.adopt_room(now, a, room, more));
        REQUIRE(more.size() == 1);
        CHECK(more[0].to == b);
        CHECK(json::parse(*more[0].frame) ==
              json{{"type", "peer-left"}, {"room", room}, {"peer", a}});
        CHECK(one.room_of(a) == "x");
        // And for a user that is gone altogether.
        CHECK_FALSE(one.adopt_room(now, "p-nobody", "~r-none", more));
    }

    TEST_CASE("metrics: relayed frames, drops by reason, matches and gauges") {
        traverse::stats::SignalCounters counters;
        Hub hub(HubOptions{}, 7, nullptr, &counters);
        Time now = Time{} + 10s;
        Outbox out;
        auto a = hub.connect(now), b = hub.connect(now);
        CHECK(counters.users == 2);
        hub.on_message(now, a, R"({"type":"queue"})", out);
        CHECK(counters.waiting == 1);
        hub.on_message(now + 1500ms, b, R"({"type":"queue"})", out);
        CHECK(counters.waiting == 0);
        CHECK(counters.rooms == 1);
        CHECK(counters.matches == 2);
        CHECK(counters.match_buckets[0] == 1); // b: matched at once
        CHECK(counters.match_buckets[3] == 1); // a: waited 1.5 s (1 < w <= 2)
        CHECK(counters.match_wait_microseconds == 1'500'000);
        hub.on_message(now, a, json{{"type", "offer"}, {"to", b}, {"sdp", "x"}}.dump(), out);
        hub.on_message(now, a, json{{"type", "offer"}, {"to", "zz"}, {"sdp", "x"}}.dump(), out);
        hub.on_message(now, a, "{", out);
        hub.on_message(now, a, R"({"type":"x"})", out);
        CHECK(counters.frames_relayed == 1);
        using traverse::stats::SignalDrop;
        CHECK(counters.dropped[static_cast<std::size_t>(SignalDrop::unknown_peer)] == 1);
        CHECK(counters.dropped[static_cast<std::size_t>(SignalDrop::bad_json)] == 1);
        CHECK(counters.dropped[static_cast<std::size_t>(SignalDrop::unknown_type)] == 1);
        hub.disconnect(a, out);
        CHECK(counters.users == 1);
        CHECK(counters.rooms == 1);
        hub.disconnect(b, out);
        CHECK(counters.rooms == 0);
    }
}
