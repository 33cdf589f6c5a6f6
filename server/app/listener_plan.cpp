// SPDX-License-Identifier: Apache-2.0
// Listener planning and binding, done on the main thread before any worker starts.
#include "server/app/listener_plan.hpp"

#include <unistd.h>

namespace traverse::app {
namespace {

constexpr int udp_receive_buffer = 8 * 1024 * 1024; // absorbs bursts; capped by rmem_max
constexpr int tcp_backlog = 1024;

turn::Transport to_engine(config::Transport t) {
    switch (t) {
    case config::Transport::udp:
        return turn::Transport::udp;
    case config::Transport::tcp:
        return turn::Transport::tcp;
    case config::Transport::tls:
        return turn::Transport::tls;
    }
    return turn::Transport::udp;
}

std::string_view role_name(turn::Role r) {
    switch (r) {
    case turn::Role::primary:
        return "";
    case turn::Role::change_port:
        return "change-port";
    case turn::Role::change_address:
        return "change-address";
    case turn::Role::change_both:
        return "change-both";
    }
    return "";
}

proto::TransportAddress address_of(const std::string& ip, std::uint16_t port) {
    // The config loader has validated the literal; bracket IPv6 for TransportAddress::parse.
    bool v6 = ip.find(':') != std::string::npos;
    auto parsed =
        proto::TransportAddress::parse((v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port));
    return parsed ? *parsed : proto::TransportAddress{};
}

} // namespace

ListenerPlan bind_listeners(const config::ServerConfig& config, unsigned workers) {
    ListenerPlan plan;
    // 1. The table, with the requested (possibly 0) ports.
    for (const auto& l : config.listeners) {
        turn::ListenerInfo info;
        info.transport = to_engine(l.transport);
        info.local = address_of(l.address, l.port);
        std::uint32_t first = static_cast<std::uint32_t>(plan.table.size());
        plan.table.push_back(info);
        if (l.transport != config::Transport::udp || !config.rfc5780.enabled()) continue;
        auto alternate = address_of(config.rfc5780.alternate_address, l.port);
        if (alternate.family != info.local.family) continue;
        // Group of four: roles are bit sets (1 = alternate port, 2 = alternate address).
        for (std::uint8_t role = 1; role < 4; ++role) {
            turn::ListenerInfo sibling = info;
            sibling.role = static_cast<turn::Role>(role);
            if (role & 2) sibling.local.ip = alternate.ip;
            plan.table.push_back(sibling);
        }
        for (std::uint8_t role = 0; role < 4; ++role) {
            for (std::uint8_t r = 0; r < 4; ++r)
                plan.table[first + role].group[r] = static_cast<std::int32_t>(first + r);
        }
    }

    // 2. Bind worker 0's sockets first, resolving port 0; a group's primary port and alternate
    // port are resolved once and shared by the two sockets that use each.
    plan.sockets.assign(workers, {});
    for (std::size_t i = 0; i < plan.table.size(); ++i) {
        auto& info = plan.table[i];
        if (info.rfc5780()) {
            auto primary = static_cast<std::size_t>(info.group[0]);
            auto alt_port_socket = static_cast<std::size_t>(info.group[1]);
            bool uses_alt_port = static_cast<std::uint8_t>(info.role) & 1;
            if (info.role == turn::Role::change_port) {
                info.local.port = config.rfc5780.alternate_port;
            } else if (info.role != turn::Role::primary) {
                info.local.port = uses_alt_port ? plan.table[alt_port_socket].local.port
                                                : plan.table[primary].local.port;
            }
        }
        for (unsigned w = 0; w < workers; ++w) {
            auto opened = info.transport == turn::Transport::udp
                              ? net::open_udp(info.local, udp_receive_buffer)
                              : net::open_tcp_listener(info.local, tcp_backlog);
            if (!opened.ok()) {
                plan.error = opened.error;
                close_all(plan);
                return plan;
            }
            if (w == 0) info.local = opened.socket.local; // port 0 resolved here
            if (info.transport == turn::Transport::udp) {
                // The listener's send-only twin (see net::open_udp_sender); without one the
                // worker sends on the listener itself.
                auto twin = net::open_udp_sender(opened.socket.local, udp_receive_buffer);
                if (twin.ok()) opened.socket.send_fd = twin.socket.fd;
            }
            plan.sockets[w].push_back(opened.socket);
        }
    }
    return plan;
}

void close_all(ListenerPlan& plan) {
    for (auto& per_worker : plan.sockets)
        for (auto& s : per_worker) {
            if (s.fd >= 0) ::close(s.fd);
            if (s.send_fd >= 0) ::close(s.send_fd);
        }
    plan.sockets.clear();
}

std::vector<std::string> describe(const ListenerPlan& plan) {
    std::vector<std::string> lines;
    for (const auto& info : plan.table) {
        std::string line = "listening ";
        line += info.transport == turn::Transport::udp   ? "udp "
                : info.transport == turn::Transport::tcp ? "tcp "
                                                         : "tls ";
        line += info.local.to_string();
        if (info.rfc5780() && info.role != turn::Role::primary) {
            line += " rfc5780=";
            line += role_name(info.role);
        }
        lines.push_back(std::move(line));
    }
    return lines;
}

} // namespace traverse::app
