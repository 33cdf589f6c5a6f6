// SPDX-License-Identifier: Apache-2.0
// natcheck's probes: every network test, run against one server, collected as Observations.
#pragma once

#include "tools/natcheck/classify.hpp"
#include "tools/natcheck/stun.hpp"
#include "tools/natcheck/turn.hpp"

#include <optional>
#include <string>
#include <vector>

namespace traverse::natcheck {

/// What to test, from the command line.
struct Settings {
    std::string host;
    std::uint16_t port = 3478;
    std::uint16_t tcp_port = 0; ///< 0: same as port
    std::uint16_t tls_port = 5349;
    std::string alt_host; ///< --alt: a second STUN server (empty: none)
    std::uint16_t alt_port = 3478;
    bool turn = false; ///< credentials given
    TurnOptions turn_options;
    std::vector<std::string> turn_transports{"udp", "tcp", "tls"};
    int lifetime_max_s = 0; ///< 0: no binding-lifetime test
    Retransmit retransmit;
    std::chrono::milliseconds total{30000};
    TlsOptions tls;
};

/// §4.6 binding lifetime: idle times after which the mapping was still there / gone.
struct Lifetime {
    bool tested = false;
    std::optional<int> alive_s;   ///< longest idle time the mapping survived
    std::optional<int> expired_s; ///< shortest idle time after which it was gone
    std::string note;             ///< why it could not be measured
};

/// Everything run_probes() found.
struct Results {
    std::string server_text;                ///< "host:port" as given
    std::optional<TransportAddress> server; ///< the address used
    std::string error;                      ///< why nothing could be tried (resolution...)
    Observations observations;
    Lifetime lifetime;
    /// A plain binding over the other address family, when the host and server have it.
    std::optional<TransportAddress> ipv6_local;
    Probe ipv6;
};

/// Runs every test within settings.total.
Results run_probes(const Settings& settings);

} // namespace traverse::natcheck
