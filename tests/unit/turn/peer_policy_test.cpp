// SPDX-License-Identifier: Apache-2.0
// The peer filter, table-tested for every address class and every IPv6 spelling of IPv4.
#include "server/turn/peer_policy.hpp"

#include <doctest/doctest.h>

using namespace traverse;
using turn::PeerPolicy;
using turn::PeerVerdict;

namespace {

proto::TransportAddress ip(const std::string& text) {
    bool v6 = text.find(':') != std::string::npos;
    auto a = proto::TransportAddress::parse((v6 ? "[" + text + "]" : text) + ":5000");
    REQUIRE_MESSAGE(a, text);
    return *a;
}

turn::Cidr cidr(const char* text) {
    auto c = turn::Cidr::parse(text);
    REQUIRE_MESSAGE(c, text);
    return *c;
}

} // namespace

TEST_SUITE("turn.peer_policy") {

    TEST_CASE("every special-purpose address class is refused by default") {
        PeerPolicy policy;
        const char* denied[] = {"0.0.0.0",
                                "0.1.2.3",
                                "10.1.2.3",
                                "100.64.0.1",
                                "100.127.255.254",
                                "127.0.0.1",
                                "127.255.255.254",
                                "169.254.169.254",
                                "169.254.0.1",
                                "172.16.0.1",
                                "172.31.255.255",
                                "192.0.0.8",
                                "192.0.2.1",
                                "192.88.99.1",
                                "192.168.1.1",
                                "198.18.0.1",
                                "198.19.255.1",
                                "198.51.100.1",
                                "203.0.113.9",
                                "224.0.0.251",
                                "239.255.255.250",
                                "240.0.0.1",
                                "255.255.255.255",
                                "::",
                                "::1",
                                "fe80::1",
                                "fec0::1",
                                "fc00::1",
                                "fd12:3456::1",
                                "ff02::1",
                                "2001:db8::1",
                                "3fff::1",
                                "100::1",
                                "2001:2::1",
                                "64:ff9b:1::1"};
        for (const char* a : denied) {
            CAPTURE(a);
            CHECK(policy.check(ip(a)) == PeerVerdict::denied_by_default);
        }
    }

    TEST_CASE("public addresses are allowed by default") {
        PeerPolicy policy;
        for (const char* a : {"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.1", "172.32.0.1",
                              "192.169.0.1", "2606:4700::1111", "2a00:1450::1"}) {
            CAPTURE(a);
            CHECK(policy.check(ip(a)) == PeerVerdict::allowed);
        }
    }

    TEST_CASE("IPv4 embedded in IPv6 is unwrapped before the check, in every spelling") {
        PeerPolicy policy;
        const char* denied[] = {
            "::ffff:127.0.0.1",       // IPv4-mapped loopback
            "::ffff:0.0.0.0",         // IPv4-mapped "this network"
            "::127.0.0.1",            // IPv4-compatible loopback
            "::ffff:169.254.169.254", // mapped metadata address
            "::10.0.0.1",             // compatible RFC 1918
            "2002:7f00:1::",          // 6to4 of 127.0.0.1
            "2002:a9fe:a9fe::1",      // 6to4 of 169.254.169.254
            "2002:c0a8:101::",        // 6to4 of 192.168.1.1
            "64:ff9b::127.0.0.1",     // NAT64 well-known prefix of loopback
            "64:ff9b::a00:1",         // NAT64 of 10.0.0.1
        };
        for (const char* a : denied) {
            CAPTURE(a);
            CHECK(policy.check(ip(a)) == PeerVerdict::denied_by_default);
        }
        CHECK(policy.check(ip("::ffff:8.8.8.8")) == PeerVerdict::allowed);
        CHECK(policy.check(ip("2002:808:808::1")) == PeerVerdict::allowed);
        CHECK(policy.check(ip("64:ff9b::808:808")) == PeerVerdict::allowed);
        CHECK(PeerPolicy::unwrap(ip("::ffff:1.2.3.4")) == ip("1.2.3.4"));
        CHECK(PeerPolicy::unwrap(ip("::1")) == ip("::1"));
    }

    TEST_CASE("a configured allow list overrides the defaults for every spelling") {
        PeerPolicy policy({cidr("127.0.0.1/32")}, {}, {});
        CHECK(policy.check(ip("127.0.0.1")) == PeerVerdict::allowed);
        CHECK(policy.check(ip("::ffff:127.0.0.1")) == PeerVerdict::allowed);
        CHECK(policy.check(ip("127.0.0.2")) == PeerVerdict::denied_by_default);
        CHECK(policy.check(ip("::1")) == PeerVerdict::denied_by_default);
    }

    TEST_CASE("a configured deny list wins over the allow list and over public addresses") {
        PeerPolicy policy({cidr("10.0.0.0/8")}, {cidr("10.9.0.0/16"), cidr("8.8.8.0/24")}, {});
        CHECK(policy.check(ip("10.1.1.1")) == PeerVerdict::allowed);
        CHECK(policy.check(ip("10.9.1.1")) == PeerVerdict::denied_by_config);
        CHECK(policy.check(ip("8.8.8.8")) == PeerVerdict::denied_by_config);
        CHECK(policy.check(ip("::ffff:8.8.8.8")) == PeerVerdict::denied_by_config);
        CHECK(policy.check(ip("2002:808:808::")) == PeerVerdict::denied_by_config);
    }

    TEST_CASE("the server's own addresses are refused unless allowed") {
        PeerPolicy policy({}, {}, {ip("203.0.114.10")});
        CHECK(policy.check(ip("203.0.114.10")) == PeerVerdict::denied_own_address);
        CHECK(policy.check(ip("::ffff:203.0.114.10")) == PeerVerdict::denied_own_address);
        CHECK(policy.check(ip("203.0.114.11")) == PeerVerdict::allowed);
    }

    TEST_CASE("CIDR parsing normalises host bits and rejects malformed prefixes") {
        CHECK(cidr("10.1.2.3/8").to_string() == "10.0.0.0/8");
        CHECK(cidr("fd00::1/8").to_string() == "fd00::/8");
        CHECK(cidr("1.2.3.4").bits == 32);
        CHECK_FALSE(turn::Cidr::parse("10.0.0.0/33"));
        CHECK_FALSE(turn::Cidr::parse("::/129"));
        CHECK_FALSE(turn::Cidr::parse("10.0.0/8"));
        CHECK_FALSE(turn::Cidr::parse("10.0.0.0/x"));
        CHECK_FALSE(turn::Cidr::parse("10.0.0.0/"));
        CHECK(cidr("172.16.0.0/12").contains(ip("172.31.0.1")));
        CHECK_FALSE(cidr("172.16.0.0/12").contains(ip("172.32.0.1")));
    }

} // TEST_SUITE
