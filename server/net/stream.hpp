// SPDX-License-Identifier: Apache-2.0
// TCP and TLS client connections: accept with limits, cut the byte stream into STUN/ChannelData
// frames, queue replies, and close on garbage, idle, slow handshakes and slow readers.
#pragma once

#include "proto/address.hpp"
#include "server/net/socket.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

namespace traverse::net {

/// Bounds on client connections; come from the `limits` configuration section.
struct StreamLimits {
    std::uint32_t max_connections = 4096;
    std::uint32_t max_connections_per_ip = 64;
    std::chrono::seconds idle_timeout{60};
    std::chrono::seconds handshake_timeout{10};
    std::size_t max_pending_write_bytes = 256 * 1024; ///< a slower reader is cut off
    std::uint16_t max_channel_number = 0x4FFF;        ///< highest ChannelData channel accepted
};

/// Process-wide count of connections, total and per client IP. Shared by every worker's
/// listeners and touched only on accept and close, never per frame, so one mutex is enough.
class ConnectionLimiter {
public:
    ConnectionLimiter(std::uint32_t max_total, std::uint32_t max_per_ip)
        : max_total_(max_total), max_per_ip_(max_per_ip) {}
    /// Counts a new connection from `ip`; false (nothing counted) when a limit is reached.
    bool try_acquire(const proto::TransportAddress& ip);
    void release(const proto::TransportAddress& ip);
    std::uint32_t active() const;

private:
    static std::string key(const proto::TransportAddress& ip);
    mutable std::mutex mutex_; // guards total_ and per_ip_
    std::uint32_t max_total_;
    std::uint32_t max_per_ip_;
    std::uint32_t total_ = 0;
    std::unordered_map<std::string, std::uint32_t> per_ip_;
};

/// Why a connection ended.
enum class CloseReason : std::uint8_t {
    peer_closed,
    garbage,
    idle,
    handshake_failed,
    write_overflow,
    io_error,
    shutdown
};

class StreamConnection;

/// What a listener reports to its worker. Called on the worker thread.
class StreamSink {
public:
    /// A complete frame (one STUN message or ChannelData record). Return false to close.
    virtual bool on_stream_frame(StreamConnection& connection,
                                 std::span<const std::byte> frame) = 0;
    virtual void on_stream_opened(StreamConnection& connection) = 0;
    virtual void on_stream_closed(StreamConnection& connection, CloseReason reason) = 0;
    /// The connection has been idle for the idle timeout: true closes it. A TURN connection that
    /// carries an allocation stays open (RFC 8656 §3.1: the allocation lives with it).
    virtual bool may_close_idle(StreamConnection& connection) = 0;
    /// A connection was refused at accept by the limits.
    virtual void on_stream_refused(const proto::TransportAddress& remote) = 0;

protected:
    ~StreamSink() = default;
};

/// One accepted TCP or TLS client connection.
class StreamConnection : public std::enable_shared_from_this<StreamConnection> {
public:
    virtual ~StreamConnection() = default;
    std::uint64_t id() const noexcept { return id_; }
    std::uint32_t listener() const noexcept { return listener_; }
    const proto::TransportAddress& remote() const noexcept { return remote_; }
    /// Queues bytes for sending (copied); closes the connection if the queue overflows.
    virtual void send(std::span<const std::byte> bytes) = 0;
    /// Closes now; the sink hears about it once.
    virtual void close(CloseReason reason) = 0;

protected:
    StreamConnection(std::uint64_t id, std::uint32_t listener, proto::TransportAddress remote)
        : id_(id), listener_(listener), remote_(remote) {}

private:
    std::uint64_t id_;
    std::uint32_t listener_;
    proto::TransportAddress remote_;
};

/// A per-worker TCP or TLS acceptor in the SO_REUSEPORT group of its address.
class StreamListener {
public:
    /// `tls` null means plain TCP.
    StreamListener(boost::asio::io_context& io, BoundSocket socket, std::uint32_t listener,
                   std::shared_ptr<boost::asio::ssl::context> tls, const StreamLimits& limits,
                   ConnectionLimiter& limiter, StreamSink& sink);
    StreamListener(const StreamListener&) = delete;
    StreamListener& operator=(const StreamListener&) = delete;

    void start();
    void close();
    /// New TLS certificate (reload): connections accepted from now on use `tls`; open ones keep
    /// theirs (each SSL object holds a reference to its SSL_CTX).
    void set_tls(std::shared_ptr<boost::asio::ssl::context> tls) {
        if (tls_ && tls) tls_ = std::move(tls);
    }

private:
    void do_accept();
    void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

    boost::asio::io_context& io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer retry_timer_;
    std::uint32_t listener_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    StreamLimits limits_;
    ConnectionLimiter& limiter_;
    StreamSink& sink_;
    std::uint64_t next_id_;
};

} // namespace traverse::net
