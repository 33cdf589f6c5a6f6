// SPDX-License-Identifier: Apache-2.0
// Message type interleaving and attribute type classification.
#include "proto/types.hpp"

#include <doctest/doctest.h>

#include <ostream> // doctest prints std::error_code through it

namespace traverse::proto {

TEST_SUITE("proto") {

    TEST_CASE("well-known message types have their registered wire values") {
        CHECK(make_type(Method::binding, MessageClass::request).encode() == 0x0001);
        CHECK(make_type(Method::binding, MessageClass::indication).encode() == 0x0011);
        CHECK(make_type(Method::binding, MessageClass::success_response).encode() == 0x0101);
        CHECK(make_type(Method::binding, MessageClass::error_response).encode() == 0x0111);
        CHECK(make_type(Method::allocate, MessageClass::request).encode() == 0x0003);
        CHECK(make_type(Method::allocate, MessageClass::error_response).encode() == 0x0113);
        CHECK(make_type(Method::send, MessageClass::indication).encode() == 0x0016);
        CHECK(make_type(Method::data, MessageClass::indication).encode() == 0x0017);
        CHECK(make_type(Method::create_permission, MessageClass::success_response).encode() ==
              0x0108);
        CHECK(make_type(Method::channel_bind, MessageClass::request).encode() == 0x0009);
        static_assert(
            MessageType::decode(0x0113).is(Method::allocate, MessageClass::error_response));
    }

    TEST_CASE("every method and class survives encode and decode") {
        for (std::uint16_t method = 0; method < 0x1000; ++method) {
            for (std::uint8_t cls = 0; cls < 4; ++cls) {
                const MessageType t{method, static_cast<MessageClass>(cls)};
                const std::uint16_t wire = t.encode();
                REQUIRE((wire & 0xC000) == 0);
                REQUIRE(MessageType::decode(wire) == t);
            }
        }
    }

    TEST_CASE("attribute types split into comprehension-required and optional at 0x8000") {
        CHECK(is_comprehension_required(0x0000));
        CHECK(is_comprehension_required(0x7FFF));
        CHECK_FALSE(is_comprehension_required(0x8000));
        CHECK_FALSE(is_comprehension_required(0xFFFF));
        CHECK(is_known(to_underlying(AttrType::xor_mapped_address)));
        CHECK(is_known(to_underlying(AttrType::other_address)));
        CHECK_FALSE(is_known(0x0021));
        CHECK_FALSE(is_known(0x7FFF));
    }

} // TEST_SUITE
} // namespace traverse::proto
