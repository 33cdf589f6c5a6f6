// SPDX-License-Identifier: Apache-2.0
// IP literal parsing with inet_pton, which accepts exactly the textual forms we document.
#include "config/address.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <string>

namespace traverse::config {

bool IpLiteral::is_unspecified() const {
    return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

std::optional<IpLiteral> parse_ip_literal(std::string_view text) {
    // inet_pton needs a terminated string; literals are short, so the copy is harmless.
    const std::string terminated{text};
    IpLiteral address;
    if (inet_pton(AF_INET, terminated.c_str(), address.bytes.data()) == 1) return address;
    address.v6 = true;
    if (inet_pton(AF_INET6, terminated.c_str(), address.bytes.data()) == 1) return address;
    return std::nullopt;
}

std::string_view family_name(const IpLiteral& address) {
    return address.v6 ? "IPv6" : "IPv4";
}

} // namespace traverse::config
