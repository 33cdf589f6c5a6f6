// SPDX-License-Identifier: Apache-2.0
// natcheck's TURN check: allocate over UDP/TCP/TLS, then send data through the relay to ourselves.
#pragma once

#include "tools/natcheck/classify.hpp"
#include "tools/natcheck/net.hpp"
#include "tools/natcheck/stun.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace traverse::natcheck {

/// TURN REST API credentials (draft-uberti-behave-turn-rest): username "<expiry>:<user>",
/// password base64(HMAC-SHA1(secret, username)). Pure.
std::pair<std::string, std::string> rest_credentials(const std::string& secret,
                                                     const std::string& user,
                                                     std::uint64_t expiry_unix_seconds);

/// Standard base64 of bytes (with padding). Pure.
std::string base64(std::span<const std::byte> bytes);

struct TurnOptions {
    std::string username;
    std::string password;
    Retransmit retransmit;
    TlsOptions tls;
    int echo_count = 10;            ///< probes sent through the relay
    milliseconds echo_interval{20}; ///< between probes
    milliseconds echo_wait{1000};   ///< after the last probe
};

/// Allocates over transport ("udp", "tcp", "tls") at server, permits own_ips (our public
/// addresses), echoes data through the relay and releases the allocation. local_ip is the
/// address to bind the echo peer socket to.
TurnResult check_turn(const std::string& transport, const TransportAddress& server,
                      const TurnOptions& options, std::vector<TransportAddress> own_ips,
                      const TransportAddress& local_ip, Clock::time_point deadline);

} // namespace traverse::natcheck
