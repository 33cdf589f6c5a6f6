// SPDX-License-Identifier: Apache-2.0
// Value parsers shared by the loader and command-line overrides.
#include "config/load.hpp"
#include "config/text.hpp"

#include <doctest/doctest.h>

#include <array>

using namespace std::chrono_literals;
using namespace traverse::config;

TEST_SUITE_BEGIN("config");

TEST_CASE("durations accept units, chains and bare seconds") {
    struct Case {
        std::string_view text;
        std::chrono::seconds expected;
    };
    for (const Case& c : {Case{"30s", 30s}, Case{"10m", 600s}, Case{"1h", 3600s},
                          Case{"1d", 86400s}, Case{"45", 45s}, Case{"0", 0s}, Case{"1h30m", 5400s},
                          Case{"2000ms", 2s}, Case{"1m30s", 90s}}) {
        CAPTURE(c.text);
        const auto parsed = parse_duration(c.text);
        REQUIRE_MESSAGE(parsed.ok(), parsed.error);
        CHECK(*parsed.value == c.expected);
    }
}

TEST_CASE("durations that are not whole seconds are rejected") {
    const auto parsed = parse_duration("500ms");
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error == "must be a whole number of seconds, got '500ms'");
    CHECK_FALSE(parse_duration("1500ms").ok());
}

TEST_CASE("malformed durations name the expected form") {
    for (const std::string_view text : {"", "s", "10x", "1h30", "-5s", "1.5s", "10 s", "abc"}) {
        CAPTURE(text);
        const auto parsed = parse_duration(text);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error.starts_with("expected a duration like 30s"));
    }
    CHECK(parse_duration("99999999999999999999d").error.starts_with("is too long"));
}

TEST_CASE("listen specs give transport, address and port") {
    auto parsed = parse_listen_spec("udp://127.0.0.1:3478");
    REQUIRE_MESSAGE(parsed.ok(), parsed.error);
    CHECK(*parsed.value == Listener{Transport::udp, "127.0.0.1", 3478});

    parsed = parse_listen_spec("tcp://[::1]:0");
    REQUIRE_MESSAGE(parsed.ok(), parsed.error);
    CHECK(*parsed.value == Listener{Transport::tcp, "::1", 0});

    parsed = parse_listen_spec("tls://127.0.0.1:5349");
    REQUIRE_MESSAGE(parsed.ok(), parsed.error);
    CHECK(*parsed.value == Listener{Transport::tls, "127.0.0.1", 5349});
}

TEST_CASE("listen specs without a port use the transport's registered port") {
    CHECK(parse_listen_spec("udp://0.0.0.0").value->port == 3478);
    CHECK(parse_listen_spec("tls://[::]").value->port == 5349);
}

TEST_CASE("listener to_string round-trips through parse_listen_spec") {
    for (const Listener& listener : {Listener{Transport::udp, "127.0.0.1", 3478},
                                     Listener{Transport::tls, "2001:db8::1", 0}}) {
        const auto parsed = parse_listen_spec(to_string(listener));
        REQUIRE_MESSAGE(parsed.ok(), parsed.error);
        CHECK(*parsed.value == listener);
    }
}

TEST_CASE("bad listen specs explain what is wrong") {
    struct Case {
        std::string_view spec;
        std::string_view error_start;
    };
    for (const Case& c : {
             Case{"127.0.0.1:3478", "expected <transport>://<address>[:<port>]"},
             Case{"sctp://127.0.0.1:3478", "expected udp, tcp or tls, got 'sctp'"},
             Case{"udp://::1:3478", "IPv6 addresses need brackets"},
             Case{"udp://[::1:3478", "expected <transport>://"},
             Case{"udp://[127.0.0.1]:3478", "expected <transport>://"},
             Case{"udp://localhost:3478", "expected an IPv4 or IPv6 address, got 'localhost'"},
             Case{"udp://127.0.0.1:70000", "must be 0..65535, got 70000"},
             Case{"udp://127.0.0.1:", "expected an integer 0..65535, got ''"},
             Case{"udp://[::1]x", "expected <transport>://"},
         }) {
        CAPTURE(c.spec);
        const auto parsed = parse_listen_spec(c.spec);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error.starts_with(c.error_start));
    }
}

TEST_CASE("workers are auto or 1 to 256") {
    CHECK(*parse_workers("auto").value == 0);
    CHECK(*parse_workers("4").value == 4);
    CHECK(*parse_workers("256").value == 256);
    for (const std::string_view text : {"0", "257", "-1", "four", "", "Auto"}) {
        CAPTURE(text);
        const auto parsed = parse_workers(text);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error.starts_with("expected auto or an integer 1..256, got "));
    }
}

TEST_CASE("log levels are a fixed set with a suggestion for near misses") {
    for (const std::string_view level : {"trace", "debug", "info", "warn", "error", "off"}) {
        CHECK(*parse_log_level(level).value == level);
    }
    CHECK(parse_log_level("debg").error ==
          "expected trace, debug, info, warn, error or off, got 'debg'; did you mean 'debug'?");
    CHECK(parse_log_level("INFO").error.ends_with("did you mean 'info'?"));
    CHECK(parse_log_level("verbose").error.find("did you mean") == std::string::npos);
}

TEST_CASE("log formats, transports and ports parse their documented values") {
    CHECK(*parse_log_format("json").value == LogFormat::json);
    CHECK(*parse_log_format("text").value == LogFormat::text);
    CHECK_FALSE(parse_log_format("yaml").ok());
    CHECK(*parse_transport("tls").value == Transport::tls);
    CHECK(parse_transport("tpc").error.ends_with("did you mean 'tcp'?"));
    CHECK(*parse_port("0").value == 0);
    CHECK(*parse_port("65535").value == 65535);
    CHECK(parse_port("-1").error == "must be 0..65535, got -1");
    CHECK(parse_port("99999999999999999999999").error.starts_with("must be 0..65535"));
    CHECK(parse_port("0x10").error == "expected an integer 0..65535, got '0x10'");
}

TEST_CASE("port ranges are two ports from 1 to 65535 joined by a dash") {
    CHECK(*parse_port_range("49152-65535").value == PortRange{49152, 65535});
    CHECK(*parse_port_range("1-65535").value == PortRange{1, 65535});
    CHECK(*parse_port_range("5000-5000").value == PortRange{5000, 5000});
}

TEST_CASE("malformed port ranges say what is wrong") {
    struct Case {
        std::string_view text;
        std::string_view error;
    };
    for (const Case& c : {
             Case{"abc", "expected a port range like 49152-65535, got 'abc'"},
             Case{"5-1", "the first port must not be above the last, got '5-1'"},
             Case{"0-10", "ports must be 1..65535, got '0-10'"},
             Case{"70000-1", "ports must be 1..65535, got '70000-1'"},
             Case{"1-99999999999999999999999", "ports must be 1..65535, got "
                                               "'1-99999999999999999999999'"},
             Case{"5000", "expected a port range like 49152-65535, got 5000"},
             Case{"", "expected a port range like 49152-65535, got ''"},
             Case{"1-2-3", "expected a port range like 49152-65535, got '1-2-3'"},
             Case{"-1-5", "expected a port range like 49152-65535, got '-1-5'"},
             Case{"1 - 5", "expected a port range like 49152-65535, got '1 - 5'"},
             Case{"1000-", "expected a port range like 49152-65535, got '1000-'"},
         }) {
        CAPTURE(c.text);
        const auto parsed = parse_port_range(c.text);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error == c.error);
    }
}

TEST_CASE("cidr prefixes accept both families, bare addresses and set host bits") {
    for (const std::string_view text :
         {"10.0.0.0/8", "::1/128", "127.0.0.1", "2001:db8::/32", "10.1.2.3/8", "0.0.0.0/0", "::/0",
          "192.0.2.1/32", "10.0.0.0/08"}) {
        CAPTURE(text);
        const auto parsed = parse_cidr(text);
        REQUIRE_MESSAGE(parsed.ok(), parsed.error);
        CHECK(*parsed.value == text);
    }
}

TEST_CASE("cidr prefixes reject bad addresses and lengths beyond the family") {
    struct Case {
        std::string_view text;
        std::string_view error;
    };
    for (const Case& c : {
             Case{"10.0.0.0/33", "prefix length must be 0..32 for an IPv4 address, got "
                                 "'10.0.0.0/33'"},
             Case{"::1/129", "prefix length must be 0..128 for an IPv6 address, got '::1/129'"},
             Case{"10.0.0.0/", "expected an IP address or a CIDR prefix like 10.0.0.0/8"},
             Case{"10.0.0.0/x", "expected an IP address or a CIDR prefix like 10.0.0.0/8"},
             Case{"10.0.0.0/-1", "expected an IP address or a CIDR prefix like 10.0.0.0/8"},
             Case{"10.0.0/8", "expected an IP address or a CIDR prefix like 10.0.0.0/8"},
             Case{"example.com/8", "expected an IP address or a CIDR prefix like 10.0.0.0/8"},
             Case{"[::1]/128", "expected an IP address or a CIDR prefix like 10.0.0.0/8"},
             Case{"10.0.0.0/8/8", "expected an IP address or a CIDR prefix like 10.0.0.0/8"},
             Case{"", "expected an IP address or a CIDR prefix like 10.0.0.0/8"},
         }) {
        CAPTURE(c.text);
        const auto parsed = parse_cidr(c.text);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error.starts_with(c.error));
    }
}

TEST_CASE("user keys are 32 hex digits, lower-cased, and errors never repeat them") {
    CHECK(*parse_user_key("0123456789ABCDEF0123456789abcdef").value ==
          "0123456789abcdef0123456789abcdef");
    const auto short_key = parse_user_key("0123456789abcdef");
    CHECK(short_key.error ==
          "expected 32 hex digits (MD5 of name:realm:password), got 16 characters");
    const auto not_hex = parse_user_key("0123456789abcdef0123456789abcdeg");
    CHECK(not_hex.error == "expected 32 hex digits (MD5 of name:realm:password), got a "
                           "character that is not a hex digit");
}

TEST_CASE("realms are 1 to 127 characters without quotes, backslashes or control characters") {
    CHECK(*parse_realm("turn.example.com").value == "turn.example.com");
    CHECK(parse_realm(std::string(127, 'r')).ok());
    CHECK(parse_realm(std::string(128, 'r')).error == "must be at most 127 characters, got 128");
    CHECK(parse_realm("").error == "must not be empty");
    for (const std::string_view realm : {"a\"b", "a\\b", "a\tb"}) {
        CHECK(parse_realm(realm).error == "must not contain '\"', '\\' or control characters");
    }
}

TEST_CASE("user names are non-empty, short enough and free of colons") {
    CHECK(*parse_user_name("alice").value == "alice");
    CHECK(parse_user_name("").error == "must not be empty");
    CHECK(parse_user_name("1700000000:alice").error ==
          "must not contain ':' (TURN REST API usernames use it)");
    CHECK(parse_user_name(std::string(508, 'u')).ok());
    CHECK(parse_user_name(std::string(509, 'u')).error == "must be at most 508 bytes, got 509");
}

TEST_CASE("suggestions allow two edits and ignore case") {
    constexpr std::array<std::string_view, 3> keys{"transport", "address", "port"};
    CHECK(closest_match("prot", keys) == "port");      // adjacent swap counts as one edit
    CHECK(closest_match("adress", keys) == "address"); // deletion
    CHECK(closest_match("Port", keys) == "port");
    CHECK_FALSE(closest_match("hostname", keys));
    CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("durations print with their largest exact unit") {
    CHECK(format_duration(86400s) == "1d");
    CHECK(format_duration(300s) == "5m");
    CHECK(format_duration(7200s) == "2h");
    CHECK(format_duration(90s) == "90s");
    CHECK(format_duration(0s) == "0s");
}

TEST_SUITE_END();
