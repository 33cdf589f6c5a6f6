// SPDX-License-Identifier: Apache-2.0
// Peer policy: prefix matching, default special-purpose ranges, embedded-IPv4 unwrapping.
#include "server/turn/peer_policy.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>

namespace traverse::turn {

std::optional<Cidr> Cidr::parse(std::string_view text) {
    auto slash = text.find('/');
    std::string ip(text.substr(0, slash));
    Cidr c;
    unsigned max_bits = 0;
    if (ip.find(':') != std::string::npos) {
        if (inet_pton(AF_INET6, ip.c_str(), c.prefix.data()) != 1) return std::nullopt;
        c.family = proto::Family::ipv6;
        max_bits = 128;
    } else {
        if (inet_pton(AF_INET, ip.c_str(), c.prefix.data()) != 1) return std::nullopt;
        max_bits = 32;
    }
    unsigned bits = max_bits;
    if (slash != std::string_view::npos) {
        auto digits = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
        if (ec != std::errc{} || end != digits.data() + digits.size() || bits > max_bits)
            return std::nullopt;
    }
    c.bits = static_cast<std::uint8_t>(bits);
    // Normalise: clear host bits so equal prefixes compare equal.
    for (unsigned i = 0; i < 16; ++i) {
        unsigned keep = bits > i * 8 ? std::min(8u, bits - i * 8) : 0;
        c.prefix[i] &= static_cast<std::uint8_t>(keep == 0 ? 0 : 0xFF << (8 - keep));
    }
    return c;
}

bool Cidr::contains(const proto::TransportAddress& ip) const noexcept {
    if (ip.family != family) return false;
    unsigned full = bits / 8;
    for (unsigned i = 0; i < full; ++i)
        if (ip.ip[i] != prefix[i]) return false;
    unsigned rest = bits % 8;
    if (rest == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
    return (ip.ip[full] & mask) == prefix[full];
}

std::string Cidr::to_string() const {
    proto::TransportAddress a;
    a.family = family;
    a.ip = prefix;
    return a.ip_string() + "/" + std::to_string(bits);
}

namespace {

std::vector<Cidr> make_defaults() {
    // IANA IPv4 and IPv6 special-purpose address registries: everything not globally routable,
    // plus documentation and benchmarking ranges.
    static constexpr std::string_view ranges[] = {
        "0.0.0.0/8",       // "this network", includes 0.0.0.0
        "10.0.0.0/8",      // RFC 1918
        "100.64.0.0/10",   // shared address space (carrier-grade NAT)
        "127.0.0.0/8",     // loopback
        "169.254.0.0/16",  // link-local, includes 169.254.169.254 (cloud metadata)
        "172.16.0.0/12",   // RFC 1918
        "192.0.0.0/24",    // IETF protocol assignments
        "192.0.2.0/24",    // TEST-NET-1
        "192.88.99.0/24",  // deprecated 6to4 relay anycast
        "192.168.0.0/16",  // RFC 1918
        "198.18.0.0/15",   // benchmarking
        "198.51.100.0/24", // TEST-NET-2
        "203.0.113.0/24",  // TEST-NET-3
        "224.0.0.0/4",     // multicast
        "240.0.0.0/4",     // reserved, includes 255.255.255.255 broadcast
        "::/128",          // unspecified
        "::1/128",         // loopback
        "64:ff9b:1::/48",  // local-use NAT64 (RFC 8215)
        "100::/64",        // discard-only
        "2001:2::/48",     // benchmarking
        "2001:db8::/32",   // documentation
        "3fff::/20",       // documentation (RFC 9637)
        "fc00::/7",        // unique local
        "fe80::/10",       // link-local
        "fec0::/10",       // site-local (deprecated)
        "ff00::/8",        // multicast
    };
    std::vector<Cidr> out;
    for (auto r : ranges)
        out.push_back(*Cidr::parse(r));
    return out;
}

bool any_contains(std::span<const Cidr> list, const proto::TransportAddress& a) noexcept {
    return std::any_of(list.begin(), list.end(), [&](const Cidr& c) { return c.contains(a); });
}

bool same_ip(const proto::TransportAddress& a, const proto::TransportAddress& b) noexcept {
    return a.family == b.family && a.ip == b.ip;
}

} // namespace

std::span<const Cidr> PeerPolicy::default_denied() {
    static const std::vector<Cidr> defaults = make_defaults();
    return defaults;
}

proto::TransportAddress PeerPolicy::unwrap(const proto::TransportAddress& peer) noexcept {
    if (peer.family != proto::Family::ipv6) return peer;
    const auto& b = peer.ip;
    auto v4_at = [&](std::size_t offset) {
        return proto::TransportAddress::v4({b[offset], b[offset + 1], b[offset + 2], b[offset + 3]},
                                           peer.port);
    };
    auto zeros = [&](std::size_t from, std::size_t to) {
        return std::all_of(b.begin() + static_cast<std::ptrdiff_t>(from),
                           b.begin() + static_cast<std::ptrdiff_t>(to),
                           [](std::uint8_t x) { return x == 0; });
    };
    // ::ffff:a.b.c.d (mapped, RFC 4291 §2.5.5.2)
    if (zeros(0, 10) && b[10] == 0xFF && b[11] == 0xFF) return v4_at(12);
    // ::a.b.c.d (compatible, deprecated); :: and ::1 stay IPv6 and meet their own ranges
    if (zeros(0, 12) && !(zeros(12, 15) && b[15] <= 1)) return v4_at(12);
    // 2002:a.b.c.d::/48 (6to4, RFC 3056)
    if (b[0] == 0x20 && b[1] == 0x02) return v4_at(2);
    // 64:ff9b::a.b.c.d (well-known NAT64 prefix, RFC 6052)
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && zeros(4, 12))
        return v4_at(12);
    return peer;
}

PeerPolicy::PeerPolicy(std::vector<Cidr> allow, std::vector<Cidr> deny,
                       std::vector<proto::TransportAddress> own_addresses)
    : allow_(std::move(allow)), deny_(std::move(deny)), own_(std::move(own_addresses)) {}

PeerVerdict PeerPolicy::check(const proto::TransportAddress& peer) const noexcept {
    const auto canonical = unwrap(peer);
    // The operator's deny list wins over everything, in either spelling.
    if (any_contains(deny_, canonical) || any_contains(deny_, peer))
        return PeerVerdict::denied_by_config;
    if (any_contains(allow_, canonical)) return PeerVerdict::allowed;
    for (const auto& own : own_)
        if (same_ip(own, canonical) || same_ip(unwrap(own), canonical))
            return PeerVerdict::denied_own_address;
    if (any_contains(default_denied(), canonical)) return PeerVerdict::denied_by_default;
    return PeerVerdict::allowed;
}

} // namespace traverse::turn
