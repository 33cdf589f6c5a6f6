// SPDX-License-Identifier: Apache-2.0
// Raw UDP baselines with recvmmsg/sendmmsg: an echo (answers every datagram to its sender) and a
// forwarder that stands in for a TURN server relaying ChannelData (client <-> forwarder <-> peer
// with the same datagram sizes), so the machine's ceiling for the same path can be measured.
#pragma once

#include "tools/turnbench/common.hpp"

#include <atomic>
#include <cstdint>

namespace turnbench {

struct EchoCounters {
    std::atomic<std::uint64_t> packets{0};
    std::atomic<std::uint64_t> bytes{0};
};

/// Echoes datagrams on fd to their senders until stop is set or duration_s passes.
void run_echo(int fd, double duration_s, const std::atomic<bool>& stop, EchoCounters& counters);

/// Forwards ChannelData from clients on listen_fd to peer (header stripped) through one socket per
/// client, and the peer's answers back with a 4-byte header, until duration_s passes.
void run_forwarder(int listen_fd, const Endpoint& peer, double duration_s);

} // namespace turnbench
