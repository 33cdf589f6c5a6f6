// SPDX-License-Identifier: Apache-2.0
// Socket address conversions; all copies, no allocation.
#include "server/net/endpoint.hpp"

#include <cstring>
#include <netinet/in.h>

namespace traverse::net {

bool from_sockaddr(const sockaddr* sa, proto::TransportAddress& out) noexcept {
    if (sa->sa_family == AF_INET) {
        sockaddr_in sin;
        std::memcpy(&sin, sa, sizeof sin);
        out.family = proto::Family::ipv4;
        out.ip = {};
        std::memcpy(out.ip.data(), &sin.sin_addr, 4);
        out.port = ntohs(sin.sin_port);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        sockaddr_in6 sin6;
        std::memcpy(&sin6, sa, sizeof sin6);
        out.family = proto::Family::ipv6;
        std::memcpy(out.ip.data(), &sin6.sin6_addr, 16);
        out.port = ntohs(sin6.sin6_port);
        return true;
    }
    return false;
}

socklen_t to_sockaddr(const proto::TransportAddress& a, sockaddr_storage& out) noexcept {
    // Only the returned length is meaningful; the rest of `out` is left as it was.
    if (a.family == proto::Family::ipv4) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(a.port);
        std::memcpy(&sin.sin_addr, a.ip.data(), 4);
        std::memcpy(&out, &sin, sizeof sin);
        return sizeof sin;
    }
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(a.port);
    std::memcpy(&sin6.sin6_addr, a.ip.data(), 16);
    std::memcpy(&out, &sin6, sizeof sin6);
    return sizeof sin6;
}

proto::TransportAddress from_endpoint(const boost::asio::ip::tcp::endpoint& ep) noexcept {
    proto::TransportAddress a;
    from_sockaddr(ep.data(), a);
    return a;
}

boost::asio::ip::address to_asio_address(const proto::TransportAddress& a) {
    if (a.family == proto::Family::ipv4) {
        boost::asio::ip::address_v4::bytes_type b;
        std::memcpy(b.data(), a.ip.data(), 4);
        return boost::asio::ip::address_v4(b);
    }
    boost::asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), a.ip.data(), 16);
    return boost::asio::ip::address_v6(b);
}

} // namespace traverse::net
