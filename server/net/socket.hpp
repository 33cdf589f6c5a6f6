// SPDX-License-Identifier: Apache-2.0
// Opening listening sockets with the options every worker needs (SO_REUSEPORT, buffers, v6only).
#pragma once

#include "proto/address.hpp"

#include <string>

namespace traverse::net {

/// A bound socket: its descriptor and the address it actually got (port 0 resolved).
struct BoundSocket {
    int fd = -1;
    proto::TransportAddress local;
    int send_fd = -1; ///< a UDP listener's send-only twin (open_udp_sender), or -1
};

/// Outcome of opening a socket: `error` is empty on success, else a sentence naming the cause.
struct OpenResult {
    BoundSocket socket;
    std::string error;
    bool ok() const noexcept { return error.empty(); }
};

/// A non-blocking UDP socket bound to `at` with the given receive buffer; in the SO_REUSEPORT
/// group of `at` when `reuse_port` (listeners), exclusively otherwise (relay sockets).
OpenResult open_udp(const proto::TransportAddress& at, int receive_buffer_bytes,
                    bool reuse_port = true);
/// A send-only twin of a UDP listener bound to `at`: a non-blocking socket bound to `at` beside
/// the listeners (SO_REUSEADDR, not in their SO_REUSEPORT group) and connected to `at` itself.
/// The kernel only hands a connected UDP socket datagrams from its peer, so the twin receives
/// nothing (but a datagram from `at` to `at`), while sendmsg with an explicit destination
/// still works and leaves from `at`.
OpenResult open_udp_sender(const proto::TransportAddress& at, int send_buffer_bytes);
/// A non-blocking listening TCP socket in the SO_REUSEPORT group of `at`.
OpenResult open_tcp_listener(const proto::TransportAddress& at, int backlog);

} // namespace traverse::net
