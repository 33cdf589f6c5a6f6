// SPDX-License-Identifier: Apache-2.0
// Turns the configured listeners into the engine's listener table and binds every worker's sockets.
#pragma once

#include "config/model.hpp"
#include "server/net/socket.hpp"
#include "server/turn/engine.hpp"

#include <string>
#include <vector>

namespace traverse::app {

/// The listener table shared by all workers and the sockets each worker owns.
struct ListenerPlan {
    std::vector<turn::ListenerInfo> table;
    std::vector<std::vector<net::BoundSocket>> sockets; ///< [worker][listener]
    std::string error;                                  ///< empty on success
};

/// Binds `workers` sockets per listener (SO_REUSEPORT group). Port 0 is resolved by the first
/// bind and reused by the others. With RFC 5780 each UDP listener of the alternate address's
/// family becomes a group of four sockets (primary, change-port, change-address, change-both).
ListenerPlan bind_listeners(const config::ServerConfig& config, unsigned workers);

/// Closes every socket of the plan (on a start-up failure).
void close_all(ListenerPlan& plan);

/// "listening udp 127.0.0.1:3478 rfc5780=change-port" lines, one per listener.
std::vector<std::string> describe(const ListenerPlan& plan);

} // namespace traverse::app
