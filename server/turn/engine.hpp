// SPDX-License-Identifier: Apache-2.0
// The sans-IO STUN/TURN engine: messages in (with their 5-tuple and time), answers into an Outbox.
#pragma once

#include "monitoring/stats.hpp"
#include "proto/address.hpp"
#include "proto/message_view.hpp"
#include "server/turn/outbox.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace traverse::turn {

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;

/// Client-facing transport of a listener.
enum class Transport : std::uint8_t { udp, tcp, tls };

/// RFC 5780 roles of the four sockets of one group, as bits: 1 = alternate port, 2 = alternate
/// address. The socket that answers a CHANGE-REQUEST is the receiving role xor the requested bits.
enum class Role : std::uint8_t { primary = 0, change_port = 1, change_address = 2, change_both = 3 };

/// What the engine knows about one listener socket. Every worker has the same listener layout, so
/// one table serves all of them; indices are positions in that table.
struct ListenerInfo {
    Transport transport = Transport::udp;
    proto::TransportAddress local;
    /// RFC 5780 group: listener index per Role, or -1; all -1 when RFC 5780 is off.
    std::array<std::int32_t, 4> group{-1, -1, -1, -1};
    Role role = Role::primary;

    bool rfc5780() const noexcept { return group[3] >= 0; }
};

/// Engine settings the composition root fills from the configuration.
struct EngineOptions {
    std::string software; ///< SOFTWARE attribute value; empty omits it
    bool rfc5780 = false; ///< behaviour discovery configured (some UDP listeners have groups)
};

/// Where a client message came from.
struct ClientContext {
    std::uint32_t listener = 0;     ///< index into the listener table
    std::uint64_t connection = 0;   ///< stream connection id (0 for UDP)
    proto::TransportAddress client; ///< the client's address as this server sees it
};

/// One engine per worker; single-threaded by design: only its worker thread calls it.
class Engine {
public:
    Engine(EngineOptions options, std::vector<ListenerInfo> listeners,
           stats::WorkerCounters& counters);

    /// A UDP datagram arrived on a listener socket. Answers, if any, go into `out`.
    void on_client_datagram(Time now, const ClientContext& from, std::span<const std::byte> data,
                            Outbox& out) noexcept;

    /// A complete STUN message cut from a TCP/TLS stream by proto::next_frame. Returns false when
    /// the connection must be closed (the frame is not valid STUN).
    bool on_stream_frame(Time now, const ClientContext& from, std::span<const std::byte> frame,
                         Outbox& out) noexcept;

    const std::vector<ListenerInfo>& listeners() const noexcept { return listeners_; }

private:
    bool handle_message(Time now, const ClientContext& from, std::span<const std::byte> data,
                        Outbox& out) noexcept;
    void handle_binding(const ClientContext& from, const proto::MessageView& request,
                        Outbox& out) noexcept;
    void send_error(const ClientContext& from, const proto::MessageView& request, int code,
                    std::span<const std::uint16_t> unknown, Outbox& out) noexcept;
    Via reply_via(const ClientContext& from) const noexcept;

    EngineOptions options_;
    std::vector<ListenerInfo> listeners_;
    stats::WorkerCounters& counters_;
};

} // namespace traverse::turn
