// SPDX-License-Identifier: Apache-2.0
// IP literal parsing for configuration values (no name resolution, no sockets).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace traverse::config {

/// A parsed IPv4 or IPv6 literal; IPv4 uses the first four bytes.
struct IpLiteral {
    bool v6 = false;                                   ///< address family
    std::array<std::uint8_t, 16> bytes{};              ///< network byte order, zero padded
    bool operator==(const IpLiteral&) const = default; ///< same family and bytes
    bool is_unspecified() const;                       ///< 0.0.0.0 or ::
};

/// Parses "127.0.0.1" or "::1" (no brackets, no zone, no host names); nullopt when invalid.
std::optional<IpLiteral> parse_ip_literal(std::string_view text);

/// "IPv4" or "IPv6".
std::string_view family_name(const IpLiteral& address);

} // namespace traverse::config
