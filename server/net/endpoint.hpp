// SPDX-License-Identifier: Apache-2.0
// Conversions between socket addresses (POSIX and Asio) and proto::TransportAddress.
#pragma once

#include "proto/address.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <sys/socket.h>

namespace traverse::net {

/// Reads an AF_INET/AF_INET6 sockaddr; IPv4-mapped IPv6 addresses stay IPv6. False otherwise.
bool from_sockaddr(const sockaddr* sa, proto::TransportAddress& out) noexcept;
/// Writes `a` as sockaddr_in/sockaddr_in6 into the front of `out`; returns the length used
/// (bytes of `out` past it are not touched).
socklen_t to_sockaddr(const proto::TransportAddress& a, sockaddr_storage& out) noexcept;

proto::TransportAddress from_endpoint(const boost::asio::ip::tcp::endpoint& ep) noexcept;
boost::asio::ip::address to_asio_address(const proto::TransportAddress& a);

} // namespace traverse::net
