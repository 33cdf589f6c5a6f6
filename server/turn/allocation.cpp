// SPDX-License-Identifier: Apache-2.0
// Allocation state helpers: permission and channel lookups with expiry checked on every lookup.
#include "server/turn/allocation.hpp"

#include <algorithm>
#include <cstring>

namespace traverse::turn {
std::size_t FiveTupleHash::operator()(const FiveTuple& t) const noexcept {
    // Word-wise multiply-xorshift over the fields that vary (client IP and port, listener,
    // connection): hashed once per client datagram, so it must be cheap. IPv4 addresses keep
    // bytes 4..15 zero, so hashing all sixteen bytes is right for both families.
    std::uint64_t ip[2];
    std::memcpy(ip, t.client.ip.data(), sizeof ip);
    auto mix = [](std::uint64_t h, std::uint64_t v) noexcept {
        h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
        return h * 0xff51afd7ed558ccdull;
    };
    std::uint64_t h = mix(0, ip[0]);
    h = mix(h, ip[1]);
    h = mix(h, (std::uint64_t{t.client.port} << 32) | t.listener);
    h = mix(h, t.connection);
    return static_cast<std::size_t>(h ^ (h >> 29));
}

const Relay* Allocation::relay_for(proto::Family family) const noexcept {
    for (const auto& r : relays)
        if (r && r->relayed.family == family) return &*r;
    return nullptr;
}

bool Allocation::has_permission(const proto::TransportAddress& peer, Time now) const noexcept {
    return std::any_of(permissions.begin(), permissions.end(), [&](const Permission& p) {
        return p.expires > now && same_ip(p.peer_ip, peer);
    });
}

bool Allocation::add_permission(const proto::TransportAddress& peer, Time expires_at) {
    for (auto& p : permissions) {
        if (same_ip(p.peer_ip, peer)) {
            p.expires = expires_at;
            return false;
        }
    }
    proto::TransportAddress ip = peer;
    ip.port = 0;
    permissions.push_back(Permission{ip, expires_at});
    return true;
}

std::size_t Allocation::active_channels() const noexcept {
    return static_cast<std::size_t>(
        std::count_if(channels.begin(), channels.end(), [](const Channel& c) { return c.active; }));
}

const Channel* Allocation::channel_by_number(std::uint16_t number, Time now) const noexcept {
    for (const auto& c : channels)
        if (c.number == number) return c.expires > now ? &c : nullptr;
    return nullptr;
}

const Channel* Allocation::channel_by_peer(const proto::TransportAddress& peer,
                                           Time now) const noexcept {
    for (const auto& c : channels)
        if (same_address(c.peer, peer)) return c.expires > now ? &c : nullptr;
    return nullptr;
}

bool ByteBucket::take(std::size_t bytes, std::uint64_t rate, Time now) noexcept {
    const auto cap = static_cast<std::int64_t>(rate); // burst: one second's worth
    if (refilled == Time{}) {
        tokens = cap;
    } else {
        auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(now - refilled);
        tokens =
            std::min(cap, tokens + static_cast<std::int64_t>(rate) * elapsed.count() / 1000000);
    }
    refilled = now;
    if (tokens < static_cast<std::int64_t>(bytes)) return false;
    tokens -= static_cast<std::int64_t>(bytes);
    return true;
}

Time Allocation::expire(Time now, Expired* ended) {
    const std::size_t removed =
        std::erase_if(permissions, [now](const Permission& p) { return p.expires <= now; });
    std::size_t unbound = 0;
    for (auto& c : channels) {
        if (c.active && c.expires <= now) {
            c.active = false;
            ++unbound;
        }
    }
    std::erase_if(channels, [now](const Channel& c) { return c.quarantine_until <= now; });
    if (ended) {
        ended->permissions += removed;
        ended->channels += unbound;
    }
    return next_deadline(now);
}

Time Allocation::next_deadline(Time now) const noexcept {
    Time next = expires;
    for (const auto& p : permissions)
        next = std::min(next, p.expires);
    for (const auto& c : channels)
        next = std::min(next, c.expires > now ? c.expires : c.quarantine_until);
    return next;
}

} // namespace traverse::turn
