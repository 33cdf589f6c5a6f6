// SPDX-License-Identifier: Apache-2.0
// TURN control transactions for many allocations at once: Allocate, CreatePermission,
// ChannelBind and Refresh (lifetime 0) with long-term credentials (401 -> REALM/NONCE ->
// MESSAGE-INTEGRITY with the MD5 key; 438 -> retry with the new nonce), retransmitted on loss.
#pragma once

#include "proto/address.hpp"
#include "proto/types.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace turnbench {

enum class Step { allocate, permission, channel_bind, release };

struct Session {
    int fd = -1;
    std::vector<Step> plan;
    std::size_t next = 0; ///< index into plan
    bool failed = false;
    std::string error;
    std::string realm;
    std::string nonce;
    std::array<std::byte, 16> key{};
    bool have_key = false;
    int stale_retries = 0;
    int retransmits = 0;
    traverse::proto::TransactionId tid{};
    std::array<std::byte, 512> request{};
    std::size_t request_size = 0;
    std::uint64_t sent_at = 0;
    std::uint64_t started_at = 0;
    std::uint64_t finished_at = 0;
    traverse::proto::TransportAddress relayed{};

    bool done() const noexcept { return failed || next >= plan.size(); }
};

struct Credentials {
    std::string user;
    std::string password;
};

struct ControlSpec {
    Credentials credentials;
    traverse::proto::TransportAddress peer{}; ///< for permission and channel_bind
    std::uint16_t channel = 0x4000;
    std::size_t concurrency = 64; ///< sessions with a transaction in flight
    double timeout_s = 20;        ///< bound on the whole phase
};

/// Runs every session's plan from its current step to the end; returns the elapsed seconds.
double run_control(std::vector<Session>& sessions, const ControlSpec& spec);

} // namespace turnbench
