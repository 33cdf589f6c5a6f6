// SPDX-License-Identifier: Apache-2.0
// ChannelData parsing over UDP and streams, channel number bounds and header writing.
#include "proto/channel_data.hpp"
#include "proto/demux.hpp"
#include "tests/unit/proto/proto_test_support.hpp"

#include <doctest/doctest.h>

#include <ostream> // doctest prints std::error_code through it

#include <array>

namespace traverse::proto {
namespace {
using test::Bytes;
} // namespace

TEST_SUITE("proto") {

    TEST_CASE("channel numbers are valid from 0x4000 to 0x4FFF only") {
        CHECK_FALSE(is_valid_channel(0x0000));
        CHECK_FALSE(is_valid_channel(0x3FFF));
        CHECK(is_valid_channel(0x4000));
        CHECK(is_valid_channel(0x4ABC));
        CHECK(is_valid_channel(0x4FFF));
        CHECK_FALSE(is_valid_channel(0x5000));
        CHECK_FALSE(is_valid_channel(0x7FFF));
        CHECK_FALSE(is_valid_channel(0xFFFF));
    }

    TEST_CASE("ChannelData over UDP accepts optional padding but not missing data") {
        const Bytes unpadded = test::from_hex("40010005 0102030405");
        const auto a = parse_channel_data(unpadded, false);
        REQUIRE(a.has_value());
        CHECK(a->channel == 0x4001);
        CHECK(test::to_hex(a->payload) == "0102030405");

        const Bytes padded = test::from_hex("40010005 0102030405 000000");
        CHECK(parse_channel_data(padded, false).has_value());

        const Bytes short_data = test::from_hex("40010005 01020304");
        CHECK(parse_channel_data(short_data, false).error() == errc::bad_length);
        const Bytes trailing = test::from_hex("40010005 0102030405 00000000");
        CHECK(parse_channel_data(trailing, false).error() == errc::bad_length);

        const Bytes empty = test::from_hex("4fff0000");
        const auto e = parse_channel_data(empty, false);
        REQUIRE(e.has_value());
        CHECK(e->payload.empty());
    }

    TEST_CASE("ChannelData over a stream requires the padding") {
        const Bytes unpadded = test::from_hex("40010005 0102030405");
        CHECK(parse_channel_data(unpadded, true).error() == errc::truncated);
        const Bytes padded = test::from_hex("40010005 0102030405 000000");
        const auto a = parse_channel_data(padded, true);
        REQUIRE(a.has_value());
        CHECK(a->payload.size() == 5);
    }

    TEST_CASE("ChannelData with a channel outside the range is refused") {
        CHECK(parse_channel_data(test::from_hex("3fff0000"), false).error() ==
              errc::bad_channel_number);
        CHECK(parse_channel_data(test::from_hex("50000000"), true).error() ==
              errc::bad_channel_number);
        CHECK(parse_channel_data(test::from_hex("4000"), false).error() == errc::truncated);
    }

    TEST_CASE("the ChannelData header is written in place") {
        std::array<std::byte, 8> out{};
        CHECK(write_channel_data_header(std::span<std::byte, 4>(out.data(), 4), 0x4123, 0x0102) ==
              4);
        CHECK(test::to_hex(std::span(out).first(4)) == "41230102");
        CHECK(channel_data_frame_size(5, false) == 9);
        CHECK(channel_data_frame_size(5, true) == 12);
        CHECK(channel_data_frame_size(8, true) == 12);
    }

    TEST_CASE("the first byte separates STUN ChannelData DTLS and RTP") {
        CHECK(classify(0) == PacketKind::stun);
        CHECK(classify(3) == PacketKind::stun);
        CHECK(classify(4) == PacketKind::other);
        CHECK(classify(19) == PacketKind::other);
        CHECK(classify(20) == PacketKind::dtls);
        CHECK(classify(63) == PacketKind::dtls);
        CHECK(classify(64) == PacketKind::channel_data);
        CHECK(classify(79) == PacketKind::channel_data);
        CHECK(classify(80) == PacketKind::other);
        CHECK(classify(127) == PacketKind::other);
        CHECK(classify(128) == PacketKind::rtp);
        CHECK(classify(191) == PacketKind::rtp);
        CHECK(classify(192) == PacketKind::other);
        CHECK(classify(255) == PacketKind::other);
        static_assert(classify(0x40) == PacketKind::channel_data);
    }

} // TEST_SUITE
} // namespace traverse::proto
