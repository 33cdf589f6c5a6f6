// SPDX-License-Identifier: Apache-2.0
// Scale-out over Redis: a blocking RESP client for short commands, RedisRoomStore (the shared
// queue and rooms, atomic through Lua scripts) and RedisSubscriber (pub/sub delivery of frames
// to the peers connected to this node).
#pragma once

#include "server/signaling/resp.hpp"
#include "server/signaling/room_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace traverse::signaling {

/// Where the shared state lives and how long entries of a silent node survive.
struct RedisOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string prefix = "traverse:signal:"; ///< key and channel prefix (several deployments)
    std::chrono::seconds peer_ttl{30};       ///< a node refreshes its peers every ttl/3
    std::chrono::milliseconds timeout{1000}; ///< per command, connect included
};

/// "host:port" or "[v6]:port" (port defaults to 6379); nullopt when malformed.
std::optional<RedisOptions> parse_redis_address(const std::string& text);

/// A blocking connection for request/reply commands, with a timeout on every step. It
/// reconnects on the next call after any failure. Used from the relay's single thread: Redis
/// answers these small commands in well under a millisecond on a LAN, which keeps the hub
/// synchronous (and sans-IO) at the cost of blocking the thread for that round trip.
class RedisClient {
public:
    explicit RedisClient(RedisOptions options) : options_(std::move(options)) {}
    ~RedisClient();
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    /// Sends the commands in one write and reads one reply each; nullopt on connection failure
    /// or timeout. Redis error replies are returned as values of kind `error`.
    std::optional<std::vector<resp::Value>>
    pipeline(const std::vector<std::vector<std::string>>& commands);
    std::optional<resp::Value> call(const std::vector<std::string>& command);
    const std::string& last_error() const noexcept { return error_; }

private:
    bool ensure_connected();
    void disconnect(std::string why);

    RedisOptions options_;
    int fd_ = -1;
    std::string in_;
    std::string error_;
};

/// The queue and rooms shared by every node on one Redis. Keys (under the prefix):
/// `queue` (list of waiting peer ids), `room:<id>` (list of members in join order, expiring
/// `peer_ttl` after the last refresh), `peer:<id>` (the node holding the peer, expiring
/// `peer_ttl` after the last heartbeat). Matching and joining are Lua scripts, so two nodes can
/// never pop the same waiting peer or overfill a room; peers whose `peer:` key has expired (their
/// node died) are skipped by matching and pruned by joins.
class RedisRoomStore final : public RoomStore {
public:
    RedisRoomStore(RedisOptions options, std::string node_id);

    QueueResult queue_or_match(const PeerId& peer, const std::string& room) override;
    bool dequeue(const PeerId& peer) override;
    JoinResult join(const std::string& room, const PeerId& peer, std::size_t capacity) override;
    std::optional<std::vector<PeerId>> leave(const std::string& room, const PeerId& peer) override;
    std::optional<bool> is_member(const std::string& room, const PeerId& peer) override;
    bool room_exists(const std::string& room) override;

    /// Marks `peer` as connected to this node (and alive for peer_ttl).
    bool add_peer(const PeerId& peer);
    void remove_peer(const PeerId& peer);
    /// Refreshes the TTLs of this node's peers and of the rooms they are in.
    bool heartbeat(const std::vector<std::pair<PeerId, std::string>>& peers_and_rooms);
    /// Publishes `payload` to the channel of `peer`; returns the number of nodes that received
    /// it (0: the peer is connected nowhere), nullopt when Redis is unreachable.
    std::optional<std::int64_t> publish(const PeerId& peer, const std::string& payload);
    /// The channel frames for `peer` are published on.
    std::string channel_of(const PeerId& peer) const { return options_.prefix + "to:" + peer; }
    /// PING; the error text when Redis cannot be reached.
    std::optional<std::string> check();
    const RedisOptions& options() const noexcept { return options_; }

private:
    std::string key(std::string_view kind, std::string_view id) const;
    std::string ttl() const { return std::to_string(options_.peer_ttl.count()); }

    RedisOptions options_;
    std::string node_id_;
    RedisClient client_;
};

/// A subscription connection on the relay's io_context: SUBSCRIBE to the channel of each local
/// peer, hand every published message to `on_message(peer, payload)`. Reconnects (and
/// resubscribes) after a second when the connection drops.
class RedisSubscriber : public std::enable_shared_from_this<RedisSubscriber> {
public:
    using Handler = std::function<void(const PeerId& peer, const std::string& payload)>;
    RedisSubscriber(boost::asio::io_context& io, RedisOptions options, Handler on_message);

    void start();
    void stop();
    void subscribe(const PeerId& peer);
    void unsubscribe(const PeerId& peer);
    /// Confirmed subscriptions (for tests and readiness).
    std::size_t subscribed() const noexcept { return confirmed_; }

private:
    void do_connect();
    void do_read();
    void write(std::string bytes);
    void do_write();
    void on_reply(const resp::Value& v);
    void retry_later();

    boost::asio::io_context& io_;
    RedisOptions options_;
    Handler on_message_;
    boost::asio::ip::tcp::socket socket_;
    boost::asio::steady_timer retry_;
    std::set<PeerId> peers_;
    std::string in_;
    std::vector<std::string> out_;
    bool writing_ = false;
    bool connected_ = false;
    bool stopped_ = false;
    std::size_t confirmed_ = 0;
};

} // namespace traverse::signaling
