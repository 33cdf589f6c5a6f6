// SPDX-License-Identifier: Apache-2.0
// Engine entry points: demultiplexing, authentication, retransmissions, relaying, expiry.
#include "server/turn/engine.hpp"

#include "proto/attributes.hpp"
#include "proto/bytes.hpp"
#include "proto/channel_data.hpp"
#include "proto/registry.hpp"
#include "proto/types.hpp"
#include "server/base/log.hpp"
#include "server/turn/handlers/respond.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace traverse::turn {
namespace {

bool is_method(const proto::MessageView& m, proto::Method method) noexcept {
    return m.method() == static_cast<std::uint16_t>(method);
}

/// ChannelData starts with the bits 01 (channel 0x4000..0x7FFF); the parser then applies the
/// configured range. RFC 7983's narrower 64..79 would misfile RFC 5766 channels as garbage STUN.
bool is_channel_data(std::byte first) noexcept {
    return (std::to_integer<std::uint8_t>(first) & 0xC0) == 0x40;
}

std::int64_t derive_unix_at_steady_epoch() noexcept {
    auto unix_now = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    auto steady_now =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
    return unix_now - steady_now;
}

} // namespace

Engine::Engine(EngineOptions options, std::vector<ListenerInfo> listeners,
               stats::WorkerCounters& counters, RelayOpener* relays, QuotaLedger* quotas)
    : options_(std::move(options)), listeners_(std::move(listeners)), counters_(counters),
      relays_(relays), quotas_(quotas),
      peers_(options_.peers ? options_.peers : std::make_shared<const PeerPolicy>()),
      unix_at_steady_epoch_(options_.unix_at_steady_epoch != 0 ? options_.unix_at_steady_epoch
                                                               : derive_unix_at_steady_epoch()) {}

Engine::~Engine() {
    // Give relay sockets and quota back; the engine's owner is shutting down.
    std::vector<Allocation*> all;
    for (auto& [tuple, a] : allocations_)
        all.push_back(a.get());
    for (auto* a : all)
        destroy(*a, std::nullopt);
}

void Engine::set_peer_policy(std::shared_ptr<const PeerPolicy> peers) noexcept {
    if (!peers) return;
    peers_ = std::move(peers);
    // Grants made under the old filter end for peers the new one refuses: ChannelData is
    // checked against the filter at ChannelBind only, so a kept channel would still relay to a
    // newly denied peer. Such channels expire now but stay quarantined (RFC 8656 §12), so the
    // number is not rebound to another peer while late packets may still arrive.
    for (auto& [tuple, a] : allocations_) {
        stats::add(counters_.permissions_removed,
                   std::erase_if(a->permissions,
                                 [&](const Permission& p) { return !peer_allowed(p.peer_ip); }));
        for (auto& c : a->channels) {
            if (!c.active || peer_allowed(c.peer)) continue;
            c.expires = Time{};
            c.active = false;
            stats::add(counters_.channels_unbound);
        }
    }
}

void Engine::reconfigure(const EngineOptions& options) noexcept {
    options_.software = options.software;
    options_.auth = options.auth;
    set_peer_policy(options.peers ? options.peers : std::make_shared<const PeerPolicy>());
    options_.default_lifetime = options.default_lifetime;
    options_.max_lifetime = options.max_lifetime;
    options_.permission_lifetime = options.permission_lifetime;
    options_.channel_lifetime = options.channel_lifetime;
    options_.channel_quarantine = options.channel_quarantine;
    options_.max_allocation_bytes_per_second = options.max_allocation_bytes_per_second;
    options_.challenges_per_second = options.challenges_per_second;
}

void Engine::set_draining(bool draining,
                          std::optional<proto::TransportAddress> alternate) noexcept {
    draining_ = draining;
    alternate_server_ = alternate;
}

std::int64_t Engine::unix_seconds(Time now) const noexcept {
    return unix_at_steady_epoch_ +
           std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
}

Via Engine::reply_via(const ClientContext& from) const noexcept {
    if (listeners_[from.listener].transport == Transport::udp) return Via::udp(from.listener);
    return Via::stream(from.listener, from.connection);
}

Via Engine::client_via(const FiveTuple& tuple) const noexcept {
    if (listeners_[tuple.listener].transport == Transport::udp) return Via::udp(tuple.listener);
    return Via::stream(tuple.listener, tuple.connection);
}

bool Engine::within_bandwidth(ByteBucket& bucket, std::size_t bytes, Time now) noexcept {
    if (options_.max_allocation_bytes_per_second == 0) return true;
    if (bucket.take(bytes, options_.max_allocation_bytes_per_second, now)) return true;
    stats::add(counters_.relay_dropped_bandwidth);
    return false;
}

bool Engine::resend_cached(const CachedResponse& cached, const ClientContext& from,
                           const proto::MessageView& request, Outbox& out) noexcept {
    if (cached.bytes.empty() || cached.transaction_id != request.transaction_id()) return false;
    // A retransmission repeats the request; the same id on another method is a new (broken)
    // request, and answering it with another method's cached response would confuse the client.
    const auto cached_type = proto::MessageType::decode(
        static_cast<std::uint16_t>(std::to_integer<unsigned>(cached.bytes[0]) << 8 |
                                   std::to_integer<unsigned>(cached.bytes[1])));
    if (cached_type.method != request.method()) return false;
    auto space = out.prepare();
    if (space.size() >= cached.bytes.size()) {
        std::memcpy(space.data(), cached.bytes.data(), cached.bytes.size());
        out.commit(reply_via(from), from.client, cached.bytes.size());
    }
    return true;
}

proto::TransactionId Engine::next_indication_id(RelayId relay) noexcept {
    // Indications need no unpredictable id (nothing answers them); distinct ones help captures.
    proto::TransactionId id{};
    std::memcpy(id.data(), &relay, sizeof relay);
    std::memcpy(id.data() + 4, &indication_counter_, sizeof indication_counter_);
    ++indication_counter_;
    return id;
}

Allocation* Engine::find(const FiveTuple& tuple) noexcept {
    auto it = allocations_.find(tuple);
    return it == allocations_.end() ? nullptr : it->second.get();
}

namespace {

std::string_view transport_name(Transport t) noexcept {
    switch (t) {
    case Transport::udp:
        return "udp";
    case Transport::tcp:
        return "tcp";
    case Transport::tls:
        return "tls";
    }
    return "?";
}

/// The request's USERNAME for a debug line: printable ASCII only, at most 64 characters.
std::string username_for_log(const proto::MessageView& request) {
    auto attr = request.find(proto::AttrType::username);
    if (!attr) return "-";
    std::string out;
    for (std::byte b : attr->value) {
        if (out.size() == 64) {
            out += "...";
            break;
        }
        const auto c = std::to_integer<unsigned char>(b);
        out += (c >= 0x20 && c < 0x7F) ? static_cast<char>(c) : '?';
    }
    return out;
}

} // namespace

void Engine::log_auth_failure(Time now, const ClientContext& from,
                              const proto::MessageView& request, AuthFailure failure) noexcept {
    if (failure == AuthFailure::missing_credentials) return; // the normal first step
    const auto transport = transport_name(listeners_[from.listener].transport);
    const auto method = proto::method_name(request.method());
    if (log::enabled("turn", log::Level::debug)) {
        TRAVERSE_LOG_LIMITED(debug, "turn", now, "auth failure", {"reason", to_string(failure)},
                             {"method", method}, {"client", from.client.to_string()},
                             {"transport", transport}, {"user", username_for_log(request)});
    } else {
        TRAVERSE_LOG_LIMITED(info, "turn", now, "auth failure", {"reason", to_string(failure)},
                             {"method", method}, {"client", from.client.to_string()},
                             {"transport", transport});
    }
}

void Engine::refuse_peer(Time now, const ClientContext& from,
                         const proto::TransportAddress& peer) noexcept {
    stats::add(counters_.peers_refused);
    TRAVERSE_LOG_LIMITED(info, "turn", now, "peer refused by the peer filter",
                         {"peer", peer.to_string()}, {"client", from.client.to_string()});
}

void Engine::log_allocation_refused(Time now, const ClientContext& from, std::string_view reason,
                                    int code) noexcept {
    if (reason == "port_exhaustion") {
        TRAVERSE_LOG_LIMITED(warn, "turn", now, "allocation refused: no relay port",
                             {"reason", reason}, {"code", code},
                             {"client", from.client.to_string()});
    } else {
        TRAVERSE_LOG_LIMITED(info, "turn", now, "allocation refused", {"reason", reason},
                             {"code", code}, {"client", from.client.to_string()});
    }
}

bool Engine::peer_allowed(const proto::TransportAddress& peer) noexcept {
    return peers_->check(peer) == PeerVerdict::allowed;
}

std::chrono::seconds Engine::clamp_lifetime(std::optional<std::uint32_t> requested) const noexcept {
    // RFC 8656 §7.2: the requested value capped at the maximum, but never below the default.
    if (!requested) return options_.default_lifetime;
    return std::max(options_.default_lifetime,
                    std::min(std::chrono::seconds(*requested), options_.max_lifetime));
}

void Engine::destroy(Allocation& allocation, std::optional<Time> ended) noexcept {
    stats::add(counters_.permissions_removed, allocation.permissions.size());
    stats::add(counters_.channels_unbound, allocation.active_channels());
    wheel_.cancel(allocation);
    if (ended) {
        const auto lived =
            std::chrono::duration_cast<std::chrono::milliseconds>(*ended - allocation.created);
        stats::observe_lifetime(
            counters_, static_cast<std::uint64_t>(std::max<std::int64_t>(lived.count(), 0)));
    }
    for (auto& r : allocation.relays) {
        if (!r) continue;
        if (r->id < by_relay_.size()) by_relay_[r->id] = nullptr;
        if (relays_) relays_->close(r->id);
    }
    if (quotas_) quotas_->release(allocation.username, allocation.five_tuple.client);
    // Keep the last answer for a retransmitted Refresh(0) of this 5-tuple.
    auto& t = tombstones_[next_tombstone_++ % tombstones_.size()];
    t.tuple = allocation.five_tuple;
    t.response = std::move(allocation.last_response);
    allocations_.erase(allocation.five_tuple);
}

// ---- entry points ---------------------------------------------------------------------------

void Engine::on_client_datagram(Time now, const ClientContext& from,
                                std::span<const std::byte> data, Outbox& out) noexcept {
    if (data.empty()) {
        stats::add(counters_.malformed_dropped);
        return;
    }
    bool ok = is_channel_data(data[0]) ? handle_channel_data(now, from, data, false, false, out)
                                       : handle_stun(now, from, data, false, out);
    if (!ok) {
        stats::add(counters_.malformed_dropped);
        TRAVERSE_LOG_LIMITED(debug, "turn", now, "malformed datagram dropped",
                             {"client", from.client.to_string()}, {"bytes", data.size()});
    }
}

void Engine::on_client_datagram(Time now, const ClientContext& from, MutableDatagram dgram,
                                Outbox& out) noexcept {
    const std::span<const std::byte> data = dgram.payload();
    if (data.empty()) {
        stats::add(counters_.malformed_dropped);
        return;
    }
    bool ok = is_channel_data(data[0]) ? handle_channel_data(now, from, data, false, true, out)
                                       : handle_stun(now, from, data, true, out);
    if (!ok) {
        stats::add(counters_.malformed_dropped);
        TRAVERSE_LOG_LIMITED(debug, "turn", now, "malformed datagram dropped",
                             {"client", from.client.to_string()}, {"bytes", data.size()});
    }
}

bool Engine::on_stream_frame(Time now, const ClientContext& from, std::span<const std::byte> frame,
                             Outbox& out) noexcept {
    if (frame.empty()) return false;
    if (is_channel_data(frame[0])) return handle_channel_data(now, from, frame, true, false, out);
    return handle_stun(now, from, frame, false, out);
}

void Engine::on_stream_closed(Time now, const ClientContext& from) noexcept {
    if (auto* a = find(FiveTuple{from.client, from.listener, from.connection})) {
        stats::add(counters_.allocations_deleted);
        destroy(*a, now);
    }
}

bool Engine::handle_stun(Time now, const ClientContext& from, std::span<const std::byte> data,
                         bool borrow, Outbox& out) noexcept {
    auto parsed = proto::MessageView::parse(data);
    if (!parsed) return false;
    const proto::MessageView& msg = *parsed;

    switch (msg.message_class()) {
    case proto::MessageClass::request:
        if (is_method(msg, proto::Method::binding)) {
            handle_binding(from, msg, out);
        } else if (options_.auth && msg.has_magic_cookie() &&
                   (is_method(msg, proto::Method::allocate) ||
                    is_method(msg, proto::Method::refresh) ||
                    is_method(msg, proto::Method::create_permission) ||
                    is_method(msg, proto::Method::channel_bind))) {
            handle_turn_request(now, from, msg, out);
        } else {
            // RFC 8489 §6.3.1: a request whose method this server does not implement (or TURN
            // on a STUN-only server) is a bad request.
            stats::add(counters_.unexpected_dropped);
            send_error(from, msg, 400, {}, out);
        }
        return true;
    case proto::MessageClass::indication:
        // RFC 8489 §6.3.2: indications never get an answer. Binding indications are keepalives.
        if (is_method(msg, proto::Method::binding)) {
            stats::add(counters_.binding_indications);
        } else if (options_.auth && is_method(msg, proto::Method::send)) {
            handle_send_indication(now, from, msg, borrow, out);
        } else {
            stats::add(counters_.unexpected_dropped);
        }
        return true;
    case proto::MessageClass::success_response:
    case proto::MessageClass::error_response:
        // A server sends no requests, so a response is unsolicited: drop it silently.
        stats::add(counters_.unexpected_dropped);
        return true;
    }
    return true;
}

// ---- errors and challenges ------------------------------------------------------------------

void Engine::send_error(const ClientContext& from, const proto::MessageView& request, int code,
                        std::span<const std::uint16_t> unknown, Outbox& out) noexcept {
    respond(from, request, code, nullptr, nullptr, out, [&](proto::MessageBuilder& b) {
        b.add_error_code(code, proto::error_reason(code));
        if (!unknown.empty()) b.add_unknown_attributes(unknown);
    });
}

void Engine::send_turn_error(const ClientContext& from, const proto::MessageView& request, int code,
                             const AuthResult& auth, Allocation* cache, Outbox& out) noexcept {
    respond(from, request, code, &auth, cache, out,
            [&](proto::MessageBuilder& b) { b.add_error_code(code, proto::error_reason(code)); });
}

bool Engine::challenge_allowed(Time now, const proto::TransportAddress& source) noexcept {
    // A fixed table of buckets indexed by a hash of the source IP: bounded memory whatever the
    // number of sources, so a flood of spoofed addresses cannot grow state.
    std::uint32_t h = 2166136261u;
    for (std::size_t i = 0; i < source.ip_size(); ++i) {
        h ^= source.ip[i];
        h *= 16777619u;
    }
    auto& bucket = challenge_buckets_[h % challenge_buckets_.size()];
    auto second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (bucket.second != second) {
        bucket.second = second;
        bucket.count = 0;
    }
    if (bucket.count >= options_.challenges_per_second) return false;
    ++bucket.count;
    return true;
}

void Engine::send_challenge(Time now, const ClientContext& from, const proto::MessageView& request,
                            int code, Outbox& out) noexcept {
    // Unauthenticated answers are the reflection risk: rate-limited per source, kept small
    // (no SOFTWARE), and never larger than needed.
    if (!challenge_allowed(now, from.client)) {
        stats::add(counters_.challenges_rate_limited);
        return;
    }
    const bool with_nonce = code == 401 || code == 438;
    if (with_nonce) stats::add(counters_.challenges_sent);
    respond(from, request, code, nullptr, nullptr, out, [&](proto::MessageBuilder& b) {
        b.add_error_code(code, proto::error_reason(code));
        if (with_nonce) options_.auth->add_challenge(b, from.client, unix_seconds(now));
    });
}

// ---- TURN requests --------------------------------------------------------------------------

void Engine::handle_turn_request(Time now, const ClientContext& from,
                                 const proto::MessageView& request, Outbox& out) noexcept {
    stats::add(counters_.turn_requests);
    const FiveTuple tuple{from.client, from.listener, from.connection};
    Allocation* allocation = find(tuple);

    // RFC 8656 §7.2/§7.3: a retransmission gets the byte-identical answer, before any other
    // check (the nonce may have gone stale in between).
    if (allocation && resend_cached(allocation->last_response, from, request, out)) return;
    if (!allocation && is_method(request, proto::Method::refresh)) {
        for (const auto& t : tombstones_)
            if (t.tuple == tuple && resend_cached(t.response, from, request, out)) return;
    }

    // RFC 8489 §9.2.4: long-term credentials. An existing allocation pins user and key.
    const auto unix_now = unix_seconds(now);
    AuthResult auth =
        allocation ? options_.auth->authenticate_with_key(request, from.client, unix_now,
                                                          allocation->username, allocation->key)
                   : options_.auth->authenticate(request, from.client, unix_now);
    if (!auth.ok()) {
        switch (auth.failure) {
        case AuthFailure::bad_request:
            stats::add(counters_.auth_failures_bad_request);
            break;
        case AuthFailure::stale_nonce:
            stats::add(counters_.auth_failures_stale_nonce);
            break;
        case AuthFailure::unknown_user:
            stats::add(counters_.auth_failures_unknown_user);
            break;
        case AuthFailure::bad_integrity:
            stats::add(counters_.auth_failures_bad_integrity);
            break;
        case AuthFailure::expired_rest_credential:
            stats::add(counters_.auth_failures_expired_rest);
            break;
        case AuthFailure::wrong_credentials:
            stats::add(counters_.auth_failures_wrong_credentials);
            break;
        default:
            break;
        }
        log_auth_failure(now, from, request, auth.failure);
        int code = error_code(auth.failure);
        if (auth.failure == AuthFailure::wrong_credentials) {
            // RFC 8656 §6.2: 441 to a request that authenticated as someone else; not signed,
            // since the key that verified it belongs to another user.
            send_error(from, request, code, {}, out);
            return;
        }
        send_challenge(now, from, request, code, out);
        return;
    }

    // RFC 8489 §6.3.1.1: unknown comprehension-required attributes, now that we know who asks.
    if (auto unknown = request.unknown_required(); !unknown.empty()) {
        respond(from, request, 420, &auth, nullptr, out, [&](proto::MessageBuilder& b) {
            b.add_error_code(420, proto::error_reason(420));
            b.add_unknown_attributes(unknown);
        });
        return;
    }

    if (is_method(request, proto::Method::allocate)) {
        if (allocation) {
            // RFC 8656 §7.2 step 2: this 5-tuple already has an allocation.
            stats::add(counters_.allocation_mismatches);
            send_turn_error(from, request, 437, auth, nullptr, out);
            return;
        }
        handle_allocate(now, from, request, auth, out);
    } else if (!allocation) {
        stats::add(counters_.allocation_mismatches);
        send_turn_error(from, request, 437, auth, nullptr, out);
        return;
    } else if (is_method(request, proto::Method::refresh)) {
        handle_refresh(now, from, request, auth, *allocation, out);
    } else if (is_method(request, proto::Method::create_permission)) {
        handle_create_permission(now, from, request, auth, *allocation, out);
    } else {
        handle_channel_bind(now, from, request, auth, *allocation, out);
    }
    // Lifetimes, permissions or channels may have changed: file the allocation (new, or still
    // there after the request) under its earliest deadline.
    if (Allocation* a = find(tuple)) wheel_.schedule(*a, a->next_deadline(now), now);
}

// ---- data paths -----------------------------------------------------------------------------

void Engine::handle_send_indication(Time now, const ClientContext& from,
                                    const proto::MessageView& indication, bool borrow,
                                    Outbox& out) noexcept {
    // RFC 8656 §10.2: indications are never answered; every failure is a silent drop.
    Allocation* allocation = find(FiveTuple{from.client, from.listener, from.connection});
    if (!allocation) {
        stats::add(counters_.relay_dropped_no_allocation);
        return;
    }
    auto peer_attr = indication.find(proto::AttrType::xor_peer_address);
    auto data_attr = indication.find(proto::AttrType::data);
    if (!peer_attr || !data_attr) {
        stats::add(counters_.unexpected_dropped);
        return;
    }
    auto peer = proto::decode_xor_address(*peer_attr, indication.transaction_id());
    if (!peer) {
        stats::add(counters_.unexpected_dropped);
        return;
    }
    const Relay* relay = allocation->relay_for(peer->family);
    if (!relay || !allocation->has_permission(*peer, now) || !peer_allowed(*peer)) {
        stats::add(counters_.relay_dropped_no_permission);
        return;
    }
    if (!within_bandwidth(allocation->to_peer, data_attr->value.size(), now)) return;
    if (!queue_payload(Via::relay(relay->id), *peer, data_attr->value, borrow, out)) {
        stats::add(counters_.relay_dropped_oversize);
        return;
    }
    stats::add(counters_.relayed_to_peer_packets);
    stats::add(counters_.relayed_to_peer_bytes, data_attr->value.size());
}

bool Engine::handle_channel_data(Time now, const ClientContext& from,
                                 std::span<const std::byte> data, bool stream, bool borrow,
                                 Outbox& out) noexcept {
    auto cd = proto::parse_channel_data(data, stream, options_.max_channel_number);
    if (!cd) return false;
    Allocation* allocation = find(FiveTuple{from.client, from.listener, from.connection});
    if (!allocation) {
        stats::add(counters_.relay_dropped_no_allocation);
        return true;
    }
    const Channel* channel = allocation->channel_by_number(cd->channel, now);
    if (!channel) {
        stats::add(counters_.relay_dropped_no_channel);
        return true;
    }
    const Relay* relay = allocation->relay_for(channel->peer.family);
    if (!relay || !allocation->has_permission(channel->peer, now)) {
        stats::add(counters_.relay_dropped_no_permission);
        return true;
    }
    if (!within_bandwidth(allocation->to_peer, cd->payload.size(), now)) return true;
    if (!queue_payload(Via::relay(relay->id), channel->peer, cd->payload, borrow, out)) {
        stats::add(counters_.relay_dropped_oversize);
        return true;
    }
    stats::add(counters_.relayed_to_peer_packets);
    stats::add(counters_.relayed_to_peer_bytes, cd->payload.size());
    return true;
}

void Engine::on_peer_datagram(Time now, RelayId relay, const proto::TransportAddress& peer,
                              std::span<const std::byte> data, Outbox& out) noexcept {
    if (relay >= by_relay_.size() || !by_relay_[relay]) return;
    // Copy into the outbox with headroom, then wrap it there as the receive-slot path does.
    auto space = out.prepare();
    if (space.size() < peer_headroom + data.size() + peer_tailroom) {
        stats::add(counters_.relay_dropped_oversize);
        return;
    }
    // An empty payload may come with a null pointer, which memcpy must not see.
    if (!data.empty()) std::memcpy(space.data() + peer_headroom, data.data(), data.size());
    relay_to_client(now, relay, peer,
                    MutableDatagram{space.first(peer_headroom + data.size() + peer_tailroom),
                                    peer_headroom, data.size()},
                    true, out);
}

void Engine::on_peer_datagram(Time now, RelayId relay, const proto::TransportAddress& peer,
                              MutableDatagram dgram, Outbox& out) noexcept {
    if (relay >= by_relay_.size() || !by_relay_[relay]) return;
    relay_to_client(now, relay, peer, dgram, false, out);
}

void Engine::relay_to_client(Time now, RelayId relay, const proto::TransportAddress& peer,
                             MutableDatagram dgram, bool in_arena, Outbox& out) noexcept {
    Allocation& allocation = *by_relay_[relay];
    // RFC 8656 §10.3: only peers with a permission reach the client.
    if (!allocation.has_permission(peer, now)) {
        stats::add(counters_.relay_dropped_no_permission);
        return;
    }
    const std::size_t n = dgram.size;
    if (!within_bandwidth(allocation.to_client, n, now)) return;
    const bool stream = listeners_[allocation.five_tuple.listener].transport != Transport::udp;
    std::byte* payload = dgram.buffer.data() + dgram.offset;
    std::span<const std::byte> message;
    if (const Channel* channel = allocation.channel_by_peer(peer, now)) {
        // RFC 8656 §12.4: ChannelData; over streams padded to a multiple of four.
        const std::size_t size = proto::channel_data_frame_size(n, stream);
        const std::size_t pad = size - proto::channel_data_header_size - n;
        if (n > 0xFFFF || dgram.headroom() < proto::channel_data_header_size ||
            dgram.tailroom() < pad || size > Outbox::max_message_bytes) {
            stats::add(counters_.relay_dropped_oversize);
            return;
        }
        std::byte* start = payload - proto::channel_data_header_size;
        proto::write_channel_data_header(std::span<std::byte, 4>(start, 4), channel->number,
                                         static_cast<std::uint16_t>(n));
        std::memset(payload + n, 0, pad);
        message = {start, size};
    } else {
        // RFC 8656 §10.3: a Data indication with XOR-PEER-ADDRESS and DATA. Everything before
        // the payload is encoded aside, then copied into the headroom.
        std::array<std::byte, peer_headroom> head{};
        proto::MessageBuilder b(head);
        b.start(proto::make_type(proto::Method::data, proto::MessageClass::indication),
                next_indication_id(relay));
        b.add_xor_address(proto::AttrType::xor_peer_address, peer);
        auto prefix = b.finish();
        const std::size_t front = prefix ? prefix->size() + proto::attribute_header_size : 0;
        const std::size_t pad = proto::pad4(n) - n;
        const std::size_t size = front + n + pad;
        if (!prefix || dgram.headroom() < front || dgram.tailroom() < pad ||
            size - proto::header_size > 0xFFFF || size > Outbox::max_message_bytes) {
            stats::add(counters_.relay_dropped_oversize);
            return;
        }
        std::byte* start = payload - front;
        std::memcpy(start, prefix->data(), prefix->size());
        proto::store_be16(start + 2, static_cast<std::uint16_t>(size - proto::header_size));
        proto::store_be16(payload - 4, proto::to_underlying(proto::AttrType::data));
        proto::store_be16(payload - 2, static_cast<std::uint16_t>(n));
        std::memset(payload + n, 0, pad);
        message = {start, size};
    }
    const std::size_t arena_bytes =
        in_arena ? static_cast<std::size_t>(message.data() + message.size() - dgram.buffer.data())
                 : 0;
    if (!out.commit_view(client_via(allocation.five_tuple), allocation.five_tuple.client, message,
                         arena_bytes)) {
        stats::add(counters_.relay_dropped_oversize);
        return;
    }
    stats::add(counters_.relayed_to_client_packets);
    stats::add(counters_.relayed_to_client_bytes, n);
}

bool Engine::queue_payload(Via via, const proto::TransportAddress& to,
                           std::span<const std::byte> payload, bool borrow, Outbox& out) noexcept {
    if (borrow) return out.commit_view(via, to, payload);
    auto space = out.prepare();
    if (space.size() < payload.size()) return false;
    if (!payload.empty()) std::memcpy(space.data(), payload.data(), payload.size());
    out.commit(via, to, payload.size(), true);
    return true;
}

void Engine::on_peer_icmp(Time now, RelayId relay, const proto::TransportAddress& peer,
                          std::uint8_t type, std::uint8_t code, std::uint32_t info,
                          Outbox& out) noexcept {
    if (relay >= by_relay_.size() || !by_relay_[relay]) return;
    Allocation& allocation = *by_relay_[relay];
    // RFC 8656 §11.1: only peers the client may hear from; the error is about a datagram the
    // client asked us to send, so the permission exists unless it just expired.
    if (!allocation.has_permission(peer, now)) return;
    auto space = out.prepare();
    if (space.empty()) return;
    // RFC 8656 §18.13: ICMP attribute = 9 reserved bits, 7-bit type, 8-bit code, 32-bit error
    // data (the MTU for "fragmentation needed" / "packet too big", else zero).
    const bool mtu = (peer.family == proto::Family::ipv4 && type == 3 && code == 4) ||
                     (peer.family == proto::Family::ipv6 && type == 2);
    const std::uint32_t error_data = mtu ? info : 0;
    const std::array<std::byte, 8> icmp = {std::byte{0},
                                           static_cast<std::byte>(type & 0x7F),
                                           static_cast<std::byte>(code),
                                           std::byte{0},
                                           static_cast<std::byte>(error_data >> 24),
                                           static_cast<std::byte>(error_data >> 16),
                                           static_cast<std::byte>(error_data >> 8),
                                           static_cast<std::byte>(error_data)};
    const proto::TransactionId id = next_indication_id(relay);
    proto::MessageBuilder b(space);
    b.start(proto::make_type(proto::Method::data, proto::MessageClass::indication), id);
    b.add_xor_address(proto::AttrType::xor_peer_address, peer);
    b.add_raw(proto::AttrType::icmp, icmp);
    auto wire = b.finish();
    if (!wire) return;
    out.commit(client_via(allocation.five_tuple), allocation.five_tuple.client, wire->size());
    stats::add(counters_.icmp_relayed);
}

void Engine::on_tick(Time now) noexcept {
    wheel_.advance(now, [&](Allocation& a) {
        if (a.expires <= now) {
            stats::add(counters_.allocations_expired);
            destroy(a, now);
            return;
        }
        // A permission or channel is due: drop what ended, file the allocation again.
        Allocation::Expired ended;
        const Time next = a.expire(now, &ended);
        stats::add(counters_.permissions_removed, ended.permissions);
        stats::add(counters_.channels_unbound, ended.channels);
        wheel_.schedule(a, next, now);
    });
}

} // namespace traverse::turn
