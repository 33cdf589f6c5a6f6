// SPDX-License-Identifier: Apache-2.0
#include "tools/natcheck/net.hpp"

#include "proto/stream_framer.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace traverse::natcheck {

SockAddr to_sockaddr(const TransportAddress& a) noexcept {
    SockAddr s;
    if (a.family == proto::Family::ipv6) {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&s.storage);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(a.port);
        std::memcpy(&v6->sin6_addr, a.ip.data(), 16);
        s.length = sizeof(sockaddr_in6);
    } else {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&s.storage);
        v4->sin_family = AF_INET;
        v4->sin_port = htons(a.port);
        std::memcpy(&v4->sin_addr, a.ip.data(), 4);
        s.length = sizeof(sockaddr_in);
    }
    return s;
}

TransportAddress from_sockaddr(const sockaddr_storage& s) noexcept {
    TransportAddress a;
    if (s.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&s);
        // An IPv4-mapped peer on a dual-stack socket is reported as IPv4.
        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
            std::memcpy(a.ip.data(), reinterpret_cast<const std::uint8_t*>(&v6->sin6_addr) + 12, 4);
        } else {
            a.family = proto::Family::ipv6;
            std::memcpy(a.ip.data(), &v6->sin6_addr, 16);
        }
        a.port = ntohs(v6->sin6_port);
    } else {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&s);
        std::memcpy(a.ip.data(), &v4->sin_addr, 4);
        a.port = ntohs(v4->sin_port);
    }
    return a;
}

std::vector<TransportAddress> resolve(const std::string& host, std::uint16_t port,
                                      std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* list = nullptr;
    const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
    if (rc != 0) {
        error = "cannot resolve '" + host + "': " + gai_strerror(rc);
        return {};
    }
    std::vector<TransportAddress> out;
    for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        sockaddr_storage s{};
        std::memcpy(&s, ai->ai_addr, std::min<std::size_t>(ai->ai_addrlen, sizeof s));
        TransportAddress a = from_sockaddr(s);
        a.port = port;
        if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    }
    freeaddrinfo(list);
    std::stable_partition(out.begin(), out.end(), [](const TransportAddress& a) {
        return a.family == proto::Family::ipv4;
    });
    if (out.empty()) error = "no address for '" + host + "'";
    return out;
}

std::optional<TransportAddress> route_source(const TransportAddress& destination) {
    const SockAddr to = to_sockaddr(destination);
    const int fd = socket(to.storage.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    std::optional<TransportAddress> out;
    if (connect(fd, to.sa(), to.length) == 0) {
        sockaddr_storage local{};
        socklen_t length = sizeof local;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
            out = from_sockaddr(local);
            out->port = 0;
        }
    }
    close(fd);
    return out;
}

UdpSocket::UdpSocket(const TransportAddress& local) {
    const SockAddr a = to_sockaddr(local);
    fd_ = socket(a.storage.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return;
    if (bind(fd_, a.sa(), a.length) != 0) {
        const int saved = errno;
        close(fd_);
        fd_ = -1;
        errno = saved;
    }
}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) close(fd_);
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

UdpSocket::~UdpSocket() {
    if (fd_ >= 0) close(fd_);
}

TransportAddress UdpSocket::local() const {
    sockaddr_storage s{};
    socklen_t length = sizeof s;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&s), &length);
    return from_sockaddr(s);
}

bool UdpSocket::send_to(const TransportAddress& to, std::span<const std::byte> bytes) const {
    const SockAddr a = to_sockaddr(to);
    return sendto(fd_, bytes.data(), bytes.size(), 0, a.sa(), a.length) ==
           static_cast<ssize_t>(bytes.size());
}

int millis_until(Clock::time_point deadline) noexcept {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return 0;
    return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

namespace {

std::string ssl_error_text() {
    const unsigned long e = ERR_get_error();
    if (e == 0) return "TLS failure";
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    return text;
}

} // namespace

StreamConn::~StreamConn() {
    close_all();
}

void StreamConn::close_all() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) close(fd_);
    ssl_ = nullptr;
    ctx_ = nullptr;
    fd_ = -1;
}

bool StreamConn::wait(short events, Clock::time_point deadline) {
    pollfd p{fd_, events, 0};
    for (;;) {
        const int rc = poll(&p, 1, millis_until(deadline));
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (errno != EINTR) return false;
    }
}

bool StreamConn::open(const TransportAddress& to, const TlsOptions* tls, Clock::time_point deadline,
                      std::string& error) {
    close_all();
    buffer_.clear();
    const SockAddr a = to_sockaddr(to);
    fd_ = socket(a.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd_, a.sa(), a.length) != 0) {
        if (errno != EINPROGRESS) {
            error = std::string("cannot connect: ") + std::strerror(errno);
            return false;
        }
        if (!wait(POLLOUT, deadline)) {
            error = "connection timed out";
            return false;
        }
        int so_error = 0;
        socklen_t length = sizeof so_error;
        getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &length);
        if (so_error != 0) {
            error = std::string("cannot connect: ") + std::strerror(so_error);
            return false;
        }
    }
    if (tls == nullptr) return true;

    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) {
        error = ssl_error_text();
        return false;
    }
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    if (tls->verify) {
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
        const bool loaded =
            tls->ca_file.empty()
                ? SSL_CTX_set_default_verify_paths(ctx_) == 1
                : SSL_CTX_load_verify_locations(ctx_, tls->ca_file.c_str(), nullptr) == 1;
        if (!loaded) {
            error = "cannot load trust anchors " + tls->ca_file + ": " + ssl_error_text();
            return false;
        }
    }
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr) {
        error = ssl_error_text();
        return false;
    }
    SSL_set_fd(ssl_, fd_);
    if (!tls->server_name.empty()) {
        // SSL_set_tlsext_host_name() is a macro with an old-style cast.
        SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(tls->server_name.c_str()));
        if (tls->verify) SSL_set1_host(ssl_, tls->server_name.c_str());
    } else if (tls->verify) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), to.ip_string().c_str());
    }
    for (;;) {
        const int rc = SSL_connect(ssl_);
        if (rc == 1) return true;
        const int e = SSL_get_error(ssl_, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (!wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
                error = "TLS handshake timed out";
                return false;
            }
            continue;
        }
        const long verify = SSL_get_verify_result(ssl_);
        if (verify != X509_V_OK)
            error = std::string("TLS certificate not accepted: ") +
                    X509_verify_cert_error_string(verify) +
                    " (use --ca FILE to trust it, or --insecure)";
        else
            error = "TLS handshake failed: " + ssl_error_text();
        return false;
    }
}

bool StreamConn::send(std::span<const std::byte> bytes, std::string& error) {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    std::size_t done = 0;
    while (done < bytes.size()) {
        if (ssl_ != nullptr) {
            const int rc =
                SSL_write(ssl_, bytes.data() + done, static_cast<int>(bytes.size() - done));
            if (rc > 0) {
                done += static_cast<std::size_t>(rc);
                continue;
            }
            const int e = SSL_get_error(ssl_, rc);
            if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
                wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
                continue;
            error = "TLS write failed: " + ssl_error_text();
            return false;
        }
        const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR) && wait(POLLOUT, deadline)) continue;
        error = std::string("send failed: ") + std::strerror(errno);
        return false;
    }
    return true;
}

std::optional<std::vector<std::byte>> StreamConn::receive(Clock::time_point deadline,
                                                          std::string& error) {
    error.clear();
    for (;;) {
        const auto frame = proto::next_frame(buffer_);
        if (frame.status == proto::FrameResult::Status::bad) {
            error = "the server sent something that is not STUN";
            return std::nullopt;
        }
        if (frame.status == proto::FrameResult::Status::complete) {
            const auto length = static_cast<std::ptrdiff_t>(frame.length);
            std::vector<std::byte> out(buffer_.begin(), buffer_.begin() + length);
            buffer_.erase(buffer_.begin(), buffer_.begin() + length);
            return out;
        }
        std::byte chunk[4096];
        ssize_t n = 0;
        if (ssl_ != nullptr) {
            const int rc = SSL_read(ssl_, chunk, sizeof chunk);
            if (rc <= 0) {
                const int e = SSL_get_error(ssl_, rc);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                    if (!wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
                        return std::nullopt;
                    continue;
                }
                error = e == SSL_ERROR_ZERO_RETURN ? "the server closed the connection"
                                                   : "TLS read failed: " + ssl_error_text();
                return std::nullopt;
            }
            n = rc;
        } else {
            n = recv(fd_, chunk, sizeof chunk, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (!wait(POLLIN, deadline)) return std::nullopt;
                continue;
            }
            if (n <= 0) {
                error = n == 0 ? "the server closed the connection"
                               : std::string("receive failed: ") + std::strerror(errno);
                return std::nullopt;
            }
        }
        buffer_.insert(buffer_.end(), chunk, chunk + n);
    }
}

TransportAddress StreamConn::local() const {
    sockaddr_storage s{};
    socklen_t length = sizeof s;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&s), &length);
    return from_sockaddr(s);
}

} // namespace traverse::natcheck
