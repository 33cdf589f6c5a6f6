// SPDX-License-Identifier: Apache-2.0
// A worker's relay sockets: its slice of the relay port range, EVEN-PORT reservations, readers.
#pragma once

#include "monitoring/stats.hpp"
#include "server/net/udp_port.hpp"
#include "server/turn/ports.hpp"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

namespace traverse::worker {

/// Ports held by EVEN-PORT reservations (RFC 8656 §7.2), shared by all workers: the Allocate
/// that redeems a token may arrive on another worker (another 5-tuple, another SO_REUSEPORT
/// hash). A reserved port is a bound socket not yet attached to any io_context, so whichever
/// worker redeems it adopts it. Touched only by EVEN-PORT and RESERVATION-TOKEN requests.
class ReservationRegistry {
public:
    ~ReservationRegistry();
    void add(std::uint64_t token, net::BoundSocket socket,
             std::chrono::steady_clock::time_point expires);
    /// Removes and returns the reserved socket; nullopt if unknown or expired.
    std::optional<net::BoundSocket> take(std::uint64_t token,
                                         std::chrono::steady_clock::time_point now);
    /// Closes reservations past their expiry.
    void expire(std::chrono::steady_clock::time_point now);
    std::size_t size() const;

private:
    struct Reservation {
        net::BoundSocket socket;
        std::chrono::steady_clock::time_point expires;
    };
    mutable std::mutex mutex_; // guards reservations_
    std::unordered_map<std::uint64_t, Reservation> reservations_;
};

/// One relay address family: where relay sockets bind and what the client is told.
struct RelayAddress {
    proto::TransportAddress bind;     ///< local IP to bind (port ignored)
    proto::TransportAddress external; ///< reported in XOR-RELAYED-ADDRESS (port ignored)
};

/// Relay settings of one worker.
struct RelayPoolOptions {
    std::optional<RelayAddress> ipv4;
    std::optional<RelayAddress> ipv6;
    std::uint16_t port_min = 49152; ///< this worker's slice, inclusive
    std::uint16_t port_max = 65535;
    std::chrono::seconds reservation_lifetime{30}; ///< RFC 8656 §7.2: about 30 seconds
    int receive_buffer_bytes = 256 * 1024;
    bool udp_gso = true; ///< relay sockets may coalesce runs (UdpPort::send); relay.udp_gso
};

/// Implements turn::RelayOpener with real UDP sockets, one per allocation (inherent to TURN: the
/// relayed address must be the source of what reaches the peer). Single-threaded: the worker's.
class RelayPool final : public turn::RelayOpener {
public:
    /// `counters` (optional) receives the relay_ports and relay_ports_free gauges.
    RelayPool(boost::asio::io_context& io, RelayPoolOptions options, net::DatagramSink& sink,
              net::ReceiveBatch& batch, ReservationRegistry& reservations,
              stats::WorkerCounters* counters = nullptr);

    turn::RelayOpenResult open(const turn::RelayRequest& request) override;
    void close(turn::RelayId id) override;

    /// The socket of a relay id, or null.
    net::UdpPort* port(turn::RelayId id) noexcept {
        return id < ports_.size() ? ports_[id].get() : nullptr;
    }
    /// Frees closed ports and expired reservations, and polls up to drop_polls_per_tick
    /// relay sockets for kernel receive drops; call about once a second.
    void on_tick(std::chrono::steady_clock::time_point now);
    std::size_t open_count() const noexcept { return open_; }
    static constexpr std::size_t drop_polls_per_tick = 1024;
    std::size_t free_ports() const noexcept;

private:
    std::optional<net::BoundSocket> bind_port(const RelayAddress& where, std::uint16_t port,
                                              bool dont_fragment);
    turn::RelayGrant adopt(net::BoundSocket socket, const RelayAddress& where);
    void publish() noexcept;

    boost::asio::io_context& io_;
    RelayPoolOptions options_;
    net::DatagramSink& sink_;
    net::ReceiveBatch& batch_;
    /// A free port of the slice to try next: random, then the next one not held by this pool.
    std::optional<std::uint16_t> pick_port(bool even);
    void mark(std::uint16_t port, bool used) noexcept;
    /// Grows Asio's per-descriptor pool for the whole slice up front (see the definition).
    void reserve_reactor_state();

    std::vector<std::unique_ptr<net::UdpPort>> ports_; ///< by RelayId; null when free
    std::vector<bool> held_; ///< by port - port_min: bound by this pool (relay or reservation)
    std::vector<turn::RelayId> free_ids_;
    /// Closed ports wait here one tick: their cancelled handlers still reference them.
    std::vector<std::unique_ptr<net::UdpPort>> graveyard_;
    ReservationRegistry& reservations_;
    std::mt19937_64 random_;
    std::size_t open_ = 0;
    std::size_t drop_poll_cursor_ = 0; ///< next RelayId whose drop count is polled
    stats::WorkerCounters* counters_;
};

} // namespace traverse::worker
