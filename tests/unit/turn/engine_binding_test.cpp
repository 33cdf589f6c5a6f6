// SPDX-License-Identifier: Apache-2.0
// The engine's Binding handling, driven directly (sans-IO): UDP, streams, RFC 3489, RFC 5780.
#include "proto/attributes.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "server/turn/engine.hpp"

#include <doctest/doctest.h>
#include <vector>

using namespace traverse;
using proto::AttrType;

namespace {

proto::TransportAddress addr(const char* text) {
    auto a = proto::TransportAddress::parse(text);
    REQUIRE(a);
    return *a;
}

const proto::TransactionId tid = {std::byte{1}, std::byte{2},  std::byte{3},  std::byte{4},
                                  std::byte{5}, std::byte{6},  std::byte{7},  std::byte{8},
                                  std::byte{9}, std::byte{10}, std::byte{11}, std::byte{12}};

/// Builds a request into a vector; `fill` adds attributes before the optional FINGERPRINT.
template <class F>
std::vector<std::byte> request(proto::Method method, F&& fill, bool fingerprint = false,
                               std::uint32_t cookie = proto::magic_cookie) {
    std::vector<std::byte> buf(1024);
    proto::MessageBuilder b(buf);
    b.start(proto::make_type(method, proto::MessageClass::request), tid, cookie);
    fill(b);
    if (fingerprint) b.add_fingerprint();
    auto wire = b.finish();
    REQUIRE(wire);
    buf.resize(wire->size());
    return buf;
}

std::vector<std::byte> binding(bool fingerprint = false) {
    return request(
        proto::Method::binding, [](proto::MessageBuilder&) {}, fingerprint);
}

/// One UDP listener on 127.0.0.1:3478, optionally with its RFC 5780 group on 127.0.0.2:3479.
std::vector<turn::ListenerInfo> udp_table(bool rfc5780) {
    std::vector<turn::ListenerInfo> t;
    turn::ListenerInfo primary;
    primary.local = addr("127.0.0.1:3478");
    t.push_back(primary);
    if (rfc5780) {
        const char* locals[] = {"127.0.0.1:3479", "127.0.0.2:3478", "127.0.0.2:3479"};
        for (std::uint8_t r = 1; r < 4; ++r) {
            turn::ListenerInfo s;
            s.local = addr(locals[r - 1]);
            s.role = static_cast<turn::Role>(r);
            t.push_back(s);
        }
        for (auto& l : t)
            l.group = {0, 1, 2, 3};
    }
    turn::ListenerInfo tcp;
    tcp.transport = turn::Transport::tcp;
    tcp.local = addr("127.0.0.1:3478");
    t.push_back(tcp);
    return t;
}

struct Fixture {
    stats::WorkerCounters counters;
    turn::Outbox out;
    turn::Engine engine;
    explicit Fixture(bool rfc5780 = false, std::string software = "Traverse-test")
        : engine(options(rfc5780, std::move(software)), udp_table(rfc5780), counters) {}

    static turn::EngineOptions options(bool rfc5780, std::string software) {
        turn::EngineOptions o;
        o.software = std::move(software);
        o.rfc5780 = rfc5780;
        return o;
    }

    void udp(std::uint32_t listener, const std::vector<std::byte>& msg,
             const char* client = "192.0.2.7:40000") {
        turn::ClientContext from;
        from.listener = listener;
        from.client = addr(client);
        engine.on_client_datagram(turn::Clock::now(), from, msg, out);
    }
    proto::MessageView only_reply() {
        REQUIRE(out.entries().size() == 1);
        auto v = proto::MessageView::parse(out.bytes(out.entries()[0]));
        REQUIRE(v);
        return *v;
    }
};

std::uint64_t value(const std::atomic<std::uint64_t>& c) {
    return c.load();
}

} // namespace

TEST_SUITE("turn.binding") {

    TEST_CASE("a binding request over UDP gets the client's address back from the same socket") {
        Fixture f;
        f.udp(0, binding());
        auto reply = f.only_reply();
        CHECK(reply.type() ==
              proto::make_type(proto::Method::binding, proto::MessageClass::success_response));
        CHECK(reply.transaction_id() == tid);
        auto mapped = reply.find(AttrType::xor_mapped_address);
        REQUIRE(mapped);
        CHECK(*proto::decode_xor_address(*mapped, tid) == addr("192.0.2.7:40000"));
        auto sw = reply.find(AttrType::software);
        REQUIRE(sw);
        CHECK(proto::decode_string(*sw) == "Traverse-test");
        CHECK_FALSE(reply.has_fingerprint());
        CHECK_FALSE(reply.find(AttrType::other_address));
        const auto& e = f.out.entries()[0];
        CHECK(e.via.kind == turn::Via::Kind::listener);
        CHECK(e.via.listener == 0);
        CHECK(e.to == addr("192.0.2.7:40000"));
        CHECK(value(f.counters.binding_requests) == 1);
    }

    TEST_CASE("an IPv6 client gets an IPv6 XOR-MAPPED-ADDRESS") {
        Fixture f;
        f.udp(0, binding(), "[2001:db8::5]:1234");
        auto reply = f.only_reply();
        CHECK(*proto::decode_xor_address(*reply.find(AttrType::xor_mapped_address), tid) ==
              addr("[2001:db8::5]:1234"));
    }

    TEST_CASE("the response carries FINGERPRINT exactly when the request did") {
        Fixture f;
        f.udp(0, binding(true));
        CHECK(f.only_reply().has_fingerprint());
    }

    TEST_CASE("an empty SOFTWARE setting omits the attribute") {
        Fixture f(false, "");
        f.udp(0, binding());
        CHECK_FALSE(f.only_reply().find(AttrType::software));
    }

    TEST_CASE("an unknown comprehension-required attribute is answered 420 with its type") {
        Fixture f;
        auto req = request(proto::Method::binding, [](proto::MessageBuilder& b) {
            b.add_raw(std::uint16_t{0x0031}, std::span<const std::byte>{});
            b.add_raw(std::uint16_t{0xC001}, std::span<const std::byte>{}); // optional: ignored
        });
        f.udp(0, req);
        auto reply = f.only_reply();
        CHECK(reply.message_class() == proto::MessageClass::error_response);
        auto ec = proto::decode_error_code(*reply.find(AttrType::error_code));
        REQUIRE(ec);
        CHECK(ec->code == 420);
        auto unknown = reply.find(AttrType::unknown_attributes);
        REQUIRE(unknown);
        REQUIRE(unknown->value.size() == 2);
        CHECK(unknown->value[0] == std::byte{0x00});
        CHECK(unknown->value[1] == std::byte{0x31});
    }

    TEST_CASE("CHANGE-REQUEST without RFC 5780 configured is an unknown attribute (420)") {
        Fixture f;
        f.udp(0, request(proto::Method::binding,
                         [](proto::MessageBuilder& b) { b.add_change_request(true, true); }));
        auto reply = f.only_reply();
        CHECK(proto::decode_error_code(*reply.find(AttrType::error_code))->code == 420);
    }

    TEST_CASE("malformed datagrams are counted and never answered") {
        Fixture f;
        std::vector<std::byte> garbage(28, std::byte{0xAB});
        f.udp(0, garbage);
        auto truncated = binding();
        truncated.resize(19);
        f.udp(0, truncated);
        CHECK(f.out.empty());
        CHECK(value(f.counters.malformed_dropped) == 2);
    }

    TEST_CASE("indications and responses get no answer") {
        Fixture f;
        std::vector<std::byte> buf(64);
        proto::MessageBuilder b(buf);
        b.start(proto::make_type(proto::Method::binding, proto::MessageClass::indication), tid);
        auto ind = b.finish();
        REQUIRE(ind);
        f.udp(0, std::vector<std::byte>(ind->begin(), ind->end()));
        proto::MessageBuilder r(buf);
        r.start(proto::make_type(proto::Method::binding, proto::MessageClass::success_response),
                tid);
        auto resp = r.finish();
        REQUIRE(resp);
        f.udp(0, std::vector<std::byte>(resp->begin(), resp->end()));
        CHECK(f.out.empty());
        CHECK(value(f.counters.binding_indications) == 1);
        CHECK(value(f.counters.unexpected_dropped) == 1);
    }

    TEST_CASE("a request with a method the server does not implement gets 400") {
        Fixture f;
        f.udp(0, request(proto::Method::allocate, [](proto::MessageBuilder& b) {
                  b.add_u32(AttrType::requested_transport, 17u << 24);
              }));
        auto reply = f.only_reply();
        CHECK(reply.method() == static_cast<std::uint16_t>(proto::Method::allocate));
        CHECK(proto::decode_error_code(*reply.find(AttrType::error_code))->code == 400);
    }

    TEST_CASE("an RFC 3489 request gets MAPPED-ADDRESS and its 16-byte transaction id back") {
        Fixture f(true);
        const std::uint32_t cookie = 0x01020304;
        f.udp(0, request(
                     proto::Method::binding, [](proto::MessageBuilder&) {}, false, cookie));
        auto reply = f.only_reply();
        CHECK_FALSE(reply.has_magic_cookie());
        CHECK(reply.cookie() == cookie);
        CHECK(reply.transaction_id() == tid);
        CHECK(*proto::decode_address(*reply.find(AttrType::mapped_address)) ==
              addr("192.0.2.7:40000"));
        CHECK(*proto::decode_address(*reply.find(AttrType::source_address)) ==
              addr("127.0.0.1:3478"));
        CHECK(*proto::decode_address(*reply.find(AttrType::changed_address)) ==
              addr("127.0.0.2:3479"));
        CHECK_FALSE(reply.find(AttrType::xor_mapped_address));
        CHECK(value(f.counters.rfc3489_requests) == 1);
    }

    TEST_CASE("RFC 5780: CHANGE-REQUEST picks the answering socket relative to the receiving one") {
        struct Case {
            std::uint32_t arrived;
            bool change_ip, change_port;
            std::uint32_t answers;
            const char* origin;
            const char* other;
        };
        const Case cases[] = {
            {0, false, false, 0, "127.0.0.1:3478", "127.0.0.2:3479"},
            {0, false, true, 1, "127.0.0.1:3479", "127.0.0.2:3479"},
            {0, true, false, 2, "127.0.0.2:3478", "127.0.0.2:3479"},
            {0, true, true, 3, "127.0.0.2:3479", "127.0.0.2:3479"},
            {3, true, true, 0, "127.0.0.1:3478", "127.0.0.1:3478"},
            {1, false, true, 0, "127.0.0.1:3478", "127.0.0.2:3478"},
            {2, false, true, 3, "127.0.0.2:3479", "127.0.0.1:3479"},
        };
        for (const auto& c : cases) {
            CAPTURE(c.arrived);
            CAPTURE(c.change_ip);
            CAPTURE(c.change_port);
            Fixture f(true);
            f.udp(c.arrived, request(proto::Method::binding, [&](proto::MessageBuilder& b) {
                      b.add_change_request(c.change_ip, c.change_port);
                  }));
            auto reply = f.only_reply();
            CHECK(f.out.entries()[0].via.listener == c.answers);
            CHECK(*proto::decode_address(*reply.find(AttrType::response_origin)) == addr(c.origin));
            CHECK(*proto::decode_address(*reply.find(AttrType::other_address)) == addr(c.other));
        }
    }

    TEST_CASE("RFC 5780: RESPONSE-PORT redirects the answer to that port at the client's IP") {
        Fixture f(true);
        f.udp(0, request(proto::Method::binding, [](proto::MessageBuilder& b) {
                  b.add_u32(AttrType::response_port, 50000u << 16);
              }));
        f.only_reply();
        CHECK(f.out.entries()[0].to == addr("192.0.2.7:50000"));
    }

    TEST_CASE("RFC 5780: PADDING is answered with PADDING of the same length") {
        Fixture f(true);
        std::vector<std::byte> pad(100, std::byte{0});
        f.udp(0, request(proto::Method::binding,
                         [&](proto::MessageBuilder& b) { b.add_raw(AttrType::padding, pad); }));
        auto reply = f.only_reply();
        auto p = reply.find(AttrType::padding);
        REQUIRE(p);
        CHECK(p->value.size() == 100);
    }

    TEST_CASE("CHANGE-REQUEST over a stream is a bad request (400)") {
        Fixture f(true);
        turn::ClientContext from;
        from.listener = 4; // the TCP listener
        from.connection = 77;
        from.client = addr("127.0.0.1:50000");
        auto req = request(proto::Method::binding,
                           [](proto::MessageBuilder& b) { b.add_change_request(false, true); });
        CHECK(f.engine.on_stream_frame(turn::Clock::now(), from, req, f.out));
        auto reply = f.only_reply();
        CHECK(proto::decode_error_code(*reply.find(AttrType::error_code))->code == 400);
        CHECK(f.out.entries()[0].via.kind == turn::Via::Kind::connection);
        CHECK(f.out.entries()[0].via.connection == 77);
    }

    TEST_CASE("a stream frame that is not STUN asks for the connection to be closed") {
        Fixture f;
        turn::ClientContext from;
        from.listener = 1;
        from.connection = 5;
        from.client = addr("127.0.0.1:50000");
        auto req = binding(true);
        req.back() ^= std::byte{1}; // breaks the FINGERPRINT
        CHECK_FALSE(f.engine.on_stream_frame(turn::Clock::now(), from, req, f.out));
        CHECK(f.out.empty());
    }

} // TEST_SUITE
