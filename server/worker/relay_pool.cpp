// SPDX-License-Identifier: Apache-2.0
// Relay sockets: random ports within the worker's slice, even ports and reservations, DF.
#include "server/worker/relay_pool.hpp"

#include "server/net/socket.hpp"

#include <boost/asio/ip/udp.hpp>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <sys/resource.h>
#include <unistd.h>

namespace traverse::worker {

ReservationRegistry::~ReservationRegistry() {
    for (auto& [token, r] : reservations_)
        ::close(r.socket.fd);
}

void ReservationRegistry::add(std::uint64_t token, net::BoundSocket socket,
                              std::chrono::steady_clock::time_point expires) {
    std::lock_guard lock(mutex_);
    reservations_.emplace(token, Reservation{socket, expires});
}

std::optional<net::BoundSocket>
ReservationRegistry::take(std::uint64_t token, std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto it = reservations_.find(token);
    if (it == reservations_.end() || it->second.expires <= now) return std::nullopt;
    auto socket = it->second.socket;
    reservations_.erase(it);
    return socket;
}

void ReservationRegistry::expire(std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mutex_);
    std::erase_if(reservations_, [now](auto& entry) {
        if (entry.second.expires > now) return false;
        ::close(entry.second.socket.fd);
        return true;
    });
}

std::size_t ReservationRegistry::size() const {
    std::lock_guard lock(mutex_);
    return reservations_.size();
}

RelayPool::RelayPool(boost::asio::io_context& io, RelayPoolOptions options, net::DatagramSink& sink,
                     net::ReceiveBatch& batch, ReservationRegistry& reservations,
                     stats::WorkerCounters* counters)
    : io_(io), options_(std::move(options)), sink_(sink), batch_(batch),
      reservations_(reservations), counters_(counters) {
    held_.assign(static_cast<std::size_t>(options_.port_max - options_.port_min) + 1, false);
    std::uint64_t seed = 0;
    RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed);
    random_.seed(seed);
    reserve_reactor_state();
    publish();
}

void RelayPool::publish() noexcept {
    if (!counters_) return;
    // A worker without relay addresses (STUN only) has no relay ports at all.
    const bool relaying = options_.ipv4 || options_.ipv6;
    const std::size_t range =
        relaying ? static_cast<std::size_t>(options_.port_max - options_.port_min) + 1 : 0;
    stats::set(counters_->relay_ports, range);
    stats::set(counters_->relay_ports_free, relaying ? free_ports() : 0);
}

void RelayPool::reserve_reactor_state() {
    // Asio keeps the readiness state of every descriptor it ever watched (about 170 bytes) in a
    // pool it never frees. Left to grow with the first allocations, those blocks sit between the
    // allocations' own heap objects on the worker's thread, so no page empties when the
    // allocations end and malloc_trim cannot return anything. Growing the pool here, for the
    // whole slice and on the constructing thread, keeps it out of the worker's heap. Best
    // effort: stops quietly at the descriptor limit. Costs a few syscalls per port, once.
    // Leave descriptors for everything else that may open one meanwhile (exporter, logs).
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    const rlim_t spare = 1024;
    const int base = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (base < 0) return;
    std::vector<std::unique_ptr<boost::asio::ip::udp::socket>> sockets;
    sockets.reserve(held_.size());
    for (std::size_t i = 0; i < held_.size(); ++i) {
        const int fd = ::fcntl(base, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) break;
        if (limit.rlim_cur != RLIM_INFINITY && static_cast<rlim_t>(fd) + spare >= limit.rlim_cur) {
            ::close(fd); // the lowest free number: about as many descriptors are open
            break;
        }
        auto s = std::make_unique<boost::asio::ip::udp::socket>(io_);
        boost::system::error_code ec;
        s->assign(boost::asio::ip::udp::v4(), fd, ec);
        if (ec) {
            ::close(fd);
            break;
        }
        sockets.push_back(std::move(s));
    }
    for (auto& s : sockets) {
        boost::system::error_code ignored;
        s->close(ignored);
    }
    ::close(base);
}

std::size_t RelayPool::free_ports() const noexcept {
    std::size_t range = static_cast<std::size_t>(options_.port_max - options_.port_min) + 1;
    return open_ >= range ? 0 : range - open_;
}

std::optional<net::BoundSocket> RelayPool::bind_port(const RelayAddress& where, std::uint16_t port,
                                                     bool dont_fragment) {
    proto::TransportAddress at = where.bind;
    at.port = port;
    auto opened = net::open_udp(at, options_.receive_buffer_bytes, /*reuse_port=*/false);
    if (!opened.ok()) return std::nullopt;
    if (dont_fragment) {
        // RFC 8656 §7.2: DONT-FRAGMENT asks that relayed datagrams carry DF.
        int value = IP_PMTUDISC_DO;
        if (at.family == proto::Family::ipv4)
            ::setsockopt(opened.socket.fd, IPPROTO_IP, IP_MTU_DISCOVER, &value, sizeof value);
        else
            ::setsockopt(opened.socket.fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &value, sizeof value);
    }
    return opened.socket;
}

turn::RelayGrant RelayPool::adopt(net::BoundSocket socket, const RelayAddress& where) {
    turn::RelayId id;
    if (!free_ids_.empty()) {
        id = free_ids_.back();
        free_ids_.pop_back();
    } else {
        id = static_cast<turn::RelayId>(ports_.size());
        ports_.emplace_back();
    }
    mark(socket.local.port, true);
    ports_[id] = std::make_unique<net::UdpPort>(io_, socket, id, sink_, batch_);
    ports_[id]->enable_icmp_errors();
    if (!options_.udp_gso) ports_[id]->disable_gso();
    ports_[id]->start();
    ++open_;
    publish();
    turn::RelayGrant grant;
    grant.id = id;
    grant.relayed = where.external;
    grant.relayed.port = socket.local.port;
    return grant;
}

turn::RelayOpenResult RelayPool::open(const turn::RelayRequest& request) {
    turn::RelayOpenResult result;
    const auto& where = request.family == proto::Family::ipv4 ? options_.ipv4 : options_.ipv6;
    if (!where) {
        result.error = turn::RelayError::family_unsupported;
        return result;
    }

    if (request.reservation_token) {
        // RFC 8656 §7.2: the port reserved by an earlier EVEN-PORT Allocate.
        auto socket =
            reservations_.take(*request.reservation_token, std::chrono::steady_clock::now());
        if (!socket) {
            result.error = turn::RelayError::bad_token;
            return result;
        }
        const auto& owner =
            socket->local.family == proto::Family::ipv4 ? options_.ipv4 : options_.ipv6;
        if (!owner) {
            ::close(socket->fd);
            result.error = turn::RelayError::bad_token;
            return result;
        }
        result.grant = adopt(*socket, *owner);
        return result;
    }

    // Random ports within the slice: unpredictable relayed addresses, and no scan order an
    // attacker could race. Ports this pool holds are skipped without a syscall, so a nearly
    // full slice still finds its last free ports; a bounded number of binds (ports taken by
    // other processes) keeps a slice full of foreign sockets cheap.
    for (std::uint32_t attempt = 0; attempt < 64; ++attempt) {
        auto picked = pick_port(request.even_port);
        if (!picked) break;
        std::uint16_t port = *picked;
        if (request.even_port &&
            (port > options_.port_max || (request.reserve_next && port + 1 > options_.port_max)))
            continue;
        if (request.even_port && request.reserve_next &&
            held_[static_cast<std::size_t>(port + 1 - options_.port_min)])
            continue;
        auto socket = bind_port(*where, port, request.dont_fragment);
        if (!socket) continue;
        std::optional<std::uint64_t> token;
        if (request.even_port && request.reserve_next) {
            auto next = bind_port(*where, static_cast<std::uint16_t>(port + 1), false);
            if (!next) {
                ::close(socket->fd);
                continue;
            }
            std::uint64_t t = 0;
            RAND_bytes(reinterpret_cast<unsigned char*>(&t), sizeof t);
            reservations_.add(t, *next,
                              std::chrono::steady_clock::now() + options_.reservation_lifetime);
            token = t;
        }
        result.grant = adopt(*socket, *where);
        result.grant->reserved_token = token;
        return result;
    }
    result.error = turn::RelayError::exhausted;
    return result;
}

void RelayPool::mark(std::uint16_t port, bool used) noexcept {
    if (port < options_.port_min || port > options_.port_max) return;
    held_[static_cast<std::size_t>(port - options_.port_min)] = used;
}

std::optional<std::uint16_t> RelayPool::pick_port(bool even) {
    const std::uint32_t span =
        static_cast<std::uint32_t>(options_.port_max - options_.port_min) + 1;
    // First a random port; if this pool holds it, the next free one after it (wrapping).
    const std::uint32_t start = static_cast<std::uint32_t>(random_() % span);
    for (std::uint32_t i = 0; i < span; ++i) {
        const std::uint32_t offset = (start + i) % span;
        auto port = static_cast<std::uint16_t>(options_.port_min + offset);
        if (even && (port & 1u) != 0) continue;
        if (!held_[offset]) return port;
    }
    return std::nullopt;
}

void RelayPool::close(turn::RelayId id) {
    if (id >= ports_.size() || !ports_[id]) return;
    mark(ports_[id]->local().port, false);
    ports_[id]->poll_drops(); // the last drops of this socket, before they become unreadable
    ports_[id]->close();
    graveyard_.push_back(std::move(ports_[id]));
    free_ids_.push_back(id);
    --open_;
    publish();
}

void RelayPool::on_tick(std::chrono::steady_clock::time_point now) {
    graveyard_.clear();
    reservations_.expire(now);
    // Kernel receive drops, a bounded number of sockets per tick in rotation: one getsockopt
    // each, so a full slice (16 k sockets) is swept every 16 s at about 1 ms per tick.
    const std::size_t total = ports_.size();
    for (std::size_t polled = 0, seen = 0; seen < total && polled < drop_polls_per_tick; ++seen) {
        if (drop_poll_cursor_ >= total) drop_poll_cursor_ = 0;
        if (auto& p = ports_[drop_poll_cursor_++]) {
            p->poll_drops();
            ++polled;
        }
    }
}

} // namespace traverse::worker
