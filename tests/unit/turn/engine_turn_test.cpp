// SPDX-License-Identifier: Apache-2.0
// TURN flows driven through the sans-IO engine with a fake clock, fake relays and fake quotas.
#include "proto/attributes.hpp"
#include "proto/channel_data.hpp"
#include "proto/integrity.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "server/base/log.hpp"
#include "server/turn/engine.hpp"

#include <cstring>
#include <doctest/doctest.h>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <vector>

using namespace traverse;
using proto::AttrType;
using namespace std::chrono_literals;

namespace {

// The engine logs refusals and auth failures at info; these tests provoke hundreds of them.
const bool quiet_logs = [] {
    log::configure(log::Level::error, log::Format::text);
    return true;
}();

proto::TransportAddress addr(const char* text) {
    auto a = proto::TransportAddress::parse(text);
    REQUIRE_MESSAGE(a, text);
    return *a;
}

std::vector<std::byte> bytes(std::string_view s) {
    std::vector<std::byte> v(s.size());
    if (!s.empty()) std::memcpy(v.data(), s.data(), s.size()); // no null pointers into memcpy
    return v;
}

/// Relay sockets without sockets: ids count up, addresses are documentation addresses.
struct FakeRelays final : turn::RelayOpener {
    bool ipv6 = false;
    std::size_t capacity = 100;
    std::set<turn::RelayId> open_ids;
    turn::RelayId next = 0;
    std::map<std::uint64_t, bool> tokens;

    turn::RelayOpenResult open(const turn::RelayRequest& r) override {
        turn::RelayOpenResult res;
        if (r.family == proto::Family::ipv6 && !ipv6) {
            res.error = turn::RelayError::family_unsupported;
            return res;
        }
        if (r.reservation_token && !tokens.count(*r.reservation_token)) {
            res.error = turn::RelayError::bad_token;
            return res;
        }
        if (open_ids.size() >= capacity) {
            res.error = turn::RelayError::exhausted;
            return res;
        }
        turn::RelayGrant g;
        g.id = next++;
        g.relayed =
            r.family == proto::Family::ipv4 ? addr("198.51.100.1:0") : addr("[2001:db8::1]:0");
        g.relayed.port = static_cast<std::uint16_t>(50000 + 2 * g.id);
        if (r.reserve_next) {
            g.reserved_token = 0x1122334455667788ull + g.id;
            tokens[*g.reserved_token] = true;
        }
        open_ids.insert(g.id);
        res.grant = g;
        return res;
    }
    void close(turn::RelayId id) override { open_ids.erase(id); }
};

struct FakeQuota final : turn::QuotaLedger {
    std::uint32_t per_user = 0, total = 0;
    std::map<std::string, std::uint32_t, std::less<>> users;
    std::uint32_t count = 0;
    turn::QuotaRefusal acquire(std::string_view user, const proto::TransportAddress&) override {
        if (total && count >= total) return turn::QuotaRefusal::total;
        auto& n = users[std::string(user)];
        if (per_user && n >= per_user) return turn::QuotaRefusal::per_user;
        ++n;
        ++count;
        return turn::QuotaRefusal::none;
    }
    void release(std::string_view user, const proto::TransportAddress&) override {
        --users[std::string(user)];
        --count;
    }
};

constexpr std::int64_t unix_epoch = 1'700'000'000;
const char* realm = "example.test";

struct Turn {
    stats::WorkerCounters counters;
    FakeRelays relays;
    FakeQuota quota;
    turn::Outbox out;
    std::unique_ptr<turn::Engine> engine;
    turn::Time now = turn::Time{} + 1000s;
    std::mt19937 random{42};

    explicit Turn(std::function<void(turn::EngineOptions&)> tweak = {}) {
        turn::AuthOptions auth;
        auth.realm = realm;
        auth.users.push_back(turn::StaticUser{"alice", std::string("wonderland"), std::nullopt});
        auth.users.push_back(turn::StaticUser{"bob", std::string("builder"), std::nullopt});
        auth.rest_secrets = {"rest-secret"};
        for (std::size_t i = 0; i < auth.nonce_secret.size(); ++i)
            auth.nonce_secret[i] = static_cast<std::byte>(i);
        turn::EngineOptions o;
        o.software = "Traverse-test";
        o.auth = std::make_shared<const turn::Authenticator>(std::move(auth));
        // Allow one public-looking documentation peer and loopback, as a test config would.
        o.peers = std::make_shared<const turn::PeerPolicy>(
            std::vector<turn::Cidr>{*turn::Cidr::parse("127.0.0.1/32"),
                                    *turn::Cidr::parse("203.0.113.0/24"),
                                    *turn::Cidr::parse("2001:db8:5::/48")},
            std::vector<turn::Cidr>{}, std::vector<proto::TransportAddress>{});
        o.unix_at_steady_epoch = unix_epoch;
        if (tweak) tweak(o);
        std::vector<turn::ListenerInfo> listeners(2);
        listeners[0].local = addr("192.0.2.1:3478");
        listeners[1].local = addr("192.0.2.1:3478");
        listeners[1].transport = turn::Transport::tcp;
        engine = std::make_unique<turn::Engine>(std::move(o), std::move(listeners), counters,
                                                &relays, &quota);
    }

    proto::TransactionId new_tid() {
        proto::TransactionId t;
        for (auto& b : t)
            b = static_cast<std::byte>(random() & 0xFF);
        return t;
    }

    /// Feeds a datagram from `client` (UDP listener) and returns everything it produced.
    std::vector<turn::Outbox::Entry> feed(const std::vector<std::byte>& msg,
                                          const char* client = "192.0.2.50:40000") {
        out.clear();
        turn::ClientContext from;
        from.client = addr(client);
        engine->on_client_datagram(now, from, msg, out);
        return {out.entries().begin(), out.entries().end()};
    }
    proto::MessageView reply(std::size_t i = 0) {
        REQUIRE(out.entries().size() > i);
        auto v = proto::MessageView::parse(out.bytes(out.entries()[i]));
        REQUIRE(v);
        return *v;
    }
    int error_of(const proto::MessageView& m) {
        auto a = m.find(AttrType::error_code);
        if (!a) return 0;
        return proto::decode_error_code(*a)->code;
    }
};

/// A minimal long-term-credential TURN client for the tests.
struct Client {
    Turn& t;
    std::string user;
    std::string password;
    const char* address;
    std::string nonce;
    proto::TransactionId last_tid{};

    explicit Client(Turn& turn, std::string u = "alice", std::string p = "wonderland",
                    const char* from = "192.0.2.50:40000")
        : t(turn), user(std::move(u)), password(std::move(p)), address(from) {}

    std::array<std::byte, 16> key() const {
        return proto::long_term_key_md5(user, realm, password);
    }

    std::vector<std::byte> build(proto::Method m,
                                 const std::function<void(proto::MessageBuilder&)>& fill,
                                 bool with_auth = true,
                                 std::optional<proto::TransactionId> tid = {}) {
        std::vector<std::byte> buf(2048);
        proto::MessageBuilder b(buf);
        last_tid = tid ? *tid : t.new_tid();
        b.start(proto::make_type(m, proto::MessageClass::request), last_tid);
        if (fill) fill(b);
        if (with_auth) {
            b.add_string(AttrType::username, user);
            b.add_string(AttrType::realm, realm);
            b.add_string(AttrType::nonce, nonce);
            auto k = key();
            b.add_message_integrity(k);
        }
        b.add_fingerprint();
        auto wire = b.finish();
        REQUIRE(wire);
        buf.resize(wire->size());
        return buf;
    }

    /// Sends `m`; on a 401/438 learns the nonce and retries once. Returns the final answer.
    proto::MessageView request(proto::Method m,
                               const std::function<void(proto::MessageBuilder&)>& fill = {}) {
        if (!nonce.empty()) {
            t.feed(build(m, fill), address);
            auto r = t.reply();
            if (r.message_class() == proto::MessageClass::success_response) return r;
            int code = t.error_of(r);
            if (code != 438 && code != 401) return r;
        }
        t.feed(build(m, fill, false), address);
        auto challenge = t.reply();
        REQUIRE(t.error_of(challenge) == 401);
        nonce = std::string(proto::decode_string(*challenge.find(AttrType::nonce)));
        t.feed(build(m, fill), address);
        return t.reply();
    }

    proto::MessageView allocate(const std::function<void(proto::MessageBuilder&)>& extra = {}) {
        return request(proto::Method::allocate, [&](proto::MessageBuilder& b) {
            b.add_requested_transport(17);
            if (extra) extra(b);
        });
    }
    proto::MessageView permit(const char* peer) {
        return request(proto::Method::create_permission, [&](proto::MessageBuilder& b) {
            b.add_xor_address(AttrType::xor_peer_address, addr(peer));
        });
    }
    proto::MessageView bind(std::uint16_t channel, const char* peer) {
        return request(proto::Method::channel_bind, [&](proto::MessageBuilder& b) {
            b.add_channel_number(channel);
            b.add_xor_address(AttrType::xor_peer_address, addr(peer));
        });
    }
};

bool success(const proto::MessageView& m) {
    return m.message_class() == proto::MessageClass::success_response;
}

proto::TransportAddress relayed_of(const proto::MessageView& m) {
    auto a = m.find(AttrType::xor_relayed_address);
    REQUIRE(a);
    return *proto::decode_xor_address(*a, m.transaction_id());
}

std::uint64_t value(const std::atomic<std::uint64_t>& c) {
    return c.load();
}

} // namespace

TEST_SUITE("turn.engine") {

    TEST_CASE("Allocate is challenged, then succeeds with relayed, mapped address and lifetime") {
        Turn t;
        Client c{t};
        auto r = c.allocate();
        REQUIRE(success(r));
        CHECK(relayed_of(r) == addr("198.51.100.1:50000"));
        CHECK(*proto::decode_xor_address(*r.find(AttrType::xor_mapped_address),
                                         r.transaction_id()) == addr("192.0.2.50:40000"));
        CHECK(*proto::decode_u32(*r.find(AttrType::lifetime)) == 600);
        CHECK(proto::decode_string(*r.find(AttrType::software)) == "Traverse-test");
        auto k = c.key();
        CHECK(r.verify_integrity(k));
        CHECK(r.has_fingerprint());
        CHECK(t.engine->allocation_count() == 1);
        CHECK(value(t.counters.allocations_created) == 1);
        CHECK(value(t.counters.challenges_sent) == 1);
    }

    TEST_CASE("the 401 challenge is small, unsigned and carries realm and nonce, but no SOFTWARE") {
        Turn t;
        Client c{t};
        auto req = c.build(
            proto::Method::allocate,
            [](proto::MessageBuilder& b) { b.add_requested_transport(17); }, false);
        t.feed(req);
        auto r = t.reply();
        CHECK(t.error_of(r) == 401);
        CHECK(proto::decode_string(*r.find(AttrType::realm)) == realm);
        CHECK(r.find(AttrType::nonce));
        CHECK_FALSE(r.find(AttrType::software));
        CHECK_FALSE(r.has_message_integrity());
        // Reflection gain of the only answer an unauthenticated source can get: bounded and small.
        CHECK(r.bytes().size() <= 4 * req.size());
        CHECK(t.engine->allocation_count() == 0);
    }

    TEST_CASE(
        "a retransmitted Allocate gets the identical answer; a new one on the 5-tuple gets 437") {
        Turn t;
        Client c{t};
        REQUIRE(success(c.allocate()));
        auto tid = c.last_tid;
        auto first = std::vector<std::byte>(t.reply().bytes().begin(), t.reply().bytes().end());
        t.feed(c.build(
            proto::Method::allocate,
            [](proto::MessageBuilder& b) { b.add_requested_transport(17); }, true, tid));
        auto again = t.reply();
        CHECK(std::vector<std::byte>(again.bytes().begin(), again.bytes().end()) == first);
        CHECK(t.engine->allocation_count() == 1);
        auto other = c.allocate();
        CHECK(t.error_of(other) == 437);
        CHECK(other.verify_integrity(c.key()));
    }

    TEST_CASE("another method reusing a cached answer's transaction id is not answered from "
              "the cache") {
        Turn t;
        Client c{t};
        REQUIRE(success(c.allocate()));
        auto tid = c.last_tid;
        // Same transaction id, different method: handled as a new request, not a retransmission.
        t.feed(c.build(
            proto::Method::create_permission,
            [](proto::MessageBuilder& b) {
                b.add_xor_address(AttrType::xor_peer_address, addr("203.0.113.5:9000"));
            },
            true, tid));
        auto r = t.reply();
        CHECK(r.method() == static_cast<std::uint16_t>(proto::Method::create_permission));
        CHECK(success(r));
    }

    TEST_CASE("Allocate without REQUESTED-TRANSPORT is 400 and with TCP is 442") {
        Turn t;
        Client c{t};
        auto r = c.request(proto::Method::allocate);
        CHECK(t.error_of(r) == 400);
        r = c.request(proto::Method::allocate,
                      [](proto::MessageBuilder& b) { b.add_requested_transport(6); });
        CHECK(t.error_of(r) == 442);
        CHECK(t.engine->allocation_count() == 0);
    }

    TEST_CASE("requested lifetimes are raised to the default and capped at the maximum") {
        Turn t;
        Client c{t};
        auto r = c.allocate([](proto::MessageBuilder& b) { b.add_u32(AttrType::lifetime, 30); });
        CHECK(*proto::decode_u32(*r.find(AttrType::lifetime)) == 600);
        r = c.request(proto::Method::refresh,
                      [](proto::MessageBuilder& b) { b.add_u32(AttrType::lifetime, 100000); });
        REQUIRE(success(r));
        CHECK(*proto::decode_u32(*r.find(AttrType::lifetime)) == 3600);
    }

    TEST_CASE("Refresh with LIFETIME 0 deletes; its retransmission succeeds again; then 437") {
        Turn t;
        Client c{t};
        REQUIRE(success(c.allocate()));
        auto r = c.request(proto::Method::refresh,
                           [](proto::MessageBuilder& b) { b.add_u32(AttrType::lifetime, 0); });
        REQUIRE(success(r));
        CHECK(*proto::decode_u32(*r.find(AttrType::lifetime)) == 0);
        CHECK(t.engine->allocation_count() == 0);
        CHECK(t.relays.open_ids.empty());
        CHECK(t.quota.count == 0);
        auto tid = c.last_tid;
        t.feed(c.build(
            proto::Method::refresh,
            [](proto::MessageBuilder& b) { b.add_u32(AttrType::lifetime, 0); }, true, tid));
        CHECK(success(t.reply()));
        CHECK(t.error_of(c.request(proto::Method::refresh)) == 437);
    }

    TEST_CASE("allocations expire at the end of their lifetime and give their relay back") {
        Turn t;
        Client c{t};
        REQUIRE(success(c.allocate()));
        t.now += 599s;
        t.engine->on_tick(t.now);
        CHECK(t.engine->allocation_count() == 1);
        t.now += 2s;
        t.engine->on_tick(t.now);
        CHECK(t.engine->allocation_count() == 0);
        CHECK(t.relays.open_ids.empty());
        CHECK(value(t.counters.allocations_expired) == 1);
    }

    TEST_CASE("permission and channel gauges follow binds, expiry and the allocation's end") {
        Turn t;
        Client c{t};
        REQUIRE(success(
            c.allocate([](proto::MessageBuilder& b) { b.add_u32(AttrType::lifetime, 3600); })));
        REQUIRE(success(c.permit("203.0.113.5:9000")));
        REQUIRE(success(c.permit("203.0.113.5:9001"))); // same IP: refreshed, not new
        REQUIRE(success(c.bind(0x4001, "203.0.113.6:9000")));
        REQUIRE(success(c.bind(0x4001, "203.0.113.6:9000"))); // refresh of the same binding
        CHECK(value(t.counters.permissions_installed) == 2);
        CHECK(value(t.counters.channels_bound) == 1);
        // Channels expire after 10 minutes, permissions after 5: both gauges go back to 0
        // although the channel stays quarantined.
        t.now += 601s;
        t.engine->on_tick(t.now);
        CHECK(value(t.counters.permissions_removed) == 2);
        CHECK(value(t.counters.channels_unbound) == 1);
        // Rebinding during quarantine counts as bound again; the allocation's end unbinds it.
        REQUIRE(success(c.bind(0x4001, "203.0.113.6:9000")));
        CHECK(value(t.counters.channels_bound) == 2);
        CHECK(value(t.counters.permissions_installed) == 3);
        REQUIRE(success(c.request(proto::Method::refresh, [](proto::MessageBuilder& m) {
            m.add_u32(AttrType::lifetime, 0);
        })));
        CHECK(value(t.counters.channels_unbound) == 2);
        CHECK(value(t.counters.permissions_removed) == 3);
        // One lifetime observed: 601 s, in the (600, 1200] bucket.
        CHECK(value(t.counters.lifetime_buckets[8]) == 1);
        CHECK(value(t.counters.lifetime_sum_ms) == 601000);
        CHECK(value(t.counters.responses[4][0]) == 3); // channel_bind success
        CHECK(value(t.counters.responses[2][0]) == 1); // refresh success
        CHECK(value(t.counters.responses[1][0]) == 1); // allocate success
        CHECK(value(t.counters.responses[1][stats::code_index(401)]) == 1);
    }

    TEST_CASE("allocations refused while draining are counted by reason and answer code") {
        Turn t;
        Client a{t};
        REQUIRE(success(a.allocate())); // learns the nonce
        t.engine->set_draining(true, std::nullopt);
        Client b{t, "bob", "builder", "192.0.2.52:40000"};
        CHECK(t.error_of(b.allocate()) == 508);
        t.engine->set_draining(true, addr("198.51.100.7:3478"));
        Client c{t, "bob", "builder", "192.0.2.53:40000"};
        CHECK(t.error_of(c.allocate()) == 300);
        CHECK(value(t.counters.allocations_refused_draining) == 2);
        CHECK(value(t.counters.responses[1][stats::code_index(508)]) == 1);
        CHECK(value(t.counters.responses[1][stats::code_index(300)]) == 1);
        CHECK(value(t.counters.error_responses) == 5); // three 401 challenges, 508, 300
    }

    TEST_CASE("an expired allocation records its lifetime") {
        Turn t;
        Client c{t};
        REQUIRE(success(c.allocate()));
        t.now += 601s;
        t.engine->on_tick(t.now);
        CHECK(value(t.counters.allocations_expired) == 1);
        CHECK(value(t.counters.lifetime_buckets[8]) == 1);
        CHECK(value(t.counters.lifetime_sum_ms) == 601000);
    }

    TEST_CASE(
        "a permission lets the peer reach the client as a Data indication, others are dropped") {
        Turn t;
        Client c{t};
        auto relayed = relayed_of(c.allocate());
        REQUIRE(success(c.permit("203.0.113.5:9000")));
        auto payload = bytes("hello from the peer");
        t.out.clear();
        // Permissions are per IP: another port of the same peer IP is allowed too.
        t.engine->on_peer_datagram(t.now, 0, addr("203.0.113.5:9999"), payload, t.out);
        REQUIRE(t.out.entries().size() == 1);
        CHECK(t.out.entries()[0].to == addr("192.0.2.50:40000"));
        CHECK(t.out.entries()[0].via.kind == turn::Via::Kind::listener);
        auto ind = t.reply();
        CHECK(ind.type() == proto::make_type(proto::Method::data, proto::MessageClass::indication));
        CHECK(*proto::decode_xor_address(*ind.find(AttrType::xor_peer_address),
                                         ind.transaction_id()) == addr("203.0.113.5:9999"));
        auto data = ind.find(AttrType::data);
        REQUIRE(data);
        CHECK(std::vector<std::byte>(data->value.begin(), data->value.end()) == payload);
        t.out.clear();
        t.engine->on_peer_datagram(t.now, 0, addr("203.0.113.6:9000"), payload, t.out);
        CHECK(t.out.empty());
        CHECK(value(t.counters.relay_dropped_no_permission) == 1);
        (void)relayed;
    }

    TEST_CASE("permissions expire after five minutes unless refreshed") {
        Turn t;
        Client c{t};
        c.allocate();
        REQUIRE(success(c.permit("203.0.113.5:9000")));
        t.now += 301s;
        t.out.clear();
        t.engine->on_peer_datagram(t.now, 0, addr("203.0.113.5:9000"), bytes("late"), t.out);
        CHECK(t.out.empty());
    }

    TEST_CASE("the peer filter refuses private peers with 403, all or nothing, and counts them") {
        Turn t;
        Client c{t};
        c.allocate();
        auto r = c.request(proto::Method::create_permission, [](proto::MessageBuilder& b) {
            b.add_xor_address(AttrType::xor_peer_address, addr("203.0.113.5:1"));
            b.add_xor_address(AttrType::xor_peer_address, addr("10.0.0.1:1"));
        });
        CHECK(t.error_of(r) == 403);
        CHECK(value(t.counters.peers_refused) == 1);
        t.out.clear();
        t.engine->on_peer_datagram(t.now, 0, addr("203.0.113.5:1"), bytes("x"), t.out);
        CHECK(t.out.empty()); // the allowed peer of the refused request was not installed
        for (const char* peer :
             {"169.254.169.254:80", "127.0.0.2:1", "0.0.0.0:1", "10.1.2.3:1", "192.168.0.1:1",
              "100.64.0.1:1", "224.0.0.1:1", "255.255.255.255:1"}) {
            CAPTURE(peer);
            CHECK(t.error_of(c.permit(peer)) == 403);
        }
    }

    TEST_CASE("on an IPv6 relay every IPv6 spelling of a denied IPv4 address is refused") {
        Turn t;
        t.relays.ipv6 = true;
        Client c{t};
        REQUIRE(success(c.allocate([](proto::MessageBuilder& b) {
            b.add_address_family(AttrType::requested_address_family, proto::Family::ipv6);
        })));
        for (const char* peer :
             {"[::ffff:169.254.169.254]:80", "[::ffff:10.0.0.1]:1", "[::10.0.0.1]:1",
              "[2002:a9fe:a9fe::]:80", "[64:ff9b::a9fe:a9fe]:80", "[::1]:1", "[::]:1",
              "[fe80::1]:1", "[fc00::1]:1"}) {
            CAPTURE(peer);
            CHECK(t.error_of(c.permit(peer)) == 403);
            CHECK(t.error_of(c.bind(0x4000, peer)) == 403);
        }
        CHECK(success(c.permit("[2001:db8:5::1]:5000")));
    }

    TEST_CASE("denied peers are refused on every relay path: ChannelBind and Send too") {
        Turn t;
        Client c{t};
        c.allocate();
        CHECK(t.error_of(c.bind(0x4000, "192.168.1.1:5000")) == 403);
        t.out.clear();
        std::vector<std::byte> buf(256);
        proto::MessageBuilder b(buf);
        b.start(proto::make_type(proto::Method::send, proto::MessageClass::indication),
                t.new_tid());
        b.add_xor_address(AttrType::xor_peer_address, addr("192.168.1.1:5000"));
        b.add_raw(AttrType::data, bytes("ssrf"));
        auto w = b.finish();
        t.feed(std::vector<std::byte>(w->begin(), w->end()));
        CHECK(t.out.empty());
    }

    TEST_CASE("a new peer filter ends permissions and channels of peers it refuses") {
        Turn t;
        Client c{t};
        c.allocate();
        REQUIRE(success(c.bind(0x4001, "203.0.113.5:9000")));
        REQUIRE(success(c.permit("203.0.113.9:9000")));
        auto channel_data = [] {
            std::vector<std::byte> cd(4 + 4);
            proto::write_channel_data_header(std::span<std::byte, 4>(cd.data(), 4), 0x4001, 4);
            std::memcpy(cd.data() + 4, "data", 4);
            return cd;
        };
        REQUIRE(t.feed(channel_data()).size() == 1); // relayed before the reload
        // Reload: TEST-NET-3 is denied now.
        t.engine->set_peer_policy(std::make_shared<const turn::PeerPolicy>(
            std::vector<turn::Cidr>{},
            std::vector<turn::Cidr>{*turn::Cidr::parse("203.0.113.0/24")},
            std::vector<proto::TransportAddress>{}));
        CHECK(t.feed(channel_data()).empty());
        t.out.clear();
        t.engine->on_peer_datagram(t.now, 0, addr("203.0.113.9:9000"), bytes("in"), t.out);
        t.engine->on_peer_datagram(t.now, 0, addr("203.0.113.5:9000"), bytes("in"), t.out);
        CHECK(t.out.empty());
        // The channel number stays quarantined: it cannot be rebound to another peer yet.
        t.engine->set_peer_policy(std::make_shared<const turn::PeerPolicy>(
            std::vector<turn::Cidr>{*turn::Cidr::parse("198.51.100.0/24")},
            std::vector<turn::Cidr>{*turn::Cidr::parse("203.0.113.0/24")},
            std::vector<proto::TransportAddress>{}));
        CHECK(t.error_of(c.bind(0x4001, "198.51.100.7:9000")) == 400);
    }

    TEST_CASE("CreatePermission for a peer of a family the allocation lacks is 443") {
        Turn t;
        Client c{t};
        c.allocate();
        CHECK(t.error_of(c.permit("[2001:db8:5::1]:5000")) == 443);
    }

    TEST_CASE("a Send indication goes out of the relay socket to a permitted peer") {
        Turn t;
        Client c{t};
        c.allocate();
        c.permit("203.0.113.5:9000");
        std::vector<std::byte> buf(256);
        proto::MessageBuilder b(buf);
        b.start(proto::make_type(proto::Method::send, proto::MessageClass::indication),
                t.new_tid());
        b.add_xor_address(AttrType::xor_peer_address, addr("203.0.113.5:9000"));
        b.add_raw(AttrType::data, bytes("to the peer"));
        auto w = b.finish();
        auto entries = t.feed(std::vector<std::byte>(w->begin(), w->end()));
        REQUIRE(entries.size() == 1);
        CHECK(entries[0].via.kind == turn::Via::Kind::relay);
        CHECK(entries[0].via.listener == 0);
        CHECK(entries[0].to == addr("203.0.113.5:9000"));
        auto sent = t.out.bytes(entries[0]);
        CHECK(std::string(reinterpret_cast<const char*>(sent.data()), sent.size()) ==
              "to the peer");
        CHECK(value(t.counters.relayed_to_peer_bytes) == 11);
    }

    TEST_CASE("ChannelBind relays ChannelData both ways and refuses rebinding") {
        Turn t;
        Client c{t};
        c.allocate();
        REQUIRE(success(c.bind(0x4001, "203.0.113.5:9000")));
        // Client -> peer.
        std::vector<std::byte> cd(4 + 5);
        proto::write_channel_data_header(std::span<std::byte, 4>(cd.data(), 4), 0x4001, 5);
        std::memcpy(cd.data() + 4, "media", 5);
        auto entries = t.feed(cd);
        REQUIRE(entries.size() == 1);
        CHECK(entries[0].via.kind == turn::Via::Kind::relay);
        CHECK(entries[0].to == addr("203.0.113.5:9000"));
        CHECK(t.out.bytes(entries[0]).size() == 5);
        // Peer -> client: ChannelData, not a Data indication (UDP: no padding).
        t.out.clear();
        t.engine->on_peer_datagram(t.now, 0, addr("203.0.113.5:9000"), bytes("reply"), t.out);
        REQUIRE(t.out.entries().size() == 1);
        auto back = t.out.bytes(t.out.entries()[0]);
        CHECK(back.size() == 9);
        auto parsed = proto::parse_channel_data(back, false);
        REQUIRE(parsed);
        CHECK(parsed->channel == 0x4001);
        // Rebinding rules (RFC 8656 §11.2).
        CHECK(t.error_of(c.bind(0x4001, "203.0.113.6:9000")) == 400);
        CHECK(t.error_of(c.bind(0x4002, "203.0.113.5:9000")) == 400);
        CHECK(success(c.bind(0x4001, "203.0.113.5:9000"))); // refresh
        // Out-of-range numbers, written raw because the builder refuses to encode them.
        for (std::uint16_t bad : {std::uint16_t{0x3FFF}, std::uint16_t{0x5000}}) {
            CAPTURE(bad);
            auto r = c.request(proto::Method::channel_bind, [&](proto::MessageBuilder& b) {
                const std::array<std::byte, 4> raw = {static_cast<std::byte>(bad >> 8),
                                                      static_cast<std::byte>(bad & 0xFF),
                                                      std::byte{0}, std::byte{0}};
                b.add_raw(AttrType::channel_number, raw);
                b.add_xor_address(AttrType::xor_peer_address, addr("203.0.113.7:9000"));
            });
            CHECK(t.error_of(r) == 400);
        }
    }

    TEST_CASE("an expired channel stops relaying but stays reserved for five more minutes") {
        Turn t;
        Client c{t};
        c.allocate([](proto::MessageBuilder& b) { b.add_u32(AttrType::lifetime, 3600); });
        REQUIRE(success(c.bind(0x4000, "203.0.113.5:9000")));
        t.now += 601s;
        t.engine->on_tick(t.now);
        std::vector<std::byte> cd(8);
        proto::write_channel_data_header(std::span<std::byte, 4>(cd.data(), 4), 0x4000, 4);
        CHECK(t.feed(cd).empty());
        CHECK(t.error_of(c.bind(0x4000, "203.0.113.6:9000")) == 400);
        t.now += 300s;
        t.engine->on_tick(t.now);
        CHECK(success(c.bind(0x4000, "203.0.113.6:9000")));
    }

    TEST_CASE("ChannelData to a stream client is padded to a multiple of four") {
        Turn t;
        Client c{t};
        // Drive the allocation over the TCP listener.
        auto over_tcp = [&](const std::vector<std::byte>& msg) {
            t.out.clear();
            turn::ClientContext from;
            from.listener = 1;
            from.connection = 99;
            from.client = addr("192.0.2.50:40000");
            CHECK(t.engine->on_stream_frame(t.now, from, msg, t.out));
            return t.reply();
        };
        over_tcp(c.build(
            proto::Method::allocate,
            [](proto::MessageBuilder& b) { b.add_requested_transport(17); }, false));
        c.nonce = std::string(proto::decode_string(*t.reply().find(AttrType::nonce)));
        REQUIRE(success(over_tcp(c.build(proto::Method::allocate, [](proto::MessageBuilder& b) {
            b.add_requested_transport(17);
        }))));
        REQUIRE(success(over_tcp(c.build(proto::Method::channel_bind, [](proto::MessageBuilder& b) {
            b.add_channel_number(0x4000);
            b.add_xor_address(AttrType::xor_peer_address, addr("203.0.113.5:9000"));
        }))));
        t.out.clear();
        t.engine->on_peer_datagram(t.now, 0, addr("203.0.113.5:9000"), bytes("abcde"), t.out);
        REQUIRE(t.out.entries().size() == 1);
        CHECK(t.out.entries()[0].via.kind == turn::Via::Kind::connection);
        CHECK(t.out.entries()[0].via.connection == 99);
        CHECK(t.out.bytes(t.out.entries()[0]).size() == 12);
        // The connection closing ends the allocation.
        turn::ClientContext from;
        from.listener = 1;
        from.connection = 99;
        from.client = addr("192.0.2.50:40000");
        t.engine->on_stream_closed(t.now, from);
        CHECK(t.engine->allocation_count() == 0);
        CHECK(t.relays.open_ids.empty());
    }

    TEST_CASE("quotas: per user is 486, total is 508, and released quota can be used again") {
        Turn t;
        t.quota.per_user = 1;
        t.quota.total = 2;
        Client a{t};
        REQUIRE(success(a.allocate()));
        Client a2{t};
        a2.address = "192.0.2.51:40000";
        CHECK(t.error_of(a2.allocate()) == 486);
        Client b{t, "bob", "builder", "192.0.2.52:40000"};
        REQUIRE(success(b.allocate()));
        Client b2{t, "alice", "wonderland", "192.0.2.53:40000"};
        t.quota.per_user = 0;
        CHECK(t.error_of(b2.allocate()) == 508);
        CHECK(value(t.counters.allocations_refused_quota_user) == 1);
        CHECK(value(t.counters.allocations_refused_quota_total) == 1);
        CHECK(value(t.counters.responses[1][stats::code_index(486)]) == 1);
        CHECK(value(t.counters.responses[1][stats::code_index(508)]) == 1);
        REQUIRE(success(a.request(proto::Method::refresh, [](proto::MessageBuilder& m) {
            m.add_u32(AttrType::lifetime, 0);
        })));
        CHECK(success(b2.allocate()));
    }

    TEST_CASE("relay port exhaustion is 508 and recovers when allocations end") {
        Turn t;
        t.relays.capacity = 1;
        Client a{t};
        REQUIRE(success(a.allocate()));
        Client b{t, "bob", "builder", "192.0.2.52:40000"};
        CHECK(t.error_of(b.allocate()) == 508);
        CHECK(value(t.counters.allocations_refused_capacity) == 1);
        CHECK(t.quota.count == 1); // the refused allocation did not keep quota
        a.request(proto::Method::refresh,
                  [](proto::MessageBuilder& m) { m.add_u32(AttrType::lifetime, 0); });
        CHECK(success(b.allocate()));
    }

    TEST_CASE("another user's request on an allocation is 441") {
        Turn t;
        Client a{t};
        REQUIRE(success(a.allocate()));
        Client b{t, "bob", "builder"};
        b.nonce = a.nonce;
        t.feed(b.build(proto::Method::refresh, {}));
        CHECK(t.error_of(t.reply()) == 441);
    }

    TEST_CASE("a stale nonce is 438 with a fresh nonce, and the retry succeeds") {
        Turn t;
        Client c{t};
        REQUIRE(success(
            c.allocate([](proto::MessageBuilder& b) { b.add_u32(AttrType::lifetime, 3600); })));
        auto old_nonce = c.nonce;
        t.now += 700s;
        t.feed(c.build(proto::Method::refresh, {}));
        auto r = t.reply();
        CHECK(t.error_of(r) == 438);
        auto fresh = std::string(proto::decode_string(*r.find(AttrType::nonce)));
        CHECK(fresh != old_nonce);
        c.nonce = fresh;
        t.feed(c.build(proto::Method::refresh, {}));
        CHECK(success(t.reply()));
    }

    TEST_CASE("REST credentials allocate; expired ones are refused") {
        Turn t;
        auto user = turn::rest_username(unix_epoch + 1000 + 3600, "carol");
        Client c{t, user, turn::rest_password("rest-secret", user)};
        CHECK(success(c.allocate()));
        auto old = turn::rest_username(unix_epoch + 1000 - 10, "dave");
        Client d{t, old, turn::rest_password("rest-secret", old), "192.0.2.60:1"};
        auto r = d.allocate();
        CHECK(t.error_of(r) == 401);
        CHECK(value(t.counters.auth_failures_expired_rest) == 1);
    }

    TEST_CASE("dual-stack Allocate returns two relayed addresses, or ADDRESS-ERROR-CODE") {
        SUBCASE("IPv6 available") {
            Turn t;
            t.relays.ipv6 = true;
            Client c{t};
            auto r = c.allocate([](proto::MessageBuilder& b) {
                b.add_address_family(AttrType::additional_address_family, proto::Family::ipv6);
            });
            REQUIRE(success(r));
            int relayed = 0;
            for (const auto& a : r.attributes())
                if (a.attr() == AttrType::xor_relayed_address) ++relayed;
            CHECK(relayed == 2);
            CHECK(success(c.permit("[2001:db8:5::9]:1")));
        }
        SUBCASE("IPv6 unavailable") {
            Turn t;
            Client c{t};
            auto r = c.allocate([](proto::MessageBuilder& b) {
                b.add_address_family(AttrType::additional_address_family, proto::Family::ipv6);
            });
            REQUIRE(success(r));
            auto e = r.find(AttrType::address_error_code);
            REQUIRE(e);
            CHECK(e->value[0] == std::byte{0x02});
            CHECK(std::to_integer<int>(e->value[2]) * 100 + std::to_integer<int>(e->value[3]) ==
                  440);
        }
        SUBCASE("only IPv6 requested but unavailable is 440") {
            Turn t;
            Client c{t};
            auto r = c.allocate([](proto::MessageBuilder& b) {
                b.add_address_family(AttrType::requested_address_family, proto::Family::ipv6);
            });
            CHECK(t.error_of(r) == 440);
        }
        SUBCASE("REQUESTED and ADDITIONAL together are 400") {
            Turn t;
            Client c{t};
            auto r = c.allocate([](proto::MessageBuilder& b) {
                b.add_address_family(AttrType::requested_address_family, proto::Family::ipv4);
                b.add_address_family(AttrType::additional_address_family, proto::Family::ipv6);
            });
            CHECK(t.error_of(r) == 400);
        }
    }

    TEST_CASE("EVEN-PORT with R reserves the next port behind a RESERVATION-TOKEN") {
        Turn t;
        Client c{t};
        auto r = c.allocate([](proto::MessageBuilder& b) { b.add_even_port(true); });
        REQUIRE(success(r));
        auto token = r.find(AttrType::reservation_token);
        REQUIRE(token);
        Client d{t, "bob", "builder", "192.0.2.70:1"};
        auto tok = *proto::decode_u64(*token);
        CHECK(success(d.allocate(
            [&](proto::MessageBuilder& b) { b.add_u64(AttrType::reservation_token, tok); })));
        Client e{t, "bob", "builder", "192.0.2.71:1"};
        CHECK(t.error_of(e.allocate([](proto::MessageBuilder& b) {
            b.add_u64(AttrType::reservation_token, 12345);
        })) == 508);
        Client f{t, "bob", "builder", "192.0.2.72:1"};
        CHECK(t.error_of(f.allocate([](proto::MessageBuilder& b) {
            b.add_even_port(false);
            b.add_u64(AttrType::reservation_token, 1);
        })) == 400);
    }

    TEST_CASE("unauthenticated answers are rate-limited per source and keep no state") {
        Turn t([](turn::EngineOptions& o) { o.challenges_per_second = 5; });
        Client c{t};
        int answered = 0;
        for (int i = 0; i < 50; ++i) {
            t.feed(c.build(
                proto::Method::allocate,
                [](proto::MessageBuilder& b) { b.add_requested_transport(17); }, false));
            answered += static_cast<int>(t.out.entries().size());
        }
        CHECK(answered == 5);
        CHECK(value(t.counters.challenges_rate_limited) == 45);
        CHECK(t.engine->allocation_count() == 0);
        t.now += 1s;
        t.feed(c.build(
            proto::Method::allocate,
            [](proto::MessageBuilder& b) { b.add_requested_transport(17); }, false));
        CHECK(t.out.entries().size() == 1);
    }

    TEST_CASE("an unknown comprehension-required attribute on an authenticated request is 420") {
        Turn t;
        Client c{t};
        auto r = c.allocate([](proto::MessageBuilder& b) {
            b.add_raw(std::uint16_t{0x0042}, std::span<const std::byte>{});
        });
        CHECK(t.error_of(r) == 420);
    }

} // TEST_SUITE

TEST_SUITE("turn.engine") {

    TEST_CASE("the per-allocation bandwidth cap drops what exceeds a second's worth and refills") {
        Turn t([](turn::EngineOptions& o) { o.max_allocation_bytes_per_second = 1000; });
        Client c{t};
        c.allocate();
        REQUIRE(success(c.bind(0x4000, "203.0.113.5:9000")));
        std::vector<std::byte> cd(4 + 400);
        proto::write_channel_data_header(std::span<std::byte, 4>(cd.data(), 4), 0x4000, 400);
        int relayed = 0;
        for (int i = 0; i < 5; ++i)
            relayed += static_cast<int>(t.feed(cd).size());
        CHECK(relayed == 2); // 1000 bytes of burst hold two 400-byte payloads
        CHECK(value(t.counters.relay_dropped_bandwidth) == 3);
        t.now += 500ms; // half a second refills 500 bytes: one more payload
        CHECK(t.feed(cd).size() == 1);
        CHECK(t.feed(cd).empty());
        // The other direction has its own bucket.
        std::vector<std::byte> payload(400);
        t.out.clear();
        t.engine->on_peer_datagram(t.now, 0, addr("203.0.113.5:9000"), payload, t.out);
        CHECK(t.out.entries().size() == 1);
    }

    TEST_CASE("without a cap nothing is dropped for bandwidth") {
        Turn t;
        Client c{t};
        c.allocate();
        REQUIRE(success(c.bind(0x4000, "203.0.113.5:9000")));
        std::vector<std::byte> cd(4 + 1200);
        proto::write_channel_data_header(std::span<std::byte, 4>(cd.data(), 4), 0x4000, 1200);
        for (int i = 0; i < 100; ++i)
            CHECK(t.feed(cd).size() == 1);
        CHECK(value(t.counters.relay_dropped_bandwidth) == 0);
    }

} // TEST_SUITE

TEST_SUITE("turn.engine") {

    TEST_CASE("ICMP errors from a permitted peer reach the client; others are dropped") {
        Turn t;
        Client c{t};
        c.allocate();
        t.out.clear();
        t.engine->on_peer_icmp(t.now, 0, addr("203.0.113.5:9000"), 3, 3, 0, t.out);
        CHECK(t.out.empty()); // no permission yet
        REQUIRE(success(c.permit("203.0.113.5:9000")));
        t.out.clear();
        // "Fragmentation needed" carries the next-hop MTU in the error data.
        t.engine->on_peer_icmp(t.now, 0, addr("203.0.113.5:9000"), 3, 4, 1400, t.out);
        auto ind = t.reply();
        CHECK(ind.type() == proto::make_type(proto::Method::data, proto::MessageClass::indication));
        CHECK_FALSE(ind.find(AttrType::data));
        auto icmp = ind.find(AttrType::icmp);
        REQUIRE(icmp);
        REQUIRE(icmp->value.size() == 8);
        CHECK(std::to_integer<int>(icmp->value[1]) == 3);
        CHECK(std::to_integer<int>(icmp->value[2]) == 4);
        CHECK(std::to_integer<int>(icmp->value[6]) * 256 + std::to_integer<int>(icmp->value[7]) ==
              1400);
        CHECK(value(t.counters.icmp_relayed) == 1);
    }

} // TEST_SUITE

TEST_SUITE("turn.engine") {

    TEST_CASE("a relayed payload larger than the relay buffers is dropped and counted") {
        Turn t;
        Client c{t};
        c.allocate();
        REQUIRE(success(c.bind(0x4000, "203.0.113.5:9000")));
        std::vector<std::byte> big(4 + 12000);
        proto::write_channel_data_header(std::span<std::byte, 4>(big.data(), 4), 0x4000, 12000);
        CHECK(t.feed(big).empty());
        CHECK(value(t.counters.relay_dropped_oversize) == 1);
        std::vector<std::byte> jumbo(4 + 8000);
        proto::write_channel_data_header(std::span<std::byte, 4>(jumbo.data(), 4), 0x4000, 8000);
        CHECK(t.feed(jumbo).size() == 1); // jumbo-frame payloads still pass
    }

    TEST_CASE("datagrams in receive slots are relayed in place, byte for byte as when copied") {
        Turn t;
        Client c{t};
        c.allocate();
        REQUIRE(success(c.bind(0x4001, "203.0.113.5:9000")));
        REQUIRE(success(c.permit("203.0.113.7:1")));
        // A receive slot: headroom, payload, tail room (as the worker's recvmmsg slots).
        constexpr std::size_t headroom = 64;
        auto slot_with = [&](std::string_view payload) {
            std::vector<std::byte> slot(headroom + payload.size() + 64, std::byte{0xEE});
            std::memcpy(slot.data() + headroom, payload.data(), payload.size());
            return slot;
        };
        auto in_slot = [&](std::vector<std::byte>& slot, std::size_t size) {
            return turn::MutableDatagram{slot, headroom, size};
        };
        for (std::string_view payload : {"reply", "four", "x", ""}) {
            CAPTURE(payload);
            // Peer -> client over a channel: ChannelData written in front of the payload.
            auto slot = slot_with(payload);
            t.out.clear();
            t.engine->on_peer_datagram(t.now, 0, addr("203.0.113.5:9000"),
                                       in_slot(slot, payload.size()), t.out);
            REQUIRE(t.out.entries().size() == 1);
            auto in_place = t.out.bytes(t.out.entries()[0]);
            CHECK(in_place.data() == slot.data() + headroom - 4); // no copy
            const std::vector<std::byte> a(in_place.begin(), in_place.end());
            t.out.clear();
            t.engine->on_peer_datagram(t.now, 0, addr("203.0.113.5:9000"), bytes(payload), t.out);
            REQUIRE(t.out.entries().size() == 1);
            auto copied = t.out.bytes(t.out.entries()[0]);
            CHECK(a == std::vector<std::byte>(copied.begin(), copied.end()));
            auto cd = proto::parse_channel_data(a, false);
            REQUIRE(cd);
            CHECK(cd->channel == 0x4001);
            CHECK(cd->payload.size() == payload.size());

            // Peer -> client without a channel: a Data indication, padded in the tail room.
            auto slot2 = slot_with(payload);
            t.out.clear();
            t.engine->on_peer_datagram(t.now, 0, addr("203.0.113.7:2"),
                                       in_slot(slot2, payload.size()), t.out);
            REQUIRE(t.out.entries().size() == 1);
            auto ind_bytes = t.out.bytes(t.out.entries()[0]);
            CHECK(ind_bytes.data() > slot2.data());
            CHECK(ind_bytes.data() < slot2.data() + headroom);
            auto ind = proto::MessageView::parse(ind_bytes);
            REQUIRE(ind);
            CHECK(ind->type() ==
                  proto::make_type(proto::Method::data, proto::MessageClass::indication));
            CHECK(*proto::decode_xor_address(*ind->find(AttrType::xor_peer_address),
                                             ind->transaction_id()) == addr("203.0.113.7:2"));
            auto data = ind->find(AttrType::data);
            REQUIRE(data);
            CHECK(std::string_view(reinterpret_cast<const char*>(data->value.data()),
                                   data->value.size()) == payload);
            CHECK(ind_bytes.size() % 4 == 0);
            for (const std::byte* p = data->value.data() + payload.size();
                 p != ind_bytes.data() + ind_bytes.size(); ++p)
                CHECK(*p == std::byte{0}); // padding zeroed, not the slot's 0xEE
        }

        // Client -> peer: the ChannelData payload is sent from the slot.
        std::vector<std::byte> slot(headroom + 4 + 5 + 64);
        proto::write_channel_data_header(std::span<std::byte, 4>(slot.data() + headroom, 4), 0x4001,
                                         5);
        std::memcpy(slot.data() + headroom + 4, "media", 5);
        t.out.clear();
        turn::ClientContext from;
        from.client = addr("192.0.2.50:40000");
        t.engine->on_client_datagram(t.now, from, in_slot(slot, 9), t.out);
        REQUIRE(t.out.entries().size() == 1);
        CHECK(t.out.entries()[0].to == addr("203.0.113.5:9000"));
        CHECK(t.out.bytes(t.out.entries()[0]).data() == slot.data() + headroom + 4);
        CHECK(t.out.bytes(t.out.entries()[0]).size() == 5);
    }

    TEST_CASE("a peer datagram without room for its header in the slot is dropped and counted") {
        Turn t;
        Client c{t};
        c.allocate();
        REQUIRE(success(c.permit("203.0.113.7:1")));
        std::vector<std::byte> slot(8 + 5 + 8);
        t.out.clear();
        t.engine->on_peer_datagram(t.now, 0, addr("203.0.113.7:2"),
                                   turn::MutableDatagram{slot, 8, 5}, t.out);
        CHECK(t.out.empty());
        CHECK(value(t.counters.relay_dropped_oversize) == 1);
    }

} // TEST_SUITE
