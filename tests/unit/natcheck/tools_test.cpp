// SPDX-License-Identifier: Apache-2.0
// natcheck helpers: RFC 8489 retransmission schedule, TURN REST credentials, request encoding,
// answer decoding and JSON escaping.
#include "proto/attributes.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "proto/rfc5780.hpp"
#include "tools/natcheck/report.hpp"
#include "tools/natcheck/stun.hpp"
#include "tools/natcheck/turn.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <string>

using namespace traverse;
using namespace traverse::natcheck;
using std::chrono::milliseconds;

TEST_SUITE("natcheck.tools") {

    TEST_CASE("RFC 8489 schedule: 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s, failure at 39.5 s") {
        Retransmit policy;
        policy.limit = milliseconds(1000000);
        const Schedule s = schedule(policy);
        const std::vector<milliseconds> expected = {
            milliseconds(0),    milliseconds(500),   milliseconds(1500), milliseconds(3500),
            milliseconds(7500), milliseconds(15500), milliseconds(31500)};
        CHECK(s.sends == expected);
        CHECK(s.give_up == milliseconds(39500));
    }

    TEST_CASE("the schedule doubles a configured RTO and stops at the limit") {
        Retransmit policy;
        policy.rto = milliseconds(100);
        policy.limit = milliseconds(1000);
        Schedule s = schedule(policy);
        CHECK(s.sends == std::vector<milliseconds>{milliseconds(0), milliseconds(100),
                                                   milliseconds(300), milliseconds(700)});
        CHECK(s.give_up == milliseconds(1000));

        policy.limit = milliseconds(3000); // natcheck's default probe limit with RTO 500 ms
        policy.rto = milliseconds(500);
        s = schedule(policy);
        CHECK(s.sends ==
              std::vector<milliseconds>{milliseconds(0), milliseconds(500), milliseconds(1500)});
        CHECK(s.give_up == milliseconds(3000));

        policy.limit = milliseconds(10);
        s = schedule(policy);
        CHECK(s.sends == std::vector<milliseconds>{milliseconds(0)});
        CHECK(s.give_up == milliseconds(10));
    }

    TEST_CASE("TURN REST credentials: expiry:user and base64(HMAC-SHA1(secret, username))") {
        // Expected value computed independently with Python's hmac and base64 modules.
        auto [user, pass] = rest_credentials("s3cret", "bob", 1700000000);
        CHECK(user == "1700000000:bob");
        CHECK(pass == "iqOUFv+P824wi/aW3liW77QZa80=");
        auto [bare, bare_pass] = rest_credentials("s3cret", "", 1700000000);
        CHECK(bare == "1700000000");
        CHECK(bare_pass.size() == 28);
    }

    TEST_CASE("base64 pads to a multiple of four") {
        auto b = [](const char* text) {
            return base64({reinterpret_cast<const std::byte*>(text), std::strlen(text)});
        };
        CHECK(b("") == "");
        CHECK(b("f") == "Zg==");
        CHECK(b("fo") == "Zm8=");
        CHECK(b("foobar") == "Zm9vYmFy");
    }

    TEST_CASE("binding requests carry CHANGE-REQUEST, RESPONSE-PORT and FINGERPRINT") {
        const auto id = new_transaction_id();
        const auto wire = binding_request(id, true, false, 4242);
        auto view = proto::MessageView::parse(wire);
        REQUIRE(view);
        CHECK(view->type().is(proto::Method::binding, proto::MessageClass::request));
        CHECK(view->transaction_id() == id);
        CHECK(view->has_fingerprint());
        auto change = proto::change_request_of(*view);
        REQUIRE(change);
        CHECK(change->change_ip);
        CHECK(!change->change_port);
        CHECK(proto::response_port_of(*view) == 4242);

        auto plain = proto::MessageView::parse(binding_request(id));
        REQUIRE(plain);
        CHECK(!plain->find(proto::AttrType::change_request));
        CHECK(!plain->find(proto::AttrType::response_port));
        CHECK(new_transaction_id() != new_transaction_id());
    }

    TEST_CASE("read_answer takes mapped address, RESPONSE-ORIGIN and OTHER-ADDRESS") {
        std::array<std::byte, 256> buffer{};
        const auto id = new_transaction_id();
        const auto mapped = proto::TransportAddress::v4({203, 0, 113, 1}, 50000);
        const auto origin = proto::TransportAddress::v4({203, 0, 113, 10}, 3478);
        const auto other = proto::TransportAddress::v4({198, 51, 100, 10}, 3479);
        proto::MessageBuilder b(buffer);
        b.start(proto::make_type(proto::Method::binding, proto::MessageClass::success_response),
                id);
        b.add_xor_address(proto::AttrType::xor_mapped_address, mapped);
        b.add_address(proto::AttrType::response_origin, origin);
        b.add_address(proto::AttrType::other_address, other);
        auto view = proto::MessageView::parse(*b.finish());
        REQUIRE(view);
        Probe p;
        read_answer(*view, p);
        CHECK(p.outcome == Probe::Outcome::answered);
        CHECK(p.mapped == mapped);
        CHECK(p.response_origin == origin);
        CHECK(p.other_address == other);

        b.start(proto::make_type(proto::Method::binding, proto::MessageClass::error_response), id);
        b.add_error_code(420, "Unknown Attribute");
        auto error = proto::MessageView::parse(*b.finish());
        REQUIRE(error);
        Probe e;
        read_answer(*error, e);
        CHECK(e.outcome == Probe::Outcome::error);
        CHECK(e.error_code == 420);
        CHECK(!e.mapped);
    }

    TEST_CASE("JSON strings escape quotes, backslashes and control characters") {
        CHECK(json_string("plain") == "\"plain\"");
        CHECK(json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
        CHECK(json_string(std::string("x\n\x01", 3)) == "\"x\\u000a\\u0001\"");
    }
}
