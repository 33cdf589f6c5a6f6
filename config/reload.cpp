// SPDX-License-Identifier: Apache-2.0
// Reload planning: one table of live keys, one of restart-only keys, compared field by field.
#include "config/reload.hpp"

namespace traverse::config {
namespace {

/// Notes `key` in `out` when the field differs; for restart-only keys, also puts the running
/// value back into the effective configuration.
template <class T>
void live(std::vector<std::string>& out, const char* key, const T& running, const T& next) {
    if (!(running == next)) out.emplace_back(key);
}

template <class T>
void restart_only(std::vector<std::string>& out, const char* key, const T& running, T& effective) {
    if (!(running == effective)) {
        out.emplace_back(key);
        effective = running;
    }
}

} // namespace

ReloadPlan plan_reload(const ServerConfig& running, const ServerConfig& next) {
    ReloadPlan plan;
    plan.effective = next;
    ServerConfig& e = plan.effective;
    auto& a = plan.applied;
    auto& r = plan.restart_needed;

    // Live: credentials, peer filter, quotas and rate limits, lifetimes, logging, TLS files
    // (the certificate is read again on every reload, even at the same path), drain settings.
    live(a, "server.software", running.server.software, next.server.software);
    live(a, "server.drain_timeout", running.server.drain_timeout, next.server.drain_timeout);
    live(a, "server.alternate_server", running.server.alternate_server,
         next.server.alternate_server);
    live(a, "tls", running.tls, next.tls);
    live(a, "logging", running.logging, next.logging);
    live(a, "auth.realm", running.auth.realm, next.auth.realm);
    live(a, "auth.users", running.auth.users, next.auth.users);
    live(a, "auth.secrets", running.auth.secrets, next.auth.secrets);
    live(a, "auth.nonce_lifetime", running.auth.nonce_lifetime, next.auth.nonce_lifetime);
    live(a, "relay.allocation_lifetime", running.relay.default_lifetime,
         next.relay.default_lifetime);
    live(a, "relay.max_allocation_lifetime", running.relay.max_lifetime, next.relay.max_lifetime);
    live(a, "peers", running.peers, next.peers);
    live(a, "quotas", running.quotas, next.quotas);

    // Restart-only: sockets, threads and the shape of the relay port space.
    restart_only(r, "server.workers", running.server.workers, e.server.workers);
    restart_only(r, "server.control_socket", running.server.control_socket,
                 e.server.control_socket);
    restart_only(r, "server.user", running.server.user, e.server.user);
    restart_only(r, "server.group", running.server.group, e.server.group);
    restart_only(r, "listen", running.listeners, e.listeners);
    restart_only(r, "rfc5780", running.rfc5780, e.rfc5780);
    restart_only(r, "limits", running.limits, e.limits);
    restart_only(r, "relay.addresses", running.relay.addresses, e.relay.addresses);
    if (running.relay.port_min != e.relay.port_min || running.relay.port_max != e.relay.port_max) {
        r.emplace_back("relay.port_range");
        e.relay.port_min = running.relay.port_min;
        e.relay.port_max = running.relay.port_max;
    }
    restart_only(r, "relay.rfc5766_channel_numbers", running.relay.rfc5766_channel_numbers,
                 e.relay.rfc5766_channel_numbers);
    restart_only(r, "relay.udp_gso", running.relay.udp_gso, e.relay.udp_gso);
    restart_only(r, "metrics", running.metrics, e.metrics);
    // Turning TURN on or off changes which sockets exist (relay pool): keep the running mode.
    if (running.auth.enabled() != e.auth.enabled()) {
        r.emplace_back(running.auth.enabled() ? "auth (removing every credential)"
                                              : "auth (adding the first credential)");
        e.auth = running.auth;
        std::erase_if(a, [](const std::string& k) { return k.starts_with("auth."); });
    }
    return plan;
}

} // namespace traverse::config
