// SPDX-License-Identifier: Apache-2.0
// Allocation state helpers: permission and channel lookups with expiry checked on every lookup.
#include "server/turn/allocation.hpp"

#include <algorithm>
#include <cstring>

namespace traverse::turn {
namespace {

bool same_ip(const proto::TransportAddress& a, const proto::TransportAddress& b) noexcept {
    return a.family == b.family && a.ip == b.ip;
}

} // namespace

std::size_t FiveTupleHash::operator()(const FiveTuple& t) const noexcept {
    // FNV-1a over the fields that vary: client IP and port, listener, connection.
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&h](const void* p, std::size_t n) {
        const auto* b = static_cast<const unsigned char*>(p);
        for (std::size_t i = 0; i < n; ++i) {
            h ^= b[i];
            h *= 1099511628211ull;
        }
    };
    mix(t.client.ip.data(), t.client.ip_size());
    mix(&t.client.port, sizeof t.client.port);
    mix(&t.listener, sizeof t.listener);
    mix(&t.connection, sizeof t.connection);
    return static_cast<std::size_t>(h);
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
        if (c.peer == peer) return c.expires > now ? &c : nullptr;
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
    Time next = expires;
    for (const auto& p : permissions)
        next = std::min(next, p.expires);
    for (const auto& c : channels)
        next = std::min(next, c.expires > now ? c.expires : c.quarantine_until);
    return next;
}

} // namespace traverse::turn
