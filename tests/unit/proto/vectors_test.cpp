// SPDX-License-Identifier: Apache-2.0
// RFC 5769 test vectors: parse, verify, decode and rebuild byte for byte.
#include "proto/attributes.hpp"
#include "proto/integrity.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "tests/unit/proto/proto_test_support.hpp"

#include <doctest/doctest.h>

#include <ostream> // doctest prints std::error_code through it

#include <array>

namespace traverse::proto {
namespace {

using test::Bytes;
using test::load_vector;

constexpr std::string_view short_term_password = "VOkJxbRl1RmTxUk/WvJxBt";
// "マトリックス" in UTF-8 (RFC 5769 §2.4).
constexpr std::string_view long_term_username =
    "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
constexpr std::string_view long_term_realm = "example.org";
// The password "The<U+00AD>M<U+00AA>tr<U+2168>" after SASLprep (RFC 5769 §2.4).
constexpr std::string_view long_term_password = "TheMatrIX";
constexpr std::string_view long_term_nonce = "f//499k954d6OL34oL9FSTvy64sA";

const TransactionId shared_id = test::tid("b7e7a701bc34d686fa87dfae");
const TransactionId long_term_id = test::tid("78ad3433c6ad72c029da412e");

std::span<const std::byte> short_term_key() {
    return bytes_of(short_term_password);
}

MessageView parse_ok(const Bytes& wire) {
    auto view = MessageView::parse(wire);
    REQUIRE_MESSAGE(view.has_value(), view.error().message());
    return *view;
}

} // namespace

TEST_SUITE("proto") {

    TEST_CASE("the RFC 5769 sample request parses and its integrity and fingerprint verify") {
        const Bytes wire = load_vector("rfc5769/request.hex");
        const MessageView m = parse_ok(wire);
        CHECK(m.type() == make_type(Method::binding, MessageClass::request));
        CHECK(m.has_magic_cookie());
        CHECK(m.transaction_id() == shared_id);
        CHECK(m.attributes().size() == 6);
        CHECK(m.has_message_integrity());
        CHECK_FALSE(m.has_message_integrity_sha256());
        CHECK(m.has_fingerprint());
        CHECK(m.verify_integrity(short_term_key()));
        CHECK_FALSE(m.verify_integrity(bytes_of("VOkJxbRl1RmTxUk/WvJxBu")));
        CHECK(m.unknown_required().empty());

        CHECK(decode_string(*m.find(AttrType::software)) == "STUN test client");
        CHECK(decode_u32(*m.find(AttrType::priority)).value() == 0x6e0001ffu);
        CHECK(decode_u64(*m.find(AttrType::ice_controlled)).value() == 0x932ff9b151263b36u);
        CHECK(decode_username(*m.find(AttrType::username)).value() == "evtj:h6vY");
    }

    TEST_CASE("the RFC 5769 IPv4 response decodes to 192.0.2.1 port 32853") {
        const Bytes wire = load_vector("rfc5769/response-ipv4.hex");
        const MessageView m = parse_ok(wire);
        CHECK(m.type() == make_type(Method::binding, MessageClass::success_response));
        CHECK(m.transaction_id() == shared_id);
        CHECK(m.verify_integrity(short_term_key()));
        CHECK(m.has_fingerprint());
        CHECK(decode_software(*m.find(AttrType::software)).value() == "test vector");
        const auto mapped =
            decode_xor_address(*m.find(AttrType::xor_mapped_address), m.transaction_id());
        REQUIRE(mapped.has_value());
        CHECK(*mapped == TransportAddress::v4({192, 0, 2, 1}, 32853));
        CHECK(mapped->to_string() == "192.0.2.1:32853");
    }

    TEST_CASE("the RFC 5769 IPv6 response decodes to 2001:db8:1234:5678:11:2233:4455:6677") {
        const Bytes wire = load_vector("rfc5769/response-ipv6.hex");
        const MessageView m = parse_ok(wire);
        CHECK(m.verify_integrity(short_term_key()));
        CHECK(m.has_fingerprint());
        const auto mapped =
            decode_xor_address(*m.find(AttrType::xor_mapped_address), m.transaction_id());
        REQUIRE(mapped.has_value());
        CHECK(mapped->family == Family::ipv6);
        CHECK(mapped->port == 32853);
        CHECK(mapped->ip_string() == "2001:db8:1234:5678:11:2233:4455:6677");
        CHECK(*mapped ==
              TransportAddress::parse("[2001:db8:1234:5678:11:2233:4455:6677]:32853").value());
    }

    TEST_CASE("the RFC 5769 long-term request verifies with the MD5 long-term key") {
        const Bytes wire = load_vector("rfc5769/request-long-term.hex");
        const MessageView m = parse_ok(wire);
        CHECK(m.transaction_id() == long_term_id);
        CHECK_FALSE(m.has_fingerprint());
        CHECK(decode_username(*m.find(AttrType::username)).value() == long_term_username);
        CHECK(decode_nonce(*m.find(AttrType::nonce)).value() == long_term_nonce);
        CHECK(decode_realm(*m.find(AttrType::realm)).value() == long_term_realm);

        const auto key = long_term_key_md5(long_term_username, long_term_realm, long_term_password);
        CHECK(test::to_hex(key) != std::string(32, '0'));
        CHECK(m.verify_integrity(key));
        const auto wrong = long_term_key_md5(long_term_username, long_term_realm, "TheMatrix");
        CHECK_FALSE(m.verify_integrity(wrong));
    }

    TEST_CASE("the builder reproduces the RFC 5769 sample request byte for byte") {
        const Bytes expected = load_vector("rfc5769/request.hex");
        std::array<std::byte, 512> buffer{};
        MessageBuilder b(buffer);
        b.start(make_type(Method::binding, MessageClass::request), shared_id);
        b.add_string(AttrType::software, "STUN test client");
        b.add_u32(AttrType::priority, 0x6e0001ff);
        b.add_u64(AttrType::ice_controlled, 0x932ff9b151263b36);
        // RFC 5769 pads USERNAME with spaces, not zeros.
        b.add_string(AttrType::username, "evtj:h6vY", std::byte{0x20});
        b.add_message_integrity(short_term_key());
        b.add_fingerprint();
        const auto out = b.finish();
        REQUIRE(out.has_value());
        CHECK(test::to_hex(*out) == test::to_hex(expected));
    }

    TEST_CASE("the builder reproduces both RFC 5769 responses byte for byte") {
        struct Case {
            const char* file;
            TransportAddress mapped;
        };
        const Case cases[] = {
            {"rfc5769/response-ipv4.hex", TransportAddress::v4({192, 0, 2, 1}, 32853)},
            {"rfc5769/response-ipv6.hex",
             TransportAddress::parse("[2001:db8:1234:5678:11:2233:4455:6677]:32853").value()},
        };
        for (const Case& c : cases) {
            CAPTURE(c.file);
            const Bytes expected = load_vector(c.file);
            std::array<std::byte, 512> buffer{};
            MessageBuilder b(buffer);
            b.start(make_type(Method::binding, MessageClass::success_response), shared_id);
            b.add_string(AttrType::software, "test vector", std::byte{0x20});
            b.add_xor_address(AttrType::xor_mapped_address, c.mapped);
            b.add_message_integrity(short_term_key());
            b.add_fingerprint();
            const auto out = b.finish();
            REQUIRE(out.has_value());
            CHECK(test::to_hex(*out) == test::to_hex(expected));
        }
    }

    TEST_CASE("the builder reproduces the RFC 5769 long-term request byte for byte") {
        const Bytes expected = load_vector("rfc5769/request-long-term.hex");
        const auto key = long_term_key_md5(long_term_username, long_term_realm, long_term_password);
        std::array<std::byte, 512> buffer{};
        MessageBuilder b(buffer);
        b.start(make_type(Method::binding, MessageClass::request), long_term_id);
        b.add_string(AttrType::username, long_term_username);
        b.add_string(AttrType::nonce, long_term_nonce);
        b.add_string(AttrType::realm, long_term_realm);
        b.add_message_integrity(key);
        const auto out = b.finish();
        REQUIRE(out.has_value());
        CHECK(test::to_hex(*out) == test::to_hex(expected));
    }

    TEST_CASE("every strict prefix of every RFC 5769 vector fails cleanly") {
        for (const char* file : {"rfc5769/request.hex", "rfc5769/response-ipv4.hex",
                                 "rfc5769/response-ipv6.hex", "rfc5769/request-long-term.hex"}) {
            CAPTURE(file);
            const Bytes wire = load_vector(file);
            for (std::size_t n = 0; n < wire.size(); ++n) {
                // A copy of exactly n bytes, so any read past the prefix is a real overrun.
                const Bytes prefix(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n));
                const auto view = MessageView::parse(prefix);
                CHECK_FALSE(view.has_value());
                CHECK(view.error().category() == category());
            }
            CHECK(MessageView::parse(wire).has_value());
        }
    }

} // TEST_SUITE
} // namespace traverse::proto
