// SPDX-License-Identifier: Apache-2.0
// Cross-field rules: listeners, TLS files, RFC 5780 addresses; via the loader and directly.
#include "config/load.hpp"
#include "config/validate.hpp"
#include "tests/unit/config/test_support.hpp"

#include <doctest/doctest.h>

using namespace traverse::config;
using traverse::config::test::find_error;
using traverse::config::test::render;
using traverse::config::test::TempDir;

TEST_SUITE_BEGIN("config");

TEST_CASE("a tls listener without certificate and key names the listener and both keys") {
    const LoadResult result = load_string("listen:\n  - transport: udp\n  - transport: tls\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) == "listen[1]: a tls listener needs tls.certificate and "
                                         "tls.private_key, which are not set "
                                         "(line 3)");
}

TEST_CASE("an unreadable certificate names the key, the path and the listener that needs it") {
    TempDir dir;
    dir.write("key.pem", "key");
    const LoadResult result = load_string(R"(listen:
  - transport: tls
tls:
  certificate: missing/cert.pem
  private_key: key.pem
)",
                                          dir.path().string());
    REQUIRE(result.errors.size() == 1);
    const std::string cert = (dir.path() / "missing/cert.pem").string();
    CHECK(to_string(result.errors[0]) == "tls.certificate: cannot read '" + cert +
                                             "': No such file or directory (needed by tls "
                                             "listener listen[0]) (line 4)");
}

TEST_CASE("tls files are not opened when no listener uses tls") {
    const LoadResult result =
        load_string("tls:\n  certificate: /nonexistent/c.pem\n  private_key: /nonexistent/k.pem\n");
    CHECK_MESSAGE(result.ok(), render(result));
}

TEST_CASE("a certificate without a key is an error, and so is a key without a certificate") {
    LoadResult result = load_string("tls:\n  certificate: cert.pem\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) ==
          "tls.private_key: must be set when tls.certificate is set (line 2)");

    result = load_string("tls:\n  private_key: key.pem\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].path == "tls.certificate");
}

TEST_CASE("a tls listener with only a certificate reports the missing key once") {
    TempDir dir;
    const std::string cert = dir.write("cert.pem", "cert");
    const LoadResult result =
        load_string("listen:\n  - transport: tls\ntls:\n  certificate: " + cert + "\n");
    REQUIRE_MESSAGE(result.errors.size() == 1, render(result));
    CHECK(result.errors[0].path == "tls.private_key");
}

TEST_CASE("an empty listen list is an error") {
    const LoadResult result = load_string("listen: []\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) == "listen: must list at least one listener (line 1)");
}

TEST_CASE("duplicate listeners are errors but port 0 may repeat") {
    const LoadResult result = load_string(R"(listen:
  - {transport: udp, address: 127.0.0.1, port: 3478}
  - {transport: tcp, address: 127.0.0.1, port: 3478}
  - {transport: udp, address: 127.0.0.1, port: 3478}
  - {transport: udp, address: "::1", port: 0}
  - {transport: udp, address: "0:0::1", port: 0}
  - {transport: tcp, address: "::1", port: 3478}
  - {transport: tcp, address: "0:0:0::1", port: 3478}
)");
    REQUIRE_MESSAGE(result.errors.size() == 2, render(result));
    CHECK(to_string(result.errors[0]) ==
          "listen[2]: duplicates listen[0] (udp://127.0.0.1:3478) (line 4)");
    CHECK(result.errors[1].path == "listen[6]"); // same address spelled differently
}

TEST_CASE("tcp and tls listeners cannot share an address and port") {
    TempDir dir;
    dir.write("c.pem", "c");
    dir.write("k.pem", "k");
    const LoadResult result = load_string(R"(listen:
  - {transport: tcp, port: 5349}
  - {transport: tls, port: 5349}
tls: {certificate: c.pem, private_key: k.pem}
)",
                                          dir.path().string());
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) ==
          "listen[1]: tcp and tls listeners cannot share "
          "127.0.0.1:5349 (listen[0]); both are TCP sockets (line 3)");
}

TEST_CASE("rfc5780 accepts an alternate address and port distinct from the udp listener") {
    const LoadResult result = load_string(R"(listen:
  - {transport: udp, address: 127.0.0.1, port: 3478}
  - {transport: udp, address: "::1", port: 3478}
rfc5780:
  alternate_address: 127.0.0.2
  alternate_port: 3479
)");
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(result.config->rfc5780.enabled());
}

TEST_CASE("rfc5780 needs a udp listener of the alternate address's family") {
    const LoadResult result = load_string(R"(listen:
  - {transport: udp, address: 127.0.0.1}
  - {transport: tcp, address: "::1"}
rfc5780:
  alternate_address: "::2"
)");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) ==
          "rfc5780.alternate_address: IPv6 address ::2 has no udp listener of the same family to "
          "pair with (line 5)");
}

TEST_CASE("rfc5780 alternate address and port must differ from the udp listener's") {
    const LoadResult result = load_string(R"(listen:
  - {transport: udp, address: 127.0.0.1, port: 3478}
rfc5780:
  alternate_address: 127.0.0.1
  alternate_port: 3478
)");
    REQUIRE(result.errors.size() == 2);
    CHECK(to_string(result.errors[0]) == "rfc5780.alternate_address: must differ from the "
                                         "address of listen[0] (127.0.0.1) (line 4)");
    CHECK(to_string(result.errors[1]) ==
          "rfc5780.alternate_port: must differ from the port of listen[0] (3478) (line 5)");
}

TEST_CASE("rfc5780 rejects a wildcard alternate, a host name and a port without an address") {
    CHECK(find_error(load_string("rfc5780:\n  alternate_address: 0.0.0.0\n"),
                     "rfc5780.alternate_address", "must be a specific address"));
    CHECK(find_error(load_string("rfc5780:\n  alternate_address: stun2.example.com\n"),
                     "rfc5780.alternate_address", "expected an IPv4 or IPv6 address"));
    CHECK(find_error(load_string("rfc5780:\n  alternate_port: 3479\n"), "rfc5780.alternate_port",
                     "rfc5780.alternate_address is not"));
}

TEST_CASE("cross-field rules skip sections that already have errors") {
    // The bad port leaves listen[1] at its default, which would otherwise duplicate listen[0].
    const LoadResult result = load_string(R"(listen:
  - {transport: udp, address: 127.0.0.1, port: 3478}
  - {transport: udp, address: 127.0.0.1, port: huge}
)");
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].path == "listen[1].port");
}

TEST_CASE("cross-field and per-key errors are reported together") {
    const LoadResult result = load_string(R"(server:
  workers: 0
listen:
  - transport: tls
)");
    REQUIRE_MESSAGE(result.errors.size() == 2, render(result));
    CHECK(result.errors[0].path == "server.workers");
    CHECK(result.errors[1].path == "listen[0]");
}

TEST_CASE("validate checks a config built in code, without line numbers") {
    ServerConfig config = default_config();
    config.listeners.push_back({Transport::tcp, "localhost", 3478});
    config.listeners.push_back({Transport::udp, "127.0.0.1", 3478});
    config.rfc5780.alternate_port = 1;
    const std::vector<Diagnostic> errors = validate(config);
    REQUIRE(errors.size() == 3);
    CHECK(to_string(errors[0]) ==
          "listen[4].address: expected an IPv4 or IPv6 address, got 'localhost'");
    CHECK(to_string(errors[1]) == "listen[5]: duplicates listen[0] (udp://127.0.0.1:3478)");
    CHECK(errors[2].path == "rfc5780.alternate_port");
    CHECK(validate(default_config()).empty());
}

TEST_CASE("source map lines fall back to the nearest recorded parent") {
    SourceMap source;
    source.lines["tls"] = 7;
    source.lines["listen[1]"] = 3;
    CHECK(source.line_of("tls.certificate") == 7);
    CHECK(source.line_of("listen[1].port") == 3);
    CHECK(source.line_of("listen[2].port") == 0);
    CHECK(source.line_of("") == 0);
}

TEST_SUITE_END();
