// SPDX-License-Identifier: Apache-2.0
// Malformed-message corpus: each broken input must fail with its specific proto::errc.
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

constexpr std::uint16_t software = to_underlying(AttrType::software);
constexpr std::uint16_t username = to_underlying(AttrType::username);
constexpr std::uint16_t mi = to_underlying(AttrType::message_integrity);
constexpr std::uint16_t mi256 = to_underlying(AttrType::message_integrity_sha256);
constexpr std::uint16_t fp = to_underlying(AttrType::fingerprint);

std::error_code parse_error(const Bytes& wire) {
    const auto view = MessageView::parse(wire);
    return view ? std::error_code{} : view.error();
}

} // namespace

TEST_SUITE("proto") {

    TEST_CASE("a datagram shorter than the header is truncated") {
        const Bytes request = test::load_vector("rfc5769/request.hex");
        CHECK(parse_error(Bytes(request.begin(), request.begin() + 19)) == errc::truncated);
        CHECK(parse_error(Bytes{}) == errc::truncated);
    }

    TEST_CASE("a message with either top bit set is a bad header") {
        RawMessage m;
        m.mutable_bytes()[0] = std::byte{0x40};
        CHECK(parse_error(m.bytes()) == errc::bad_header);
        m.mutable_bytes()[0] = std::byte{0x80};
        CHECK(parse_error(m.bytes()) == errc::bad_header);
        m.mutable_bytes()[0] = std::byte{0xC0};
        CHECK(parse_error(m.bytes()) == errc::bad_header);
    }

    TEST_CASE("a length that is not a multiple of four is a bad length") {
        RawMessage m;
        m.append(Bytes(3, std::byte{0})).set_length(3);
        CHECK(parse_error(m.bytes()) == errc::bad_length);
    }

    TEST_CASE("a length that does not match the datagram size is a bad length") {
        Bytes longer = test::load_vector("rfc5769/request.hex");
        longer.insert(longer.end(), 4, std::byte{0});
        CHECK(parse_error(longer) == errc::bad_length);

        RawMessage shorter;
        shorter.filled(software, 8).set_length(4);
        CHECK(parse_error(shorter.bytes()) == errc::bad_length);
    }

    TEST_CASE("an attribute running past the end of the message is a bad attribute length") {
        RawMessage m;
        const Bytes value(8, std::byte{0x61});
        // Declares 12 bytes of value but only 8 follow.
        m.attribute(software, value, 12);
        CHECK(parse_error(m.bytes()) == errc::bad_attribute_length);
    }

    TEST_CASE("an attribute whose padding does not fit is a bad attribute length") {
        RawMessage m;
        const Bytes value(4, std::byte{0x61});
        // Declares 5 bytes, which needs 8 with padding, but only 4 are there.
        m.attribute(software, value, 5, false);
        CHECK(parse_error(m.bytes()) == errc::bad_attribute_length);
    }

    TEST_CASE("a second MESSAGE-INTEGRITY is misplaced integrity") {
        RawMessage m;
        m.filled(software, 4).filled(mi, 20).filled(mi, 20);
        CHECK(parse_error(m.bytes()) == errc::integrity_misplaced);
    }

    TEST_CASE("a second MESSAGE-INTEGRITY-SHA256 is misplaced integrity") {
        RawMessage m;
        m.filled(mi256, 32).filled(mi256, 32);
        CHECK(parse_error(m.bytes()) == errc::integrity_misplaced);
    }

    TEST_CASE("integrity attributes with a wrong size are a bad attribute length") {
        RawMessage short_mi;
        short_mi.filled(mi, 16);
        CHECK(parse_error(short_mi.bytes()) == errc::bad_attribute_length);

        for (std::size_t n : {0u, 12u, 18u, 36u}) {
            CAPTURE(n);
            RawMessage odd_mi256;
            odd_mi256.filled(mi256, n);
            CHECK(parse_error(odd_mi256.bytes()) == errc::bad_attribute_length);
        }
        for (std::size_t n : {16u, 20u, 24u, 28u, 32u}) {
            CAPTURE(n);
            RawMessage ok_mi256;
            ok_mi256.filled(mi256, n);
            CHECK(parse_error(ok_mi256.bytes()) == std::error_code{});
        }
    }

    TEST_CASE("a FINGERPRINT with a wrong size is a bad attribute length") {
        RawMessage m;
        m.filled(fp, 8);
        CHECK(parse_error(m.bytes()) == errc::bad_attribute_length);
    }

    TEST_CASE("an attribute after FINGERPRINT is rejected") {
        RawMessage m;
        m.filled(software, 4).fingerprint().filled(software, 4);
        CHECK(parse_error(m.bytes()) == errc::attribute_after_fingerprint);

        // The same message built properly, then extended by hand.
        std::array<std::byte, 128> buffer{};
        MessageBuilder b(buffer);
        b.start(make_type(Method::binding, MessageClass::request),
                test::tid("000102030405060708090a0b"));
        b.add_string(AttrType::software, "x");
        b.add_fingerprint();
        RawMessage extended;
        extended.mutable_bytes().assign(b.finish()->begin(), b.finish()->end());
        extended.filled(username, 4);
        CHECK(parse_error(extended.bytes()) == errc::attribute_after_fingerprint);
    }

    TEST_CASE("a corrupted FINGERPRINT is a fingerprint mismatch") {
        Bytes wire = test::load_vector("rfc5769/request.hex");
        wire.back() ^= std::byte{0x01};
        CHECK(parse_error(wire) == errc::fingerprint_mismatch);

        Bytes body_flip = test::load_vector("rfc5769/request.hex");
        body_flip[30] ^= std::byte{0x20}; // inside SOFTWARE
        CHECK(parse_error(body_flip) == errc::fingerprint_mismatch);
    }

    TEST_CASE("a message without the magic cookie parses as RFC 3489") {
        RawMessage m(0x0001, 0xDEADBEEF);
        m.filled(to_underlying(AttrType::change_request), 4, std::byte{0});
        const auto view = MessageView::parse(m.bytes());
        REQUIRE(view.has_value());
        CHECK_FALSE(view->has_magic_cookie());
        CHECK(view->cookie() == 0xDEADBEEFu);
        CHECK(view->find(AttrType::change_request).has_value());
    }

    TEST_CASE("more than 32 attributes is too many attributes") {
        RawMessage exactly;
        for (int i = 0; i < 32; ++i)
            exactly.filled(software, 0);
        CHECK(parse_error(exactly.bytes()) == std::error_code{});

        RawMessage too_many = exactly;
        too_many.filled(software, 0);
        CHECK(parse_error(too_many.bytes()) == errc::too_many_attributes);
    }

    TEST_CASE("ignored attributes after MESSAGE-INTEGRITY do not count toward the limit") {
        RawMessage m;
        for (int i = 0; i < 31; ++i)
            m.filled(software, 0);
        m.filled(mi, 20);
        for (int i = 0; i < 40; ++i)
            m.filled(username, 4);
        const auto view = MessageView::parse(m.bytes());
        REQUIRE(view.has_value());
        CHECK(view->attributes().size() == 32);
    }

    TEST_CASE("every malformed input maps to the malformed condition") {
        for (errc e :
             {errc::truncated, errc::bad_header, errc::bad_length, errc::bad_attribute_length,
              errc::too_many_attributes, errc::integrity_misplaced, errc::fingerprint_mismatch,
              errc::attribute_after_fingerprint}) {
            CAPTURE(static_cast<int>(e));
            CHECK(std::error_code(e) == condition::malformed);
        }
    }

} // TEST_SUITE
} // namespace traverse::proto
