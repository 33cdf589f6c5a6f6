// SPDX-License-Identifier: Apache-2.0
// TransportAddress construction, text parsing and formatting.
#include "proto/address.hpp"

#include <doctest/doctest.h>

#include <ostream> // doctest prints std::error_code through it

namespace traverse::proto {

TEST_SUITE("proto") {

    TEST_CASE("IPv4 and IPv6 addresses parse and print symmetrically") {
        const auto v4 = TransportAddress::parse("192.0.2.1:3478");
        REQUIRE(v4.has_value());
        CHECK(*v4 == TransportAddress::v4({192, 0, 2, 1}, 3478));
        CHECK(v4->ip_size() == 4);
        CHECK(v4->to_string() == "192.0.2.1:3478");
        CHECK(v4->ip_string() == "192.0.2.1");

        const auto v6 = TransportAddress::parse("[::1]:5");
        REQUIRE(v6.has_value());
        CHECK(v6->family == Family::ipv6);
        CHECK(v6->ip[15] == 1);
        CHECK(v6->ip_size() == 16);
        CHECK(v6->to_string() == "[::1]:5");
        CHECK(v6->ip_string() == "::1");

        CHECK(TransportAddress::parse("0.0.0.0:0").has_value());
        CHECK(TransportAddress::parse("[2001:db8::1]:65535")->port == 65535);
    }

    TEST_CASE("malformed address text is a bad value") {
        for (const char* text : {"", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1",
                                 "1.2.3.4:5x", "1.2.3:5", "::1:5", "[::1]", "[::1]5", "[1.2.3.4]:5",
                                 "[::1:5", "host:80", ":80", "256.1.1.1:1"}) {
            CAPTURE(text);
            CHECK(TransportAddress::parse(text).error() == errc::bad_value);
        }
    }

    TEST_CASE("IPv4 addresses keep the unused bytes zero so equality is by value") {
        TransportAddress a = TransportAddress::v4({10, 0, 0, 1}, 80);
        const auto b = TransportAddress::parse("10.0.0.1:80").value();
        CHECK(a == b);
        for (std::size_t i = 4; i < 16; ++i)
            CHECK(a.ip[i] == 0);
        a.port = 81;
        CHECK(a != b);
    }

} // TEST_SUITE
} // namespace traverse::proto
