// SPDX-License-Identifier: Apache-2.0
// Bounded random-input loops: parsing garbage and mutated vectors never crashes or overreads.
#include "proto/attributes.hpp"
#include "proto/channel_data.hpp"
#include "proto/message_view.hpp"
#include "proto/stream_framer.hpp"
#include "tests/unit/proto/proto_test_support.hpp"

#include <doctest/doctest.h>

#include <ostream> // doctest prints std::error_code through it

#include <random>
#include <vector>

namespace traverse::proto {
namespace {

using test::Bytes;

// Runs every decoder over every indexed attribute; results are ignored, crashes are not.
std::size_t exercise(const MessageView& m) {
    std::size_t decoded = 0;
    for (const Attribute& a : m.attributes()) {
        decoded += decode_address(a).has_value();
        decoded += decode_xor_address(a, m.transaction_id()).has_value();
        decoded += decode_u32(a).has_value();
        decoded += decode_u64(a).has_value();
        decoded += decode_string(a).size();
        decoded += decode_username(a).has_value();
        decoded += decode_realm(a).has_value();
        decoded += decode_nonce(a).has_value();
        decoded += decode_software(a).has_value();
        decoded += decode_error_code(a).has_value();
        decoded += decode_change_request(a).has_value();
        decoded += decode_response_port(a).has_value();
        decoded += decode_channel_number(a).has_value();
        decoded += decode_requested_transport(a).has_value();
        decoded += decode_even_port(a).has_value();
        decoded += decode_address_family(a).has_value();
        decoded += decode_unknown_attributes(a).has_value();
        decoded += decode_password_algorithm(a).has_value();
        decoded += decode_password_algorithms(a).has_value();
    }
    const std::array<std::byte, 4> key{};
    decoded += m.verify_integrity(key);
    decoded += m.verify_integrity_sha256(key);
    return decoded;
}

} // namespace

TEST_SUITE("proto") {

    TEST_CASE("random bytes never crash the parsers") {
        std::mt19937 rng(7);
        std::size_t parsed = 0;
        std::size_t work = 0;
        for (int iteration = 0; iteration < 20000; ++iteration) {
            // Exactly sized vectors, so any overread lands outside the allocation.
            Bytes wire(std::uniform_int_distribution<std::size_t>(0, 160)(rng));
            for (auto& b : wire)
                b = static_cast<std::byte>(rng());
            // Most random headers fail the first checks; make half of them plausible so the
            // attribute walk gets exercised.
            if (iteration % 2 == 0 && wire.size() >= header_size) {
                wire.resize(wire.size() & ~std::size_t{3});
                wire[0] &= std::byte{0x3F};
                store_be16(wire.data() + 2, static_cast<std::uint16_t>(wire.size() - header_size));
                // Small attribute lengths so several attributes fit.
                for (std::size_t pos = header_size; pos + 4 <= wire.size(); pos += 8)
                    wire[pos + 2] = std::byte{0};
            }
            if (const auto view = MessageView::parse(wire)) {
                ++parsed;
                work += exercise(*view);
            }
            work += parse_channel_data(wire, iteration % 3 == 0).has_value();
            const auto frame = next_frame(wire);
            CHECK(frame.length <= max_frame_size);
            if (frame.status == FrameResult::Status::complete) CHECK(frame.length <= wire.size());
        }
        CHECK(parsed > 100);
        CHECK(work > 0);
    }

    TEST_CASE("bit flips and length edits of the RFC 5769 vectors never crash the parser") {
        std::mt19937 rng(11);
        for (const char* file : {"rfc5769/request.hex", "rfc5769/response-ipv4.hex",
                                 "rfc5769/response-ipv6.hex", "rfc5769/request-long-term.hex"}) {
            const Bytes original = test::load_vector(file);
            for (int iteration = 0; iteration < 2000; ++iteration) {
                Bytes wire = original;
                const int flips = 1 + static_cast<int>(rng() % 4);
                for (int i = 0; i < flips; ++i)
                    wire[rng() % wire.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
                if (const auto view = MessageView::parse(wire)) exercise(*view);
            }
        }
    }

} // TEST_SUITE
} // namespace traverse::proto
