// SPDX-License-Identifier: Apache-2.0
// The load engine: one sender thread (paced or windowed, sendmmsg) and one receiver thread
// (epoll + recvmmsg) over a set of connected UDP sockets; round trips from send timestamps
// carried in the packets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace turnbench {

inline constexpr std::size_t max_packet = 2048;

struct LoadSpec {
    std::vector<int> fds;   ///< connected, one per client (allocation)
    double duration_s = 2;  ///< sending time
    double rate = 0;        ///< packets/s over all sockets; 0 = as fast as the window allows
    std::size_t window = 0; ///< most packets in flight when rate is 0
    std::size_t batch = 32; ///< most packets per sendmmsg
    double drain_s = 0.5;   ///< how long to wait for late answers after sending stops
    /// Writes packet number seq for socket index into out (max_packet bytes); returns length.
    std::function<std::size_t(std::size_t socket, std::uint64_t seq, std::uint64_t now,
                              std::byte* out)>
        make;
    /// The send timestamp carried by an answer, or 0 if the datagram is not one.
    std::function<std::uint64_t(std::span<const std::byte>)> parse;
};

struct LoadResult {
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::uint64_t foreign = 0; ///< datagrams that were not answers
    std::uint64_t send_errors = 0;
    double send_seconds = 0; ///< measured sending time
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
    std::vector<std::uint32_t> rtt_ns;
};

LoadResult run_load(const LoadSpec& spec);

} // namespace turnbench
