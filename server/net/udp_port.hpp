// SPDX-License-Identifier: Apache-2.0
// One UDP socket drained with recvmmsg on readiness and written with sendmmsg.
#pragma once

#include "proto/address.hpp"
#include "server/net/socket.hpp"

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <sys/socket.h>

namespace traverse::net {

/// A datagram as received: payload (in the port's receive slot) and source. The slot has
/// ReceiveBatch::headroom writable bytes in front of `data` and ReceiveBatch::tailroom after it,
/// so a receiver can add headers in place instead of copying the payload.
struct ReceivedDatagram {
    std::span<std::byte> data;
    proto::TransportAddress from;
};

/// A datagram to send.
struct OutgoingDatagram {
    std::span<const std::byte> data;
    proto::TransportAddress to;
    /// May leave in one UDP GSO send with the datagrams next to it that go to the same
    /// destination with the same size (see UdpPort::send). Set for relayed payloads only.
    bool coalesce = false;
};

/// Receives batches from a UdpPort. Called on the port's io_context thread; the spans are valid
/// only during the call.
/// An ICMP error the kernel reported for a datagram this socket sent (IP_RECVERR).
struct IcmpError {
    proto::TransportAddress peer; ///< destination of the datagram that caused it
    std::uint8_t type = 0;        ///< ICMP or ICMPv6 type
    std::uint8_t code = 0;
    std::uint32_t info = 0; ///< e.g. the next-hop MTU for "fragmentation needed"
};

class DatagramSink {
public:
    virtual void on_datagrams(std::uint32_t tag, std::span<const ReceivedDatagram> batch) = 0;
    /// ICMP errors, only for ports with enable_icmp_errors(); ignored by default.
    virtual void on_icmp_error(std::uint32_t /*tag*/, const IcmpError& /*error*/) {}
    /// The kernel dropped `dropped` more datagrams on this socket because its receive buffer
    /// was full; reported by UdpPort::poll_drops(), which the worker calls once a second.
    virtual void on_receive_drops(std::uint32_t /*tag*/, std::uint64_t /*dropped*/) {}

protected:
    ~DatagramSink() = default;
};

/// Receive slots and message headers for recvmmsg, shared by every UdpPort of one thread: a
/// drain uses them synchronously, so one set per worker serves thousands of relay sockets.
struct ReceiveBatch {
    static constexpr std::size_t batch_size = 64; ///< messages per recvmmsg call
    /// Largest datagram accepted: a jumbo-frame payload; larger datagrams are truncated by the
    /// kernel and dropped.
    static constexpr std::size_t payload_bytes = 9216;
    /// Room in front of each payload for ChannelData or Data-indication headers.
    static constexpr std::size_t headroom = 64;
    /// Room after each payload for padding to a multiple of four bytes.
    static constexpr std::size_t tailroom = 64;
    static constexpr std::size_t slot_bytes = headroom + payload_bytes + tailroom;
    std::array<std::array<std::byte, slot_bytes>, batch_size> slots;
    std::array<sockaddr_storage, batch_size> names;
    std::array<iovec, batch_size> iovecs;
    std::array<mmsghdr, batch_size> headers;
    std::array<ReceivedDatagram, batch_size> received;

    /// Points every header at its slot and name buffer once; recvmmsg rewrites only the
    /// lengths and flags, which rearm() resets before each call.
    ReceiveBatch() noexcept;
    ReceiveBatch(const ReceiveBatch&) = delete;
    ReceiveBatch& operator=(const ReceiveBatch&) = delete;
    void rearm() noexcept;
};

/// Readiness-driven UDP reader (Asio's third-party-library pattern): wait for readability, then
/// drain with recvmmsg until EAGAIN or the per-wake-up budget, posting a continuation when the
/// budget runs out so no readiness edge is lost.
class UdpPort {
public:
    static constexpr std::size_t batch_size = ReceiveBatch::batch_size;
    static constexpr std::size_t wakeup_budget = 512; ///< datagrams drained per readiness event

    /// `tag` is handed to the sink with every batch (a listener index or a relay id); `batch`
    /// must outlive the port and belong to the same thread. The port owns `socket.fd` and, when
    /// set, `socket.send_fd`: a send-only twin (open_udp_sender) that every send then uses.
    ///
    /// Why a twin: the socket Asio waits on has an epoll entry on its wait queue, and the kernel
    /// runs its write-space wake-up through that entry each time it frees a sent datagram (two
    /// spinlocks with interrupts off per datagram; about 4% of a core per Binding answer on the
    /// benchmark machines). No epoll watches the twin, so sending from it costs none of it.
    UdpPort(boost::asio::io_context& io, BoundSocket socket, std::uint32_t tag, DatagramSink& sink,
            ReceiveBatch& batch);
    UdpPort(const UdpPort&) = delete;
    UdpPort& operator=(const UdpPort&) = delete;
    ~UdpPort();

    /// Serves what the twin received before it was connected, then waits for readability.
    void start();
    void close();
    /// Asks the kernel to queue ICMP errors for this socket (IP_RECVERR / IPV6_RECVERR); they
    /// reach the sink's on_icmp_error. Used on relay sockets (RFC 8656 §11).
    void enable_icmp_errors() noexcept;
    /// Sends with sendmmsg; returns how many datagrams the kernel did not take (dropped).
    ///
    /// Runs of `coalesce` datagrams to one destination, all of one size (the last may be
    /// shorter), leave as one message with UDP_SEGMENT (UDP GSO): the kernel builds and routes
    /// one buffer and cuts it into the same datagrams on the way out, instead of doing the whole
    /// send path once per datagram. A media stream relayed to one client at a high rate gives
    /// such runs (datagrams up to 1400 bytes). If the kernel refuses a GSO send (EINVAL, EIO:
    /// e.g. IPsec, or segments larger than the path MTU), that run is sent datagram by datagram;
    /// after 8 refusals the socket stops trying.
    std::size_t send(std::span<const OutgoingDatagram> datagrams) noexcept;
    /// Largest number of datagrams in one GSO send (the kernel's UDP_MAX_SEGMENTS is 64 or
    /// more).
    static constexpr std::size_t max_segments = 64;
    /// Sends every datagram on its own from now on (relay.udp_gso: false).
    void disable_gso() noexcept { gso_off_ = true; }
    /// Reads the socket's receive-drop total (SO_MEMINFO, the `drops` column of /proc/net/udp)
    /// and reports any growth since the last call to the sink's on_receive_drops.
    ///
    /// Why polled and not SO_RXQ_OVFL: that control message makes the kernel run its cmsg path
    /// for every datagram received (about 3% of the server's CPU per Binding answer), to
    /// report an event that only happens under overload.
    void poll_drops() noexcept;

    const proto::TransportAddress& local() const noexcept { return local_; }

private:
    void do_wait();
    void drain();
    /// One recvmmsg on fd into the batch, handing the datagrams to the sink; its result.
    int receive(int fd);
    void drain_errors() noexcept;

    boost::asio::ip::udp::socket socket_;
    proto::TransportAddress local_;
    std::uint32_t tag_;
    DatagramSink& sink_;
    ReceiveBatch& batch_;
    int send_fd_ = -1; ///< the send-only twin, or -1: send on socket_
    bool icmp_errors_ = false;
    bool gso_off_ = false;           ///< no more GSO on this socket
    std::uint32_t gso_refusals_ = 0; ///< GSO sends the kernel refused on this socket
    std::uint32_t drops_seen_ = 0;   ///< the kernel's drop total at the last poll_drops()
};

} // namespace traverse::net
