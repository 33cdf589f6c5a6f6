// SPDX-License-Identifier: Apache-2.0
// Worker glue: datagram batches and stream frames into the engine, the outbox out to sockets.
#include "server/worker/turn_worker.hpp"

#include "server/base/log.hpp"

#include <algorithm>
#include <array>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <boost/asio/post.hpp>

namespace traverse::worker {
namespace {

static_assert(net::ReceiveBatch::headroom >= turn::Engine::peer_headroom &&
                  net::ReceiveBatch::tailroom >= turn::Engine::peer_tailroom,
              "receive slots must leave the engine room to wrap payloads in place");

/// The receive slot around a datagram, as the engine sees it (valid until the next drain).
turn::MutableDatagram in_slot(const net::ReceivedDatagram& d) noexcept {
    return turn::MutableDatagram{std::span<std::byte>(d.data.data() - net::ReceiveBatch::headroom,
                                                      net::ReceiveBatch::headroom + d.data.size() +
                                                          net::ReceiveBatch::tailroom),
                                 net::ReceiveBatch::headroom, d.data.size()};
}

} // namespace

TurnWorker::TurnWorker(WorkerSetup setup, net::ConnectionLimiter& limiter)
    : index_(setup.index), work_(io_.get_executor()),
      relays_(io_, std::move(setup.relay), relay_receiver_, batch_, *setup.reservations,
              &counters_),
      engine_(std::move(setup.engine), setup.listeners, counters_, &relays_, setup.quotas),
      tick_timer_(io_) {
    const auto& table = engine_.listeners();
    udp_.resize(table.size());
    streams_.resize(table.size());
    for (std::uint32_t i = 0; i < table.size(); ++i) {
        if (table[i].transport == turn::Transport::udp) {
            udp_[i] = std::make_unique<net::UdpPort>(io_, setup.sockets[i], i, *this, batch_);
            if (!setup.udp_gso) udp_[i]->disable_gso();
        } else {
            auto tls = table[i].transport == turn::Transport::tls ? setup.tls : nullptr;
            streams_[i] = std::make_unique<net::StreamListener>(io_, setup.sockets[i], i, tls,
                                                                setup.limits, limiter, *this);
        }
    }
}

TurnWorker::~TurnWorker() {
    stop();
}

void TurnWorker::start() {
    // Here, once every port exists: start() answers what a listener's twin may hold at once.
    for (auto& p : udp_)
        if (p) p->start();
    for (auto& s : streams_)
        if (s) s->start();
    stats::set(counters_.listeners_bound, listener_count());
    schedule_tick();
    thread_ = std::thread([this] { io_.run(); });
}

void TurnWorker::schedule_tick() {
    // One coarse timer per worker expires allocations, permissions, channels and reservations.
    tick_timer_.expires_after(std::chrono::seconds(1));
    tick_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        const auto now = turn::Clock::now();
        engine_.on_tick(now);
        relays_.on_tick(now);
        for (auto& p : udp_)
            if (p) p->poll_drops();
        allocations_.store(engine_.allocation_count(), std::memory_order_relaxed);
        return_memory();
        schedule_tick();
    });
}

void TurnWorker::reconfigure(turn::EngineOptions options,
                             std::shared_ptr<boost::asio::ssl::context> tls) {
    boost::asio::post(io_, [this, options = std::move(options), tls = std::move(tls)] {
        engine_.reconfigure(options);
        if (!tls) return;
        for (auto& s : streams_)
            if (s) s->set_tls(tls);
    });
}

void TurnWorker::set_draining(bool draining, std::optional<proto::TransportAddress> alternate) {
    boost::asio::post(io_, [this, draining, alternate] {
        engine_.set_draining(draining, alternate);
        allocations_.store(engine_.allocation_count(), std::memory_order_relaxed);
    });
}

void TurnWorker::return_memory() noexcept {
    // After many allocations ended (mass expiry, a client fleet leaving), give the freed heap
    // pages back to the system: glibc keeps them in this thread's arena otherwise, so RSS would
    // stay at the peak. Cheap enough once a second only when a thousand allocations went away.
    if (engine_.allocation_high_water() - engine_.allocation_count() < trim_after_released) return;
    engine_.reset_high_water();
#if defined(__GLIBC__)
    ::malloc_trim(0);
#endif
}

void TurnWorker::stop() {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] {
        close_all();
        io_.stop();
    });
    thread_.join();
}

std::uint64_t TurnWorker::listener_count() const noexcept {
    std::uint64_t n = 0;
    for (const auto& p : udp_)
        n += p ? 1 : 0;
    for (const auto& s : streams_)
        n += s ? 1 : 0;
    return n;
}

void TurnWorker::close_all() {
    stats::set(counters_.listeners_bound, 0);
    tick_timer_.cancel();
    for (auto& p : udp_)
        if (p) p->close();
    for (auto& s : streams_)
        if (s) s->close();
    // Copy first: closing a connection erases it from the map through on_stream_closed.
    std::vector<std::shared_ptr<net::StreamConnection>> open;
    for (auto& [id, weak] : connections_)
        if (auto c = weak.lock()) open.push_back(std::move(c));
    for (auto& c : open)
        c->close(net::CloseReason::shutdown);
}

void TurnWorker::on_datagrams(std::uint32_t listener,
                              std::span<const net::ReceivedDatagram> batch) {
    stats::add(counters_.datagrams_received, batch.size());
    const auto now = turn::Clock::now();
    turn::ClientContext from;
    from.listener = listener;
    for (const auto& d : batch) {
        from.client = d.from;
        engine_.on_client_datagram(now, from, in_slot(d), outbox_);
    }
    flush();
}

turn::ClientContext TurnWorker::context_of(const net::StreamConnection& connection) {
    turn::ClientContext from;
    from.listener = connection.listener();
    from.connection = connection.id();
    from.client = connection.remote();
    return from;
}

void TurnWorker::RelayReceiver::on_datagrams(std::uint32_t relay,
                                             std::span<const net::ReceivedDatagram> batch) {
    const auto now = turn::Clock::now();
    for (const auto& d : batch)
        worker.engine_.on_peer_datagram(now, relay, d.from, in_slot(d), worker.outbox_);
    worker.flush();
}

void TurnWorker::on_receive_drops(std::uint32_t listener, std::uint64_t dropped) {
    stats::add(counters_.kernel_drops_listener, dropped);
    TRAVERSE_LOG_LIMITED(warn, "worker", turn::Clock::now(),
                         "kernel dropped datagrams: receive buffer full", {"dropped", dropped},
                         {"listener", listener}, {"worker", index_});
}

void TurnWorker::RelayReceiver::on_receive_drops(std::uint32_t /*relay*/, std::uint64_t dropped) {
    stats::add(worker.counters_.kernel_drops_relay, dropped);
}

void TurnWorker::RelayReceiver::on_icmp_error(std::uint32_t relay, const net::IcmpError& error) {
    worker.engine_.on_peer_icmp(turn::Clock::now(), relay, error.peer, error.type, error.code,
                                error.info, worker.outbox_);
    worker.flush();
}

bool TurnWorker::on_stream_frame(net::StreamConnection& connection,
                                 std::span<const std::byte> frame) {
    const turn::ClientContext from = context_of(connection);
    bool keep = engine_.on_stream_frame(turn::Clock::now(), from, frame, outbox_);
    flush();
    return keep;
}

bool TurnWorker::is_tls(const net::StreamConnection& connection) const noexcept {
    return engine_.listeners()[connection.listener()].transport == turn::Transport::tls;
}

void TurnWorker::on_stream_opened(net::StreamConnection& connection) {
    stats::add(counters_.stream_connections_accepted);
    stats::add(is_tls(connection) ? counters_.tls_connections_opened
                                  : counters_.tcp_connections_opened);
    connections_.emplace(connection.id(), connection.weak_from_this());
}

void TurnWorker::on_stream_closed(net::StreamConnection& connection, net::CloseReason reason) {
    connections_.erase(connection.id());
    stats::add(is_tls(connection) ? counters_.tls_connections_closed
                                  : counters_.tcp_connections_closed);
    const turn::ClientContext from = context_of(connection);
    engine_.on_stream_closed(turn::Clock::now(), from);
    switch (reason) {
    case net::CloseReason::garbage:
        stats::add(counters_.stream_garbage_closed);
        break;
    case net::CloseReason::idle:
        stats::add(counters_.stream_idle_closed);
        break;
    case net::CloseReason::handshake_failed:
        stats::add(counters_.tls_handshake_failures);
        TRAVERSE_LOG_LIMITED(debug, "worker", turn::Clock::now(), "TLS handshake failed",
                             {"client", connection.remote().to_string()}, {"worker", index_});
        break;
    default:
        break;
    }
}

bool TurnWorker::may_close_idle(net::StreamConnection& connection) {
    const turn::ClientContext from = context_of(connection);
    return !engine_.has_allocation(from);
}

void TurnWorker::on_stream_refused(const proto::TransportAddress& /*remote*/) {
    stats::add(counters_.stream_connections_refused);
}

void TurnWorker::flush() {
    if (outbox_.empty()) return;
    // One sendmmsg per socket and flush: messages are grouped by the socket they leave through,
    // each socket's messages keeping their order (client->peer traffic of interleaved clients
    // leaves through as many relay sockets as there are allocations).
    const auto entries = outbox_.entries();
    std::array<net::UdpPort*, turn::Outbox::max_messages> ports;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        ports[i] = nullptr;
        if (e.via.kind == turn::Via::Kind::connection) {
            auto it = connections_.find(e.via.connection);
            if (it == connections_.end()) continue;
            if (auto c = it->second.lock()) c->send(outbox_.bytes(e));
            continue;
        }
        ports[i] = e.via.kind == turn::Via::Kind::listener ? udp_[e.via.listener].get()
                                                           : relays_.port(e.via.listener);
    }
    std::array<net::OutgoingDatagram, turn::Outbox::max_messages> run;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        net::UdpPort* port = ports[i];
        if (!port) continue;
        std::size_t run_size = 0;
        for (std::size_t j = i; j < entries.size(); ++j) {
            if (ports[j] != port) continue;
            run[run_size++] =
                net::OutgoingDatagram{outbox_.bytes(entries[j]), entries[j].to, entries[j].relayed};
            ports[j] = nullptr;
        }
        const std::size_t dropped = port->send({run.data(), run_size});
        stats::add(counters_.datagrams_sent, run_size - dropped);
        if (dropped) stats::add(counters_.datagram_send_errors, dropped);
    }
    outbox_.clear();
}

} // namespace traverse::worker
