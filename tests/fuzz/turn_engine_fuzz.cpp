// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the sans-IO TURN engine fed a sequence of events against a fake clock. The input
// is a little program: each step's first byte picks an event (raw datagram, authenticated
// Allocate / Refresh / CreatePermission / ChannelBind, Send indication, ChannelData, peer
// datagram, ICMP, stream frame or close, clock step and tick, peer-policy reload), later bytes
// its arguments. Four clients (three UDP, one TCP) learn nonces from the answers they get, so
// the fuzzer reaches allocations, permissions and channels, not just the 401 path.
//
// Invariants checked after every event:
//   - bounded output: at most one message per client request, per peer datagram, per ICMP;
//     every message fits the outbox slot; unauthenticated answers are small (<= 256 bytes);
//   - no reply to garbage: input that is neither a STUN message nor ChannelData produces
//     nothing, and indications and ChannelData never get an answer;
//   - answers go back to the sender, through its own listener or connection, with its
//     transaction id; 401/438 answers stay within the per-source rate limit;
//   - no relay to a denied peer: every datagram leaving through a relay socket goes to an
//     address an independent reference filter allows (every IPv4-in-IPv6 spelling unwrapped),
//     through a relay socket that is open;
//   - accounting: quota and relay sockets match the allocation table, and everything is given
//     back when the engine is destroyed.
#include "proto/attributes.hpp"
#include "proto/channel_data.hpp"
#include "proto/integrity.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "server/turn/engine.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

using namespace traverse;
using proto::AttrType;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t unix_epoch = 1'700'000'000;
constexpr const char* realm = "fuzz.test";
constexpr std::uint32_t challenges_per_second = 5;
constexpr std::size_t max_unauthenticated_answer = 256;
constexpr std::size_t max_steps = 200;

proto::TransportAddress addr(const char* text) {
    auto a = proto::TransportAddress::parse(text);
    FUZZ_CHECK(a.has_value());
    return *a;
}

/// Reads the input front to back; past the end every read is zero.
class Reader {
public:
    Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    bool empty() const { return pos_ >= size_; }
    std::uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
    // Each read in its own statement: the operands of | are unsequenced, and the replay (g++)
    // must consume the input exactly as libFuzzer's clang build does.
    std::uint16_t u16() {
        const unsigned high = u8();
        const unsigned low = u8();
        return static_cast<std::uint16_t>(high << 8 | low);
    }
    std::uint32_t u32() {
        const std::uint32_t high = u16();
        const std::uint32_t low = u16();
        return high << 16 | low;
    }
    /// Up to `max` bytes, the count taken from the input.
    std::vector<std::byte> bytes(std::size_t max) {
        // Read the count first: argument evaluation order is unspecified (g++ and clang differ).
        const std::size_t wanted = u16() % (max + 1);
        const std::size_t n = std::min(wanted, size_ - std::min(pos_, size_));
        std::vector<std::byte> out(n);
        if (n) std::memcpy(out.data(), data_ + pos_, n);
        pos_ += n;
        return out;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

// ---- the independent reference filter ------------------------------------------------------

/// The IPv4 address inside any IPv6 spelling that carries one (mapped, compatible, 6to4, NAT64),
/// written independently of PeerPolicy::unwrap.
proto::TransportAddress reference_unwrap(const proto::TransportAddress& a) {
    if (a.family != proto::Family::ipv6) return a;
    const auto& b = a.ip;
    auto all_zero = [&](int from, int to) {
        for (int i = from; i < to; ++i)
            if (b[static_cast<std::size_t>(i)] != 0) return false;
        return true;
    };
    auto v4 = [&](int at) {
        const auto i = static_cast<std::size_t>(at);
        return proto::TransportAddress::v4({b[i], b[i + 1], b[i + 2], b[i + 3]}, a.port);
    };
    if (all_zero(0, 10) && b[10] == 0xff && b[11] == 0xff) return v4(12);
    if (all_zero(0, 12) && !(all_zero(12, 15) && b[15] <= 1)) return v4(12);
    if (b[0] == 0x20 && b[1] == 0x02) return v4(2);
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && all_zero(4, 12))
        return v4(12);
    return a;
}

/// Addresses a relay must never send to: "this host", loopback, link-local (cloud metadata),
/// private, multicast, reserved; plus, while the strict policy is in force, TEST-NET-3.
bool reference_forbidden(const proto::TransportAddress& peer, bool strict) {
    const auto a = reference_unwrap(peer);
    const auto& b = a.ip;
    if (a.family == proto::Family::ipv4) {
        if (b[0] == 0 || b[0] == 127 || b[0] == 10 || b[0] >= 224) return true;
        if (b[0] == 169 && b[1] == 254) return true;
        if (b[0] == 172 && (b[1] & 0xf0) == 16) return true;
        if (b[0] == 192 && b[1] == 168) return true;
        if (b[0] == 100 && (b[1] & 0xc0) == 64) return true;
        if (strict && b[0] == 203 && b[1] == 0 && b[2] == 113) return true;
        return false;
    }
    bool zero_prefix = true;
    for (int i = 0; i < 15; ++i)
        zero_prefix = zero_prefix && b[static_cast<std::size_t>(i)] == 0;
    if (zero_prefix && b[15] <= 1) return true;             // :: and ::1
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true; // fe80::/10
    if ((b[0] & 0xfe) == 0xfc) return true;                 // fc00::/7
    if (b[0] == 0xff) return true;                          // multicast
    if (strict && b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return true;
    return false;
}

// ---- fakes -----------------------------------------------------------------------------------

struct FakeRelays final : turn::RelayOpener {
    std::set<turn::RelayId> open_ids;
    turn::RelayId next = 0;
    std::size_t capacity = 6; // small, so exhaustion (508) is reached
    std::set<std::uint64_t> tokens;

    turn::RelayOpenResult open(const turn::RelayRequest& r) override {
        turn::RelayOpenResult res;
        if (r.reservation_token && !tokens.erase(*r.reservation_token)) {
            res.error = turn::RelayError::bad_token;
            return res;
        }
        if (open_ids.size() >= capacity) {
            res.error = turn::RelayError::exhausted;
            return res;
        }
        turn::RelayGrant g;
        g.id = next++;
        g.relayed =
            r.family == proto::Family::ipv4 ? addr("198.51.100.1:0") : addr("[2001:db8:ffff::1]:0");
        g.relayed.port = static_cast<std::uint16_t>(50000 + 2 * (g.id % 1000));
        if (r.reserve_next) {
            g.reserved_token = 0x1000 + g.id;
            tokens.insert(*g.reserved_token);
        }
        open_ids.insert(g.id);
        res.grant = g;
        return res;
    }
    void close(turn::RelayId id) override {
        FUZZ_CHECK(open_ids.erase(id) == 1); // closing twice or closing a stranger is a bug
    }
};

struct FakeQuota final : turn::QuotaLedger {
    std::map<std::string, std::uint32_t, std::less<>> users;
    std::uint32_t count = 0;
    turn::QuotaRefusal acquire(std::string_view user, const proto::TransportAddress&) override {
        auto& n = users[std::string(user)];
        if (n >= 3) return turn::QuotaRefusal::per_user;
        ++n;
        ++count;
        return turn::QuotaRefusal::none;
    }
    void release(std::string_view user, const proto::TransportAddress&) override {
        auto it = users.find(user);
        FUZZ_CHECK(it != users.end() && it->second > 0 && count > 0);
        --it->second;
        --count;
    }
};

// ---- the harness -----------------------------------------------------------------------------

struct Client {
    turn::ClientContext context;
    std::string user;
    std::string password;
    std::string nonce;
};

std::shared_ptr<const turn::PeerPolicy> make_policy(bool strict) {
    std::vector<turn::Cidr> allow;
    std::vector<turn::Cidr> deny;
    if (strict) {
        deny = {*turn::Cidr::parse("203.0.113.0/24"), *turn::Cidr::parse("2001:db8::/32")};
    } else {
        allow = {*turn::Cidr::parse("203.0.113.0/24"), *turn::Cidr::parse("2001:db8:5::/48")};
    }
    return std::make_shared<const turn::PeerPolicy>(
        std::move(allow), std::move(deny),
        std::vector<proto::TransportAddress>{addr("192.0.2.1:3478")});
}

class Harness {
public:
    Harness() {
        turn::AuthOptions auth;
        auth.realm = realm;
        auth.users.push_back(turn::StaticUser{"alice", std::string("wonderland"), std::nullopt});
        auth.users.push_back(turn::StaticUser{"bob", std::string("builder"), std::nullopt});
        auth.rest_secrets = {"rest-secret"};
        for (std::size_t i = 0; i < auth.nonce_secret.size(); ++i)
            auth.nonce_secret[i] = static_cast<std::byte>(i + 1);
        turn::EngineOptions o;
        o.software = "Traverse-fuzz";
        o.auth = std::make_shared<const turn::Authenticator>(std::move(auth));
        o.peers = make_policy(false);
        o.unix_at_steady_epoch = unix_epoch;
        o.challenges_per_second = challenges_per_second;
        o.max_allocation_bytes_per_second = 4096;
        std::vector<turn::ListenerInfo> listeners(2);
        listeners[0].local = addr("192.0.2.1:3478");
        listeners[1].local = addr("192.0.2.1:3478");
        listeners[1].transport = turn::Transport::tcp;
        engine_ = std::make_unique<turn::Engine>(std::move(o), std::move(listeners), counters_,
                                                 &relays_, &quota_);
        const char* addresses[] = {"192.0.2.50:40000", "192.0.2.50:40001", "[2001:db8:1::7]:40002",
                                   "192.0.2.60:50000"};
        const char* users[] = {"alice", "bob", "alice", "alice"};
        const char* passwords[] = {"wonderland", "builder", "wonderland", "wonderland"};
        for (std::size_t i = 0; i < clients_.size(); ++i) {
            clients_[i].context.client = addr(addresses[i]);
            clients_[i].user = users[i];
            clients_[i].password = passwords[i];
        }
        clients_[3].context.listener = 1;
        clients_[3].context.connection = 7;
    }

    ~Harness() {
        engine_.reset();
        // Destroying the engine hands every relay socket and quota unit back.
        FUZZ_CHECK(relays_.open_ids.empty());
        FUZZ_CHECK(quota_.count == 0);
    }

    void run(Reader& in) {
        for (std::size_t step = 0; step < max_steps && !in.empty(); ++step)
            this->step(in);
    }

private:
    Client& client(Reader& in) { return clients_[in.u8() % clients_.size()]; }

    proto::TransportAddress peer(Reader& in) {
        static const char* table[] = {
            // allowed by the permissive policy
            "203.0.113.5:9000", "203.0.113.77:1234", "[2001:db8:5::1]:5000",
            "[::ffff:203.0.113.5]:9000",
            // every spelling of a denied peer
            "0.0.0.0:1", "[::]:1", "[::ffff:127.0.0.1]:1", "[::127.0.0.1]:1", "[2002:7f00:1::]:1",
            "[64:ff9b::7f00:1]:1", "169.254.169.254:80", "127.0.0.1:9", "10.0.0.1:1", "[::1]:1",
            "[fe80::1]:1", "192.168.1.1:1", "224.0.0.1:1", "[2002:a9fe:a9fe::]:80",
            "[64:ff9b::a9fe:a9fe]:80", "[::ffff:10.1.2.3]:5", "192.0.2.1:3478"};
        const std::uint8_t pick = in.u8();
        if (pick < 200) return addr(table[pick % std::size(table)]);
        // Arbitrary addresses straight from the input.
        if (pick & 1) {
            const std::array<std::uint8_t, 4> ip{in.u8(), in.u8(), in.u8(), in.u8()};
            const std::uint16_t port = in.u16();
            return proto::TransportAddress::v4(ip, port);
        }
        std::array<std::uint8_t, 16> ip{};
        for (auto& b : ip)
            b = in.u8();
        const std::uint16_t port = in.u16();
        return proto::TransportAddress::v6(ip, port);
    }

    template <class Fill>
    std::vector<std::byte> request(Client& c, proto::Method method, proto::MessageClass cls,
                                   bool with_auth, Reader& in, Fill&& fill) {
        std::vector<std::byte> buffer(2048);
        proto::MessageBuilder b(buffer);
        proto::TransactionId tid{};
        // Mostly fresh ids; sometimes the previous one, which exercises the answer cache.
        if (in.u8() % 8 == 0) {
            tid = last_tid_;
        } else {
            for (auto& x : tid)
                x = static_cast<std::byte>(in.u8() ^ ++tid_counter_);
        }
        last_tid_ = tid;
        b.start(proto::make_type(method, cls), tid);
        fill(b);
        if (with_auth) {
            b.add_string(AttrType::username, c.user);
            b.add_string(AttrType::realm, realm);
            b.add_string(AttrType::nonce, c.nonce);
            const auto key = proto::long_term_key_md5(c.user, realm, c.password);
            b.add_message_integrity(key);
        }
        if (in.u8() & 1) b.add_fingerprint();
        auto wire = b.finish();
        if (!wire) return {};
        buffer.resize(wire->size());
        // Occasionally corrupt one byte: integrity, fingerprint or structure must catch it.
        if (const std::uint8_t flip = in.u8(); flip >= 240 && !buffer.empty())
            buffer[in.u16() % buffer.size()] ^= static_cast<std::byte>(1u << (flip % 8));
        return buffer;
    }

    void step(Reader& in) {
        const std::uint8_t op = in.u8();
        switch (op % 16) {
        case 0:
        case 1: { // raw bytes from a client
            Client& c = client(in);
            auto data = in.bytes(600);
            feed(c, data);
            break;
        }
        case 2: { // Allocate
            Client& c = client(in);
            const std::uint8_t flags = in.u8();
            const std::uint32_t lifetime = in.u32();
            auto wire =
                request(c, proto::Method::allocate, proto::MessageClass::request, !(flags & 0x80),
                        in, [&](proto::MessageBuilder& b) {
                            b.add_requested_transport((flags & 1) ? 6 : 17);
                            if (flags & 2) b.add_u32(AttrType::lifetime, lifetime);
                            if (flags & 4) b.add_even_port(flags & 8);
                            if (flags & 16)
                                b.add_address_family(AttrType::requested_address_family,
                                                     proto::Family::ipv6);
                            if (flags & 32)
                                b.add_address_family(AttrType::additional_address_family,
                                                     proto::Family::ipv6);
                            if (flags & 64)
                                b.add_u64(AttrType::reservation_token, 0x1000 + lifetime % 4);
                        });
            feed(c, wire);
            break;
        }
        case 3: { // Refresh
            Client& c = client(in);
            const std::uint32_t lifetime = in.u8() % 3 == 0 ? 0 : in.u32();
            auto wire =
                request(c, proto::Method::refresh, proto::MessageClass::request, true, in,
                        [&](proto::MessageBuilder& b) { b.add_u32(AttrType::lifetime, lifetime); });
            feed(c, wire);
            break;
        }
        case 4:
        case 5: { // CreatePermission with one to three peers
            Client& c = client(in);
            const std::size_t n = 1 + in.u8() % 3;
            std::vector<proto::TransportAddress> peers;
            for (std::size_t i = 0; i < n; ++i)
                peers.push_back(peer(in));
            auto wire = request(c, proto::Method::create_permission, proto::MessageClass::request,
                                true, in, [&](proto::MessageBuilder& b) {
                                    for (const auto& p : peers)
                                        b.add_xor_address(AttrType::xor_peer_address, p);
                                });
            feed(c, wire);
            break;
        }
        case 6: { // ChannelBind
            Client& c = client(in);
            const auto channel = static_cast<std::uint16_t>(0x4000 + in.u8() % 8);
            const auto p = peer(in);
            auto wire = request(c, proto::Method::channel_bind, proto::MessageClass::request, true,
                                in, [&](proto::MessageBuilder& b) {
                                    b.add_channel_number(channel);
                                    b.add_xor_address(AttrType::xor_peer_address, p);
                                });
            feed(c, wire);
            break;
        }
        case 7:
        case 8: { // Send indication
            Client& c = client(in);
            const auto p = peer(in);
            const auto payload = in.bytes(300);
            auto wire = request(c, proto::Method::send, proto::MessageClass::indication, false, in,
                                [&](proto::MessageBuilder& b) {
                                    b.add_xor_address(AttrType::xor_peer_address, p);
                                    b.add_raw(AttrType::data, payload);
                                });
            feed(c, wire);
            break;
        }
        case 9:
        case 10: { // ChannelData (padded on the TCP client)
            Client& c = client(in);
            const auto channel = static_cast<std::uint16_t>(0x4000 + in.u8() % 8);
            const auto payload = in.bytes(300);
            const bool stream = c.context.connection != 0;
            std::vector<std::byte> wire(proto::channel_data_frame_size(payload.size(), stream));
            proto::write_channel_data_header(std::span<std::byte, 4>(wire.data(), 4), channel,
                                             static_cast<std::uint16_t>(payload.size()));
            if (!payload.empty()) std::memcpy(wire.data() + 4, payload.data(), payload.size());
            feed(c, wire);
            break;
        }
        case 11: { // a datagram from a peer on a relay socket
            const turn::RelayId relay = in.u8() % 8;
            const auto p = peer(in);
            const auto payload = in.bytes(1200);
            outbox()->clear();
            engine_->on_peer_datagram(now_, relay, p, payload, *outbox());
            check_to_clients(1);
            break;
        }
        case 12: { // an ICMP error about a peer
            const turn::RelayId relay = in.u8() % 8;
            const auto p = peer(in);
            const std::uint8_t type = in.u8();
            const std::uint8_t code = in.u8();
            const std::uint32_t info = in.u32();
            outbox()->clear();
            engine_->on_peer_icmp(now_, relay, p, type, code, info, *outbox());
            check_to_clients(1);
            break;
        }
        case 13: { // the TCP client's connection closes
            Client& c = clients_[3];
            engine_->on_stream_closed(now_, c.context);
            c.context.connection += 1; // a reconnect is a new 5-tuple
            c.nonce.clear();
            break;
        }
        case 14: { // time passes; the worker ticks
            const std::uint8_t amount = in.u8();
            now_ += amount < 128 ? std::chrono::milliseconds(amount * 20)
                                 : std::chrono::seconds((amount - 127) * 30);
            engine_->on_tick(now_);
            break;
        }
        case 15: // the operator reloads the peer filter
            strict_ = !strict_;
            engine_->set_peer_policy(make_policy(strict_));
            break;
        }
        check_accounting();
    }

    turn::Outbox* outbox() { return &out_; }

    /// Feeds `data` from `c` (UDP datagram or stream frame) and checks what came out.
    void feed(Client& c, const std::vector<std::byte>& data) {
        out_.clear();
        const bool stream = c.context.connection != 0;
        bool keep = true;
        if (stream)
            keep = engine_->on_stream_frame(now_, c.context, data, out_);
        else
            engine_->on_client_datagram(now_, c.context, data, out_);

        const auto parsed = proto::MessageView::parse(data);
        const bool channel_data =
            !parsed && !data.empty() &&
            proto::parse_channel_data(data, stream, proto::max_channel_rfc5766).has_value();
        std::size_t to_client = 0;
        for (const auto& e : out_.entries()) {
            FUZZ_CHECK(e.size <= turn::Outbox::max_message_bytes);
            if (e.via.kind == turn::Via::Kind::relay) {
                check_relay(e);
                continue;
            }
            ++to_client;
            // Garbage gets nothing; only a parsed request gets an answer.
            FUZZ_CHECK(parsed.has_value());
            FUZZ_CHECK(parsed->message_class() == proto::MessageClass::request);
            check_answer(c, *parsed, e);
        }
        FUZZ_CHECK(to_client <= 1);
        if (!parsed && !channel_data) FUZZ_CHECK(out_.empty());
        if (stream && !keep) {
            // The worker closes a connection that sent a bad frame.
            FUZZ_CHECK(out_.empty());
            engine_->on_stream_closed(now_, c.context);
            c.context.connection += 1;
            c.nonce.clear();
        }
    }

    void check_answer(Client& c, const proto::MessageView& request, const turn::Outbox::Entry& e) {
        const bool stream = c.context.connection != 0;
        FUZZ_CHECK(e.to == c.context.client);
        if (stream) {
            FUZZ_CHECK(e.via.kind == turn::Via::Kind::connection);
            FUZZ_CHECK(e.via.connection == c.context.connection);
        } else {
            FUZZ_CHECK(e.via.kind == turn::Via::Kind::listener);
        }
        FUZZ_CHECK(e.via.listener == c.context.listener);
        const auto answer = proto::MessageView::parse(out_.bytes(e));
        FUZZ_CHECK(answer.has_value());
        FUZZ_CHECK(answer->transaction_id() == request.transaction_id());
        FUZZ_CHECK(answer->method() == request.method());
        FUZZ_CHECK(answer->message_class() == proto::MessageClass::success_response ||
                   answer->message_class() == proto::MessageClass::error_response);
        if (!answer->has_message_integrity() && !answer->has_message_integrity_sha256())
            FUZZ_CHECK(e.size <= max_unauthenticated_answer);
        if (auto nonce = answer->find(AttrType::nonce)) {
            c.nonce = std::string(proto::decode_string(*nonce));
            // 401/438 carry the nonce: at most challenges_per_second per source and second.
            const auto second =
                std::chrono::duration_cast<std::chrono::seconds>(now_.time_since_epoch()).count();
            auto& n = challenges_[{second, c.context.client.ip}];
            ++n;
            FUZZ_CHECK(n <= challenges_per_second);
        }
    }

    void check_relay(const turn::Outbox::Entry& e) {
        FUZZ_CHECK(relays_.open_ids.contains(e.via.listener));
        FUZZ_CHECK(!reference_forbidden(e.to, strict_));
    }

    /// After a peer datagram or ICMP error: at most `max` messages, all to a client.
    void check_to_clients(std::size_t max) {
        FUZZ_CHECK(out_.entries().size() <= max);
        for (const auto& e : out_.entries()) {
            FUZZ_CHECK(e.via.kind != turn::Via::Kind::relay);
            FUZZ_CHECK(e.size <= turn::Outbox::max_message_bytes);
            bool known = false;
            for (const auto& c : clients_)
                known = known || e.to == c.context.client;
            FUZZ_CHECK(known);
        }
    }

    void check_accounting() {
        const std::size_t allocations = engine_->allocation_count();
        FUZZ_CHECK(quota_.count == allocations);
        // One relay per allocation, two for dual-stack ones.
        FUZZ_CHECK(relays_.open_ids.size() >= allocations);
        FUZZ_CHECK(relays_.open_ids.size() <= 2 * allocations);
    }

    stats::WorkerCounters counters_;
    FakeRelays relays_;
    FakeQuota quota_;
    std::unique_ptr<turn::Engine> engine_;
    turn::Outbox out_;
    std::array<Client, 4> clients_;
    turn::Time now_ = turn::Time{} + 1000s;
    bool strict_ = false;
    proto::TransactionId last_tid_{};
    std::uint8_t tid_counter_ = 0;
    std::map<std::pair<std::int64_t, std::array<std::uint8_t, 16>>, std::uint32_t> challenges_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The outbox alone is over half a megabyte: keep the harness off the stack.
    auto harness = std::make_unique<Harness>();
    Reader in(data, size);
    harness->run(in);
    return 0;
}
