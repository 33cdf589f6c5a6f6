// SPDX-License-Identifier: Apache-2.0
// recvmmsg/sendmmsg batching under Asio readiness notifications.
#include "server/net/udp_port.hpp"

#include "server/net/endpoint.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <linux/errqueue.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <unistd.h>

namespace traverse::net {

namespace asio = boost::asio;

ReceiveBatch::ReceiveBatch() noexcept {
    for (std::size_t i = 0; i < batch_size; ++i) {
        iovecs[i] = iovec{slots[i].data() + headroom, payload_bytes};
        headers[i].msg_hdr = msghdr{};
        headers[i].msg_hdr.msg_name = &names[i];
        headers[i].msg_hdr.msg_iov = &iovecs[i];
        headers[i].msg_hdr.msg_iovlen = 1;
    }
    rearm();
}

void ReceiveBatch::rearm() noexcept {
    for (auto& h : headers) {
        h.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        h.msg_hdr.msg_flags = 0;
        h.msg_len = 0;
    }
}

UdpPort::UdpPort(asio::io_context& io, BoundSocket socket, std::uint32_t tag, DatagramSink& sink,
                 ReceiveBatch& batch)
    : socket_(io), local_(socket.local), tag_(tag), sink_(sink), batch_(batch),
      send_fd_(socket.send_fd) {
    auto protocol =
        local_.family == proto::Family::ipv4 ? asio::ip::udp::v4() : asio::ip::udp::v6();
    socket_.assign(protocol, socket.fd);
    socket_.non_blocking(true);
}

UdpPort::~UdpPort() {
    if (send_fd_ >= 0) ::close(send_fd_);
}

void UdpPort::start() {
    // Between its bind and its connect the twin was an unconnected socket on the listener's
    // address and may have been handed a datagram: serve whatever it holds; it never receives
    // again.
    if (send_fd_ >= 0) {
        while (receive(send_fd_) == static_cast<int>(batch_size)) {
        }
    }
    do_wait();
}

void UdpPort::close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    if (send_fd_ >= 0) ::close(send_fd_);
    send_fd_ = -1;
}

void UdpPort::enable_icmp_errors() noexcept {
    int one = 1;
    int fd = socket_.native_handle();
    if (local_.family == proto::Family::ipv4)
        icmp_errors_ = ::setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one) == 0;
    else
        icmp_errors_ = ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one) == 0;
}

void UdpPort::drain_errors() noexcept {
    // Bounded: the error queue holds what the kernel queued since the last drain.
    for (int i = 0; i < 64; ++i) {
        sockaddr_storage name{};
        char control[512];
        std::byte payload[64];
        iovec iov{payload, sizeof payload};
        msghdr msg{};
        msg.msg_name = &name;
        msg.msg_namelen = sizeof name;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        if (::recvmsg(socket_.native_handle(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
            const bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
            const bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
            if (!v4 && !v6) continue;
            sock_extended_err ee;
            std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
            if (ee.ee_origin != SO_EE_ORIGIN_ICMP && ee.ee_origin != SO_EE_ORIGIN_ICMP6) continue;
            IcmpError error;
            if (!from_sockaddr(reinterpret_cast<const sockaddr*>(&name), error.peer)) continue;
            error.type = ee.ee_type;
            error.code = ee.ee_code;
            error.info = ee.ee_info;
            sink_.on_icmp_error(tag_, error);
        }
    }
}

void UdpPort::do_wait() {
    socket_.async_wait(asio::ip::udp::socket::wait_read, [this](boost::system::error_code ec) {
        if (ec) return; // closed: the worker is stopping
        drain();
    });
}

int UdpPort::receive(int fd) {
    auto& b = batch_;
    b.rearm();
    const int n =
        ::recvmmsg(fd, b.headers.data(), static_cast<unsigned>(batch_size), MSG_DONTWAIT, nullptr);
    std::size_t count = 0;
    for (int i = 0; i < n; ++i) {
        auto& h = b.headers[static_cast<std::size_t>(i)];
        // A truncated datagram is larger than any STUN/TURN message we accept: drop it here.
        if (h.msg_hdr.msg_flags & MSG_TRUNC) continue;
        ReceivedDatagram& r = b.received[count];
        if (!from_sockaddr(static_cast<const sockaddr*>(h.msg_hdr.msg_name), r.from)) continue;
        r.data = std::span<std::byte>(
            b.slots[static_cast<std::size_t>(i)].data() + ReceiveBatch::headroom, h.msg_len);
        ++count;
    }
    if (count > 0) sink_.on_datagrams(tag_, {b.received.data(), count});
    return n;
}

void UdpPort::drain() {
    std::size_t drained = 0;
    while (drained < wakeup_budget) {
        const int n = receive(socket_.native_handle());
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                // With IP_RECVERR the ICMP error also sits in the error queue; read it there,
                // or the socket would stay in the error state and wake us forever.
                if (icmp_errors_) drain_errors();
                // ICMP-reported errors (ECONNREFUSED) surface here on Linux; they concern a
                // previous send and must not stop the reader; each one still spends budget.
                ++drained;
                continue;
            }
            // Woken with nothing to read: readiness came from a queued error (EPOLLERR stays
            // set while the error queue is not empty), so empty it.
            if (icmp_errors_ && drained == 0) drain_errors();
            break;
        }
        drained += static_cast<std::size_t>(n);
        if (static_cast<std::size_t>(n) < batch_size) {
            do_wait();
            return;
        }
    }
    if (drained >= wakeup_budget) {
        // Budget spent with data possibly still queued: yield to other handlers, then continue
        // draining without waiting for a new readiness edge.
        asio::post(socket_.get_executor(), [this] {
            if (socket_.is_open()) drain();
        });
        return;
    }
    do_wait();
}

void UdpPort::poll_drops() noexcept {
    std::uint32_t meminfo[SK_MEMINFO_VARS] = {};
    socklen_t len = sizeof meminfo;
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_MEMINFO, meminfo, &len) != 0 ||
        len < sizeof(std::uint32_t) * (SK_MEMINFO_DROPS + 1))
        return;
    const std::uint32_t total = meminfo[SK_MEMINFO_DROPS];
    const std::uint32_t delta = total - drops_seen_; // the kernel's counter wraps at 2^32
    drops_seen_ = total;
    if (delta != 0) sink_.on_receive_drops(tag_, delta);
}

namespace {

// The most bytes one GSO send may carry: a UDP datagram's payload limit over IPv4.
constexpr std::size_t max_gso_bytes = 65507;
// Largest datagram coalesced: each segment must fit the path MTU (the kernel refuses the send
// otherwise), and 1400 bytes fit a 1500-byte MTU with IPv6 and tunnel headers to spare. Media
// relayed for WebRTC stays below about 1200 bytes.
constexpr std::size_t max_gso_segment = 1400;
// GSO refusals on one socket before it stops trying.
constexpr std::uint32_t gso_refusals_to_give_up = 8;

// How many datagrams from `first` may leave as one GSO send: same destination, same size, the
// last one possibly shorter, within the segment and byte limits. 1 means "send it alone".
std::size_t gso_run(std::span<const OutgoingDatagram> d, std::size_t first,
                    std::size_t limit) noexcept {
    const OutgoingDatagram& head = d[first];
    if (!head.coalesce || head.data.empty() || head.data.size() > max_gso_segment) return 1;
    const std::size_t size = head.data.size();
    std::size_t n = 1;
    std::size_t bytes = size;
    while (first + n < d.size() && n < limit) {
        const OutgoingDatagram& next = d[first + n];
        if (!next.coalesce || !(next.to == head.to) || next.data.size() > size ||
            next.data.empty() || bytes + next.data.size() > max_gso_bytes)
            break;
        bytes += next.data.size();
        ++n;
        if (next.data.size() < size) break; // a shorter one can only be the last
    }
    return n;
}

} // namespace

std::size_t UdpPort::send(std::span<const OutgoingDatagram> datagrams) noexcept {
    constexpr std::size_t control_bytes = CMSG_SPACE(sizeof(std::uint16_t));
    std::size_t dropped = 0;
    std::array<mmsghdr, batch_size> headers;
    std::array<std::size_t, batch_size> counts; // datagrams per message
    std::array<iovec, 2 * batch_size> iovecs;
    std::array<sockaddr_storage, batch_size> names;
    alignas(cmsghdr) std::array<std::array<std::byte, control_bytes>, batch_size> controls;
    const int fd = send_fd_ >= 0 ? send_fd_ : socket_.native_handle();
    std::size_t plain_until = 0; // datagrams before this index go one by one (a refused run)
    while (!datagrams.empty()) {
        // Messages for this sendmmsg call: each one datagram, or a GSO run of several.
        std::size_t messages = 0;
        std::size_t used = 0; // datagrams covered
        std::size_t iov = 0;
        while (used < datagrams.size() && messages < batch_size && iov < iovecs.size()) {
            const std::size_t limit = std::min(max_segments, iovecs.size() - iov);
            const bool may_coalesce = datagrams[used].coalesce && !gso_off_ && used >= plain_until;
            const std::size_t run = may_coalesce ? gso_run(datagrams, used, limit) : 1;
            msghdr& m = headers[messages].msg_hdr;
            m = msghdr{};
            m.msg_name = &names[messages];
            m.msg_namelen = to_sockaddr(datagrams[used].to, names[messages]);
            m.msg_iov = &iovecs[iov];
            m.msg_iovlen = run;
            for (std::size_t k = 0; k < run; ++k) {
                const auto& d = datagrams[used + k].data;
                iovecs[iov + k] = iovec{const_cast<std::byte*>(d.data()), d.size()};
            }
            if (run > 1) {
                m.msg_control = controls[messages].data();
                m.msg_controllen = control_bytes;
                cmsghdr* c = CMSG_FIRSTHDR(&m);
                c->cmsg_level = SOL_UDP;
                c->cmsg_type = UDP_SEGMENT;
                c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
                const auto segment = static_cast<std::uint16_t>(datagrams[used].data.size());
                std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
            }
            counts[messages] = run;
            iov += run;
            used += run;
            ++messages;
        }
        int sent = ::sendmmsg(fd, headers.data(), static_cast<unsigned>(messages), MSG_DONTWAIT);
        if (sent <= 0) {
            if (sent < 0 && errno == EINTR) continue;
            if (sent < 0 && counts[0] > 1 && (errno == EINVAL || errno == EIO)) {
                // The kernel refused GSO for this run (path MTU, IPsec, ...): send the same
                // datagrams one by one; a socket refused again and again stops trying.
                plain_until = counts[0];
                gso_off_ = ++gso_refusals_ >= gso_refusals_to_give_up;
                continue;
            }
            // EAGAIN (socket buffer full) or a per-destination error on the first message: drop
            // that message and go on. TODO(perf): wait for writability instead of dropping.
            dropped += counts[0];
            plain_until -= std::min(plain_until, counts[0]);
            datagrams = datagrams.subspan(counts[0]);
            continue;
        }
        std::size_t done = 0;
        for (int i = 0; i < sent; ++i)
            done += counts[static_cast<std::size_t>(i)];
        plain_until -= std::min(plain_until, done);
        datagrams = datagrams.subspan(done);
    }
    return dropped;
}

} // namespace traverse::net
