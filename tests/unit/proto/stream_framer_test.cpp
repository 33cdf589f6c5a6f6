// SPDX-License-Identifier: Apache-2.0
// Stream framing: complete, need-more and bad outcomes for STUN and ChannelData.
#include "proto/stream_framer.hpp"
#include "tests/unit/proto/proto_test_support.hpp"

#include <doctest/doctest.h>

#include <ostream> // doctest prints std::error_code through it

namespace traverse::proto {
namespace {

using test::Bytes;
using Status = FrameResult::Status;

std::span<const std::byte> first(const Bytes& b, std::size_t n) {
    return std::span(b).first(n);
}

} // namespace

TEST_SUITE("proto") {

    TEST_CASE("a whole STUN message in the buffer is one complete frame") {
        const Bytes wire = test::load_vector("rfc5769/request.hex");
        const auto r = next_frame(wire);
        CHECK(r.status == Status::complete);
        CHECK(r.kind == FrameKind::stun);
        CHECK(r.length == wire.size());
    }

    TEST_CASE("a partial STUN message needs more and reports its size once known") {
        const Bytes wire = test::load_vector("rfc5769/request.hex");
        CHECK(next_frame(first(wire, 0)).status == Status::need_more);
        CHECK(next_frame(first(wire, 3)).status == Status::need_more);
        CHECK(next_frame(first(wire, 3)).length == 0);
        const auto header_only = next_frame(first(wire, 20));
        CHECK(header_only.status == Status::need_more);
        CHECK(header_only.length == wire.size());
        for (std::size_t n = 0; n < wire.size(); ++n)
            CHECK(next_frame(first(wire, n)).status == Status::need_more);
    }

    TEST_CASE("two back-to-back frames are split at the first boundary") {
        Bytes stream = test::load_vector("rfc5769/response-ipv4.hex");
        const std::size_t first_size = stream.size();
        const Bytes channel = test::from_hex("40000003 aabbcc 00");
        stream.insert(stream.end(), channel.begin(), channel.end());
        const auto r = next_frame(stream);
        CHECK(r.status == Status::complete);
        CHECK(r.length == first_size);
        const auto rest = next_frame(std::span(stream).subspan(first_size));
        CHECK(rest.status == Status::complete);
        CHECK(rest.kind == FrameKind::channel_data);
        CHECK(rest.length == 8);
    }

    TEST_CASE("ChannelData on a stream includes its padding") {
        const Bytes frame = test::from_hex("4fff0005 0102030405 000000");
        CHECK(next_frame(first(frame, 9)).status == Status::need_more);
        CHECK(next_frame(first(frame, 9)).length == 12);
        CHECK(next_frame(first(frame, 2)).status == Status::need_more);
        const auto r = next_frame(frame);
        CHECK(r.status == Status::complete);
        CHECK(r.kind == FrameKind::channel_data);
        CHECK(r.length == 12);

        const Bytes empty = test::from_hex("40000000");
        CHECK(next_frame(empty).length == 4);
        CHECK(next_frame(empty).status == Status::complete);
    }

    TEST_CASE("streams that are neither STUN nor ChannelData are bad") {
        CHECK(next_frame(test::from_hex("50")).status == Status::bad); // reserved channel range
        CHECK(next_frame(test::from_hex("7f000000")).status == Status::bad);
        CHECK(next_frame(test::from_hex("80")).status == Status::bad); // RTP
        CHECK(next_frame(test::from_hex("ff")).status == Status::bad);
        // STUN with a length that is not a multiple of 4.
        CHECK(next_frame(test::from_hex("00010003")).status == Status::bad);
    }

    TEST_CASE("a classic RFC 3489 message without magic cookie frames normally") {
        const Bytes wire = test::from_hex("00010000 0123456789abcdef0011223344556677");
        const auto r = next_frame(wire);
        CHECK(r.status == Status::complete);
        CHECK(r.length == 20);
    }

} // TEST_SUITE
} // namespace traverse::proto
