// SPDX-License-Identifier: Apache-2.0
// Stream connections over plain TCP and over TLS, one template for both.
#include "server/net/stream.hpp"

#include "proto/stream_framer.hpp"
#include "server/base/log.hpp"
#include "server/net/endpoint.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <vector>

namespace traverse::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// ---- ConnectionLimiter ----------------------------------------------------------------------

std::string ConnectionLimiter::key(const proto::TransportAddress& ip) {
    return std::string(reinterpret_cast<const char*>(ip.ip.data()), ip.ip_size());
}

bool ConnectionLimiter::try_acquire(const proto::TransportAddress& ip) {
    std::lock_guard lock(mutex_);
    if (total_ >= max_total_) return false;
    auto& n = per_ip_[key(ip)];
    if (n >= max_per_ip_) {
        if (n == 0) per_ip_.erase(key(ip));
        return false;
    }
    ++n;
    ++total_;
    return true;
}

void ConnectionLimiter::release(const proto::TransportAddress& ip) {
    std::lock_guard lock(mutex_);
    auto it = per_ip_.find(key(ip));
    if (it == per_ip_.end()) return;
    if (--it->second == 0) per_ip_.erase(it);
    --total_;
}

std::uint32_t ConnectionLimiter::active() const {
    std::lock_guard lock(mutex_);
    return total_;
}

// ---- Connection -----------------------------------------------------------------------------

namespace {

/// Largest frame a client may send: a STUN header plus the largest 16-bit length.
constexpr std::size_t max_frame_bytes = 20 + 65535 + 3;
constexpr std::size_t initial_read_bytes = 4096;

template <class Stream> constexpr bool is_tls = !std::is_same_v<Stream, tcp::socket>;

template <class Stream> class Connection final : public StreamConnection {
public:
    Connection(std::uint64_t id, std::uint32_t listener, proto::TransportAddress remote,
               Stream stream, const StreamLimits& limits, ConnectionLimiter& limiter,
               StreamSink& sink)
        : StreamConnection(id, listener, remote), stream_(std::move(stream)),
          timer_(stream_.get_executor()), limits_(limits), limiter_(limiter), sink_(sink),
          read_buffer_(initial_read_bytes) {}

    ~Connection() override {
        if (!released_) limiter_.release(remote());
    }

    void start() {
        sink_.on_stream_opened(*this);
        if constexpr (is_tls<Stream>) {
            arm_timer(limits_.handshake_timeout, true);
            stream_.async_handshake(
                asio::ssl::stream_base::server,
                [self = shared()](boost::system::error_code ec) { self->on_handshake(ec); });
        } else {
            last_activity_ = std::chrono::steady_clock::now();
            arm_timer(limits_.idle_timeout, false);
            do_read();
        }
    }

    void send(std::span<const std::byte> bytes) override {
        if (closed_) return;
        if (pending_.size() + bytes.size() > limits_.max_pending_write_bytes) {
            close(CloseReason::write_overflow);
            return;
        }
        pending_.insert(pending_.end(), bytes.begin(), bytes.end());
        if (!writing_) do_write();
    }

    void close(CloseReason reason) override {
        if (closed_) return;
        closed_ = true;
        timer_.cancel();
        boost::system::error_code ignored;
        lowest().shutdown(tcp::socket::shutdown_both, ignored);
        lowest().close(ignored);
        limiter_.release(remote());
        released_ = true;
        sink_.on_stream_closed(*this, reason);
    }

private:
    std::shared_ptr<Connection> shared() {
        return std::static_pointer_cast<Connection>(shared_from_this());
    }
    tcp::socket::lowest_layer_type& lowest() { return stream_.lowest_layer(); }

    void arm_timer(std::chrono::seconds after, bool handshake) {
        timer_.expires_after(after);
        timer_.async_wait([self = shared(), handshake](boost::system::error_code ec) {
            if (ec || self->closed_) return;
            if (handshake && !self->handshake_done_) {
                self->close(CloseReason::handshake_failed);
                return;
            }
            // Idle check: re-arm for the remaining time instead of resetting the timer on every
            // read, so the read path never touches the timer queue.
            auto idle_for = std::chrono::steady_clock::now() - self->last_activity_;
            if (idle_for >= self->limits_.idle_timeout && self->sink_.may_close_idle(*self)) {
                self->close(CloseReason::idle);
                return;
            }
            if (idle_for >= self->limits_.idle_timeout) {
                // Kept open by its allocation: look again after another idle period.
                self->arm_timer(self->limits_.idle_timeout, false);
                return;
            }
            self->arm_timer(std::chrono::duration_cast<std::chrono::seconds>(
                                self->limits_.idle_timeout - idle_for) +
                                std::chrono::seconds(1),
                            false);
        });
    }

    void on_handshake(boost::system::error_code ec) {
        if (closed_) return;
        if (ec) {
            close(CloseReason::handshake_failed);
            return;
        }
        handshake_done_ = true;
        timer_.cancel();
        last_activity_ = std::chrono::steady_clock::now();
        arm_timer(limits_.idle_timeout, false);
        do_read();
    }

    void do_read() {
        if (filled_ == read_buffer_.size()) {
            // The buffered frame is bigger than the buffer: grow up to the largest frame.
            read_buffer_.resize(std::min(read_buffer_.size() * 2, max_frame_bytes));
        }
        stream_.async_read_some(
            asio::buffer(read_buffer_.data() + filled_, read_buffer_.size() - filled_),
            [self = shared()](boost::system::error_code ec, std::size_t n) {
                self->on_read(ec, n);
            });
    }

    void on_read(boost::system::error_code ec, std::size_t n) {
        if (closed_) return;
        if (ec) {
            close(ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                      ? CloseReason::peer_closed
                      : CloseReason::io_error);
            return;
        }
        last_activity_ = std::chrono::steady_clock::now();
        filled_ += n;
        std::size_t consumed = 0;
        while (!closed_) {
            auto view =
                std::span<const std::byte>(read_buffer_.data() + consumed, filled_ - consumed);
            auto frame = proto::next_frame(view, limits_.max_channel_number);
            if (frame.status == proto::FrameResult::Status::need_more) break;
            if (frame.status == proto::FrameResult::Status::bad ||
                !sink_.on_stream_frame(*this, view.first(frame.length))) {
                close(CloseReason::garbage);
                return;
            }
            consumed += frame.length;
        }
        if (closed_) return;
        if (consumed > 0) {
            std::memmove(read_buffer_.data(), read_buffer_.data() + consumed, filled_ - consumed);
            filled_ -= consumed;
        }
        if (filled_ == read_buffer_.size() && read_buffer_.size() >= max_frame_bytes) {
            close(CloseReason::garbage); // cannot happen for a valid frame: belt and braces
            return;
        }
        do_read();
    }

    void do_write() {
        writing_ = true;
        in_flight_.swap(pending_);
        pending_.clear();
        asio::async_write(
            stream_, asio::buffer(in_flight_),
            [self = shared()](boost::system::error_code ec, std::size_t) { self->on_write(ec); });
    }

    void on_write(boost::system::error_code ec) {
        writing_ = false;
        if (closed_) return;
        if (ec) {
            close(CloseReason::io_error);
            return;
        }
        in_flight_.clear();
        if (!pending_.empty()) do_write();
    }

    Stream stream_;
    asio::steady_timer timer_;
    StreamLimits limits_;
    ConnectionLimiter& limiter_;
    StreamSink& sink_;
    std::vector<std::byte> read_buffer_;
    std::size_t filled_ = 0;
    std::vector<std::byte> pending_;   // queued while a write is in flight
    std::vector<std::byte> in_flight_; // owned by the current async_write
    std::chrono::steady_clock::time_point last_activity_{};
    bool writing_ = false;
    bool closed_ = false;
    bool released_ = false;
    bool handshake_done_ = false;
};

} // namespace

// ---- StreamListener -------------------------------------------------------------------------

StreamListener::StreamListener(asio::io_context& io, BoundSocket socket, std::uint32_t listener,
                               std::shared_ptr<asio::ssl::context> tls, const StreamLimits& limits,
                               ConnectionLimiter& limiter, StreamSink& sink)
    : io_(io), acceptor_(io), retry_timer_(io), listener_(listener), tls_(std::move(tls)),
      limits_(limits), limiter_(limiter), sink_(sink),
      // Connection ids are unique per process: the listener index in the top bits.
      next_id_((static_cast<std::uint64_t>(listener) << 40) + 1) {
    auto protocol = socket.local.family == proto::Family::ipv4 ? tcp::v4() : tcp::v6();
    acceptor_.assign(protocol, socket.fd);
}

void StreamListener::start() {
    do_accept();
}

void StreamListener::close() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
}

void StreamListener::do_accept() {
    acceptor_.async_accept(io_, [this](boost::system::error_code ec, tcp::socket socket) {
        on_accept(ec, std::move(socket));
    });
}

void StreamListener::on_accept(boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
        // EMFILE and friends: back off briefly instead of spinning on the error.
        TRAVERSE_LOG_LIMITED(warn, "net", std::chrono::steady_clock::now(), "accept failed",
                             {"error", ec.message()});
        retry_timer_.expires_after(std::chrono::milliseconds(100));
        retry_timer_.async_wait([this](boost::system::error_code e) {
            if (!e) do_accept();
        });
        return;
    }
    boost::system::error_code ep_ec;
    auto remote = from_endpoint(socket.remote_endpoint(ep_ec));
    if (ep_ec || !limiter_.try_acquire(remote)) {
        socket.close(ep_ec);
        sink_.on_stream_refused(remote);
        do_accept();
        return;
    }
    socket.set_option(tcp::no_delay(true), ep_ec);
    std::uint64_t id = next_id_++;
    if (tls_) {
        using TlsStream = asio::ssl::stream<tcp::socket>;
        auto c = std::make_shared<Connection<TlsStream>>(
            id, listener_, remote, TlsStream(std::move(socket), *tls_), limits_, limiter_, sink_);
        c->start();
    } else {
        auto c = std::make_shared<Connection<tcp::socket>>(id, listener_, remote, std::move(socket),
                                                           limits_, limiter_, sink_);
        c->start();
    }
    do_accept();
}

} // namespace traverse::net
