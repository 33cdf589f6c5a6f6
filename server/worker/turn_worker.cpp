// SPDX-License-Identifier: Apache-2.0
// Worker glue: datagram batches and stream frames into the engine, the outbox out to sockets.
#include "server/worker/turn_worker.hpp"

#include "server/base/log.hpp"

#include <array>
#include <boost/asio/post.hpp>

namespace traverse::worker {

TurnWorker::TurnWorker(WorkerSetup setup, net::ConnectionLimiter& limiter)
    : index_(setup.index), work_(io_.get_executor()),
      relays_(io_, std::move(setup.relay), relay_receiver_, batch_, *setup.reservations),
      engine_(std::move(setup.engine), setup.listeners, counters_, &relays_, setup.quotas),
      tick_timer_(io_) {
    const auto& table = engine_.listeners();
    udp_.resize(table.size());
    streams_.resize(table.size());
    for (std::uint32_t i = 0; i < table.size(); ++i) {
        if (table[i].transport == turn::Transport::udp) {
            udp_[i] = std::make_unique<net::UdpPort>(io_, setup.sockets[i], i, *this, batch_);
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
    for (auto& p : udp_)
        if (p) p->start();
    for (auto& s : streams_)
        if (s) s->start();
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
        allocations_.store(engine_.allocation_count(), std::memory_order_relaxed);
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

void TurnWorker::stop() {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] {
        close_all();
        io_.stop();
    });
    thread_.join();
}

void TurnWorker::close_all() {
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
        engine_.on_client_datagram(now, from, d.data, outbox_);
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
        worker.engine_.on_peer_datagram(now, relay, d.from, d.data, worker.outbox_);
    worker.flush();
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

void TurnWorker::on_stream_opened(net::StreamConnection& connection) {
    stats::add(counters_.stream_connections_accepted);
    connections_.emplace(connection.id(), connection.weak_from_this());
}

void TurnWorker::on_stream_closed(net::StreamConnection& connection, net::CloseReason reason) {
    connections_.erase(connection.id());
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
    // Consecutive messages for the same socket go out in one sendmmsg.
    std::array<net::OutgoingDatagram, turn::Outbox::max_messages> run;
    std::size_t run_size = 0;
    net::UdpPort* run_port = nullptr;
    auto send_run = [&] {
        if (run_size == 0) return;
        std::size_t dropped = run_port->send({run.data(), run_size});
        stats::add(counters_.datagrams_sent, run_size - dropped);
        if (dropped) stats::add(counters_.datagram_send_errors, dropped);
        run_size = 0;
    };
    for (const auto& e : outbox_.entries()) {
        if (e.via.kind == turn::Via::Kind::connection) {
            auto it = connections_.find(e.via.connection);
            if (it == connections_.end()) continue;
            if (auto c = it->second.lock()) c->send(outbox_.bytes(e));
            continue;
        }
        net::UdpPort* port = e.via.kind == turn::Via::Kind::listener ? udp_[e.via.listener].get()
                                                                     : relays_.port(e.via.listener);
        if (!port) continue;
        if (port != run_port) send_run();
        run_port = port;
        run[run_size++] = net::OutgoingDatagram{outbox_.bytes(e), e.to};
    }
    send_run();
    outbox_.clear();
}

} // namespace traverse::worker
