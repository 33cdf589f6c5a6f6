// SPDX-License-Identifier: Apache-2.0
// The TURN sections: auth (users, REST secrets and the secret file), relay, peers and quotas.
#include "config/load.hpp"
#include "config/validate.hpp"
#include "tests/unit/config/test_support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using namespace traverse::config;
using traverse::config::test::find_error;
using traverse::config::test::render;
using traverse::config::test::TempDir;

namespace {

/// Every rendered diagnostic that contains `secret`.
std::vector<std::string> leaks(const LoadResult& result, std::string_view secret) {
    std::vector<std::string> found;
    for (const Diagnostic& error : result.errors) {
        const std::string text = to_string(error);
        if (text.find(secret) != std::string::npos) found.push_back(text);
    }
    return found;
}

} // namespace

TEST_SUITE_BEGIN("config");

TEST_CASE("without a config file the server is STUN-only with a loopback relay") {
    const ServerConfig config = default_config();
    CHECK(config.auth.realm == "traverse");
    CHECK(config.auth.users.empty());
    CHECK(config.auth.secrets.empty());
    CHECK(config.auth.secret_file.empty());
    CHECK(config.auth.nonce_lifetime == 600s);
    CHECK_FALSE(config.auth.enabled());
    CHECK(config.relay.addresses == std::vector<RelayAddress>{{"127.0.0.1", ""}});
    CHECK(config.relay.port_min == 49152);
    CHECK(config.relay.port_max == 65535);
    CHECK(config.relay.default_lifetime == 600s);
    CHECK(config.relay.max_lifetime == 3600s);
    CHECK(config.relay.permission_lifetime == 300s);
    CHECK(config.relay.channel_lifetime == 600s);
    CHECK(config.peers.allow.empty());
    CHECK(config.peers.deny.empty());
    CHECK(config.quotas.max_allocations_per_user == 100);
    CHECK(config.quotas.max_allocations_per_ip == 100);
    CHECK(config.quotas.max_allocations == 16000);
    CHECK(config.quotas.challenges_per_second == 20);
}

TEST_CASE("empty TURN sections keep their defaults") {
    const LoadResult result = load_string("auth:\nrelay:\npeers:\nquotas:\n");
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(*result.config == default_config());
}

TEST_CASE("every auth, relay, peers and quotas key is read into the model") {
    const LoadResult result = load_string(R"(
auth:
  realm: turn.example.com
  users:
    - { name: demo, password: demo-password }
    - { name: ops, key: 0123456789ABCDEF0123456789abcdef }
  secrets: [newest, older]
  nonce_lifetime: 5m
relay:
  addresses: [192.0.2.7, { address: "2001:db8::7", external: "2001:db8:1::7" }]
  port_range: 50000-50999
  allocation_lifetime: 20m
  max_allocation_lifetime: 2h
peers:
  allow: [10.0.0.0/8, "::1"]
  deny: [10.1.0.0/16]
quotas:
  max_allocations_per_user: 5
  max_allocations_per_ip: 0
  max_allocations: 1000000
  challenges_per_second: 100000
)");
    REQUIRE_MESSAGE(result.ok(), render(result));
    const ServerConfig& config = *result.config;
    CHECK(config.auth.realm == "turn.example.com");
    CHECK(config.auth.users ==
          std::vector<StaticUser>{{"demo", "demo-password", ""},
                                  {"ops", "", "0123456789abcdef0123456789abcdef"}});
    CHECK(config.auth.secrets == std::vector<std::string>{"newest", "older"});
    CHECK(config.auth.secret_file.empty());
    CHECK(config.auth.nonce_lifetime == 300s);
    CHECK(config.relay.addresses ==
          std::vector<RelayAddress>{{"192.0.2.7", ""}, {"2001:db8::7", "2001:db8:1::7"}});
    CHECK(config.relay.port_min == 50000);
    CHECK(config.relay.port_max == 50999);
    CHECK(config.relay.default_lifetime == 1200s);
    CHECK(config.relay.max_lifetime == 7200s);
    CHECK(config.relay.permission_lifetime == 300s);
    CHECK(config.relay.channel_lifetime == 600s);
    CHECK(config.peers.allow == std::vector<std::string>{"10.0.0.0/8", "::1"});
    CHECK(config.peers.deny == std::vector<std::string>{"10.1.0.0/16"});
    CHECK(config.quotas == Quotas{5, 0, 1'000'000, 100'000});
}

TEST_CASE("a relay address list holds plain addresses, maps, or both") {
    LoadResult result = load_string("relay:\n  addresses: [127.0.0.1, \"::1\"]\n");
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(result.config->relay.addresses ==
          std::vector<RelayAddress>{{"127.0.0.1", ""}, {"::1", ""}});

    result = load_string(R"(relay:
  addresses:
    - address: 10.0.0.5
      external: 203.0.113.10
    - { address: "fd00::5" }
)");
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(result.config->relay.addresses ==
          std::vector<RelayAddress>{{"10.0.0.5", "203.0.113.10"}, {"fd00::5", ""}});

    result = load_string("relay:\n  addresses:\n    - \"::1\"\n    - {address: 10.0.0.5, "
                         "external: 203.0.113.10}\n");
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(result.config->relay.addresses ==
          std::vector<RelayAddress>{{"::1", ""}, {"10.0.0.5", "203.0.113.10"}});
}

TEST_CASE("auth is enabled by a static user or a REST secret and by nothing else") {
    Auth auth;
    CHECK_FALSE(auth.enabled());
    auth.realm = "example";
    auth.nonce_lifetime = 60s;
    CHECK_FALSE(auth.enabled());
    auth.users.push_back({"demo", "pw", ""});
    CHECK(auth.enabled());
    auth.users.clear();
    auth.secrets.push_back("secret");
    CHECK(auth.enabled());

    const LoadResult realm_only = load_string("auth:\n  realm: example.org\n");
    REQUIRE_MESSAGE(realm_only.ok(), render(realm_only));
    CHECK_FALSE(realm_only.config->auth.enabled());
    const LoadResult empty_users = load_string("auth:\n  users: []\n  secrets: []\n");
    REQUIRE_MESSAGE(empty_users.ok(), render(empty_users));
    CHECK_FALSE(empty_users.config->auth.enabled());
}

TEST_CASE("lists whose items are all commented out are empty") {
    const LoadResult result =
        load_string("auth:\n  users:\n#    - {name: a, password: b}\npeers:\n  allow:\n  deny:\n");
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(result.config->auth.users.empty());
    CHECK(result.config->peers.allow.empty());
}

TEST_CASE("a secret file gives one secret per line in order, skipping blanks and comments") {
    TempDir dir;
    dir.write("rest-secret", "# rotated 2024-05-01: newest first\nnewest-secret\n\n"
                             "  older-secret  \r\n   # indented comment\n");
    const LoadResult result = load_string("auth:\n  secret_file: rest-secret\n", dir.path());
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(result.config->auth.secrets == std::vector<std::string>{"newest-secret", "older-secret"});
    CHECK(result.config->auth.secret_file == (dir.path() / "rest-secret").string());
    CHECK(result.config->auth.enabled());
}

TEST_CASE("a relative secret file resolves against the config file's directory") {
    TempDir dir;
    dir.write("conf/dev/rest-secret", "only-secret");
    const std::string file =
        dir.write("conf/traverse.yaml", "auth:\n  secret_file: dev/rest-secret\n");
    const LoadResult result = load_file(file);
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(result.config->auth.secrets == std::vector<std::string>{"only-secret"});
}

TEST_CASE("a missing secret file is a diagnostic naming the key and the path") {
    TempDir dir;
    const LoadResult result =
        load_string("auth:\n  realm: x\n  secret_file: missing/rest-secret\n", dir.path());
    REQUIRE(result.errors.size() == 1);
    const std::string path = (dir.path() / "missing/rest-secret").string();
    CHECK(to_string(result.errors[0]) ==
          "auth.secret_file: cannot read '" + path + "': No such file or directory (line 3)");
}

TEST_CASE("a directory as the secret file is a diagnostic") {
    TempDir dir;
    const LoadResult result = load_string("auth:\n  secret_file: .\n", dir.path());
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].path == "auth.secret_file");
    CHECK(result.errors[0].message.ends_with("Is a directory"));
}

TEST_CASE("a secret file without a secret is an error") {
    TempDir dir;
    const std::string file = dir.write("rest-secret", "# no secret yet\n\n   \n");
    const LoadResult result = load_string("auth:\n  secret_file: " + file + "\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) ==
          "auth.secret_file: '" + file + "' holds no secret (line 2)");
}

TEST_CASE("a secret file and inline secrets cannot be combined") {
    TempDir dir;
    const std::string file = dir.write("rest-secret", "from-file");
    const LoadResult result =
        load_string("auth:\n  secrets: [inline]\n  secret_file: " + file + "\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) ==
          "auth.secret_file: cannot be combined with auth.secrets; use one of them (line 3)");
}

TEST_CASE("an empty inline secret is an error") {
    const LoadResult result = load_string("auth:\n  secrets:\n    - good\n    - \"\"\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) == "auth.secrets[1]: must not be empty (line 4)");
}

TEST_CASE("user names must be unique, non-empty and free of colons") {
    const LoadResult result = load_string(R"(auth:
  users:
    - { name: demo, password: a }
    - { name: "", password: b }
    - { name: "1700000000:demo", password: c }
)");
    REQUIRE_MESSAGE(result.errors.size() == 2, render(result));
    CHECK(to_string(result.errors[0]) == "auth.users[1].name: must not be empty (line 4)");
    CHECK(to_string(result.errors[1]) == "auth.users[2].name: must not contain ':' (TURN REST "
                                         "API usernames use it) (line 5)");

    const LoadResult duplicate = load_string(R"(auth:
  users:
    - { name: demo, password: a }
    - { name: ops, password: b }
    - name: demo
      key: 0123456789abcdef0123456789abcdef
)");
    REQUIRE_MESSAGE(duplicate.errors.size() == 1, render(duplicate));
    CHECK(to_string(duplicate.errors[0]) ==
          "auth.users[2].name: duplicates auth.users[0] ('demo') (line 5)");
}

TEST_CASE("a user needs exactly one of password and key") {
    const LoadResult result = load_string(R"(auth:
  users:
    - name: neither
    - name: both
      password: pw
      key: 0123456789abcdef0123456789abcdef
)");
    REQUIRE_MESSAGE(result.errors.size() == 2, render(result));
    CHECK(to_string(result.errors[0]) == "auth.users[0]: needs a password or a key (line 3)");
    CHECK(to_string(result.errors[1]) ==
          "auth.users[1]: has both a password and a key; set one of them (line 6)");
}

TEST_CASE("a user's key must be 32 hex digits and an empty password is an error") {
    const LoadResult result = load_string(R"(auth:
  users:
    - { name: a, key: 0123456789abcdef }
    - { name: b, key: 0123456789abcdef0123456789abcdeZ }
    - { name: c, password: "" }
)");
    REQUIRE_MESSAGE(result.errors.size() == 3, render(result));
    CHECK(to_string(result.errors[0]) == "auth.users[0].key: expected 32 hex digits (MD5 of "
                                         "name:realm:password), got 16 characters (line 3)");
    CHECK(result.errors[1].path == "auth.users[1].key");
    CHECK(result.errors[1].line == 4);
    CHECK(to_string(result.errors[2]) == "auth.users[2].password: must not be empty (line 5)");
}

TEST_CASE("the realm is limited to 127 characters without quotes") {
    LoadResult result = load_string("auth:\n  realm: " + std::string(128, 'r') + "\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) ==
          "auth.realm: must be at most 127 characters, got 128 (line 2)");

    result = load_string("auth:\n  realm: 'say \"hi\"'\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) ==
          "auth.realm: must not contain '\"', '\\' or control characters (line 2)");

    result = load_string("auth:\n  realm: \"\"\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) == "auth.realm: must not be empty (line 2)");
}

TEST_CASE("relay addresses are one per family and never the wildcard") {
    const LoadResult result = load_string(R"(relay:
  addresses:
    - 127.0.0.1
    - 10.0.0.5
    - "::"
)");
    REQUIRE_MESSAGE(result.errors.size() == 2, render(result));
    CHECK(to_string(result.errors[0]) ==
          "relay.addresses[1]: is a second IPv4 relay address (relay.addresses[0] is 127.0.0.1); "
          "at most one per family (line 4)");
    CHECK(to_string(result.errors[1]) ==
          "relay.addresses[2].address: must be a specific address, got '::'; a relay socket "
          "bound to the wildcard cannot tell clients their relayed address (XOR-RELAYED-ADDRESS) "
          "(line 5)");

    CHECK(find_error(load_string("relay:\n  addresses: [{address: 0.0.0.0}]\n"),
                     "relay.addresses[0].address", "must be a specific address"));
}

TEST_CASE("an external relay address has its address's family and is specific") {
    const LoadResult result = load_string(R"(relay:
  addresses:
    - { address: 10.0.0.5, external: "2001:db8::5" }
    - address: "fd00::5"
      external: "::"
)");
    REQUIRE_MESSAGE(result.errors.size() == 2, render(result));
    CHECK(to_string(result.errors[0]) ==
          "relay.addresses[0].external: IPv6 address 2001:db8::5 must be of the same family as "
          "address 10.0.0.5 (IPv4) (line 3)");
    CHECK(to_string(result.errors[1]) ==
          "relay.addresses[1].external: must be an address that clients can reach, got '::' "
          "(line 5)");
}

TEST_CASE("relay addresses must be IP literals, listed, and present in every map") {
    LoadResult result = load_string("relay:\n  addresses: [relay.example.com]\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) == "relay.addresses[0]: expected an IPv4 or IPv6 address, "
                                         "got 'relay.example.com' (line 2)");

    result = load_string("relay:\n  addresses: []\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) ==
          "relay.addresses: must list at least one address (line 2)");

    result = load_string("relay:\n  addresses:\n    - external: 203.0.113.10\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) == "relay.addresses[0]: needs an address (line 3)");

    result = load_string("relay:\n  addresses:\n    - [127.0.0.1]\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) == "relay.addresses[0]: expected an IP address or a map "
                                         "with address and external, got a list (line 3)");

    result = load_string("relay:\n  addresses: 127.0.0.1\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) ==
          "relay.addresses: expected a list of relay addresses, got '127.0.0.1' (line 2)");
}

TEST_CASE("malformed port ranges are reported with path and line") {
    struct Case {
        std::string value;
        std::string message;
    };
    for (const Case& c : {
             Case{"abc", "expected a port range like 49152-65535, got 'abc'"},
             Case{"5-1", "the first port must not be above the last, got '5-1'"},
             Case{"0-10", "ports must be 1..65535, got '0-10'"},
             Case{"70000-1", "ports must be 1..65535, got '70000-1'"},
         }) {
        CAPTURE(c.value);
        const LoadResult result =
            load_string("relay:\n  allocation_lifetime: 10m\n  port_range: " + c.value + "\n");
        REQUIRE(result.errors.size() == 1);
        CHECK(to_string(result.errors[0]) == "relay.port_range: " + c.message + " (line 3)");
    }
}

TEST_CASE("the longest allocation lifetime may not be below the default lifetime") {
    LoadResult result =
        load_string("relay:\n  allocation_lifetime: 30m\n  max_allocation_lifetime: 20m\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(to_string(result.errors[0]) == "relay.max_allocation_lifetime: must be at least "
                                         "relay.allocation_lifetime (30m), got 20m (line 3)");

    // Only the shorter maximum is set: the line is still the key that was written.
    result = load_string("relay:\n  port_range: 1000-2000\n  max_allocation_lifetime: 5m\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].line == 3);

    result = load_string("relay:\n  allocation_lifetime: 1h\n  max_allocation_lifetime: 1h\n");
    CHECK_MESSAGE(result.ok(), render(result));
}

TEST_CASE("peer prefixes that do not parse are reported with path and line") {
    const LoadResult result = load_string(R"(peers:
  allow:
    - 10.0.0.0/8
    - 10.0.0.0/33
  deny:
    - "::1/129"
    - intranet
    - [10.0.0.0/8]
)");
    REQUIRE_MESSAGE(result.errors.size() == 4, render(result));
    CHECK(to_string(result.errors[0]) == "peers.allow[1]: prefix length must be 0..32 for an "
                                         "IPv4 address, got '10.0.0.0/33' (line 4)");
    CHECK(to_string(result.errors[1]) == "peers.deny[0]: prefix length must be 0..128 for an "
                                         "IPv6 address, got '::1/129' (line 6)");
    CHECK(to_string(result.errors[2]) == "peers.deny[1]: expected an IP address or a CIDR prefix "
                                         "like 10.0.0.0/8, got 'intranet' (line 7)");
    CHECK(to_string(result.errors[3]) ==
          "peers.deny[2]: expected a CIDR prefix like 10.0.0.0/8, got a list (line 8)");

    const LoadResult scalar = load_string("peers:\n  allow: 10.0.0.0/8\n");
    REQUIRE(scalar.errors.size() == 1);
    CHECK(to_string(scalar.errors[0]) ==
          "peers.allow: expected a list of CIDR prefixes, got '10.0.0.0/8' (line 2)");
}

TEST_CASE("lifetimes and quotas outside their ranges say the range") {
    struct Case {
        std::string yaml;
        std::string expected;
    };
    for (const Case& c : {
             Case{"auth:\n  nonce_lifetime: 10s\n",
                  "auth.nonce_lifetime: must be 30s..1d, got '10s' (line 2)"},
             Case{"relay:\n  allocation_lifetime: 2h\n",
                  "relay.allocation_lifetime: must be 1m..1h, got '2h' (line 2)"},
             Case{"relay:\n  max_allocation_lifetime: 2d\n",
                  "relay.max_allocation_lifetime: must be 1m..1d, got '2d' (line 2)"},
             Case{"relay:\n  allocation_lifetime: 59\n",
                  "relay.allocation_lifetime: must be 1m..1h, got 59 (line 2)"},
             Case{"quotas:\n  max_allocations: 1000001\n",
                  "quotas.max_allocations: must be 0..1000000, got 1000001 (line 2)"},
             Case{"quotas:\n  max_allocations_per_user: -1\n",
                  "quotas.max_allocations_per_user: must be 0..1000000, got -1 (line 2)"},
             Case{"quotas:\n  max_allocations_per_ip: many\n",
                  "quotas.max_allocations_per_ip: expected an integer 0..1000000, got 'many' "
                  "(line 2)"},
             Case{"quotas:\n  challenges_per_second: 0\n",
                  "quotas.challenges_per_second: must be 1..100000, got 0 (line 2)"},
             Case{"quotas:\n  challenges_per_second: 100001\n",
                  "quotas.challenges_per_second: must be 1..100000, got 100001 (line 2)"},
         }) {
        CAPTURE(c.yaml);
        const LoadResult result = load_string(c.yaml);
        REQUIRE(result.errors.size() == 1);
        CHECK(to_string(result.errors[0]) == c.expected);
    }
}

TEST_CASE("zero allocation quotas mean unlimited and are accepted") {
    const LoadResult result = load_string("quotas:\n  max_allocations_per_user: 0\n  "
                                          "max_allocations_per_ip: 0\n  max_allocations: 0\n");
    REQUIRE_MESSAGE(result.ok(), render(result));
    CHECK(result.config->quotas == Quotas{0, 0, 0, 20});
}

TEST_CASE("unknown keys in the TURN sections and their list items are named with suggestions") {
    const LoadResult result = load_string(R"(auth:
  users:
    - { name: demo, pasword: x }
  nonce_lifetme: 5m
relay:
  adresses: [127.0.0.1]
  addresses:
    - { address: 127.0.0.1, externa: 203.0.113.1 }
quotas:
  max_alocations: 5
peer:
  allow: []
)");
    REQUIRE_MESSAGE(result.errors.size() == 6, render(result));
    CHECK(to_string(result.errors[0]) ==
          "auth.users[0].pasword: unknown key 'pasword'; did you mean 'password'? (line 3)");
    CHECK(to_string(result.errors[1]) ==
          "auth.nonce_lifetme: unknown key 'nonce_lifetme'; did you mean 'nonce_lifetime'? "
          "(line 4)");
    CHECK(to_string(result.errors[2]) ==
          "relay.adresses: unknown key 'adresses'; did you mean 'addresses'? (line 6)");
    CHECK(to_string(result.errors[3]) ==
          "relay.addresses[0].externa: unknown key 'externa'; did you mean 'external'? (line 8)");
    CHECK(to_string(result.errors[4]) ==
          "quotas.max_alocations: unknown key 'max_alocations'; did you mean 'max_allocations'? "
          "(line 10)");
    CHECK(to_string(result.errors[5]) == "peer: unknown key 'peer'; did you mean 'peers'? "
                                         "(line 11)");
}

TEST_CASE("an unknown key lists the keys of its section or list item") {
    LoadResult result = load_string("auth:\n  credentials: x\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].message == "unknown key 'credentials'; expected realm, users, "
                                      "secret_file, secrets or nonce_lifetime");
    result = load_string("auth:\n  users:\n    - { name: a, password: b, salt: c }\n");
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].message == "unknown key 'salt'; expected name, password or key");
}

TEST_CASE("a key spelled like a schema path is unknown, not read without its list item") {
    const LoadResult result = load_string("auth:\n  users[].name: demo\n  \"users[]\": x\n");
    REQUIRE_MESSAGE(result.errors.size() == 2, render(result));
    CHECK(result.errors[0].path == "auth.users[].name");
    CHECK(result.errors[0].message.starts_with("unknown key 'users[].name'"));
    CHECK(result.errors[1].message.starts_with("unknown key 'users[]'"));
}

TEST_CASE("wrong types in the TURN sections name the expected type") {
    struct Case {
        std::string yaml;
        std::string expected;
    };
    for (const Case& c : {
             Case{"auth:\n  users: {name: demo}\n",
                  "auth.users: expected a list of users, got a map (line 2)"},
             Case{"auth:\n  users: [demo]\n", "auth.users[0]: expected a map with name, password "
                                              "and key, got a string (line 2)"},
             Case{"auth:\n  realm: [a, b]\n",
                  "auth.realm: expected a realm string, got a list (line 2)"},
             Case{"auth:\n  secret_file: {path: x}\n",
                  "auth.secret_file: expected a file path, got a map (line 2)"},
             Case{"auth:\n  users:\n    - {name: demo, password: [a]}\n",
                  "auth.users[0].password: expected a password string, got a list (line 3)"},
             Case{"relay:\n  port_range: [1, 2]\n",
                  "relay.port_range: expected a port range like 49152-65535, got a list (line 2)"},
             Case{"quotas: []\n", "quotas: expected a map, got a list (line 1)"},
         }) {
        CAPTURE(c.yaml);
        const LoadResult result = load_string(c.yaml);
        REQUIRE(result.errors.size() == 1);
        CHECK(to_string(result.errors[0]) == c.expected);
    }
}

TEST_CASE("secrets, passwords and keys never appear in diagnostics") {
    // Each document puts the secret where a mistake would make a naive loader print it.
    const std::string secret = "S3cretValue-0123456789abcdef0123"; // 32 characters, not hex
    REQUIRE(secret.size() == 32);
    TempDir dir;
    const std::string file = dir.write("rest-secret", secret + "\n");
    for (const std::string& yaml : {
             "auth:\n  secrets: " + secret + "\n",
             "auth:\n  secrets: {" + secret + ": 1}\n",
             "auth:\n  secrets:\n    - [" + secret + "]\n",
             "auth:\n  secrets: [" + secret + "]\n  secret_file: " + file + "\n",
             "auth:\n  users: " + secret + "\n",
             "auth:\n  users: [\"demo:" + secret + "\"]\n",
             "auth:\n  users:\n    - {name: \"demo:" + secret + "\", password: x}\n",
             "auth:\n  users:\n    - {name: demo, key: " + secret + "}\n",
             "auth:\n  users:\n    - {name: demo, key: " + secret + "0}\n",
             "auth:\n  users:\n    - {name: demo, password: " + secret + ", key: " + secret + "}\n",
             "auth:\n  users:\n    - {name: demo, password: " + secret + ", password: " + secret +
                 "}\n",
             "auth:\n  users:\n    - {name: demo, pasword: " + secret + "}\n",
             "auth:\n  users:\n    - {name: demo, password: \"" + secret + "}\n",
             "auth:\n  users:\n    - name: demo\n      password: " + secret + "\n  realm: \"\"\n",
         }) {
        CAPTURE(yaml);
        const LoadResult result = load_string(yaml, dir.path());
        CHECK_FALSE(result.ok());
        CHECK(leaks(result, secret).empty());
        CHECK(leaks(result, secret.substr(0, 11)).empty()); // not even a part of it
    }

    // Rules applied to a configuration built in code are as discreet.
    ServerConfig config = default_config();
    config.auth.users.push_back({"demo", secret, secret});
    config.auth.users.push_back({"ops", "", secret});
    config.auth.secrets = {secret, ""};
    const std::vector<Diagnostic> errors = validate(config);
    REQUIRE(errors.size() == 3);
    for (const Diagnostic& error : errors) {
        CHECK(to_string(error).find(secret.substr(0, 11)) == std::string::npos);
    }
}

TEST_CASE("validate checks the TURN sections of a config built in code") {
    ServerConfig config = default_config();
    config.auth.realm = "bad\"realm";
    config.auth.users = {{"demo", "a", ""}, {"demo", "b", ""}, {"x:y", "", ""}};
    config.relay.addresses = {{"0.0.0.0", ""}, {"relay.example.com", ""}, {"::1", "10.0.0.1"}};
    config.relay.port_min = 2000;
    config.relay.port_max = 1000;
    config.relay.default_lifetime = 3600s;
    config.relay.max_lifetime = 600s;
    config.peers.deny = {"10.0.0.0/40"};
    const std::vector<Diagnostic> errors = validate(config);
    std::vector<std::string> paths;
    for (const Diagnostic& error : errors) {
        paths.push_back(error.path);
        CHECK(error.line == 0);
    }
    CHECK(paths == std::vector<std::string>{
                       "auth.realm", "auth.users[1].name", "auth.users[2].name", "auth.users[2]",
                       "relay.addresses[0].address", "relay.addresses[1].address",
                       "relay.addresses[2].external", "relay.port_range",
                       "relay.max_allocation_lifetime", "peers.deny[0]"});

    config.relay.addresses.clear();
    CHECK(
        find_error(LoadResult{std::nullopt, validate(config)}, "relay.addresses", "at least one"));
}

TEST_CASE("TURN section errors and other errors are reported together") {
    const LoadResult result = load_string(R"(server:
  workers: 0
auth:
  users:
    - { name: demo }
relay:
  port_range: 9-1
)");
    REQUIRE_MESSAGE(result.errors.size() == 3, render(result));
    CHECK(result.errors[0].path == "server.workers");
    CHECK(result.errors[1].path == "relay.port_range");
    CHECK(result.errors[2].path == "auth.users[0]"); // cross-field rules come last
}

TEST_SUITE_END();

TEST_CASE("relay.udp_gso takes a boolean and defaults to on") {
    CHECK(default_config().relay.udp_gso);
    const LoadResult off = load_string("relay:\n  udp_gso: false\n");
    REQUIRE_MESSAGE(off.ok(), render(off));
    CHECK_FALSE(off.config->relay.udp_gso);
    const LoadResult bad = load_string("relay:\n  udp_gso: 1x\n");
    REQUIRE_FALSE(bad.ok());
    const Diagnostic* d = find_error(bad, "relay.udp_gso", "true or false");
    REQUIRE(d != nullptr);
    CHECK(d->line == 2);
}

TEST_CASE("relay.rfc5766_channel_numbers takes a boolean and defaults to RFC 8656's range") {
    CHECK_FALSE(default_config().relay.rfc5766_channel_numbers);
    const LoadResult on = load_string("relay:\n  rfc5766_channel_numbers: true\n");
    REQUIRE_MESSAGE(on.ok(), render(on));
    CHECK(on.config->relay.rfc5766_channel_numbers);
    const LoadResult bad = load_string("relay:\n  rfc5766_channel_numbers: maybe\n");
    REQUIRE_FALSE(bad.ok());
    const Diagnostic* d = find_error(bad, "relay.rfc5766_channel_numbers", "true or false");
    REQUIRE(d != nullptr);
    CHECK(d->line == 2);
}

TEST_CASE("quotas.max_allocation_bytes_per_second is an integer, 0 meaning no cap") {
    CHECK(default_config().quotas.max_allocation_bytes_per_second == 0);
    const LoadResult ok = load_string("quotas:\n  max_allocation_bytes_per_second: 250000\n");
    REQUIRE_MESSAGE(ok.ok(), render(ok));
    CHECK(ok.config->quotas.max_allocation_bytes_per_second == 250000);
    const LoadResult bad = load_string("quotas:\n  max_allocation_bytes_per_second: -5\n");
    REQUIRE_FALSE(bad.ok());
    CHECK(find_error(bad, "quotas.max_allocation_bytes_per_second") != nullptr);
}
