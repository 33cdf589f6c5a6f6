// SPDX-License-Identifier: Apache-2.0
// TransportAddress: an IPv4 or IPv6 address plus port, with text and XOR coding helpers.
#pragma once

#include "proto/expected.hpp"
#include "proto/types.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace traverse::proto {

/// Address family as encoded in (XOR-)MAPPED-ADDRESS (RFC 8489 §14.1).
enum class Family : std::uint8_t { ipv4 = 0x01, ipv6 = 0x02 };

/// An IP address and port; plain value type, no allocation.
struct TransportAddress {
    Family family = Family::ipv4;
    std::array<std::uint8_t, 16> ip{}; ///< network order; IPv4 uses the first 4 bytes, rest zero
    std::uint16_t port = 0;

    /// An IPv4 address from its four octets.
    static TransportAddress v4(std::array<std::uint8_t, 4> ip, std::uint16_t port) noexcept;
    /// An IPv6 address from its sixteen octets.
    static TransportAddress v6(const std::array<std::uint8_t, 16>& ip, std::uint16_t port) noexcept;
    /// Parses "1.2.3.4:5" or "[::1]:5"; errc::bad_value on anything else.
    static Expected<TransportAddress> parse(std::string_view text) noexcept;

    /// "1.2.3.4:5" or "[::1]:5".
    std::string to_string() const;
    /// "1.2.3.4" or "::1".
    std::string ip_string() const;
    /// Length of the address: 4 for IPv4, 16 for IPv6.
    std::size_t ip_size() const noexcept { return family == Family::ipv6 ? 16 : 4; }
    /// The meaningful address bytes (4 or 16).
    std::span<const std::uint8_t> ip_bytes() const noexcept { return {ip.data(), ip_size()}; }

    friend bool operator==(const TransportAddress&, const TransportAddress&) = default;
};

/// Applies the XOR-MAPPED-ADDRESS transform (RFC 8489 §14.2): the port is xored with the top
/// 16 bits of the magic cookie, the address with the cookie (IPv4) or cookie || transaction id
/// (IPv6). The transform is its own inverse.
TransportAddress xor_transform(const TransportAddress& a, const TransactionId& id) noexcept;

} // namespace traverse::proto
