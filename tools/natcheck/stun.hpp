// SPDX-License-Identifier: Apache-2.0
// STUN over UDP for natcheck: RFC 8489 retransmission schedule and many transactions in flight.
#pragma once

#include "proto/message_view.hpp"
#include "proto/types.hpp"
#include "tools/natcheck/classify.hpp"
#include "tools/natcheck/net.hpp"

#include <chrono>
#include <optional>
#include <vector>

namespace traverse::natcheck {

using std::chrono::milliseconds;

/// RFC 8489 §6.2.1 retransmission: RTO doubling from rto, at most max_sends requests, then
/// last_factor * rto of waiting; natcheck also stops at limit (whichever comes first).
struct Retransmit {
    milliseconds rto{500};
    int max_sends = 7;    ///< Rc
    int last_factor = 16; ///< Rm
    milliseconds limit{3000};
};

/// When to send (offsets from the first send) and when to give up.
struct Schedule {
    std::vector<milliseconds> sends;
    milliseconds give_up{0};
};

/// Pure: the RFC 8489 schedule for policy (0, RTO, 3 RTO, 7 RTO, ... then Rm * RTO), cut at
/// policy.limit. With RTO 500 ms and no limit: sends at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s,
/// failure at 39.5 s.
Schedule schedule(const Retransmit& policy);

/// A random transaction id.
proto::TransactionId new_transaction_id();

/// A Binding request with optional CHANGE-REQUEST and RESPONSE-PORT (and FINGERPRINT).
std::vector<std::byte> binding_request(const proto::TransactionId& id, bool change_ip = false,
                                       bool change_port = false,
                                       std::optional<std::uint16_t> response_port = {});

/// Copies what a Binding answer says into probe (mapped address, RESPONSE-ORIGIN, ...).
void read_answer(const proto::MessageView& m, Probe& probe);

/// Many UDP transactions in flight at once, each retransmitted on its own schedule.
class UdpRunner {
public:
    explicit UdpRunner(Retransmit policy) : schedule_(schedule(policy)) {}

    /// Sends request from send_fd to destination (first send start_after from run()), and
    /// waits for an answer with the same transaction id on recv_fd; result must outlive run().
    void add(int send_fd, int recv_fd, const TransportAddress& destination,
             std::vector<std::byte> request, Probe* result,
             milliseconds start_after = milliseconds(0));

    /// Runs until every transaction is answered or gave up, or until deadline.
    void run(Clock::time_point deadline);

private:
    struct Pending {
        int send_fd;
        int recv_fd;
        TransportAddress destination;
        std::vector<std::byte> request;
        proto::TransactionId id;
        Probe* result;
        milliseconds start_after;
        std::size_t sent = 0;
        bool done = false;
        Clock::time_point first_send{};
    };
    void receive_on(int fd);

    Schedule schedule_;
    std::vector<Pending> pending_;
};

} // namespace traverse::natcheck
