// SPDX-License-Identifier: Apache-2.0
// Socket creation with plain syscalls, so the main thread can bind everything before workers start.
#include "server/net/socket.hpp"

#include "server/net/endpoint.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace traverse::net {
namespace {

std::string describe(const char* what, const proto::TransportAddress& at) {
    return std::string(what) + " " + at.to_string() + ": " + std::strerror(errno);
}

/// How a socket shares its address: alone, in the SO_REUSEPORT group (listeners), or beside the
/// group with SO_REUSEADDR only (a listener's send-only twin).
enum class Sharing { exclusive, reuse_port, reuse_addr };

OpenResult open_common(const proto::TransportAddress& at, int type, Sharing sharing) {
    OpenResult r;
    int domain = at.family == proto::Family::ipv4 ? AF_INET : AF_INET6;
    int fd = ::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r.error = describe("cannot create socket for", at);
        return r;
    }
    int one = 1;
    if (sharing == Sharing::reuse_port) {
        // Every worker binds its own socket to the same address; the kernel spreads by 4-tuple
        // hash.
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    }
    if (sharing != Sharing::exclusive) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // An IPv6 listener serves IPv6 only; IPv4 gets its own listener (explicit beats dual-stack).
    if (domain == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(at, ss);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        r.error = describe("cannot bind", at);
        ::close(fd);
        return r;
    }
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof bound;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
    from_sockaddr(reinterpret_cast<sockaddr*>(&bound), r.socket.local);
    r.socket.fd = fd;
    return r;
}

/// Sets a socket buffer size, best effort: the kernel caps SO_RCVBUF/SO_SNDBUF at
/// net.core.rmem_max/wmem_max; with CAP_NET_ADMIN the *FORCE variants go beyond the cap.
void set_buffer(int fd, int option, int force_option, int bytes) noexcept {
    ::setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes);
    int got = 0;
    socklen_t len = sizeof got;
    // The kernel reports twice the requested size (bookkeeping overhead included).
    if (::getsockopt(fd, SOL_SOCKET, option, &got, &len) == 0 && got / 2 < bytes)
        ::setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof bytes);
}

} // namespace

OpenResult open_udp(const proto::TransportAddress& at, int receive_buffer_bytes, bool reuse_port) {
    OpenResult r =
        open_common(at, SOCK_DGRAM, reuse_port ? Sharing::reuse_port : Sharing::exclusive);
    if (!r.ok()) return r;
    set_buffer(r.socket.fd, SO_RCVBUF, SO_RCVBUFFORCE, receive_buffer_bytes);
    // Listeners send every peer->client datagram of their worker: a send buffer as large as
    // the receive buffer absorbs bursts that would otherwise fail with EAGAIN and be dropped.
    if (reuse_port) set_buffer(r.socket.fd, SO_SNDBUF, SO_SNDBUFFORCE, receive_buffer_bytes);
    return r;
}

OpenResult open_udp_sender(const proto::TransportAddress& at, int send_buffer_bytes) {
    // SO_REUSEADDR only: outside the SO_REUSEPORT group. A connected member would make the
    // kernel give up the group's plain hash spread for per-socket scoring, which can send every
    // client to one worker.
    OpenResult r = open_common(at, SOCK_DGRAM, Sharing::reuse_addr);
    if (!r.ok()) return r;
    set_buffer(r.socket.fd, SO_SNDBUF, SO_SNDBUFFORCE, send_buffer_bytes);
    int smallest = 1; // the kernel rounds it up to its minimum: nothing is read from it
    ::setsockopt(r.socket.fd, SOL_SOCKET, SO_RCVBUF, &smallest, sizeof smallest);
    sockaddr_storage ss;
    const socklen_t len = to_sockaddr(at, ss);
    if (::connect(r.socket.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        r.error = describe("cannot connect the sending socket of", at);
        ::close(r.socket.fd);
        r.socket.fd = -1;
    }
    return r;
}

OpenResult open_tcp_listener(const proto::TransportAddress& at, int backlog) {
    OpenResult r = open_common(at, SOCK_STREAM, Sharing::reuse_port);
    if (!r.ok()) return r;
    if (::listen(r.socket.fd, backlog) != 0) {
        r.error = describe("cannot listen on", at);
        ::close(r.socket.fd);
        r.socket.fd = -1;
    }
    return r;
}

} // namespace traverse::net
