// SPDX-License-Identifier: Apache-2.0
// Randomized build-then-parse round trips: every attribute must come back equal.
#include "proto/attributes.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "tests/unit/proto/proto_test_support.hpp"

#include <doctest/doctest.h>

#include <ostream> // doctest prints std::error_code through it

#include <array>
#include <random>
#include <string>
#include <vector>

namespace traverse::proto {
namespace {

using test::Bytes;

// What one generated attribute should decode to.
struct Expectation {
    enum class Kind { address, xor_address, text, u32, u64, error_code, raw, empty, channel };
    Kind kind;
    std::uint16_t type;
    TransportAddress address{};
    std::string text;
    std::uint64_t number = 0;
    Bytes raw;
};

class Generator {
public:
    explicit Generator(std::uint32_t seed) : rng_(seed) {}

    std::size_t below(std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
    }
    std::uint32_t u32() { return static_cast<std::uint32_t>(rng_()); }
    std::uint64_t u64() { return (std::uint64_t{u32()} << 32) | u32(); }
    std::byte byte() { return static_cast<std::byte>(below(256)); }

    TransportAddress address() {
        if (below(2) == 0) {
            return TransportAddress::v4(
                {static_cast<std::uint8_t>(below(256)), static_cast<std::uint8_t>(below(256)),
                 static_cast<std::uint8_t>(below(256)), static_cast<std::uint8_t>(below(256))},
                static_cast<std::uint16_t>(below(65536)));
        }
        std::array<std::uint8_t, 16> ip{};
        for (auto& b : ip)
            b = static_cast<std::uint8_t>(below(256));
        return TransportAddress::v6(ip, static_cast<std::uint16_t>(below(65536)));
    }

    std::string text(std::size_t max) {
        std::string s(below(max + 1), ' ');
        for (char& c : s)
            c = static_cast<char>(0x20 + below(0x5F));
        return s;
    }

    Bytes bytes(std::size_t max) {
        Bytes b(below(max + 1));
        for (auto& x : b)
            x = byte();
        return b;
    }

    TransactionId transaction_id() {
        TransactionId id{};
        for (auto& b : id)
            b = byte();
        return id;
    }

private:
    std::mt19937 rng_;
};

constexpr AttrType address_types[] = {AttrType::mapped_address, AttrType::other_address,
                                      AttrType::response_origin, AttrType::alternate_server};
constexpr AttrType xor_types[] = {AttrType::xor_mapped_address, AttrType::xor_peer_address,
                                  AttrType::xor_relayed_address};
constexpr AttrType text_types[] = {AttrType::username, AttrType::software, AttrType::realm,
                                   AttrType::nonce};
constexpr AttrType u32_types[] = {AttrType::lifetime, AttrType::priority};
constexpr AttrType u64_types[] = {AttrType::ice_controlled, AttrType::ice_controlling,
                                  AttrType::reservation_token};
constexpr AttrType empty_types[] = {AttrType::dont_fragment, AttrType::use_candidate};

Expectation add_random(Generator& g, MessageBuilder& b) {
    using Kind = Expectation::Kind;
    Expectation e{};
    switch (g.below(9)) {
    case 0:
        e.kind = Kind::address;
        e.type = to_underlying(address_types[g.below(std::size(address_types))]);
        e.address = g.address();
        b.add_address(AttrType{e.type}, e.address);
        break;
    case 1:
        e.kind = Kind::xor_address;
        e.type = to_underlying(xor_types[g.below(std::size(xor_types))]);
        e.address = g.address();
        b.add_xor_address(AttrType{e.type}, e.address);
        break;
    case 2:
        e.kind = Kind::text;
        e.type = to_underlying(text_types[g.below(std::size(text_types))]);
        e.text = g.text(100);
        b.add_string(AttrType{e.type}, e.text, g.byte());
        break;
    case 3:
        e.kind = Kind::u32;
        e.type = to_underlying(u32_types[g.below(std::size(u32_types))]);
        e.number = g.u32();
        b.add_u32(AttrType{e.type}, static_cast<std::uint32_t>(e.number));
        break;
    case 4:
        e.kind = Kind::u64;
        e.type = to_underlying(u64_types[g.below(std::size(u64_types))]);
        e.number = g.u64();
        b.add_u64(AttrType{e.type}, e.number);
        break;
    case 5:
        e.kind = Kind::error_code;
        e.type = to_underlying(AttrType::error_code);
        e.number = 300 + g.below(400);
        e.text = g.text(60);
        b.add_error_code(static_cast<int>(e.number), e.text);
        break;
    case 6:
        // An optional type the codec does not know, e.g. a vendor extension.
        e.kind = Kind::raw;
        e.type = static_cast<std::uint16_t>(0xC000 + g.below(0x1000));
        e.raw = g.bytes(64);
        b.add_raw(e.type, e.raw, g.byte());
        break;
    case 7:
        e.kind = Kind::empty;
        e.type = to_underlying(empty_types[g.below(std::size(empty_types))]);
        b.add_empty(AttrType{e.type});
        break;
    default:
        e.kind = Kind::channel;
        e.type = to_underlying(AttrType::channel_number);
        e.number = 0x4000 + g.below(0x1000);
        b.add_channel_number(static_cast<ChannelNumber>(e.number));
        break;
    }
    return e;
}

void check_attribute(const Expectation& e, const Attribute& a, const TransactionId& id) {
    using Kind = Expectation::Kind;
    REQUIRE(a.type == e.type);
    switch (e.kind) {
    case Kind::address:
        CHECK(decode_address(a).value() == e.address);
        break;
    case Kind::xor_address:
        CHECK(decode_xor_address(a, id).value() == e.address);
        break;
    case Kind::text:
        CHECK(decode_string(a) == e.text);
        break;
    case Kind::u32:
        CHECK(decode_u32(a).value() == e.number);
        break;
    case Kind::u64:
        CHECK(decode_u64(a).value() == e.number);
        break;
    case Kind::error_code: {
        const auto decoded = decode_error_code(a);
        REQUIRE(decoded.has_value());
        CHECK(decoded->code == static_cast<int>(e.number));
        CHECK(decoded->reason == e.text);
        break;
    }
    case Kind::raw:
        CHECK(test::to_hex(a.value) == test::to_hex(e.raw));
        break;
    case Kind::empty:
        CHECK(a.value.empty());
        break;
    case Kind::channel:
        CHECK(decode_channel_number(a).value() == e.number);
        break;
    }
}

} // namespace

TEST_SUITE("proto") {

    TEST_CASE("randomly built messages parse back to the same attributes") {
        Generator g(20240601);
        std::array<std::byte, 4096> buffer{};
        for (int iteration = 0; iteration < 2000; ++iteration) {
            CAPTURE(iteration);
            const MessageType type{static_cast<std::uint16_t>(g.below(0x1000)),
                                   static_cast<MessageClass>(g.below(4))};
            const TransactionId id = g.transaction_id();
            MessageBuilder b(buffer);
            b.start(type, id);

            std::vector<Expectation> expected;
            const std::size_t count = g.below(max_attributes - 2);
            for (std::size_t i = 0; i < count; ++i)
                expected.push_back(add_random(g, b));

            const Bytes key = g.bytes(40);
            const bool with_mi = g.below(2) == 0;
            const bool with_mi256 = g.below(3) == 0;
            const bool with_fp = g.below(2) == 0;
            if (with_mi) b.add_message_integrity(key);
            if (with_mi256) b.add_message_integrity_sha256(key);
            if (with_fp) b.add_fingerprint();

            const auto wire = b.finish();
            REQUIRE_MESSAGE(wire.has_value(), wire.error().message());
            const auto view = MessageView::parse(*wire);
            REQUIRE_MESSAGE(view.has_value(), view.error().message());

            CHECK(view->type() == type);
            CHECK(view->transaction_id() == id);
            CHECK(view->has_magic_cookie());
            const std::size_t trailers = std::size_t{with_mi} + with_mi256 + with_fp;
            REQUIRE(view->attributes().size() == expected.size() + trailers);
            for (std::size_t i = 0; i < expected.size(); ++i)
                check_attribute(expected[i], view->attributes()[i], id);

            CHECK(view->has_message_integrity() == with_mi);
            CHECK(view->has_message_integrity_sha256() == with_mi256);
            CHECK(view->has_fingerprint() == with_fp);
            if (with_mi) CHECK(view->verify_integrity(key));
            if (with_mi256) CHECK(view->verify_integrity_sha256(key));
            Bytes wrong = key;
            wrong.push_back(std::byte{0x5A});
            CHECK_FALSE(view->verify_integrity(wrong));
            CHECK_FALSE(view->verify_integrity_sha256(wrong));
        }
    }

} // TEST_SUITE
} // namespace traverse::proto
