// SPDX-License-Identifier: Apache-2.0
// HTTP and WebSocket sessions (Boost.Beast) around the Hub: upgrade at /ws, bounded per-session
// send queues, Origin checks, GET /ice and GET /healthz.
#include "server/signaling/server.hpp"

#include "server/signaling/demo_page.hpp"
#include "server/signaling/token.hpp"
#include "server/signaling/turn_credentials.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <nlohmann/json.hpp>
#include <random>

namespace traverse::signaling {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using json = nlohmann::json;

namespace {

constexpr std::size_t max_http_body = 8 * 1024;
constexpr auto http_timeout = std::chrono::seconds(15);

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

json ice_servers(const IceOptions& ice, const std::string& user) {
    const std::string host =
        ice.turn_host.find(':') != std::string::npos ? "[" + ice.turn_host + "]" : ice.turn_host;
    const std::string port = std::to_string(ice.turn_port);
    json servers = json::array();
    servers.push_back({{"urls", json::array({"stun:" + host + ":" + port})}});
    if (!ice.secret.empty()) {
        auto cred = mint_turn_credential(ice.secret, user, unix_now(), ice.ttl);
        json urls = json::array({"turn:" + host + ":" + port + "?transport=udp",
                                 "turn:" + host + ":" + port + "?transport=tcp"});
        if (ice.turns_port != 0)
            urls.push_back("turns:" + host + ":" + std::to_string(ice.turns_port) +
                           "?transport=tcp");
        servers.push_back(
            {{"urls", urls}, {"username", cred.username}, {"credential", cred.password}});
    }
    return servers;
}

} // namespace

// ---- WebSocket session ----------------------------------------------------------------------

/// One browser connection over `NextLayer` (plain TCP or TLS). Sends are queued (bounded) and
/// written one at a time.
template <class NextLayer>
class WsSessionT final : public Session,
                         public std::enable_shared_from_this<WsSessionT<NextLayer>> {
public:
    WsSessionT(NextLayer&& stream, Server& server, std::shared_ptr<Server::Ticket> ticket)
        : ws_(std::move(stream)), server_(server), ticket_(std::move(ticket)) {}

    void run(http::request<http::string_body> request) {
        // Beast pings a silent peer after half the idle timeout and closes it at the timeout.
        auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
        timeouts.idle_timeout = server_.options().idle_timeout;
        timeouts.keep_alive_pings = true;
        ws_.set_option(timeouts);
        // Frames a little above the hub's limit are read so the hub can answer "too-large";
        // far larger ones end the connection.
        ws_.read_message_max(server_.options().hub.max_frame_bytes * 2);
        ws_.async_accept(request, [self = this->shared_from_this()](beast::error_code ec) {
            if (ec) return;
            self->server_.on_open(self);
            self->do_read();
        });
    }

    void send(std::shared_ptr<const std::string> frame) override {
        if (closed_) return;
        if (queue_.size() >= server_.options().max_queued_frames ||
            queued_bytes_ + frame->size() > server_.options().max_queued_bytes) {
            // A reader this slow would make us buffer without bound: cut it off. A close
            // handshake cannot help: the close frame would wait behind a write the reader is not
            // reading, so the connection would linger until Beast's idle timeout (minutes).
            // Closing the socket ends the pending read and write now, and their handlers
            // finish() the session (the room hears peer-left).
            if (auto* st = server_.stats()) st->drop(stats::SignalDrop::slow_reader);
            closed_ = true;
            beast::error_code ignored;
            beast::get_lowest_layer(ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_both,
                                                           ignored);
            beast::get_lowest_layer(ws_).close();
            return;
        }
        queued_bytes_ += frame->size();
        queue_.push_back(std::move(frame));
        if (queue_.size() == 1) do_write();
    }

    void close(websocket::close_code code) override {
        if (closed_) return;
        closed_ = true;
        ws_.async_close(code, [self = this->shared_from_this()](beast::error_code) {});
    }

private:
    void do_read() {
        ws_.async_read(buffer_, [self = this->shared_from_this()](
                                    beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(beast::error_code ec) {
        if (ec) {
            finish();
            return;
        }
        if (ws_.got_text()) {
            auto data = buffer_.cdata();
            server_.on_frame(*this,
                             std::string_view(static_cast<const char*>(data.data()), data.size()));
        } else {
            server_.on_frame(*this, std::string_view("binary frame"));
        }
        buffer_.consume(buffer_.size());
        do_read();
    }

    void do_write() {
        ws_.text(true);
        ws_.async_write(asio::buffer(*queue_.front()),
                        [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                            self->on_write(ec);
                        });
    }

    void on_write(beast::error_code ec) {
        if (ec) {
            finish();
            return;
        }
        queued_bytes_ -= queue_.front()->size();
        queue_.pop_front();
        if (!queue_.empty() && !closed_) do_write();
    }

    void finish() {
        if (finished_) return;
        finished_ = true;
        closed_ = true;
        server_.on_close(*this);
    }

    websocket::stream<NextLayer> ws_;
    Server& server_;
    std::shared_ptr<Server::Ticket> ticket_; // this connection's slot of its client IP
    beast::flat_buffer buffer_;
    std::deque<std::shared_ptr<const std::string>> queue_;
    std::size_t queued_bytes_ = 0;
    bool closed_ = false;
    bool finished_ = false;
};

// ---- HTTP session ---------------------------------------------------------------------------

/// Reads HTTP requests on `Stream` (beast::tcp_stream, or an ssl_stream over one): upgrades
/// /ws to a WebSocket session, answers /, /ice and /healthz.
template <class Stream>
class HttpSessionT final : public std::enable_shared_from_this<HttpSessionT<Stream>> {
public:
    HttpSessionT(Stream&& stream, Server& server, std::shared_ptr<Server::Ticket> ticket)
        : stream_(std::move(stream)), server_(server), ticket_(std::move(ticket)) {}

    void run() {
        if constexpr (is_tls) {
            beast::get_lowest_layer(stream_).expires_after(http_timeout);
            stream_.async_handshake(ssl::stream_base::server,
                                    [self = this->shared_from_this()](beast::error_code ec) {
                                        if (!ec) self->do_read();
                                    });
        } else {
            do_read();
        }
    }

private:
    void do_read() {
        parser_.emplace();
        parser_->body_limit(max_http_body);
        beast::get_lowest_layer(stream_).expires_after(http_timeout);
        http::async_read(stream_, buffer_, *parser_,
                         [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                             self->on_read(ec);
                         });
    }

    void on_read(beast::error_code ec) {
        if (ec) return; // closed, timed out or malformed: drop the connection
        auto request = parser_->release();
        // The path without its query string ("/?auto=queue" is the demo page).
        const auto target = request.target();
        const std::string_view path(target.data(), target.find('?') == std::string_view::npos
                                                       ? target.size()
                                                       : target.find('?'));
        if (websocket::is_upgrade(request)) {
            auto origin = request[http::field::origin];
            if (path != "/ws") {
                respond(request, http::status::not_found, "text/plain",
                        "WebSocket upgrade refused: the WebSocket endpoint is /ws\n");
                return;
            }
            if (!server_.origin_allowed(std::string_view(origin.data(), origin.size()))) {
                if (auto* st = server_.stats()) st->bump(st->refused_origin);
                respond(request, http::status::forbidden, "text/plain",
                        "WebSocket upgrade refused: Origin not allowed\n");
                return;
            }
            if (const auto& secret = server_.options().token_secret; !secret.empty()) {
                auto auth = request[http::field::authorization];
                const std::string token =
                    token_from_request(std::string_view(target.data(), target.size()),
                                       std::string_view(auth.data(), auth.size()));
                const TokenCheck check =
                    token.empty() ? TokenCheck{false,
                                               {},
                                               "a bearer token is required (?token=... or "
                                               "Authorization: Bearer ...)"}
                                  : verify_token(secret, token, unix_now());
                if (!check.ok) {
                    if (auto* st = server_.stats()) st->bump(st->refused_unauthorized);
                    respond(request, http::status::unauthorized, "text/plain",
                            "WebSocket upgrade refused: " + check.reason + "\n",
                            "Bearer realm=\"traverse-signal\", error=\"invalid_token\"");
                    return;
                }
            }
            beast::get_lowest_layer(stream_).expires_never();
            std::make_shared<WsSessionT<Stream>>(std::move(stream_), server_, ticket_)
                ->run(std::move(request));
            return;
        }
        if (request.method() != http::verb::get) {
            respond(request, http::status::method_not_allowed, "text/plain", "GET only\n");
        } else if (path == "/" || path == "/index.html") {
            respond(request, http::status::ok, "text/html; charset=utf-8",
                    std::string(demo_page()));
        } else if (path == "/healthz") {
            respond(request, http::status::ok, "text/plain", "ok\n");
        } else if (path == "/ice") {
            respond(request, http::status::ok, "application/json",
                    server_.ice_json("anonymous") + "\n");
        } else {
            respond(request, http::status::not_found, "text/plain", "not found\n");
        }
    }

    void respond(const http::request<http::string_body>& request, http::status status,
                 std::string_view type, std::string body, std::string_view www_authenticate = {}) {
        auto response =
            std::make_shared<http::response<http::string_body>>(status, request.version());
        response->set(http::field::server, "traverse-signal");
        if (!www_authenticate.empty())
            response->set(http::field::www_authenticate, www_authenticate);
        response->set(http::field::content_type, type);
        response->set(http::field::cache_control, "no-store");
        response->keep_alive(request.keep_alive());
        response->body() = std::move(body);
        response->prepare_payload();
        http::async_write(
            stream_, *response,
            [self = this->shared_from_this(), response](beast::error_code ec, std::size_t) {
                if (ec || !response->keep_alive()) {
                    beast::error_code ignored;
                    beast::get_lowest_layer(self->stream_)
                        .socket()
                        .shutdown(tcp::socket::shutdown_send, ignored);
                    return;
                }
                self->do_read();
            });
    }

    static constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream>;
    Stream stream_;
    Server& server_;
    std::shared_ptr<Server::Ticket> ticket_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
};

// ---- Server ---------------------------------------------------------------------------------

namespace {

std::string random_node_id() {
    static constexpr char alphabet[] = "abcdefghijkmnopqrstuvwxyz23456789";
    std::random_device rd;
    std::string id = "n-";
    for (int i = 0; i < 10; ++i)
        id += alphabet[rd() % (sizeof alphabet - 1)];
    return id;
}

} // namespace

Server::Server(asio::io_context& io, ServerOptions options)
    : io_(io), options_(std::move(options)), acceptor_(io),
      redis_store_(options_.redis
                       ? std::make_unique<RedisRoomStore>(*options_.redis, random_node_id())
                       : nullptr),
      heartbeat_(io), hub_(options_.hub, 0, redis_store_.get(), options_.stats) {}

std::optional<std::string> Server::start_cluster() {
    if (!redis_store_) return std::nullopt;
    if (auto error = redis_store_->check()) return error;
    subscriber_ = std::make_shared<RedisSubscriber>(
        io_, *options_.redis,
        [this](const PeerId& peer, const std::string& payload) { on_remote(peer, payload); });
    subscriber_->start();
    schedule_heartbeat();
    return std::nullopt;
}

void Server::schedule_heartbeat() {
    heartbeat_.expires_after(std::max<std::chrono::milliseconds>(options_.redis->peer_ttl / 3,
                                                                 std::chrono::milliseconds(200)));
    heartbeat_.async_wait([this](beast::error_code ec) {
        if (ec) return;
        std::vector<std::pair<PeerId, std::string>> peers;
        for (const auto& [id, weak] : sessions_)
            peers.emplace_back(id, hub_.room_of(id).value_or(""));
        redis_store_->heartbeat(peers);
        schedule_heartbeat();
    });
}

void Server::on_remote(const PeerId& peer, const std::string& payload) {
    // Payload: "<room the peer was matched into, or empty>\n<frame>" (see deliver()).
    const auto nl = payload.find('\n');
    if (nl == std::string::npos) return;
    const std::string room = payload.substr(0, nl);
    if (!room.empty()) {
        Outbox out;
        const bool adopted = hub_.adopt_room(Clock::now(), peer, room, out);
        deliver(out);
        if (!adopted) return;
    }
    auto it = sessions_.find(peer);
    if (it == sessions_.end()) return;
    if (auto s = it->second.lock())
        s->send(std::make_shared<const std::string>(payload.substr(nl + 1)));
}

Server::~Server() = default;

tcp::endpoint Server::listen(const tcp::endpoint& at) {
    acceptor_.open(at.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(at);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    do_accept();
    return acceptor_.local_endpoint();
}

void Server::stop() {
    beast::error_code ignored;
    acceptor_.close(ignored);
    heartbeat_.cancel();
    if (subscriber_) subscriber_->stop();
    for (auto& [id, weak] : sessions_)
        if (auto s = weak.lock()) s->close(websocket::close_code::going_away);
}

void Server::do_accept() {
    acceptor_.async_accept(io_, [this](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        beast::error_code ep_ec;
        auto ticket = ec ? nullptr : admit(socket.remote_endpoint(ep_ec).address().to_string());
        if (!ec && !ticket) {
            socket.close(ep_ec); // this client IP holds all its connection slots
        } else if (!ec) {
            if (options_.tls) {
                using Tls = beast::ssl_stream<beast::tcp_stream>;
                std::make_shared<HttpSessionT<Tls>>(
                    Tls(beast::tcp_stream(std::move(socket)), *options_.tls), *this, ticket)
                    ->run();
            } else {
                std::make_shared<HttpSessionT<beast::tcp_stream>>(
                    beast::tcp_stream(std::move(socket)), *this, ticket)
                    ->run();
            }
        }
        do_accept();
    });
}

std::shared_ptr<Server::Ticket> Server::admit(const std::string& ip) {
    auto& n = (*connections_per_ip_)[ip];
    if (n >= options_.max_connections_per_ip) {
        if (n == 0) connections_per_ip_->erase(ip);
        return nullptr;
    }
    ++n;
    return std::make_shared<Ticket>(connections_per_ip_, ip);
}

Server::Ticket::~Ticket() {
    auto counts = counts_.lock();
    if (!counts) return;
    auto it = counts->find(ip_);
    if (it != counts->end() && --it->second == 0) counts->erase(it);
}

bool Server::origin_allowed(std::string_view origin) const {
    if (options_.allowed_origins.empty()) return true;
    for (const auto& allowed : options_.allowed_origins)
        if (allowed == origin) return true;
    return false;
}

std::string Server::ice_json(const std::string& user) const {
    return json{{"iceServers", ice_servers(options_.ice, user)}, {"ttl", options_.ice.ttl.count()}}
        .dump();
}

void Server::on_open(const std::shared_ptr<Session>& session) {
    PeerId id = hub_.connect(Clock::now());
    session->set_id(id);
    sessions_[id] = session;
    if (redis_store_) {
        // Alive (for matching on other nodes) and reachable (frames published to its channel).
        redis_store_->add_peer(id);
        if (subscriber_) subscriber_->subscribe(id);
    }
    json welcome{{"type", "welcome"},
                 {"id", id},
                 {"iceServers", ice_servers(options_.ice, id)},
                 {"ttl", options_.ice.ttl.count()}};
    session->send(std::make_shared<const std::string>(welcome.dump()));
}

void Server::on_frame(Session& session, std::string_view frame) {
    if (session.id().empty()) return;
    Outbox out;
    hub_.on_message(Clock::now(), session.id(), frame, out);
    deliver(out);
}

void Server::on_close(Session& session) {
    if (session.id().empty()) return;
    Outbox out;
    hub_.disconnect(session.id(), out);
    sessions_.erase(session.id());
    if (redis_store_) {
        if (subscriber_) subscriber_->unsubscribe(session.id());
        redis_store_->remove_peer(session.id());
    }
    deliver(out);
}

void Server::deliver(Outbox& out) {
    std::vector<Outgoing> gone; // matched partners that are connected nowhere
    for (auto& o : out) {
        auto it = sessions_.find(o.to);
        if (it != sessions_.end()) {
            if (auto s = it->second.lock()) s->send(std::move(o.frame));
            continue;
        }
        // Not ours: with Redis, publish to the node that holds the peer.
        if (!redis_store_) continue;
        const auto receivers = redis_store_->publish(o.to, o.matched_room + "\n" + *o.frame);
        if (receivers == 0 && !o.matched_room.empty()) gone.push_back(std::move(o));
    }
    // A partner popped from the queue left its node before the match reached it: take it out
    // of the new room again, which tells our user peer-left (after its "matched").
    for (const auto& o : gone) {
        Outbox left;
        hub_.adopt_room(Clock::now(), o.to, o.matched_room, left);
        deliver(left);
    }
}

} // namespace traverse::signaling
