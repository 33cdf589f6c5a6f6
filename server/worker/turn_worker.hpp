// SPDX-License-Identifier: Apache-2.0
// A worker: one thread, one io_context, one engine, and the sockets it owns exclusively.
#pragma once

#include "monitoring/stats.hpp"
#include "server/net/stream.hpp"
#include "server/net/udp_port.hpp"
#include "server/turn/engine.hpp"
#include "server/worker/relay_pool.hpp"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

namespace traverse::worker {

/// Everything a worker is built from. `sockets[i]` is this worker's socket for listener i of
/// `listeners` (bound by the caller, in this worker's SO_REUSEPORT group).
struct WorkerSetup {
    unsigned index = 0;
    turn::EngineOptions engine;
    std::vector<turn::ListenerInfo> listeners;
    std::vector<net::BoundSocket> sockets;
    std::shared_ptr<boost::asio::ssl::context> tls; ///< null when no TLS listener
    net::StreamLimits limits;
    RelayPoolOptions relay;              ///< this worker's relay addresses and port slice
    bool udp_gso = true;                 ///< listeners may coalesce relayed runs (relay.udp_gso)
    turn::QuotaLedger* quotas = nullptr; ///< shared by all workers; outlives them
    ReservationRegistry* reservations = nullptr; ///< shared by all workers; outlives them
};

/// Runs one engine on one thread. Nothing on its datagram path is shared with other workers.
class TurnWorker final : public net::DatagramSink, public net::StreamSink {
public:
    TurnWorker(WorkerSetup setup, net::ConnectionLimiter& limiter);
    ~TurnWorker();
    TurnWorker(const TurnWorker&) = delete;
    TurnWorker& operator=(const TurnWorker&) = delete;

    /// Starts the thread; sockets begin serving.
    void start();
    /// Closes every socket and connection and joins the thread.
    void stop();

    const stats::WorkerCounters& counters() const noexcept { return counters_; }

    /// Reload: the engine's live settings and, when not null, a new TLS context for the TLS
    /// listeners. Runs on the worker thread; returns at once.
    void reconfigure(turn::EngineOptions options, std::shared_ptr<boost::asio::ssl::context> tls);
    /// Starts or ends draining (see turn::Engine::set_draining). Returns at once.
    void set_draining(bool draining, std::optional<proto::TransportAddress> alternate);
    /// Allocations this worker holds, as of its last tick or drain change (any thread).
    std::size_t allocations() const noexcept {
        return allocations_.load(std::memory_order_relaxed);
    }

private:
    /// Receives relay-socket batches (the tag is the RelayId) and hands them to the engine.
    struct RelayReceiver final : net::DatagramSink {
        TurnWorker& worker;
        explicit RelayReceiver(TurnWorker& w) : worker(w) {}
        void on_datagrams(std::uint32_t relay,
                          std::span<const net::ReceivedDatagram> batch) override;
        void on_icmp_error(std::uint32_t relay, const net::IcmpError& error) override;
        void on_receive_drops(std::uint32_t relay, std::uint64_t dropped) override;
    };

    void on_datagrams(std::uint32_t listener,
                      std::span<const net::ReceivedDatagram> batch) override;
    void on_receive_drops(std::uint32_t listener, std::uint64_t dropped) override;
    bool on_stream_frame(net::StreamConnection& connection,
                         std::span<const std::byte> frame) override;
    void on_stream_opened(net::StreamConnection& connection) override;
    void on_stream_closed(net::StreamConnection& connection, net::CloseReason reason) override;
    void on_stream_refused(const proto::TransportAddress& remote) override;
    bool may_close_idle(net::StreamConnection& connection) override;

    static turn::ClientContext context_of(const net::StreamConnection& connection);
    bool is_tls(const net::StreamConnection& connection) const noexcept;
    /// Listening sockets (UDP and stream) this worker serves.
    std::uint64_t listener_count() const noexcept;
    void flush();
    void close_all();
    void schedule_tick();
    /// Returns freed heap memory to the system once many allocations have ended.
    void return_memory() noexcept;
    static constexpr std::size_t trim_after_released = 1024;

    unsigned index_;
    stats::WorkerCounters counters_;
    boost::asio::io_context io_{1}; // concurrency hint 1: only this worker's thread runs it
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    net::ReceiveBatch batch_; // recvmmsg slots shared by every socket of this thread
    RelayReceiver relay_receiver_{*this};
    RelayPool relays_; // before engine_: the engine closes relays when it is destroyed
    turn::Engine engine_;
    boost::asio::steady_timer tick_timer_;
    turn::Outbox outbox_;
    std::vector<std::unique_ptr<net::UdpPort>> udp_;            // by listener index; null if stream
    std::vector<std::unique_ptr<net::StreamListener>> streams_; // by listener index; null if UDP
    std::unordered_map<std::uint64_t, std::weak_ptr<net::StreamConnection>> connections_;
    std::thread thread_;
    std::atomic<std::size_t> allocations_{0};
};

} // namespace traverse::worker
