// SPDX-License-Identifier: Apache-2.0
// MessageBuilder rules: ordering, sticky errors, buffer limits, header length upkeep.
#include "proto/attributes.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "proto/rfc5780.hpp"
#include "tests/unit/proto/proto_test_support.hpp"

#include <doctest/doctest.h>

#include <ostream> // doctest prints std::error_code through it

#include <array>

namespace traverse::proto {
namespace {

const TransactionId id = test::tid("a1a2a3a4a5a6a7a8a9aaabac");
constexpr MessageType binding_request = make_type(Method::binding, MessageClass::request);
const std::array<std::byte, 2> key{std::byte{0x6b}, std::byte{0x79}};

} // namespace

TEST_SUITE("proto") {

    TEST_CASE("the header length field tracks every added attribute") {
        std::array<std::byte, 128> buffer{};
        MessageBuilder b(buffer);
        b.start(binding_request, id);
        CHECK(b.size() == 20);
        CHECK(load_be16(buffer.data() + 2) == 0);
        b.add_string(AttrType::software, "abcde");
        CHECK(b.size() == 32);
        CHECK(load_be16(buffer.data() + 2) == 12);
        b.add_empty(AttrType::dont_fragment);
        CHECK(b.size() == 36);
        CHECK(load_be16(buffer.data() + 2) == 16);
        CHECK(MessageView::parse(*b.finish()).has_value());
    }

    TEST_CASE("calls before start are an order violation") {
        std::array<std::byte, 64> buffer{};
        MessageBuilder b(buffer);
        CHECK(b.finish().error() == errc::order_violation);
        b.add_u32(AttrType::lifetime, 600);
        CHECK(b.error() == errc::order_violation);
    }

    TEST_CASE("nothing but integrity-sha256 and fingerprint may follow MESSAGE-INTEGRITY") {
        std::array<std::byte, 256> buffer{};
        MessageBuilder b(buffer);
        b.start(binding_request, id);
        b.add_message_integrity(key);
        CHECK_FALSE(b.error());
        b.add_string(AttrType::software, "late");
        CHECK(b.error() == errc::order_violation);
        CHECK(b.finish().error() == errc::order_violation);

        b.start(binding_request, id);
        CHECK_FALSE(b.error());
        b.add_message_integrity(key);
        b.add_message_integrity(key);
        CHECK(b.error() == errc::order_violation);

        b.start(binding_request, id);
        b.add_message_integrity_sha256(key);
        b.add_message_integrity(key);
        CHECK(b.error() == errc::order_violation);

        b.start(binding_request, id);
        b.add_message_integrity(key);
        b.add_message_integrity_sha256(key);
        b.add_fingerprint();
        CHECK_FALSE(b.error());
        CHECK(MessageView::parse(*b.finish()).has_value());
    }

    TEST_CASE("nothing may follow FINGERPRINT and the first error sticks") {
        std::array<std::byte, 256> buffer{};
        MessageBuilder b(buffer);
        b.start(binding_request, id);
        b.add_fingerprint();
        const std::size_t size = b.size();
        b.add_fingerprint();
        CHECK(b.error() == errc::order_violation);
        // Later failures of another kind do not replace the first one, and write nothing.
        b.add_error_code(99, "bad");
        CHECK(b.error() == errc::order_violation);
        CHECK(b.size() == size);
    }

    TEST_CASE("an attribute that does not fit is buffer too small and leaves the message intact") {
        std::array<std::byte, 40> buffer{};
        MessageBuilder b(buffer);
        b.start(binding_request, id);
        b.add_u32(AttrType::priority, 7);
        CHECK(b.size() == 28);
        b.add_string(AttrType::software, "this does not fit");
        CHECK(b.error() == errc::buffer_too_small);
        CHECK(b.size() == 28);
        CHECK(load_be16(buffer.data() + 2) == 8);
        CHECK(b.finish().error() == errc::buffer_too_small);

        std::array<std::byte, 19> tiny{};
        MessageBuilder t(tiny);
        t.start(binding_request, id);
        CHECK(t.error() == errc::buffer_too_small);
    }

    TEST_CASE("a message longer than the 16-bit length field is refused") {
        std::vector<std::byte> buffer(70000);
        MessageBuilder b(buffer);
        b.start(binding_request, id);
        b.add_filled(AttrType::padding, 40000);
        CHECK_FALSE(b.error());
        b.add_filled(AttrType::padding, 30000);
        CHECK(b.error() == errc::bad_length);
    }

    TEST_CASE("ERROR-CODE round trips and out-of-range codes are refused") {
        for (int code : {300, 400, 401, 420, 438, 486, 508, 699}) {
            CAPTURE(code);
            std::array<std::byte, 128> buffer{};
            MessageBuilder b(buffer);
            b.start(make_type(Method::allocate, MessageClass::error_response), id);
            b.add_error_code(code, "Stale Nonce");
            const auto view = MessageView::parse(*b.finish());
            REQUIRE(view.has_value());
            const auto decoded = decode_error_code(*view->find(AttrType::error_code));
            REQUIRE(decoded.has_value());
            CHECK(decoded->code == code);
            CHECK(decoded->reason == "Stale Nonce");
        }
        for (int code : {0, 299, 700, 1000, -400}) {
            CAPTURE(code);
            std::array<std::byte, 128> buffer{};
            MessageBuilder b(buffer);
            b.start(make_type(Method::allocate, MessageClass::error_response), id);
            b.add_error_code(code, "x");
            CHECK(b.error() == errc::bad_value);
        }
        std::array<std::byte, 1024> buffer{};
        MessageBuilder b(buffer);
        b.start(make_type(Method::allocate, MessageClass::error_response), id);
        b.add_error_code(400, std::string(max_reason_bytes + 1, 'r'));
        CHECK(b.error() == errc::bad_value);
    }

    TEST_CASE("ERROR-CODE wire layout splits class and number") {
        std::array<std::byte, 64> buffer{};
        MessageBuilder b(buffer);
        b.start(make_type(Method::binding, MessageClass::error_response), id);
        b.add_error_code(420, "");
        CHECK(test::to_hex(std::span(buffer).subspan(20, 8)) == "0009000400000414");
    }

    TEST_CASE("the TURN and RFC 5780 helpers encode their documented layouts") {
        std::array<std::byte, 256> buffer{};
        MessageBuilder b(buffer);
        b.start(make_type(Method::allocate, MessageClass::request), id);
        b.add_requested_transport(transport_udp);
        b.add_channel_number(0x4001);
        b.add_even_port(true);
        b.add_address_family(AttrType::requested_address_family, Family::ipv6);
        b.add_change_request(true, false);
        b.add_response_port(3478);
        add_padding(b, 6);
        const auto wire = b.finish();
        REQUIRE(wire.has_value());
        CHECK(test::to_hex(wire->subspan(20)) == "0019000411000000"
                                                 "000c000440010000"
                                                 "0018000180000000"
                                                 "0017000402000000"
                                                 "0003000400000004"
                                                 "002700040d960000"
                                                 "0026000600000000"
                                                 "00000000");
        const auto view = MessageView::parse(*wire);
        REQUIRE(view.has_value());
        CHECK(decode_requested_transport(*view->find(AttrType::requested_transport)).value() == 17);
        CHECK(decode_channel_number(*view->find(AttrType::channel_number)).value() == 0x4001);
        CHECK(decode_even_port(*view->find(AttrType::even_port)).value());
        CHECK(decode_address_family(*view->find(AttrType::requested_address_family)).value() ==
              Family::ipv6);
        CHECK(change_request_of(*view)->change_ip);
        CHECK_FALSE(change_request_of(*view)->change_port);
        CHECK(response_port_of(*view).value() == 3478);
    }

    TEST_CASE("channel numbers outside 0x4000 to 0x4FFF are refused by the builder") {
        for (ChannelNumber c : {ChannelNumber{0x0000}, ChannelNumber{0x3FFF}, ChannelNumber{0x5000},
                                ChannelNumber{0xFFFF}}) {
            CAPTURE(c);
            std::array<std::byte, 64> buffer{};
            MessageBuilder b(buffer);
            b.start(make_type(Method::channel_bind, MessageClass::request), id);
            b.add_channel_number(c);
            CHECK(b.error() == errc::bad_channel_number);
        }
    }

    TEST_CASE("UNKNOWN-ATTRIBUTES and PASSWORD-ALGORITHMS round trip") {
        std::array<std::byte, 256> buffer{};
        MessageBuilder b(buffer);
        b.start(make_type(Method::binding, MessageClass::error_response), id);
        const std::uint16_t unknown[] = {0x7FFF, 0x0030, 0x0031};
        b.add_unknown_attributes(unknown);
        const std::array<std::byte, 3> params{std::byte{1}, std::byte{2}, std::byte{3}};
        const PasswordAlgorithm algorithms[] = {
            {static_cast<std::uint16_t>(PasswordAlgorithmId::sha256), {}},
            {0x7777, params},
            {static_cast<std::uint16_t>(PasswordAlgorithmId::md5), {}},
        };
        b.add_password_algorithms(algorithms);
        b.add_password_algorithm(algorithms[0]);
        const auto view = MessageView::parse(*b.finish());
        REQUIRE(view.has_value());

        const auto list = decode_unknown_attributes(*view->find(AttrType::unknown_attributes));
        REQUIRE(list.has_value());
        CHECK(std::vector<std::uint16_t>(list->view().begin(), list->view().end()) ==
              std::vector<std::uint16_t>{0x7FFF, 0x0030, 0x0031});

        const auto decoded = decode_password_algorithms(*view->find(AttrType::password_algorithms));
        REQUIRE(decoded.has_value());
        REQUIRE(decoded->count == 3);
        CHECK(decoded->items[0].algorithm == 2);
        CHECK(decoded->items[1].algorithm == 0x7777);
        CHECK(test::to_hex(decoded->items[1].parameters) == "010203");
        CHECK(decoded->items[2].algorithm == 1);

        const auto single = decode_password_algorithm(*view->find(AttrType::password_algorithm));
        REQUIRE(single.has_value());
        CHECK(single->algorithm == 2);
        CHECK(single->parameters.empty());
    }

    TEST_CASE("start resets a builder for the next message") {
        std::array<std::byte, 128> buffer{};
        MessageBuilder b(buffer);
        b.start(binding_request, id);
        b.add_fingerprint();
        b.add_fingerprint();
        REQUIRE(b.error());
        b.start(make_type(Method::binding, MessageClass::success_response), id);
        CHECK_FALSE(b.error());
        b.add_xor_address(AttrType::xor_mapped_address, TransportAddress::v4({1, 2, 3, 4}, 5));
        b.add_fingerprint();
        const auto view = MessageView::parse(*b.finish());
        REQUIRE(view.has_value());
        CHECK(view->attributes().size() == 2);
    }

} // TEST_SUITE
} // namespace traverse::proto
