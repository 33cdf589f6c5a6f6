// SPDX-License-Identifier: Apache-2.0
// One TURN allocation: its relays, lifetime, permissions, channels and the last response sent.
#pragma once

#include "proto/address.hpp"
#include "proto/types.hpp"
#include "server/turn/auth.hpp"
#include "server/turn/ports.hpp"
#include "server/turn/timer_wheel.hpp"
#include "server/turn/types.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace traverse::turn {

/// Address equality for the per-packet lookups: two 8-byte compares instead of memcmp calls.
/// IPv4 addresses keep bytes 4..15 zero (proto::TransportAddress), so all 16 bytes compare.
inline bool same_ip(const proto::TransportAddress& a, const proto::TransportAddress& b) noexcept {
    std::uint64_t x[2];
    std::uint64_t y[2];
    std::memcpy(x, a.ip.data(), sizeof x);
    std::memcpy(y, b.ip.data(), sizeof y);
    return a.family == b.family && ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}
/// Same IP and port.
inline bool same_address(const proto::TransportAddress& a,
                         const proto::TransportAddress& b) noexcept {
    return a.port == b.port && same_ip(a, b);
}

/// The client side of an allocation's 5-tuple (RFC 8656 §2): client address, the listener it
/// reached (which fixes server address and transport), and for streams the connection.
struct FiveTuple {
    proto::TransportAddress client;
    std::uint32_t listener = 0;
    std::uint64_t connection = 0; ///< 0 for UDP
    friend bool operator==(const FiveTuple& a, const FiveTuple& b) noexcept {
        return a.listener == b.listener && a.connection == b.connection &&
               same_address(a.client, b.client);
    }
};

/// Hash of a FiveTuple for the allocation index.
struct FiveTupleHash {
    std::size_t operator()(const FiveTuple& t) const noexcept;
};

/// A permission: a peer IP (ports ignored, RFC 8656 §9) and its expiry.
struct Permission {
    proto::TransportAddress peer_ip; ///< port zeroed
    Time expires;
};

/// A channel binding (RFC 8656 §12). After `expires` the binding no longer relays, but the
/// number and the peer stay reserved to each other until `quarantine_until` (§12: five more
/// minutes) so a late packet is never delivered to a new peer.
struct Channel {
    std::uint16_t number = 0;
    proto::TransportAddress peer;
    Time expires;
    Time quarantine_until;
    bool active = true; ///< counted in channels_active; false once expiry has been noticed
};

/// One relay socket of an allocation (two for a dual-stack allocation).
struct Relay {
    RelayId id = 0;
    proto::TransportAddress relayed;
};

/// A transaction answered on this allocation and its encoded response, so a retransmitted
/// request (same transaction id) gets the byte-identical answer (RFC 8656 §7.2, §7.3).
struct CachedResponse {
    proto::TransactionId transaction_id{};
    std::vector<std::byte> bytes;
};

/// A token bucket in bytes: `rate` per second, at most one second of burst.
struct ByteBucket {
    std::int64_t tokens = 0;
    Time refilled{};
    /// Takes `bytes` if the bucket holds them after refilling at `rate` bytes per second.
    bool take(std::size_t bytes, std::uint64_t rate, Time now) noexcept;
};

/// Allocation state. Permissions and channels are few per allocation (WebRTC uses one or two),
/// so flat vectors with linear search beat hash maps in time and memory.
struct Allocation {
    FiveTuple five_tuple;
    std::array<std::optional<Relay>, 2> relays; ///< [0] first family, [1] additional family
    std::string username;
    Key key;
    Time created; ///< for the allocation lifetime histogram
    Time expires;
    std::vector<Permission> permissions;
    std::vector<Channel> channels;
    CachedResponse last_response;
    ByteBucket to_peer;   ///< bandwidth cap, client->peer (used only when a cap is set)
    ByteBucket to_client; ///< bandwidth cap, peer->client
    WheelHook wheel;      ///< the allocation's one entry in its worker's timer wheel

    /// The relay for `family`, if the allocation has one.
    const Relay* relay_for(proto::Family family) const noexcept;
    bool has_permission(const proto::TransportAddress& peer, Time now) const noexcept;
    /// Installs or refreshes the permission for the peer's IP; true when it was new.
    bool add_permission(const proto::TransportAddress& peer, Time expires_at);
    const Channel* channel_by_number(std::uint16_t number, Time now) const noexcept;
    const Channel* channel_by_peer(const proto::TransportAddress& peer, Time now) const noexcept;
    /// What one expire() call ended, for the permission and channel gauges.
    struct Expired {
        std::size_t permissions = 0; ///< permissions removed
        std::size_t channels = 0;    ///< channels that stopped relaying (now in quarantine)
    };
    /// Drops expired permissions and channels past quarantine; returns the next deadline.
    Time expire(Time now, Expired* ended = nullptr);
    /// Channels still counted as bound (see Channel::active).
    std::size_t active_channels() const noexcept;
    /// The earliest moment something of this allocation ends: its lifetime, a permission, or a
    /// channel's binding or quarantine.
    Time next_deadline(Time now) const noexcept;
};

} // namespace traverse::turn
