// SPDX-License-Identifier: Apache-2.0
// TransportAddress text conversion (inet_pton / inet_ntop) and XOR coding.
#include "proto/address.hpp"

#include "proto/bytes.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace traverse::proto {

TransportAddress TransportAddress::v4(std::array<std::uint8_t, 4> ip, std::uint16_t port) noexcept {
    TransportAddress a;
    a.family = Family::ipv4;
    std::memcpy(a.ip.data(), ip.data(), ip.size());
    a.port = port;
    return a;
}

TransportAddress TransportAddress::v6(const std::array<std::uint8_t, 16>& ip,
                                      std::uint16_t port) noexcept {
    TransportAddress a;
    a.family = Family::ipv6;
    a.ip = ip;
    a.port = port;
    return a;
}

Expected<TransportAddress> TransportAddress::parse(std::string_view text) noexcept {
    std::string_view host;
    std::string_view port_text;
    bool v6 = false;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return errc::bad_value;
        host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
        v6 = true;
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return errc::bad_value;
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        // A bare IPv6 literal has several colons and needs brackets to carry a port.
        if (host.find(':') != std::string_view::npos) return errc::bad_value;
    }

    unsigned port = 0;
    const auto* first = port_text.data();
    const auto* last = port_text.data() + port_text.size();
    const auto [end, ec] = std::from_chars(first, last, port);
    if (port_text.empty() || ec != std::errc{} || end != last || port > 0xFFFF)
        return errc::bad_value;

    // inet_pton needs a terminated string; the longest IPv6 text form is 45 characters.
    char buffer[64];
    if (host.empty() || host.size() >= sizeof buffer) return errc::bad_value;
    std::memcpy(buffer, host.data(), host.size());
    buffer[host.size()] = '\0';

    TransportAddress a;
    a.port = static_cast<std::uint16_t>(port);
    if (v6) {
        a.family = Family::ipv6;
        if (inet_pton(AF_INET6, buffer, a.ip.data()) != 1) return errc::bad_value;
    } else {
        a.family = Family::ipv4;
        if (inet_pton(AF_INET, buffer, a.ip.data()) != 1) return errc::bad_value;
    }
    return a;
}

std::string TransportAddress::ip_string() const {
    char buffer[INET6_ADDRSTRLEN] = {};
    const int af = family == Family::ipv6 ? AF_INET6 : AF_INET;
    if (inet_ntop(af, ip.data(), buffer, sizeof buffer) == nullptr) return {};
    return buffer;
}

std::string TransportAddress::to_string() const {
    std::string out;
    if (family == Family::ipv6) {
        out += '[';
        out += ip_string();
        out += ']';
    } else {
        out += ip_string();
    }
    out += ':';
    out += std::to_string(port);
    return out;
}

TransportAddress xor_transform(const TransportAddress& a, const TransactionId& id) noexcept {
    // Key bytes: magic cookie (4) followed by the transaction id (12), RFC 8489 §14.2.
    TransportAddress out = a;
    out.port = static_cast<std::uint16_t>(a.port ^ (magic_cookie >> 16));
    const auto* ip = reinterpret_cast<const std::byte*>(a.ip.data());
    auto* xored = reinterpret_cast<std::byte*>(out.ip.data());
    store_be32(xored, load_be32(ip) ^ magic_cookie);
    if (a.family == Family::ipv6) {
        for (std::size_t i = 0; i < id.size(); ++i)
            xored[4 + i] = ip[4 + i] ^ id[i];
    }
    return out;
}

} // namespace traverse::proto
