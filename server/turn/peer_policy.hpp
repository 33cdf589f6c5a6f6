// SPDX-License-Identifier: Apache-2.0
// Which peer addresses the relay may send to: CIDR allow/deny over safe defaults (anti-SSRF).
#pragma once

#include "proto/address.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace traverse::turn {

/// An IPv4 or IPv6 prefix.
struct Cidr {
    proto::Family family = proto::Family::ipv4;
    std::array<std::uint8_t, 16> prefix{};
    std::uint8_t bits = 0;

    /// "10.0.0.0/8", "::1/128", or a bare address (a host prefix). nullopt when malformed.
    static std::optional<Cidr> parse(std::string_view text);
    /// True when `ip` (same family) lies inside the prefix; the port is ignored.
    bool contains(const proto::TransportAddress& ip) const noexcept;
    std::string to_string() const;
};

/// Why a peer was refused, or that it was not.
enum class PeerVerdict : std::uint8_t {
    allowed,
    denied_by_config,   ///< in the operator's deny list
    denied_by_default,  ///< in a special-purpose range (loopback, private, metadata...)
    denied_own_address, ///< one of this server's own addresses
};

/// The one peer-address filter every relay path consults (CreatePermission, ChannelBind, Send,
/// and any later relay path). Order: configured deny, configured allow, then the defaults and
/// the server's own addresses. IPv4 embedded in IPv6 (mapped, compatible, 6to4, NAT64) is
/// unwrapped first, so every spelling of an address gets the same verdict.
class PeerPolicy {
public:
    PeerPolicy() = default;
    PeerPolicy(std::vector<Cidr> allow, std::vector<Cidr> deny,
               std::vector<proto::TransportAddress> own_addresses);

    PeerVerdict check(const proto::TransportAddress& peer) const noexcept;

    /// The special-purpose ranges refused unless allowed (IANA special-purpose registries).
    static std::span<const Cidr> default_denied();

    /// The IPv4 address inside an IPv4-mapped, IPv4-compatible, 6to4 or NAT64 IPv6 address;
    /// otherwise the address itself.
    static proto::TransportAddress unwrap(const proto::TransportAddress& peer) noexcept;

private:
    std::vector<Cidr> allow_;
    std::vector<Cidr> deny_;
    std::vector<proto::TransportAddress> own_;
};

} // namespace traverse::turn
