// SPDX-License-Identifier: Apache-2.0
// Quota accounting under one mutex (Allocate and deletion paths only).
#include "server/worker/shared_quota.hpp"

namespace traverse::worker {

std::string SharedQuota::ip_key(const proto::TransportAddress& ip) {
    return std::string(reinterpret_cast<const char*>(ip.ip.data()), ip.ip_size());
}

turn::QuotaRefusal SharedQuota::acquire(std::string_view user,
                                        const proto::TransportAddress& client_ip) {
    std::lock_guard lock(mutex_);
    if (limits_.total && total_ >= limits_.total) return turn::QuotaRefusal::total;
    std::string user_key(user);
    std::string ip = ip_key(client_ip);
    auto u = per_user_.find(user_key);
    if (limits_.per_user && u != per_user_.end() && u->second >= limits_.per_user)
        return turn::QuotaRefusal::per_user;
    auto i = per_ip_.find(ip);
    if (limits_.per_ip && i != per_ip_.end() && i->second >= limits_.per_ip)
        return turn::QuotaRefusal::per_ip;
    ++per_user_[user_key];
    ++per_ip_[ip];
    ++total_;
    return turn::QuotaRefusal::none;
}

void SharedQuota::release(std::string_view user, const proto::TransportAddress& client_ip) {
    std::lock_guard lock(mutex_);
    if (auto u = per_user_.find(std::string(user)); u != per_user_.end() && --u->second == 0)
        per_user_.erase(u);
    if (auto i = per_ip_.find(ip_key(client_ip)); i != per_ip_.end() && --i->second == 0)
        per_ip_.erase(i);
    if (total_ > 0) --total_;
}

void SharedQuota::set_limits(QuotaLimits limits) {
    std::lock_guard lock(mutex_);
    limits_ = limits;
}

std::uint32_t SharedQuota::total() const {
    std::lock_guard lock(mutex_);
    return total_;
}

} // namespace traverse::worker
