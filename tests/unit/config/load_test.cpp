// SPDX-License-Identifier: Apache-2.0
// The YAML loader: defaults, every key, type errors with path and line, unknown keys.
#include "config/load.hpp"
#include "tests/unit/config/test_support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using namespace traverse::config;
using traverse::config::test::find_error;
using traverse::config::test::render;
using traverse::config::test::TempDir;

TEST_SUITE_BEGIN("config");

TEST_CASE("without a config file the server listens on udp and tcp on both loopbacks") {
    const ServerConfig config = default_config();
    CHECK(config.listeners == std::vector<Listener>{{Transport::udp, "127.0.0.1", 3478},
                                                    {Transport::tcp, "127.0.0.1", 3478},
                                                    {Transport::udp, "::1", 3478},
                                                    {Transport::tcp, "::1", 3478}});
    CHECK(config.server.software == "Traverse");
    CHECK(config.server.workers == 0);
    CHECK(config.tls.certificate.empty());
    CHECK(config.tls.private_key.empty());
    CHECK_FALSE(config.rfc5780.enabled());
    CHECK(config.limits.max_connections == 4096);
    CHECK(config.limits.max_connections_per_ip == 64);
    CHECK(config.limits.idle_timeout == 60s);
    CHECK(config.limits.tls_handshake_timeout == 10s);
    CHECK(config.logging.level == "info");
    CHECK(config.logging.format == LogFormat::text);
}

TEST_CASE("an empty document or one with only comments gives the defaults") {
    for (const std::string_view yaml : {"", "# nothing here\n", "---\n"}) {
        const LoadResult result = load_string(yaml);
        REQUIRE_MESSAGE(result.ok(), render(result));
        CHECK(*result.config == default_config());
    }
}

TEST_CASE("a section whose keys are all commented out keeps its defaults") {
    const LoadResult result = load_string("server:\n#  workers: 4\nlimits:\n");
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(*result.config == default_config());
}

TEST_CASE("every key is read into the model") {
    const LoadResult result = load_string(R"(
server:
  software: "Example 1.0"
  workers: 8
listen:
  - transport: udp
    address: 0.0.0.0
    port: 3478
  - transport: tcp
    address: "::"
    port: 0
rfc5780:
  alternate_address: 192.0.2.2
  alternate_port: 3479
limits:
  max_connections: 10000
  max_connections_per_ip: 16
  idle_timeout: 5m
  tls_handshake_timeout: 15
logging:
  level: debug
  format: json
)");
    REQUIRE_MESSAGE(result.ok(), render(result));
    const ServerConfig& config = *result.config;
    CHECK(config.server.software == "Example 1.0");
    CHECK(config.server.workers == 8);
    CHECK(config.listeners ==
          std::vector<Listener>{{Transport::udp, "0.0.0.0", 3478}, {Transport::tcp, "::", 0}});
    CHECK(config.rfc5780.alternate_address == "192.0.2.2");
    CHECK(config.rfc5780.alternate_port == 3479);
    CHECK(config.limits.max_connections == 10000);
    CHECK(config.limits.max_connections_per_ip == 16);
    CHECK(config.limits.idle_timeout == 300s);
    CHECK(config.limits.tls_handshake_timeout == 15s);
    CHECK(config.logging.level == "debug");
    CHECK(config.logging.format == LogFormat::json);
}

TEST_CASE("listener keys default to udp on 127.0.0.1:3478 and tls to port 5349") {
    TempDir dir;
    dir.write("c.pem", "cert");
    dir.write("k.pem", "key");
    const LoadResult result = load_string(R"(
listen:
  - {}
  - transport: tls
tls: {certificate: c.pem, private_key: k.pem}
)",
                                          dir.path().string());
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(result.config->listeners == std::vector<Listener>{{Transport::udp, "127.0.0.1", 3478},
                                                            {Transport::tls, "127.0.0.1", 5349}});
}

TEST_CASE("unquoted false or an empty string turns the SOFTWARE attribute off") {
    CHECK(load_string("server:\n  software: false\n").config->server.software.empty());
    CHECK(load_string("server:\n  software: \"\"\n").config->server.software.empty());
    CHECK(load_string("server:\n  software: \"false\"\n").config->server.software == "false");
    const LoadResult result = load_string("server:\n  software: true\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) ==
          "server.software: expected a string or false, got true (line 2)");
}

TEST_CASE("a SOFTWARE value of 128 characters is rejected") {
    const LoadResult result = load_string("server:\n  software: " + std::string(128, 'x') + "\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].message == "must be at most 127 characters, got 128");
}

TEST_CASE("relative tls paths resolve against the config file's directory") {
    const LoadResult result = load_string(
        "tls:\n  certificate: dev-tls/cert.pem\n  private_key: /etc/traverse/../key.pem\n",
        "/srv/traverse");
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(result.config->tls.certificate == "/srv/traverse/dev-tls/cert.pem");
    CHECK(result.config->tls.private_key == "/etc/key.pem");
    CHECK(
        load_string("tls:\n  certificate: a.pem\n  private_key: b.pem\n").config->tls.certificate ==
        "a.pem");
}

TEST_CASE("an unknown key is named with the closest valid key") {
    const LoadResult result = load_string("listen:\n  - transport: udp\n    prot: 3478\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) ==
          "listen[0].prot: unknown key 'prot'; did you mean 'port'? (line 3)");
}

TEST_CASE("unknown keys are reported at every level") {
    const LoadResult result = load_string(R"(
servr:
  workers: 2
limits:
  idle_timout: 30s
logging:
  colour: true
)");
    REQUIRE(result.errors.size() == 3);
    CHECK(to_string(result.errors[0]) ==
          "servr: unknown key 'servr'; did you mean 'server'? (line 2)");
    CHECK(to_string(result.errors[1]) ==
          "limits.idle_timout: unknown key 'idle_timout'; did you mean 'idle_timeout'? (line 5)");
    CHECK(to_string(result.errors[2]) == "logging.colour: unknown key 'colour'; expected level, "
                                         "format, modules or rate_limit (line 7)");
}

TEST_CASE("wrong types name the path, the expected type, what was found and the line") {
    struct Case {
        std::string yaml;
        std::string expected;
    };
    for (const Case& c : {
             Case{"listen:\n  - port: abc\n",
                  "listen[0].port: expected an integer 0..65535, got 'abc' (line 2)"},
             Case{"server:\n  workers: -1\n",
                  "server.workers: expected auto or an integer 1..256, got -1 (line 2)"},
             Case{"listen:\n  transport: udp\n",
                  "listen: expected a list of listeners, got a map (line 2)"},
             Case{"limits: 5\n", "limits: expected a map, got 5 (line 1)"},
             Case{"listen:\n  - udp://127.0.0.1:3478\n",
                  "listen[0]: expected a map with transport, address and port, got "
                  "'udp://127.0.0.1:3478' (line 2)"},
             Case{"listen:\n  - address: [127.0.0.1]\n",
                  "listen[0].address: expected an IPv4 or IPv6 address, got a list (line 2)"},
             Case{"listen:\n  - address: \"[::1]\"\n",
                  "listen[0].address: expected an IPv4 or IPv6 address without brackets, got "
                  "'[::1]' (line 2)"},
             Case{"logging:\n  level:\n", "logging.level: expected a log level, got null (line 2)"},
             Case{"limits:\n  idle_timeout: soon\n",
                  "limits.idle_timeout: expected a duration like 30s, 10m, 1h or 1d, got 'soon' "
                  "(line 2)"},
             Case{"- a\n- b\n", "expected a map of sections (server, listen, tls, rfc5780, "
                                "limits, logging, auth, relay, peers, quotas or metrics), "
                                "got a list (line 1)"},
         }) {
        CAPTURE(c.yaml);
        const LoadResult result = load_string(c.yaml);
        CHECK_FALSE(result.ok());
        REQUIRE(result.errors.size() == 1);
        CHECK(to_string(result.errors[0]) == c.expected);
    }
}

TEST_CASE("out of range values say the range and the value") {
    struct Case {
        std::string yaml;
        std::string expected;
    };
    for (const Case& c : {
             Case{"listen:\n  - port: 70000\n",
                  "listen[0].port: must be 0..65535, got 70000 (line 2)"},
             Case{"limits:\n  max_connections: 0\n",
                  "limits.max_connections: must be 1..1000000, got 0 (line 2)"},
             Case{"limits:\n  idle_timeout: 2d\n",
                  "limits.idle_timeout: must be 1s..1d, got '2d' (line 2)"},
             Case{"limits:\n  tls_handshake_timeout: 500ms\n",
                  "limits.tls_handshake_timeout: must be a whole number of seconds, got '500ms' "
                  "(line 2)"},
             Case{"limits:\n  tls_handshake_timeout: 0\n",
                  "limits.tls_handshake_timeout: must be 1s..5m, got 0 (line 2)"},
         }) {
        CAPTURE(c.yaml);
        const LoadResult result = load_string(c.yaml);
        REQUIRE(result.errors.size() == 1);
        CHECK(to_string(result.errors[0]) == c.expected);
    }
}

TEST_CASE("every error in a document is reported at once, in document order") {
    const LoadResult result = load_string(R"(server:
  workers: many
listen:
  - transport: sctp
    address: localhost
    port: 3478
  - port: 99999
limits:
  idle_timeout: 10x
logging:
  level: loud
  format: xml
)");
    CHECK_FALSE(result.ok());
    CHECK_FALSE(result.config.has_value());
    REQUIRE_MESSAGE(result.errors.size() == 7, render(result));
    const std::vector<std::pair<std::string, int>> expected{
        {"server.workers", 2}, {"listen[0].transport", 4}, {"listen[0].address", 5},
        {"listen[1].port", 7}, {"limits.idle_timeout", 9}, {"logging.level", 11},
        {"logging.format", 12}};
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CHECK(result.errors[i].path == expected[i].first);
        CHECK(result.errors[i].line == expected[i].second);
    }
}

TEST_CASE("a repeated key is an error that points at the first one") {
    const LoadResult result = load_string("logging:\n  level: info\n  level: debug\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) == "logging.level: duplicate key (first at line 2) (line 3)");
}

TEST_CASE("a YAML syntax error becomes one diagnostic with its line") {
    const LoadResult result = load_string("server:\n  workers: 2\nlisten: [\n  {port: 1}\n");
    CHECK_FALSE(result.ok());
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].path.empty());
    CHECK(result.errors[0].line == 5);
    CHECK(result.errors[0].message.starts_with("invalid YAML: "));

    const LoadResult indent = load_string("logging:\n  level: info\n format: json\n");
    REQUIRE(indent.errors.size() == 1);
    CHECK(indent.errors[0].line == 3);
}

TEST_CASE("tabs for indentation are a syntax error, not a crash") {
    const LoadResult result = load_string("logging:\n\tlevel: info\n");
    CHECK_FALSE(result.ok());
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].line == 2);
}

TEST_CASE("more than one YAML document is rejected") {
    const LoadResult result = load_string("server: {}\n---\nlogging: {}\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) == "expected one YAML document, found another (line 3)");
}

TEST_CASE("a stray comma is a syntax error instead of a parser that never returns") {
    // yaml-cpp 0.7's LoadAll loops forever on this input (jbeder/yaml-cpp#1040).
    for (const std::string_view yaml : {",", ",server:\n  workers: 2\n", "\n\n, x\n"}) {
        CAPTURE(yaml);
        const LoadResult result = load_string(yaml);
        REQUIRE(result.errors.size() == 1);
        CHECK(result.errors[0].message == "invalid YAML: unexpected ','");
    }
    CHECK(load_string("\n\n, x\n").errors[0].line == 3);
}

TEST_CASE("a missing config file is one diagnostic naming the file") {
    const LoadResult result = load_file("/nonexistent/traverse.yaml");
    CHECK_FALSE(result.ok());
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) ==
          "cannot read '/nonexistent/traverse.yaml': No such file or directory");
}

TEST_CASE("a directory given as the config file is one diagnostic") {
    TempDir dir;
    const LoadResult result = load_file(dir.path().string());
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].message.ends_with("Is a directory"));
}

TEST_CASE("load_file resolves tls paths against the file's own directory") {
    TempDir dir;
    dir.write("dev-tls/cert.pem", "cert");
    dir.write("dev-tls/key.pem", "key");
    const std::string file = dir.write("conf/../traverse.yaml", R"(
listen:
  - transport: tls
    address: 127.0.0.1
    port: 0
tls:
  certificate: dev-tls/cert.pem
  private_key: dev-tls/key.pem
)");
    const LoadResult result = load_file(file);
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(result.config->tls.certificate == (dir.path() / "dev-tls/cert.pem").string());
}

TEST_CASE("diagnostics render without the parts that are unknown") {
    CHECK(to_string(Diagnostic{"listen[2].port", 12, "must be 0..65535, got 70000"}) ==
          "listen[2].port: must be 0..65535, got 70000 (line 12)");
    CHECK(to_string(Diagnostic{"--workers", 0, "bad"}) == "--workers: bad");
    CHECK(to_string(Diagnostic{"", 3, "invalid YAML: x"}) == "invalid YAML: x (line 3)");
}

TEST_CASE("the metrics endpoint is off by default and reads ip:port and per_worker") {
    CHECK_FALSE(default_config().metrics.enabled());
    CHECK(default_config().metrics == Metrics{"", false});

    const LoadResult v4 = load_string("metrics:\n  listen: 127.0.0.1:9641\n  per_worker: true\n");
    REQUIRE_MESSAGE(v4.ok(), render(v4));
    CHECK(v4.config->metrics == Metrics{"127.0.0.1:9641", true});
    CHECK(v4.config->metrics.enabled());

    const LoadResult v6 = load_string("metrics:\n  listen: \"[::1]:0\"\n");
    REQUIRE_MESSAGE(v6.ok(), render(v6));
    CHECK(v6.config->metrics == Metrics{"[::1]:0", false});

    const LoadResult off = load_string("metrics:\n  listen: \"\"\n");
    REQUIRE_MESSAGE(off.ok(), render(off));
    CHECK_FALSE(off.config->metrics.enabled());

    for (const char* bad :
         {"127.0.0.1", "127.0.0.1:", "localhost:9641", "::1:9641", "127.0.0.1:70000", "[::1]"}) {
        CAPTURE(bad);
        const LoadResult result = load_string(std::string("metrics:\n  listen: \"") + bad + "\"\n");
        CHECK_FALSE(result.ok());
        REQUIRE(result.errors.size() == 1);
        CHECK(result.errors[0].path == "metrics.listen");
    }
    const LoadResult flag = load_string("metrics:\n  per_worker: maybe\n");
    REQUIRE(flag.errors.size() == 1);
    CHECK(to_string(flag.errors[0]) ==
          "metrics.per_worker: expected true or false, got 'maybe' (line 2)");
}

TEST_SUITE_END();

TEST_SUITE_BEGIN("config");

TEST_CASE("logging.modules sets per-module levels and rate_limit the per-call-site limit") {
    const LoadResult result = load_string(
        "logging:\n  level: warn\n  modules:\n    turn: debug\n    net: error\n  rate_limit: 50\n");
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(result.config->logging.level == "warn");
    CHECK(result.config->logging.modules ==
          std::map<std::string, std::string>{{"net", "error"}, {"turn", "debug"}});
    CHECK(result.config->logging.rate_limit == 50);
    CHECK(load_string("logging:\n  modules:\n").config->logging.modules.empty());
    CHECK(load_string("").config->logging.rate_limit == 10);
}

TEST_CASE("logging.modules rejects unknown modules, bad levels and non-maps") {
    const LoadResult result =
        load_string("logging:\n  modules:\n    turm: debug\n    net: loud\n  rate_limit: 0\n");
    REQUIRE(result.errors.size() == 3);
    CHECK(to_string(result.errors[0]) ==
          "logging.modules.turm: unknown module; expected app, net, turn or worker (line 3)");
    CHECK(to_string(result.errors[1]).starts_with("logging.modules.net: "));
    CHECK(to_string(result.errors[2]).starts_with("logging.rate_limit: "));
    const LoadResult scalar = load_string("logging:\n  modules: debug\n");
    REQUIRE(scalar.errors.size() == 1);
    CHECK(to_string(scalar.errors[0]).starts_with("logging.modules: expected a map"));
}

TEST_SUITE_END();
