// SPDX-License-Identifier: Apache-2.0
// traverse-signal's network side: HTTP (GET /ice, /healthz) and WebSocket sessions at /ws that
// carry frames between browsers and the sans-IO Hub.
#pragma once

#include "server/signaling/hub.hpp"
#include "server/signaling/redis.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace traverse::signaling {

/// What the relay tells browsers about the TURN server, and how it mints credentials.
struct IceOptions {
    std::string turn_host = "127.0.0.1"; ///< host or IP literal in the URLs
    std::uint16_t turn_port = 3478;      ///< stun: and turn: (UDP and TCP)
    std::uint16_t turns_port = 5349;     ///< turns: (TLS); 0 leaves it out
    std::string secret;                  ///< TURN REST API shared secret; empty: STUN only
    std::chrono::seconds ttl{3600};      ///< credential lifetime
};

/// Server settings.
struct ServerOptions {
    HubOptions hub;
    IceOptions ice;
    std::vector<std::string> allowed_origins; ///< empty: any Origin may open /ws
    std::size_t max_queued_frames = 256;      ///< per session; a slower reader is disconnected
    std::size_t max_queued_bytes = 1 << 20;   ///< per session
    std::size_t max_connections_per_ip = 32;  ///< HTTP and WebSocket connections per client IP
    /// TLS for every connection (https://, wss://); null serves plain HTTP and ws://.
    std::shared_ptr<boost::asio::ssl::context> tls;
    /// Share the queue and rooms with other nodes through this Redis; unset keeps them here.
    std::optional<RedisOptions> redis;
    /// Bearer-token secret (docs/signaling.md, server/signaling/token.hpp); empty: no token.
    std::string token_secret;
    /// A WebSocket silent this long is closed; the server pings after half of it.
    std::chrono::seconds idle_timeout{60};
    /// Metrics sink (optional; must outlive the server).
    stats::SignalCounters* stats = nullptr;
};

/// What the server needs of a WebSocket session, whatever its transport (TCP or TLS).
class Session {
public:
    virtual ~Session() = default;
    const PeerId& id() const noexcept { return id_; }
    void set_id(PeerId id) { id_ = std::move(id); }
    /// Queues a text frame; a reader too slow to keep the queue bounded is disconnected.
    virtual void send(std::shared_ptr<const std::string> frame) = 0;
    virtual void close(boost::beast::websocket::close_code code) = 0;

private:
    PeerId id_;
};

/// Accepts connections and owns the Hub. Single-threaded: everything runs on one io_context,
/// so the Hub needs no lock (a mesh of browsers exchanging SDP is far from CPU-bound).
class Server {
public:
    Server(boost::asio::io_context& io, ServerOptions options);
    ~Server();
    /// Binds and starts accepting; returns the bound endpoint.
    boost::asio::ip::tcp::endpoint listen(const boost::asio::ip::tcp::endpoint& at);
    void stop();

    /// The ICE configuration JSON for a new peer (fresh credentials).
    std::string ice_json(const std::string& user) const;
    /// Frames from a session; called on the io_context.
    void on_open(const std::shared_ptr<Session>& session);
    void on_frame(Session& session, std::string_view frame);
    void on_close(Session& session);
    const ServerOptions& options() const noexcept { return options_; }
    bool origin_allowed(std::string_view origin) const;

    /// Holds one connection slot of a client IP while alive; the HTTP session hands it on to
    /// the WebSocket session it upgrades to.
    using ConnectionCounts = std::unordered_map<std::string, std::size_t>;
    class Ticket {
    public:
        Ticket(std::weak_ptr<ConnectionCounts> counts, std::string ip)
            : counts_(std::move(counts)), ip_(std::move(ip)) {}
        ~Ticket();
        Ticket(const Ticket&) = delete;
        Ticket& operator=(const Ticket&) = delete;

    private:
        // Weak: sessions (and their tickets) may outlive the server while the io_context
        // destroys its last handlers at shutdown.
        std::weak_ptr<ConnectionCounts> counts_;
        std::string ip_;
    };
    /// A slot for a new connection from `ip`, or null when the IP is at its limit.
    std::shared_ptr<Ticket> admit(const std::string& ip);
    std::size_t sessions() const noexcept { return sessions_.size(); }
    stats::SignalCounters* stats() const noexcept { return options_.stats; }
    /// Connects to Redis when configured: nullopt when ready, else why not.
    std::optional<std::string> start_cluster();

private:
    void do_accept();
    void deliver(Outbox& out);
    void on_remote(const PeerId& peer, const std::string& payload);
    void schedule_heartbeat();

    boost::asio::io_context& io_;
    ServerOptions options_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::unique_ptr<RedisRoomStore> redis_store_; // before hub_, which points at it
    std::shared_ptr<RedisSubscriber> subscriber_;
    boost::asio::steady_timer heartbeat_;
    Hub hub_;
    std::unordered_map<PeerId, std::weak_ptr<Session>> sessions_;
    std::shared_ptr<ConnectionCounts> connections_per_ip_ = std::make_shared<ConnectionCounts>();
};

} // namespace traverse::signaling
