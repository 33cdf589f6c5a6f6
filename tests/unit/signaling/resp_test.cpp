// SPDX-License-Identifier: Apache-2.0
// RESP2 codec: command encoding, complete / partial / malformed replies, limits.
#include "server/signaling/redis.hpp"
#include "server/signaling/resp.hpp"

#include <doctest/doctest.h>

using namespace traverse::signaling;

TEST_SUITE("signaling.resp") {

    TEST_CASE("commands are arrays of binary-safe bulk strings") {
        CHECK(resp::command({"SET", "k", std::string("a\r\nb\0c", 6)}) ==
              std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\na\r\nb\0c\r\n", 32));
        CHECK(resp::command({}) == "*0\r\n");
    }

    TEST_CASE("every reply kind parses, and consumption stops at the value's end") {
        resp::Value v;
        std::size_t used = 0;
        REQUIRE(resp::parse("+PONG\r\n:7\r\n", v, used) == resp::Status::complete);
        CHECK(v.kind == resp::Value::Kind::simple);
        CHECK(v.text == "PONG");
        CHECK(used == 7);
        REQUIRE(resp::parse(":-42\r\n", v, used) == resp::Status::complete);
        CHECK(v.integer == -42);
        REQUIRE(resp::parse("-ERR wrong\r\n", v, used) == resp::Status::complete);
        CHECK(v.kind == resp::Value::Kind::error);
        CHECK(v.text == "ERR wrong");
        REQUIRE(resp::parse("$-1\r\n", v, used) == resp::Status::complete);
        CHECK(v.kind == resp::Value::Kind::nil);
        REQUIRE(resp::parse("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\na\r\nb\r\n", v, used) ==
                resp::Status::complete);
        REQUIRE(v.kind == resp::Value::Kind::array);
        REQUIRE(v.elements.size() == 3);
        CHECK(v.elements[2].text == "a\r\nb");
        REQUIRE(resp::parse("*2\r\n*1\r\n:1\r\n$0\r\n\r\n", v, used) == resp::Status::complete);
        CHECK(v.elements[0].elements[0].integer == 1);
        CHECK(v.elements[1].text.empty());
    }

    TEST_CASE("every proper prefix of a reply needs more bytes") {
        const std::string whole = "*2\r\n$5\r\nhello\r\n:12\r\n";
        resp::Value v;
        std::size_t used = 0;
        for (std::size_t n = 0; n < whole.size(); ++n) {
            CAPTURE(n);
            CHECK(resp::parse(whole.substr(0, n), v, used) == resp::Status::need_more);
        }
        CHECK(resp::parse(whole, v, used) == resp::Status::complete);
        CHECK(used == whole.size());
    }

    TEST_CASE("malformed framing and oversized values are refused") {
        resp::Value v;
        std::size_t used = 0;
        CHECK(resp::parse("?x\r\n", v, used) == resp::Status::bad);
        CHECK(resp::parse(":12a\r\n", v, used) == resp::Status::bad);
        CHECK(resp::parse("$3\r\nabcd\r\n", v, used) == resp::Status::bad);
        CHECK(resp::parse("$-2\r\n", v, used) == resp::Status::bad);
        CHECK(resp::parse("$999999999\r\n", v, used) == resp::Status::bad);
        CHECK(resp::parse("*99999999\r\n", v, used) == resp::Status::bad);
        CHECK(resp::parse("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", v,
                          used) == resp::Status::bad);
    }

    TEST_CASE("redis addresses: host, port and bracketed IPv6") {
        auto a = parse_redis_address("10.0.0.5:6380");
        REQUIRE(a);
        CHECK(a->host == "10.0.0.5");
        CHECK(a->port == 6380);
        a = parse_redis_address("redis.internal");
        REQUIRE(a);
        CHECK(a->port == 6379);
        a = parse_redis_address("[::1]:7000");
        REQUIRE(a);
        CHECK(a->host == "::1");
        CHECK(a->port == 7000);
        CHECK_FALSE(parse_redis_address("::1:7000"));
        CHECK_FALSE(parse_redis_address("host:0"));
        CHECK_FALSE(parse_redis_address("host:70000"));
        CHECK_FALSE(parse_redis_address(":6379"));
    }
}
