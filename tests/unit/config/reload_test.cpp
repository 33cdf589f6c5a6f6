// SPDX-License-Identifier: Apache-2.0
// Reload planning: which changed keys apply live and which wait for a restart.
#include "config/load.hpp"
#include "config/reload.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace std::chrono_literals;
using namespace traverse::config;

namespace {

ServerConfig load_ok(const std::string& yaml) {
    auto result = load_string(yaml);
    REQUIRE_MESSAGE(result.ok(), (result.errors.empty() ? "" : to_string(result.errors.front())));
    return *result.config;
}

bool has(const std::vector<std::string>& keys, std::string_view key) {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
}

const std::string base = R"(
server: {workers: 2}
listen: [{transport: udp, address: 127.0.0.1, port: 3478}]
auth:
  realm: example.org
  users: [{name: alice, password: one}]
  secrets: [s1]
relay: {addresses: [127.0.0.1], port_range: 50000-50999}
quotas: {max_allocations_per_user: 10}
)";

} // namespace

TEST_SUITE_BEGIN("config");

TEST_CASE("reload: an identical file changes nothing") {
    const auto running = load_ok(base);
    const auto plan = plan_reload(running, load_ok(base));
    CHECK(plan.applied.empty());
    CHECK(plan.restart_needed.empty());
    CHECK(plan.effective == running);
}

TEST_CASE("reload: credentials, peers, quotas, logging and drain settings apply live") {
    const auto running = load_ok(base);
    auto next_text = base;
    next_text += "peers: {allow: [127.0.0.1]}\nlogging: {level: debug}\n";
    next_text.replace(next_text.find("password: one"), 13, "password: two");
    next_text.replace(next_text.find("[s1]"), 4, "[s2, s1]");
    next_text.replace(next_text.find("max_allocations_per_user: 10"), 28,
                      "max_allocations_per_user: 3");
    next_text.replace(next_text.find("{workers: 2}"), 12, "{workers: 2, drain_timeout: 5m}");
    const auto next = load_ok(next_text);
    const auto plan = plan_reload(running, next);
    CHECK(plan.restart_needed.empty());
    for (const char* key :
         {"auth.users", "auth.secrets", "peers", "quotas", "logging", "server.drain_timeout"})
        CHECK_MESSAGE(has(plan.applied, key), key);
    CHECK_FALSE(has(plan.applied, "auth.realm"));
    CHECK(plan.effective == next);
    CHECK(plan.effective.auth.users.front().password == "two");
    CHECK(plan.effective.quotas.max_allocations_per_user == 3);
    CHECK(plan.effective.server.drain_timeout == 5min);
}

TEST_CASE("reload: sockets, workers and the relay range keep their running values") {
    const auto running = load_ok(base);
    auto next_text = base;
    next_text.replace(next_text.find("port: 3478"), 10, "port: 3479");
    next_text.replace(next_text.find("{workers: 2}"), 12, "{workers: 4}");
    next_text.replace(next_text.find("50000-50999"), 11, "51000-51999");
    next_text.replace(next_text.find("max_allocations_per_user: 10"), 28,
                      "max_allocations_per_user: 5");
    const auto plan = plan_reload(running, load_ok(next_text));
    for (const char* key : {"listen", "server.workers", "relay.port_range"})
        CHECK_MESSAGE(has(plan.restart_needed, key), key);
    CHECK(plan.restart_needed.size() == 3);
    CHECK(plan.effective.listeners == running.listeners);
    CHECK(plan.effective.server.workers == 2);
    CHECK(plan.effective.relay.port_min == 50000);
    // The live part of the same file still applies.
    CHECK(has(plan.applied, "quotas"));
    CHECK(plan.effective.quotas.max_allocations_per_user == 5);
}

TEST_CASE("reload: relay.udp_gso keeps its running value") {
    const auto running = load_ok(base);
    auto next = running;
    next.relay.udp_gso = !running.relay.udp_gso;
    const auto plan = plan_reload(running, next);
    CHECK(plan.restart_needed == std::vector<std::string>{"relay.udp_gso"});
    CHECK(plan.effective.relay.udp_gso == running.relay.udp_gso);
}

TEST_CASE("reload: removing every credential would turn TURN off, which needs a restart") {
    const auto running = load_ok(base);
    auto next_text = base;
    const auto start = next_text.find("auth:");
    const auto end = next_text.find("relay:");
    next_text.erase(start, end - start);
    const auto plan = plan_reload(running, load_ok(next_text));
    CHECK(plan.restart_needed.size() == 1);
    CHECK(plan.restart_needed.front().starts_with("auth"));
    CHECK(plan.effective.auth == running.auth);
    CHECK(std::none_of(plan.applied.begin(), plan.applied.end(),
                       [](const std::string& k) { return k.starts_with("auth."); }));
}

TEST_SUITE_END();
