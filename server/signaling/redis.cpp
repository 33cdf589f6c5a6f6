// SPDX-License-Identifier: Apache-2.0
// RedisClient (blocking, poll-based timeouts), RedisRoomStore (Lua scripts for the atomic steps)
// and RedisSubscriber (Asio pub/sub connection).
#include "server/signaling/redis.hpp"

#include <arpa/inet.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace traverse::signaling {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::optional<RedisOptions> parse_redis_address(const std::string& text) {
    RedisOptions o;
    std::string host = text;
    std::string port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos) return std::nullopt;
        host = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':') return std::nullopt;
            port = text.substr(close + 2);
        }
    } else if (const auto colon = text.rfind(':'); colon != std::string::npos) {
        if (text.find(':') != colon) return std::nullopt; // bare IPv6 needs brackets
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    if (host.empty()) return std::nullopt;
    o.host = host;
    if (!port.empty()) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
        if (ec != std::errc{} || p != port.data() + port.size() || v == 0 || v > 65535)
            return std::nullopt;
        o.port = static_cast<std::uint16_t>(v);
    }
    return o;
}

// ---- RedisClient ----------------------------------------------------------------------------

RedisClient::~RedisClient() {
    if (fd_ >= 0) ::close(fd_);
}

void RedisClient::disconnect(std::string why) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    in_.clear();
    error_ = std::move(why);
}

namespace {

/// Waits for `events` on `fd` until `deadline`; false on timeout or error.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        if (left <= 0) return false;
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left));
        if (n > 0) return (p.revents & (events | POLLHUP | POLLERR)) != 0;
        if (n < 0 && errno != EINTR) return false;
    }
}

} // namespace

bool RedisClient::ensure_connected() {
    if (fd_ >= 0) return true;
    const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(options_.port);
    if (::getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &found) != 0 || !found) {
        error_ = "cannot resolve " + options_.host;
        return false;
    }
    for (addrinfo* a = found; a; a = a->ai_next) {
        const int fd =
            ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS && wait_for(fd, POLLOUT, deadline)) {
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            rc = err == 0 ? 0 : -1;
        }
        if (rc == 0) {
            fd_ = fd;
            break;
        }
        ::close(fd);
    }
    ::freeaddrinfo(found);
    if (fd_ < 0) {
        error_ = "cannot connect to redis at " + options_.host + ":" + port;
        return false;
    }
    return true;
}

std::optional<std::vector<resp::Value>>
RedisClient::pipeline(const std::vector<std::vector<std::string>>& commands) {
    if (!ensure_connected()) return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
    std::string out;
    for (const auto& c : commands)
        out += resp::command(c);
    std::size_t sent = 0;
    while (sent < out.size()) {
        const ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_for(fd_, POLLOUT, deadline)) {
                disconnect("redis write timed out");
                return std::nullopt;
            }
        } else {
            disconnect(std::string("redis write failed: ") + std::strerror(errno));
            return std::nullopt;
        }
    }
    std::vector<resp::Value> replies;
    while (replies.size() < commands.size()) {
        resp::Value v;
        std::size_t used = 0;
        const auto status = resp::parse(in_, v, used);
        if (status == resp::Status::complete) {
            in_.erase(0, used);
            replies.push_back(std::move(v));
            continue;
        }
        if (status == resp::Status::bad) {
            disconnect("malformed reply from redis");
            return std::nullopt;
        }
        char buf[16 * 1024];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
            in_.append(buf, static_cast<std::size_t>(n));
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_for(fd_, POLLIN, deadline)) {
                disconnect("redis reply timed out");
                return std::nullopt;
            }
        } else {
            disconnect("redis closed the connection");
            return std::nullopt;
        }
    }
    return replies;
}

std::optional<resp::Value> RedisClient::call(const std::vector<std::string>& command) {
    auto r = pipeline({command});
    if (!r) return std::nullopt;
    return std::move(r->front());
}

// ---- RedisRoomStore -------------------------------------------------------------------------

namespace {

// ARGV: prefix, peer, new room id, ttl. Pops until a live waiting peer (its peer: key exists)
// other than the caller is found and makes the room [partner, peer]; otherwise queues the peer.
constexpr const char* queue_script = R"lua(
local q = ARGV[1] .. 'queue'
while true do
  local other = redis.call('LPOP', q)
  if not other then break end
  if other ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. 'peer:' .. other) == 1 then
    local r = ARGV[1] .. 'room:' .. ARGV[3]
    redis.call('RPUSH', r, other, ARGV[2])
    redis.call('EXPIRE', r, ARGV[4])
    return {'matched', other}
  end
end
redis.call('LREM', q, 0, ARGV[2])
redis.call('RPUSH', q, ARGV[2])
return {'queued', tostring(redis.call('LLEN', q))}
)lua";

// ARGV: prefix, room, peer, capacity, ttl. Prunes members whose node is gone, refuses when the
// live members fill the room, else appends the peer and returns the members before it.
constexpr const char* join_script = R"lua(
local r = ARGV[1] .. 'room:' .. ARGV[2]
local live = {'ok'}
for _, m in ipairs(redis.call('LRANGE', r, 0, -1)) do
  if redis.call('EXISTS', ARGV[1] .. 'peer:' .. m) == 1 then
    table.insert(live, m)
  else
    redis.call('LREM', r, 0, m)
  end
end
if #live - 1 >= tonumber(ARGV[4]) then return {'full'} end
redis.call('RPUSH', r, ARGV[3])
redis.call('EXPIRE', r, ARGV[5])
return live
)lua";

// ARGV: prefix, room, peer. Removes the peer; deletes the room when empty; returns the rest.
constexpr const char* leave_script = R"lua(
local r = ARGV[1] .. 'room:' .. ARGV[2]
redis.call('LREM', r, 0, ARGV[3])
local rest = redis.call('LRANGE', r, 0, -1)
if #rest == 0 then redis.call('DEL', r) end
return rest
)lua";

bool ok(const std::optional<resp::Value>& v) {
    return v && v->kind != resp::Value::Kind::error;
}

} // namespace

RedisRoomStore::RedisRoomStore(RedisOptions options, std::string node_id)
    : options_(options), node_id_(std::move(node_id)), client_(std::move(options)) {}

std::string RedisRoomStore::key(std::string_view kind, std::string_view id) const {
    std::string k = options_.prefix;
    k += kind;
    k += ':';
    k += id;
    return k;
}

RoomStore::QueueResult RedisRoomStore::queue_or_match(const PeerId& peer, const std::string& room) {
    QueueResult result;
    auto v = client_.call({"EVAL", queue_script, "0", options_.prefix, peer, room, ttl()});
    if (!ok(v) || v->kind != resp::Value::Kind::array || v->elements.size() != 2) {
        result.unavailable = true;
        return result;
    }
    if (v->elements[0].text == "matched") {
        result.partner = v->elements[1].text;
    } else {
        const std::string& text = v->elements[1].text;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), result.position);
        if (ec != std::errc{} || end != text.data() + text.size()) result.unavailable = true;
    }
    return result;
}

bool RedisRoomStore::dequeue(const PeerId& peer) {
    return ok(client_.call({"LREM", options_.prefix + "queue", "0", peer}));
}

RoomStore::JoinResult RedisRoomStore::join(const std::string& room, const PeerId& peer,
                                           std::size_t capacity) {
    JoinResult result;
    auto v = client_.call(
        {"EVAL", join_script, "0", options_.prefix, room, peer, std::to_string(capacity), ttl()});
    if (!ok(v) || v->kind != resp::Value::Kind::array || v->elements.empty()) {
        result.unavailable = true;
        return result;
    }
    if (v->elements[0].text == "full") {
        result.full = true;
        return result;
    }
    for (std::size_t i = 1; i < v->elements.size(); ++i)
        result.members.push_back(v->elements[i].text);
    return result;
}

std::optional<std::vector<PeerId>> RedisRoomStore::leave(const std::string& room,
                                                         const PeerId& peer) {
    auto v = client_.call({"EVAL", leave_script, "0", options_.prefix, room, peer});
    if (!ok(v) || v->kind != resp::Value::Kind::array) return std::nullopt;
    std::vector<PeerId> rest;
    for (const auto& e : v->elements)
        rest.push_back(e.text);
    return rest;
}

std::optional<bool> RedisRoomStore::is_member(const std::string& room, const PeerId& peer) {
    auto v = client_.call({"LPOS", key("room", room), peer});
    if (!ok(v)) return std::nullopt;
    return v->kind == resp::Value::Kind::integer;
}

bool RedisRoomStore::room_exists(const std::string& room) {
    auto v = client_.call({"EXISTS", key("room", room)});
    // Unreachable: the id is random, and queue_or_match reports the failure anyway.
    return ok(v) && v->integer != 0;
}

bool RedisRoomStore::add_peer(const PeerId& peer) {
    return ok(client_.call({"SET", key("peer", peer), node_id_, "EX", ttl()}));
}

void RedisRoomStore::remove_peer(const PeerId& peer) {
    client_.call({"DEL", key("peer", peer)});
}

bool RedisRoomStore::heartbeat(const std::vector<std::pair<PeerId, std::string>>& peers) {
    if (peers.empty()) return true;
    std::vector<std::vector<std::string>> commands;
    for (const auto& [peer, room] : peers) {
        commands.push_back({"SET", key("peer", peer), node_id_, "EX", ttl()});
        if (!room.empty()) commands.push_back({"EXPIRE", key("room", room), ttl()});
    }
    return client_.pipeline(commands).has_value();
}

std::optional<std::int64_t> RedisRoomStore::publish(const PeerId& peer,
                                                    const std::string& payload) {
    auto v = client_.call({"PUBLISH", channel_of(peer), payload});
    if (!ok(v)) return std::nullopt;
    return v->integer;
}

std::optional<std::string> RedisRoomStore::check() {
    auto v = client_.call({"PING"});
    if (!v) return client_.last_error();
    if (v->kind == resp::Value::Kind::error) return v->text;
    return std::nullopt;
}

// ---- RedisSubscriber ------------------------------------------------------------------------

RedisSubscriber::RedisSubscriber(asio::io_context& io, RedisOptions options, Handler on_message)
    : io_(io), options_(std::move(options)), on_message_(std::move(on_message)), socket_(io),
      retry_(io) {}

void RedisSubscriber::start() {
    do_connect();
}

void RedisSubscriber::stop() {
    stopped_ = true;
    boost::system::error_code ignored;
    retry_.cancel();
    socket_.close(ignored);
}

void RedisSubscriber::do_connect() {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) {
        // A host name: resolve it synchronously (startup and rare reconnects only).
        tcp::resolver resolver(io_);
        auto found = resolver.resolve(options_.host, std::to_string(options_.port), ec);
        if (ec || found.empty()) return retry_later();
        address = found.begin()->endpoint().address();
    }
    socket_ = tcp::socket(io_);
    socket_.async_connect(
        {address, options_.port}, [self = shared_from_this()](boost::system::error_code error) {
            if (self->stopped_) return;
            if (error) return self->retry_later();
            self->connected_ = true;
            self->in_.clear();
            self->confirmed_ = 0;
            for (const auto& peer : self->peers_)
                self->write(resp::command({"SUBSCRIBE", self->options_.prefix + "to:" + peer}));
            self->do_read();
        });
}

void RedisSubscriber::retry_later() {
    if (stopped_) return;
    connected_ = false;
    writing_ = false;
    out_.clear();
    boost::system::error_code ignored;
    socket_.close(ignored);
    retry_.expires_after(std::chrono::seconds(1));
    retry_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec && !self->stopped_) self->do_connect();
    });
}

void RedisSubscriber::subscribe(const PeerId& peer) {
    if (!peers_.insert(peer).second) return;
    if (connected_) write(resp::command({"SUBSCRIBE", options_.prefix + "to:" + peer}));
}

void RedisSubscriber::unsubscribe(const PeerId& peer) {
    if (peers_.erase(peer) == 0) return;
    if (connected_) write(resp::command({"UNSUBSCRIBE", options_.prefix + "to:" + peer}));
}

void RedisSubscriber::write(std::string bytes) {
    out_.push_back(std::move(bytes));
    if (!writing_) do_write();
}

void RedisSubscriber::do_write() {
    if (out_.empty() || !connected_) {
        writing_ = false;
        return;
    }
    writing_ = true;
    auto bytes = std::make_shared<std::string>();
    for (auto& s : out_)
        *bytes += s;
    out_.clear();
    asio::async_write(
        socket_, asio::buffer(*bytes),
        [self = shared_from_this(), bytes](boost::system::error_code ec, std::size_t) {
            if (self->stopped_) return;
            if (ec) return self->retry_later();
            self->do_write();
        });
}

void RedisSubscriber::do_read() {
    auto buf = std::make_shared<std::array<char, 16 * 1024>>();
    socket_.async_read_some(asio::buffer(*buf), [self = shared_from_this(),
                                                 buf](boost::system::error_code ec, std::size_t n) {
        if (self->stopped_) return;
        if (ec) return self->retry_later();
        self->in_.append(buf->data(), n);
        for (;;) {
            resp::Value v;
            std::size_t used = 0;
            const auto status = resp::parse(self->in_, v, used);
            if (status == resp::Status::need_more) break;
            if (status == resp::Status::bad) return self->retry_later();
            self->in_.erase(0, used);
            self->on_reply(v);
        }
        self->do_read();
    });
}

void RedisSubscriber::on_reply(const resp::Value& v) {
    // Push messages: ["message", channel, payload], ["subscribe", channel, count], ...
    if (v.kind != resp::Value::Kind::array || v.elements.size() != 3) return;
    const std::string& kind = v.elements[0].text;
    const std::string channel_prefix = options_.prefix + "to:";
    if (kind == "subscribe") {
        ++confirmed_;
    } else if (kind == "unsubscribe") {
        if (confirmed_ > 0) --confirmed_;
    } else if (kind == "message" && v.elements[1].text.starts_with(channel_prefix)) {
        on_message_(v.elements[1].text.substr(channel_prefix.size()), v.elements[2].text);
    }
}

} // namespace traverse::signaling
