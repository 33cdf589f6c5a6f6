// SPDX-License-Identifier: Apache-2.0
// Typed attribute decoders: lengths, ranges, text limits and XOR address coding.
#include "proto/attributes.hpp"
#include "tests/unit/proto/proto_test_support.hpp"

#include <doctest/doctest.h>

#include <ostream> // doctest prints std::error_code through it

#include <string>

namespace traverse::proto {
namespace {

using test::Bytes;

Attribute attr(AttrType type, const Bytes& value) {
    return Attribute{to_underlying(type), value, 0};
}

} // namespace

TEST_SUITE("proto") {

    TEST_CASE("addresses decode for both families and reject other families and sizes") {
        const Bytes v4 = test::from_hex("0001 1234 c0000201");
        const auto a = decode_address(attr(AttrType::mapped_address, v4));
        REQUIRE(a.has_value());
        CHECK(*a == TransportAddress::v4({192, 0, 2, 1}, 0x1234));

        const Bytes v6 = test::from_hex("0002 0050 20010db8000000000000000000000001");
        const auto b = decode_address(attr(AttrType::other_address, v6));
        REQUIRE(b.has_value());
        CHECK(b->to_string() == "[2001:db8::1]:80");

        CHECK(decode_address(attr(AttrType::mapped_address, test::from_hex("0003 1234 c0000201")))
                  .error() == errc::bad_address_family);
        CHECK(decode_address(attr(AttrType::mapped_address, test::from_hex("0001 1234 c00002")))
                  .error() == errc::bad_attribute_length);
        CHECK(decode_address(attr(AttrType::mapped_address, test::from_hex("0002 1234 c0000201")))
                  .error() == errc::bad_attribute_length);
        CHECK(decode_address(attr(AttrType::mapped_address, Bytes{})).error() ==
              errc::bad_attribute_length);
    }

    TEST_CASE("an IPv6 XOR address depends on the transaction id") {
        const TransactionId id1 = test::tid("000102030405060708090a0b");
        TransactionId id2 = id1;
        id2[11] = std::byte{0xFF};
        const auto address = TransportAddress::parse("[2001:db8::42]:5000").value();

        const TransportAddress x = xor_transform(address, id1);
        Bytes value(20);
        value[1] = std::byte{2};
        store_be16(value.data() + 2, x.port);
        for (std::size_t i = 0; i < 16; ++i)
            value[4 + i] = std::byte{x.ip[i]};
        const Attribute a = attr(AttrType::xor_mapped_address, value);

        CHECK(decode_xor_address(a, id1).value() == address);
        const auto other = decode_xor_address(a, id2).value();
        CHECK(other != address);
        CHECK(other.port == address.port);
        // Only the last address byte is xored with the changed transaction id byte.
        CHECK(other.ip[15] == (address.ip[15] ^ 0xFF ^ 0x0B));

        // IPv4 uses only the magic cookie, so the transaction id does not matter.
        const auto v4 = TransportAddress::v4({10, 1, 2, 3}, 9);
        CHECK(xor_transform(v4, id1) == xor_transform(v4, id2));
        CHECK(xor_transform(xor_transform(v4, id1), id1) == v4);
        CHECK(xor_transform(v4, id1).port == (9 ^ 0x2112));
    }

    TEST_CASE("fixed-size integer attributes reject other sizes") {
        CHECK(decode_u32(attr(AttrType::lifetime, test::from_hex("00000258"))).value() == 600);
        CHECK(decode_u32(attr(AttrType::lifetime, test::from_hex("000258"))).error() ==
              errc::bad_attribute_length);
        CHECK(decode_u64(attr(AttrType::ice_controlling, test::from_hex("0102030405060708")))
                  .value() == 0x0102030405060708u);
        CHECK(decode_u64(attr(AttrType::ice_controlling, test::from_hex("01020304"))).error() ==
              errc::bad_attribute_length);
        CHECK(decode_response_port(attr(AttrType::response_port, test::from_hex("0d960000")))
                  .value() == 3478);
        CHECK(decode_response_port(attr(AttrType::response_port, test::from_hex("0d96"))).error() ==
              errc::bad_attribute_length);
        CHECK(decode_channel_number(attr(AttrType::channel_number, test::from_hex("3fff0000")))
                  .error() == errc::bad_channel_number);
        CHECK(decode_even_port(attr(AttrType::even_port, test::from_hex("00"))).value() == false);
        CHECK(decode_address_family(
                  attr(AttrType::requested_address_family, test::from_hex("03000000")))
                  .error() == errc::bad_address_family);
    }

    TEST_CASE("CHANGE-REQUEST flags decode independently") {
        const auto both =
            decode_change_request(attr(AttrType::change_request, test::from_hex("00000006")));
        CHECK(both->change_ip);
        CHECK(both->change_port);
        const auto port =
            decode_change_request(attr(AttrType::change_request, test::from_hex("00000002")));
        CHECK_FALSE(port->change_ip);
        CHECK(port->change_port);
        CHECK(decode_change_request(attr(AttrType::change_request, Bytes(8))).error() ==
              errc::bad_attribute_length);
    }

    TEST_CASE("ERROR-CODE decoding rejects undefined classes and numbers") {
        CHECK(decode_error_code(attr(AttrType::error_code, test::from_hex("00000264"))).error() ==
              errc::bad_value); // number 100
        CHECK(decode_error_code(attr(AttrType::error_code, test::from_hex("00000200"))).error() ==
              errc::bad_value); // class 2
        CHECK(decode_error_code(attr(AttrType::error_code, test::from_hex("00000700"))).error() ==
              errc::bad_value); // class 7
        CHECK(decode_error_code(attr(AttrType::error_code, test::from_hex("000004"))).error() ==
              errc::bad_attribute_length);
        // Reserved bits are ignored.
        const auto ok = decode_error_code(attr(AttrType::error_code, test::from_hex("fffffb01")));
        REQUIRE(ok.has_value());
        CHECK(ok->code == 301);
    }

    TEST_CASE("text attributes enforce their byte and character limits") {
        const Bytes username(max_username_bytes, std::byte{'u'});
        CHECK(decode_username(attr(AttrType::username, username)).has_value());
        const Bytes long_username(max_username_bytes + 1, std::byte{'u'});
        CHECK(decode_username(attr(AttrType::username, long_username)).error() == errc::bad_value);

        const Bytes realm(max_realm_chars, std::byte{'r'});
        CHECK(decode_realm(attr(AttrType::realm, realm)).has_value());
        const Bytes long_realm(max_realm_chars + 1, std::byte{'r'});
        CHECK(decode_realm(attr(AttrType::realm, long_realm)).error() == errc::bad_value);

        // 127 three-byte characters: within both limits (381 bytes).
        std::string wide;
        for (std::size_t i = 0; i < max_nonce_chars; ++i)
            wide += "\xe3\x83\x9e";
        CHECK(decode_nonce(attr(AttrType::nonce, test::bytes(wide))).has_value());
        CHECK(utf8_length(wide) == max_nonce_chars);
        wide += "\xe3\x83\x9e";
        CHECK(decode_nonce(attr(AttrType::nonce, test::bytes(wide))).error() == errc::bad_value);
        CHECK(decode_software(attr(AttrType::software, test::bytes("traverse 0.1"))).value() ==
              "traverse 0.1");
    }

    TEST_CASE("list attributes reject malformed lengths and overflowing counts") {
        CHECK(
            decode_unknown_attributes(attr(AttrType::unknown_attributes, test::from_hex("000100")))
                .error() == errc::bad_attribute_length);
        CHECK(decode_unknown_attributes(attr(AttrType::unknown_attributes, Bytes(66))).error() ==
              errc::bad_value);
        CHECK(decode_unknown_attributes(attr(AttrType::unknown_attributes, Bytes{}))->count == 0);

        // Parameters length runs past the value.
        CHECK(decode_password_algorithms(
                  attr(AttrType::password_algorithms, test::from_hex("00010004aabb")))
                  .error() == errc::bad_attribute_length);
        CHECK(decode_password_algorithm(attr(AttrType::password_algorithm, test::from_hex("0001")))
                  .error() == errc::bad_attribute_length);
        CHECK(decode_password_algorithm(
                  attr(AttrType::password_algorithm, test::from_hex("0001000000000000")))
                  .error() == errc::bad_attribute_length);
        CHECK(decode_password_algorithms(attr(AttrType::password_algorithms, Bytes(36))).error() ==
              errc::bad_value);
    }

} // TEST_SUITE
} // namespace traverse::proto
