// SPDX-License-Identifier: Apache-2.0
// natcheck's sockets: address conversion, name resolution, UDP sockets, TCP/TLS streams.
#pragma once

#include "proto/address.hpp"

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace traverse::natcheck {

using Clock = std::chrono::steady_clock;
using proto::TransportAddress;

/// sockaddr form of an address.
struct SockAddr {
    sockaddr_storage storage{};
    socklen_t length = 0;
    const sockaddr* sa() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

SockAddr to_sockaddr(const TransportAddress& a) noexcept;
TransportAddress from_sockaddr(const sockaddr_storage& s) noexcept;

/// Resolves host (name or literal) to its addresses, IPv4 first; empty and error set on failure.
std::vector<TransportAddress> resolve(const std::string& host, std::uint16_t port,
                                      std::string& error);

/// The local address the OS would use to reach destination (a routing lookup, nothing sent).
std::optional<TransportAddress> route_source(const TransportAddress& destination);

/// A UDP socket bound to local (port 0: ephemeral); -1 on failure (errno set). Closes itself.
class UdpSocket {
public:
    UdpSocket() = default;
    explicit UdpSocket(const TransportAddress& local);
    UdpSocket(UdpSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    UdpSocket& operator=(UdpSocket&& other) noexcept;
    UdpSocket(const UdpSocket&) = delete;
    UdpSocket& operator=(const UdpSocket&) = delete;
    ~UdpSocket();

    int fd() const noexcept { return fd_; }
    bool ok() const noexcept { return fd_ >= 0; }
    TransportAddress local() const;
    bool send_to(const TransportAddress& to, std::span<const std::byte> bytes) const;

private:
    int fd_ = -1;
};

/// TLS settings for stream connections.
struct TlsOptions {
    std::string server_name; ///< host name for SNI and verification (empty for IP literals)
    std::string ca_file;     ///< trust anchors (empty: system store)
    bool verify = true;      ///< false: --insecure
};

/// A TCP or TLS connection that reads whole STUN / ChannelData frames.
class StreamConn {
public:
    StreamConn() = default;
    StreamConn(const StreamConn&) = delete;
    StreamConn& operator=(const StreamConn&) = delete;
    ~StreamConn();

    /// Connects (and handshakes for TLS) before deadline; false with error on failure.
    bool open(const TransportAddress& to, const TlsOptions* tls, Clock::time_point deadline,
              std::string& error);
    bool send(std::span<const std::byte> bytes, std::string& error);
    /// The next whole frame, or nullopt on timeout (error empty) or failure (error set).
    std::optional<std::vector<std::byte>> receive(Clock::time_point deadline, std::string& error);
    TransportAddress local() const;
    int fd() const noexcept { return fd_; }

private:
    bool wait(short events, Clock::time_point deadline);
    void close_all();

    int fd_ = -1;
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    std::vector<std::byte> buffer_;
};

/// Milliseconds from now to deadline, clamped to 0..int max (poll's timeout).
int millis_until(Clock::time_point deadline) noexcept;

} // namespace traverse::natcheck
