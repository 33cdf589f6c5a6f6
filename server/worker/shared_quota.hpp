// SPDX-License-Identifier: Apache-2.0
// The allocation quotas every worker shares: per user, per client IP and in total.
#pragma once

#include "server/turn/ports.hpp"

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace traverse::worker {

/// Limits; 0 means unlimited.
struct QuotaLimits {
    std::uint32_t per_user = 0;
    std::uint32_t per_ip = 0;
    std::uint32_t total = 0;
};

/// turn::QuotaLedger shared by all workers. Touched on Allocate and deletion only, so one mutex
/// is cheap; entries disappear at zero, so memory follows live allocations.
class SharedQuota final : public turn::QuotaLedger {
public:
    explicit SharedQuota(QuotaLimits limits) : limits_(limits) {}
    turn::QuotaRefusal acquire(std::string_view user,
                               const proto::TransportAddress& client_ip) override;
    void release(std::string_view user, const proto::TransportAddress& client_ip) override;
    std::uint32_t total() const;
    /// New limits (reload). Allocations over a lowered limit are kept; new ones are refused
    /// until the counts fall below it.
    void set_limits(QuotaLimits limits);

private:
    static std::string ip_key(const proto::TransportAddress& ip);
    mutable std::mutex mutex_; // guards the limits and the three counts below
    QuotaLimits limits_;
    std::unordered_map<std::string, std::uint32_t> per_user_;
    std::unordered_map<std::string, std::uint32_t> per_ip_;
    std::uint32_t total_ = 0;
};

} // namespace traverse::worker
