// SPDX-License-Identifier: Apache-2.0
// natcheck's pure core: what the probes observed in, NAT behaviour and a verdict out.
#pragma once

#include "proto/address.hpp"

#include <optional>
#include <string>
#include <vector>

namespace traverse::natcheck {

using proto::TransportAddress;

/// One Binding transaction as the probes saw it.
struct Probe {
    enum class Outcome {
        not_run,   ///< never sent (an earlier step made it pointless)
        answered,  ///< a success response arrived
        no_answer, ///< every retransmission went unanswered
        error,     ///< an error response arrived (error_code)
    };
    Outcome outcome = Outcome::not_run;
    std::optional<TransportAddress> destination;     ///< where the request was sent
    std::optional<TransportAddress> source;          ///< where the answer came from
    std::optional<TransportAddress> mapped;          ///< XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS)
    std::optional<TransportAddress> response_origin; ///< RESPONSE-ORIGIN
    std::optional<TransportAddress> other_address;   ///< OTHER-ADDRESS
    int error_code = 0;                              ///< of an error response
    std::string failure; ///< why there was no answer, when known (connection refused, TLS, ...)
    double rtt_ms = 0;   ///< first send to answer

    bool answered() const noexcept { return outcome == Outcome::answered; }
};

/// Result of the TURN check over one client transport.
struct TurnResult {
    std::string transport; ///< "udp", "tcp" or "tls"
    bool attempted = false;
    bool allocated = false;
    std::optional<TransportAddress> relayed;
    std::optional<TransportAddress> mapped;
    std::string echo_method; ///< "peer" (own public address), "relay-loop" or empty
    int sent = 0;            ///< echo probes sent
    int received = 0;        ///< echo probes that came back
    double rtt_min_ms = 0, rtt_avg_ms = 0, rtt_max_ms = 0;
    std::string error; ///< why it failed, in plain words (empty on success)

    /// True when data went through the relay and came back.
    bool works() const noexcept { return allocated && received > 0; }
};

/// Everything the probes observed. Plain data, filled by probes.cpp, read by classify().
struct Observations {
    /// Local address of the UDP socket that ran the mapping tests (the address the OS picked).
    std::optional<TransportAddress> local_udp;
    /// RFC 5780 §4.3 mapping tests, all from one socket.
    Probe primary;    ///< test I: to the primary address
    Probe alt_ip;     ///< test II: to the alternate IP, primary port
    Probe alt_both;   ///< test III: to the alternate IP and port (OTHER-ADDRESS)
    Probe alt_port;   ///< to the primary IP, alternate port (validates the change-port socket)
    Probe alt_server; ///< --alt: another STUN server, when the primary lacks RFC 5780
    /// RFC 5780 §4.4 filtering tests, from a fresh socket that only ever sent to the primary.
    Probe change_both; ///< CHANGE-REQUEST change IP and port
    Probe change_port; ///< CHANGE-REQUEST change port only
    /// §4.5: nullopt when not tested.
    std::optional<bool> hairpinning;
    /// STUN over TCP and TLS to the primary address (always tried when UDP fails).
    std::optional<TransportAddress> local_tcp;
    Probe tcp;
    Probe tls;
    /// TURN results, one per transport tried (empty without credentials).
    std::vector<TurnResult> turn;
};

enum class Mapping { endpoint_independent, address_dependent, address_and_port_dependent, unknown };
enum class Filtering {
    endpoint_independent,
    address_dependent,
    address_and_port_dependent,
    unknown
};
/// Classic RFC 3489 names.
enum class NatType {
    open_internet,
    full_cone,
    restricted_cone,
    port_restricted_cone,
    symmetric,
    symmetric_udp_firewall,
    udp_blocked,
    unknown,
};
/// What the user should expect, from best to worst.
enum class Verdict {
    direct_ok,     ///< direct calls will usually work
    direct_mostly, ///< direct works except with people behind symmetric NATs
    turn_often,    ///< symmetric: many calls need TURN
    turn_tcp_only, ///< no UDP; only TURN over TCP/TLS gets through
    no_udp,        ///< no UDP and no TURN over TCP/TLS shown to work
    unknown,       ///< UDP works but the NAT's behaviour could not be determined
    unreachable,   ///< nothing answered at all
};

/// Tri-state for a server check: passed, failed, or not checked.
enum class Check { pass, fail, not_checked };

/// Validation of the server's RFC 5780 answers.
struct ServerChecks {
    bool rfc5780 = false;                       ///< OTHER-ADDRESS present and usable
    Check other_address = Check::not_checked;   ///< present, with a different IP and port
    Check response_origin = Check::not_checked; ///< RESPONSE-ORIGIN == where each answer came from
    Check change_request = Check::not_checked;  ///< change answers come from the changed address
    std::vector<std::string> problems;          ///< each failure in plain words
};

/// classify()'s result.
struct Classification {
    std::optional<TransportAddress> public_address; ///< UDP mapped address, else TCP/TLS
    std::optional<TransportAddress> local_address;
    std::optional<bool> behind_nat; ///< nullopt: no answer over any transport
    bool udp = false;
    std::optional<bool> tcp; ///< nullopt: not tried
    std::optional<bool> tls; ///< nullopt: not tried
    Mapping mapping = Mapping::unknown;
    std::string mapping_reason;
    Filtering filtering = Filtering::unknown;
    std::string filtering_reason;
    std::optional<bool> hairpinning;
    NatType nat_type = NatType::unknown;
    ServerChecks server;
    Verdict verdict = Verdict::unreachable;
    std::string verdict_text; ///< the verdict in plain words, with TURN findings
    int exit_code = 1;        ///< 0 when something was reachable, 1 otherwise
};

/// Pure: turns observations into behaviours, a classic NAT name and a verdict.
Classification classify(const Observations& o);

/// Stable names used in the JSON output ("endpoint-independent", "port-restricted-cone", ...).
const char* to_string(Mapping m) noexcept;
const char* to_string(Filtering f) noexcept;
const char* to_string(NatType t) noexcept;
const char* to_string(Verdict v) noexcept;

} // namespace traverse::natcheck
