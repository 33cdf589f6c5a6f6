// SPDX-License-Identifier: Apache-2.0
// MessageView behaviour: attribute index, unknown attributes, integrity placement rules.
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
using test::RawMessage;

const TransactionId id = test::tid("0102030405060708090a0b0c");

Bytes built(const MessageBuilder& b) {
    const auto out = b.finish();
    REQUIRE_MESSAGE(out.has_value(), out.error().message());
    return {out->begin(), out->end()};
}

} // namespace

TEST_SUITE("proto") {

    TEST_CASE(
        "an unknown comprehension-required attribute is recorded and an optional one is not") {
        RawMessage m;
        m.filled(0x7FFF, 4).filled(0xC001, 4).filled(0x7FFF, 4).filled(0x0030, 0);
        const auto view = MessageView::parse(m.bytes());
        REQUIRE(view.has_value());
        // Both unknown types stay indexed; only the required ones are recorded, once each.
        CHECK(view->attributes().size() == 4);
        REQUIRE(view->unknown_required().size() == 2);
        CHECK(view->unknown_required()[0] == 0x7FFF);
        CHECK(view->unknown_required()[1] == 0x0030);
        CHECK(view->find(std::uint16_t{0xC001}).has_value());
    }

    TEST_CASE("at most eight unknown required types are recorded") {
        RawMessage m;
        for (std::uint16_t t = 0x0040; t < 0x0050; ++t)
            m.filled(t, 0);
        const auto view = MessageView::parse(m.bytes());
        REQUIRE(view.has_value());
        CHECK(view->unknown_required().size() == max_unknown_required);
    }

    TEST_CASE("attributes after MESSAGE-INTEGRITY are ignored but FINGERPRINT still counts") {
        const std::array<std::byte, 4> key{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
        std::array<std::byte, 256> buffer{};
        MessageBuilder b(buffer);
        b.start(make_type(Method::binding, MessageClass::request), id);
        b.add_string(AttrType::software, "client");
        b.add_message_integrity(key);

        // Append USERNAME and an unknown required type after the integrity, then a FINGERPRINT.
        RawMessage m;
        m.mutable_bytes() = built(b);
        m.filled(to_underlying(AttrType::username), 5).filled(0x7ABC, 4).fingerprint();

        const auto view = MessageView::parse(m.bytes());
        REQUIRE(view.has_value());
        CHECK(view->attributes().size() == 3);
        CHECK_FALSE(view->find(AttrType::username).has_value());
        CHECK(view->unknown_required().empty());
        CHECK(view->has_fingerprint());
        // The HMAC covers only the bytes before MESSAGE-INTEGRITY, with the length patched.
        CHECK(view->verify_integrity(key));
    }

    TEST_CASE("MESSAGE-INTEGRITY-SHA256 after MESSAGE-INTEGRITY is indexed and verifies") {
        const auto key = long_term_key_sha256("user", "realm", "pass");
        std::array<std::byte, 256> buffer{};
        MessageBuilder b(buffer);
        b.start(make_type(Method::allocate, MessageClass::request), id);
        b.add_requested_transport(transport_udp);
        b.add_message_integrity(key);
        b.add_message_integrity_sha256(key);
        b.add_fingerprint();
        const Bytes wire = built(b);
        const auto view = MessageView::parse(wire);
        REQUIRE(view.has_value());
        CHECK(view->has_message_integrity());
        CHECK(view->has_message_integrity_sha256());
        CHECK(view->verify_integrity(key));
        CHECK(view->verify_integrity_sha256(key));
        auto wrong = key;
        wrong[0] ^= std::byte{1};
        CHECK_FALSE(view->verify_integrity_sha256(wrong));
    }

    TEST_CASE("after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT is indexed") {
        RawMessage m;
        m.filled(to_underlying(AttrType::software), 4)
            .filled(to_underlying(AttrType::message_integrity_sha256), 32)
            .filled(to_underlying(AttrType::message_integrity), 20)
            .filled(to_underlying(AttrType::realm), 4)
            .fingerprint();
        const auto view = MessageView::parse(m.bytes());
        REQUIRE(view.has_value());
        CHECK(view->attributes().size() == 3);
        CHECK_FALSE(view->has_message_integrity());
        CHECK(view->has_message_integrity_sha256());
        CHECK_FALSE(view->find(AttrType::realm).has_value());
    }

    TEST_CASE("a truncated MESSAGE-INTEGRITY-SHA256 verifies on its leading bytes") {
        const std::array<std::byte, 3> key{std::byte{9}, std::byte{8}, std::byte{7}};
        for (std::size_t n : {16u, 20u, 24u, 28u, 32u}) {
            CAPTURE(n);
            RawMessage m;
            m.filled(to_underlying(AttrType::software), 8, std::byte{0x61});
            // Header length as if the n-byte integrity attribute were already there (§14.6).
            const std::size_t before = m.bytes().size();
            m.set_length(static_cast<std::uint16_t>(before + 4 + n - header_size));
            const auto mac = hmac_sha256(key, std::span<const std::byte>(m.bytes()));
            m.attribute(to_underlying(AttrType::message_integrity_sha256),
                        std::span<const std::byte>(mac).first(n));
            const auto view = MessageView::parse(m.bytes());
            REQUIRE(view.has_value());
            CHECK(view->verify_integrity_sha256(key));
            CHECK_FALSE(view->verify_integrity(key));
        }
    }

    TEST_CASE("verification fails when the integrity attribute is absent") {
        RawMessage m;
        m.filled(to_underlying(AttrType::software), 4);
        const auto view = MessageView::parse(m.bytes());
        REQUIRE(view.has_value());
        CHECK_FALSE(view->verify_integrity(std::span<const std::byte>{}));
        CHECK_FALSE(view->verify_integrity_sha256(std::span<const std::byte>{}));
    }

    TEST_CASE("repeated attributes are iterated in wire order") {
        std::array<std::byte, 256> buffer{};
        MessageBuilder b(buffer);
        b.start(make_type(Method::create_permission, MessageClass::request), id);
        b.add_xor_address(AttrType::xor_peer_address, TransportAddress::v4({10, 0, 0, 1}, 1));
        b.add_string(AttrType::software, "x");
        b.add_xor_address(AttrType::xor_peer_address, TransportAddress::v4({10, 0, 0, 2}, 2));
        b.add_xor_address(AttrType::xor_peer_address,
                          TransportAddress::parse("[fe80::1]:3").value());
        const Bytes wire = built(b);
        const auto view = MessageView::parse(wire);
        REQUIRE(view.has_value());
        CHECK(view->count(AttrType::xor_peer_address) == 3);
        std::vector<std::uint16_t> ports;
        for (const Attribute& a : view->all(AttrType::xor_peer_address))
            ports.push_back(decode_xor_address(a, view->transaction_id())->port);
        CHECK(ports == std::vector<std::uint16_t>{1, 2, 3});
        CHECK(view->find(AttrType::xor_peer_address)->offset == header_size);
        CHECK(view->count(AttrType::realm) == 0);
        CHECK_FALSE(view->find(AttrType::realm).has_value());
    }

    TEST_CASE("attribute offsets and values point into the parsed buffer") {
        const Bytes wire = test::load_vector("rfc5769/request.hex");
        const auto view = MessageView::parse(wire);
        REQUIRE(view.has_value());
        CHECK(view->bytes().data() == wire.data());
        for (const Attribute& a : view->attributes()) {
            CHECK(a.value.data() == wire.data() + a.offset + 4);
            CHECK(load_be16(wire.data() + a.offset) == a.type);
        }
        CHECK(view->attributes().back().attr() == AttrType::fingerprint);
    }

    TEST_CASE("a classic RFC 3489 binding request with CHANGE-REQUEST parses") {
        // Type 0x0001, length 8, a 16-byte transaction id, CHANGE-REQUEST with both flags.
        const Bytes wire = test::from_hex("00010008"
                                          "0123456789abcdef0011223344556677"
                                          "0003000400000006");
        const auto view = MessageView::parse(wire);
        REQUIRE(view.has_value());
        CHECK_FALSE(view->has_magic_cookie());
        const auto change = decode_change_request(*view->find(AttrType::change_request));
        REQUIRE(change.has_value());
        CHECK(change->change_ip);
        CHECK(change->change_port);
    }

} // TEST_SUITE
} // namespace traverse::proto
