// SPDX-License-Identifier: Apache-2.0
#include "tools/natcheck/turn.hpp"

#include "proto/attributes.hpp"
#include "proto/integrity.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "proto/registry.hpp"

#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <random>

namespace traverse::natcheck {
namespace {

namespace p = proto;

std::span<const std::byte> as_bytes(const std::string& s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

/// The control connection to the TURN server: a connected UDP socket or a TCP/TLS stream.
class Channel {
public:
    bool open(const std::string& transport, const TransportAddress& server, const TlsOptions& tls,
              const TransportAddress& local_ip, Clock::time_point deadline, std::string& error) {
        stream_ = transport != "udp";
        if (stream_) {
            conn_ = std::make_unique<StreamConn>();
            return conn_->open(server, transport == "tls" ? &tls : nullptr, deadline, error);
        }
        udp_ = UdpSocket(local_ip);
        const SockAddr to = to_sockaddr(server);
        if (!udp_.ok() || connect(udp_.fd(), to.sa(), to.length) != 0) {
            error = std::string("cannot open a UDP socket: ") + std::strerror(errno);
            return false;
        }
        return true;
    }
    bool stream() const noexcept { return stream_; }
    int fd() const noexcept { return stream_ ? conn_->fd() : udp_.fd(); }

    bool send(std::span<const std::byte> bytes, std::string& error) {
        if (stream_) return conn_->send(bytes, error);
        if (::send(udp_.fd(), bytes.data(), bytes.size(), 0) < 0) {
            error = std::string("send failed: ") + std::strerror(errno);
            return false;
        }
        return true;
    }

    /// The next message from the server, or nullopt at deadline (or on failure: error set).
    std::optional<std::vector<std::byte>> receive(Clock::time_point deadline, std::string& error) {
        if (stream_) return conn_->receive(deadline, error);
        std::array<std::byte, 4096> buffer{};
        for (;;) {
            const ssize_t n = recv(udp_.fd(), buffer.data(), buffer.size(), 0);
            if (n >= 0) return std::vector<std::byte>(buffer.begin(), buffer.begin() + n);
            if (errno == ECONNREFUSED) {
                error = "the server's port is closed (ICMP port unreachable)";
                return std::nullopt;
            }
            if (errno != EAGAIN && errno != EINTR) {
                error = std::string("receive failed: ") + std::strerror(errno);
                return std::nullopt;
            }
            pollfd pfd{udp_.fd(), POLLIN, 0};
            if (poll(&pfd, 1, millis_until(deadline)) <= 0) return std::nullopt;
        }
    }

private:
    bool stream_ = false;
    UdpSocket udp_;
    std::unique_ptr<StreamConn> conn_;
};

/// A TURN client session over one channel: long-term credentials, transactions, indications.
class Session {
public:
    Session(Channel& channel, const TurnOptions& options) : ch_(channel), options_(options) {}

    /// One request (attributes added by add), with credentials once known; retransmitted over
    /// UDP. Retries once on 401 (first challenge) and on 438 (stale nonce).
    template <class Add>
    std::optional<std::vector<std::byte>> transact(p::Method method, Add add,
                                                   Clock::time_point deadline, std::string& error) {
        for (int attempt = 0; attempt < 3; ++attempt) {
            auto answer = once(method, add, deadline, error);
            if (!answer) return std::nullopt;
            auto view = p::MessageView::parse(*answer);
            if (!view) {
                error = "malformed answer";
                return std::nullopt;
            }
            if (view->message_class() != p::MessageClass::error_response) return answer;
            int code = 0;
            if (auto a = view->find(p::AttrType::error_code))
                if (auto e = p::decode_error_code(*a)) code = e->code;
            const bool first_challenge = code == 401 && !have_key_;
            if ((first_challenge || code == 438) && attempt < 2) {
                if (auto r = view->find(p::AttrType::realm)) realm_ = p::decode_string(*r);
                if (auto n = view->find(p::AttrType::nonce)) nonce_ = p::decode_string(*n);
                key_ = p::long_term_key_md5(options_.username, realm_, options_.password);
                have_key_ = !nonce_.empty();
                if (have_key_) continue;
            }
            return answer;
        }
        error = "the server keeps refusing the nonce";
        return std::nullopt;
    }

    /// Sends an indication (no answer expected).
    bool indicate(p::Method method, const TransportAddress& peer, std::span<const std::byte> data,
                  std::string& error) {
        std::vector<std::byte> buffer(data.size() + 128);
        p::MessageBuilder b(buffer);
        b.start(p::make_type(method, p::MessageClass::indication), new_transaction_id());
        b.add_xor_address(p::AttrType::xor_peer_address, peer);
        b.add_raw(p::AttrType::data, data);
        const auto wire = b.finish();
        return wire && ch_.send(*wire, error);
    }

    /// Messages that arrived while waiting for something else (Data indications).
    std::deque<std::vector<std::byte>>& stray() { return stray_; }
    std::span<const std::byte> key() const { return key_; }

private:
    template <class Add>
    std::optional<std::vector<std::byte>> once(p::Method method, Add& add,
                                               Clock::time_point deadline, std::string& error) {
        const auto id = new_transaction_id();
        std::vector<std::byte> buffer(1024);
        p::MessageBuilder b(buffer);
        b.start(p::make_type(method, p::MessageClass::request), id);
        add(b);
        if (have_key_) {
            b.add_string(p::AttrType::username, options_.username);
            b.add_string(p::AttrType::realm, realm_);
            b.add_string(p::AttrType::nonce, nonce_);
            b.add_message_integrity(key_);
        }
        b.add_fingerprint();
        const auto wire = b.finish();
        if (!wire) {
            error = "cannot encode the request (username too long?)";
            return std::nullopt;
        }
        const Schedule s = schedule(options_.retransmit);
        const auto start = Clock::now();
        std::size_t sent = 0;
        const auto give_up = std::min(deadline, start + s.give_up);
        for (;;) {
            const auto now = Clock::now();
            if (sent < s.sends.size() && start + s.sends[sent] <= now) {
                if (!ch_.send(*wire, error)) return std::nullopt;
                // Over TCP/TLS one send is enough (RFC 8489 §6.2.2).
                sent = ch_.stream() ? s.sends.size() : sent + 1;
            }
            if (now >= give_up) {
                error = "no answer";
                return std::nullopt;
            }
            auto wake = give_up;
            if (sent < s.sends.size()) wake = std::min(wake, start + s.sends[sent]);
            auto got = ch_.receive(wake, error);
            if (!got) {
                if (!error.empty()) return std::nullopt;
                continue;
            }
            auto view = p::MessageView::parse(*got);
            if (view && view->transaction_id() == id &&
                view->message_class() != p::MessageClass::request)
                return got;
            stray_.push_back(std::move(*got));
        }
    }

    Channel& ch_;
    const TurnOptions& options_;
    bool have_key_ = false;
    std::string realm_;
    std::string nonce_;
    std::array<std::byte, 16> key_{};
    std::deque<std::vector<std::byte>> stray_;
};

std::string describe_error(const std::vector<std::byte>& answer) {
    auto view = p::MessageView::parse(answer);
    if (!view) return "malformed answer";
    if (auto a = view->find(p::AttrType::error_code)) {
        if (auto e = p::decode_error_code(*a)) {
            std::string out = std::to_string(e->code) + " " +
                              std::string(e->reason.empty() ? p::error_reason(e->code) : e->reason);
            if (e->code == 401) out += ": the server refused the username or password";
            if (e->code == 403) out += ": the server refused the peer address";
            if (e->code == 486) out += ": the user has too many allocations";
            return out;
        }
    }
    return "error response";
}

bool is_success(const std::vector<std::byte>& answer) {
    auto view = p::MessageView::parse(answer);
    return view && view->message_class() == p::MessageClass::success_response;
}

/// A Data indication's peer and payload, if the message is one.
std::optional<std::pair<TransportAddress, std::vector<std::byte>>>
data_indication(const std::vector<std::byte>& message) {
    auto view = p::MessageView::parse(message);
    if (!view || !view->type().is(p::Method::data, p::MessageClass::indication))
        return std::nullopt;
    auto peer = view->find(p::AttrType::xor_peer_address);
    auto data = view->find(p::AttrType::data);
    if (!peer || !data) return std::nullopt;
    auto address = p::decode_xor_address(*peer, view->transaction_id());
    if (!address) return std::nullopt;
    return std::make_pair(*address, std::vector<std::byte>(data->value.begin(), data->value.end()));
}

/// Probe i's payload: a random tag (so stray traffic never counts) and the index.
std::string echo_payload(const std::string& tag, int index) {
    return "natcheck-echo " + tag + " " + std::to_string(index);
}

int echo_index(const std::string& tag, std::span<const std::byte> payload) {
    const std::string text(reinterpret_cast<const char*>(payload.data()), payload.size());
    const std::string prefix = "natcheck-echo " + tag + " ";
    if (text.rfind(prefix, 0) != 0) return -1;
    try {
        return std::stoi(text.substr(prefix.size()));
    } catch (...) {
        return -1;
    }
}

void record_rtts(TurnResult& r, const std::vector<double>& rtts) {
    r.received = static_cast<int>(rtts.size());
    if (rtts.empty()) return;
    r.rtt_min_ms = *std::min_element(rtts.begin(), rtts.end());
    r.rtt_max_ms = *std::max_element(rtts.begin(), rtts.end());
    double sum = 0;
    for (double v : rtts)
        sum += v;
    r.rtt_avg_ms = sum / static_cast<double>(rtts.size());
}

/// The schedule and bookkeeping of one echo test: `echo_count` numbered payloads sent
/// `echo_interval` apart, every round trip counted once, within the deadline.
struct EchoRun {
    EchoRun(const TurnOptions& o, Clock::time_point deadline)
        : count(o.echo_count), interval(o.echo_interval),
          tag(std::to_string(std::random_device{}())),
          sent_at(static_cast<std::size_t>(o.echo_count)), seen(sent_at.size(), false),
          start(Clock::now()),
          end(std::min(deadline, start + o.echo_interval * o.echo_count + o.echo_wait)) {}

    bool running() const { return Clock::now() < end && static_cast<int>(rtts.size()) < count; }

    /// Hands every payload that is due to `send` (which sends it one way or another).
    template <class Send> void send_due(Send&& send) {
        const auto now = Clock::now();
        while (next < count && start + interval * next <= now) {
            send(echo_payload(tag, next));
            sent_at[static_cast<std::size_t>(next)] = Clock::now();
            ++next;
        }
    }

    /// When to look again: the next payload's time, or the end.
    Clock::time_point wake() const {
        return next < count ? std::min(end, start + interval * next) : end;
    }

    bool ours(std::span<const std::byte> payload) const { return echo_index(tag, payload) >= 0; }

    /// A payload came back: its round trip counts if it is ours and not seen before.
    void arrived(std::span<const std::byte> payload) {
        const int index = echo_index(tag, payload);
        if (index < 0 || index >= next || seen[static_cast<std::size_t>(index)]) return;
        seen[static_cast<std::size_t>(index)] = true;
        rtts.push_back(std::chrono::duration<double, std::milli>(
                           Clock::now() - sent_at[static_cast<std::size_t>(index)])
                           .count());
    }

    void finish(TurnResult& r) const {
        r.sent = next;
        record_rtts(r, rtts);
    }

    const int count;
    const milliseconds interval;
    const std::string tag;
    std::vector<Clock::time_point> sent_at;
    std::vector<bool> seen;
    std::vector<double> rtts;
    const Clock::time_point start;
    const Clock::time_point end;
    int next = 0;
};

/// Echo through the relay via our own public address: a UDP "peer" socket sends to the relayed
/// address; the relay hands it to us as a Data indication; we send it back with a Send
/// indication to the address the relay saw; the peer socket receives it. Works behind every
/// NAT type, because the peer socket opened its NAT mapping towards the relay itself.
void echo_via_peer(Channel& ch, Session& session, TurnResult& r, const TurnOptions& options,
                   const TransportAddress& local_ip, Clock::time_point deadline) {
    UdpSocket peer(local_ip);
    if (!peer.ok()) return;
    EchoRun run(options, deadline);
    r.echo_method = "peer";
    std::string error;
    auto handle_client_message = [&](const std::vector<std::byte>& m) {
        auto d = data_indication(m);
        if (!d || !run.ours(d->second)) return;
        session.indicate(p::Method::send, d->first, d->second, error);
    };
    for (auto& m : session.stray())
        handle_client_message(m);
    session.stray().clear();
    while (run.running()) {
        run.send_due(
            [&](const std::string& payload) { peer.send_to(*r.relayed, as_bytes(payload)); });
        pollfd fds[2] = {{ch.fd(), POLLIN, 0}, {peer.fd(), POLLIN, 0}};
        // A TLS record may already be buffered: always try the channel without blocking first.
        while (auto m = ch.receive(Clock::now(), error))
            handle_client_message(*m);
        if (!error.empty()) break;
        if (poll(fds, 2, millis_until(run.wake())) <= 0) continue;
        if (fds[1].revents & POLLIN) {
            std::array<std::byte, 2048> buffer{};
            for (;;) {
                const ssize_t n = recv(peer.fd(), buffer.data(), buffer.size(), 0);
                if (n < 0) break;
                run.arrived({buffer.data(), static_cast<std::size_t>(n)});
            }
        }
    }
    run.finish(r);
}

/// Echo through the relay to its own relayed address (when UDP from here does not reach the
/// relay): Send indication to the relayed address, Data indication back from it. Servers may
/// refuse this (traverse does, unless peers.allow covers its own address).
void echo_via_loop(Channel& ch, Session& session, TurnResult& r, const TurnOptions& options,
                   Clock::time_point deadline) {
    std::string error;
    const TransportAddress self = *r.relayed;
    auto answer = session.transact(
        p::Method::create_permission,
        [&](p::MessageBuilder& b) { b.add_xor_address(p::AttrType::xor_peer_address, self); },
        deadline, error);
    if (!answer || !is_success(*answer)) {
        r.error = "no data came back through the relay: UDP from here did not reach the relay "
                  "address, and the server refused to relay to itself (" +
                  (answer ? describe_error(*answer) : error) + ")";
        return;
    }
    r.echo_method = "relay-loop";
    EchoRun run(options, deadline);
    while (run.running()) {
        run.send_due([&](const std::string& payload) {
            session.indicate(p::Method::send, self, as_bytes(payload), error);
        });
        error.clear();
        auto m = ch.receive(run.wake(), error);
        if (!m) {
            if (!error.empty()) break;
            continue;
        }
        if (auto d = data_indication(*m)) run.arrived(d->second);
    }
    run.finish(r);
    if (run.rtts.empty()) r.error = "no data came back through the relay";
}

} // namespace

std::string base64(std::span<const std::byte> bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return out;
}

std::pair<std::string, std::string> rest_credentials(const std::string& secret,
                                                     const std::string& user,
                                                     std::uint64_t expiry_unix_seconds) {
    std::string username = std::to_string(expiry_unix_seconds);
    if (!user.empty()) username += ":" + user;
    const auto mac = p::hmac_sha1(as_bytes(secret), as_bytes(username));
    return {username, base64(mac)};
}

TurnResult check_turn(const std::string& transport, const TransportAddress& server,
                      const TurnOptions& options, std::vector<TransportAddress> own_ips,
                      const TransportAddress& local_ip, Clock::time_point deadline) {
    TurnResult r;
    r.transport = transport;
    r.attempted = true;
    Channel ch;
    std::string error;
    if (!ch.open(transport, server, options.tls, local_ip, deadline, error)) {
        r.error = error;
        return r;
    }
    Session session(ch, options);

    // Allocate (RFC 8656 §7.1): first unauthenticated, then answering the 401 challenge.
    auto answer = session.transact(
        p::Method::allocate,
        [](p::MessageBuilder& b) { b.add_requested_transport(p::transport_udp); }, deadline, error);
    if (!answer) {
        r.error = error == "no answer" ? "no answer to Allocate" : error;
        return r;
    }
    if (!is_success(*answer)) {
        r.error = "Allocate refused: " + describe_error(*answer);
        return r;
    }
    const auto view = p::MessageView::parse(*answer);
    if (auto a = view->find(p::AttrType::xor_relayed_address))
        if (auto v = p::decode_xor_address(*a, view->transaction_id())) r.relayed = *v;
    if (auto a = view->find(p::AttrType::xor_mapped_address))
        if (auto v = p::decode_xor_address(*a, view->transaction_id())) r.mapped = *v;
    if (!r.relayed) {
        r.error = "the Allocate answer has no XOR-RELAYED-ADDRESS";
        return r;
    }
    if (view->has_message_integrity() && !view->verify_integrity(session.key())) {
        r.error = "the Allocate answer's MESSAGE-INTEGRITY does not verify";
        return r;
    }
    r.allocated = true;

    // CreatePermission (RFC 8656 §9) for our public IPs: permissions ignore the port.
    if (r.mapped) own_ips.push_back(*r.mapped);
    std::vector<TransportAddress> peers;
    for (auto ip : own_ips) {
        ip.port = 0;
        if (ip.family == r.relayed->family &&
            std::find(peers.begin(), peers.end(), ip) == peers.end())
            peers.push_back(ip);
    }
    if (!peers.empty()) {
        answer = session.transact(
            p::Method::create_permission,
            [&](p::MessageBuilder& b) {
                for (const auto& peer : peers)
                    b.add_xor_address(p::AttrType::xor_peer_address, peer);
            },
            deadline, error);
        if (answer && is_success(*answer))
            echo_via_peer(ch, session, r, options, local_ip, deadline);
        else
            r.error = "CreatePermission for our own address refused: " +
                      (answer ? describe_error(*answer) : error);
    }
    if (r.received == 0) {
        const std::string first = r.error;
        r.sent = 0;
        echo_via_loop(ch, session, r, options, deadline);
        if (!first.empty() && !r.error.empty()) r.error = first + "; " + r.error;
        if (r.received > 0) r.error.clear();
    }

    // Release the allocation (Refresh with LIFETIME 0, RFC 8656 §7.3); failure is harmless.
    session.transact(
        p::Method::refresh, [](p::MessageBuilder& b) { b.add_u32(p::AttrType::lifetime, 0); },
        std::min(deadline, Clock::now() + std::chrono::seconds(2)), error);
    return r;
}

} // namespace traverse::natcheck
