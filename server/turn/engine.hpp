// SPDX-License-Identifier: Apache-2.0
// The sans-IO STUN/TURN engine: messages in (with their 5-tuple and time), answers into an Outbox.
#pragma once

#include "monitoring/stats.hpp"
#include "proto/address.hpp"
#include "proto/message_view.hpp"
#include "server/turn/allocation.hpp"
#include "server/turn/auth.hpp"
#include "server/turn/outbox.hpp"
#include "server/turn/peer_policy.hpp"
#include "server/turn/ports.hpp"
#include "server/turn/timer_wheel.hpp"
#include "server/turn/types.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace traverse::turn {

/// RFC 5780 roles of the four sockets of one group, as bits: 1 = alternate port, 2 = alternate
/// address. The socket that answers a CHANGE-REQUEST is the receiving role xor the requested bits.
enum class Role : std::uint8_t {
    primary = 0,
    change_port = 1,
    change_address = 2,
    change_both = 3
};

/// What the engine knows about one listener socket. Every worker has the same listener layout, so
/// one table serves all of them; indices are positions in that table.
struct ListenerInfo {
    Transport transport = Transport::udp;
    proto::TransportAddress local;
    /// RFC 5780 group: listener index per Role, or -1; all -1 when RFC 5780 is off.
    std::array<std::int32_t, 4> group{-1, -1, -1, -1};
    Role role = Role::primary;

    bool rfc5780() const noexcept { return group[3] >= 0; }
};

/// Engine settings the composition root fills from the configuration.
struct EngineOptions {
    std::string software; ///< SOFTWARE attribute value; empty omits it
    bool rfc5780 = false; ///< behaviour discovery configured (some UDP listeners have groups)

    /// Long-term credentials; null makes this a STUN-only server (TURN requests get 400).
    std::shared_ptr<const Authenticator> auth;
    /// The peer filter; null means the built-in defaults.
    std::shared_ptr<const PeerPolicy> peers;
    std::chrono::seconds default_lifetime{600};    ///< RFC 8656 §7.2
    std::chrono::seconds max_lifetime{3600};       ///< cap on requested lifetimes
    std::chrono::seconds permission_lifetime{300}; ///< RFC 8656 §9
    std::chrono::seconds channel_lifetime{600};    ///< RFC 8656 §12
    std::chrono::seconds channel_quarantine{300};  ///< RFC 8656 §12: no rebinding after expiry
    /// Per-allocation bandwidth cap in payload bytes per second and direction; 0 = no cap.
    std::uint64_t max_allocation_bytes_per_second = 0;
    /// Highest channel number accepted: 0x4FFF (RFC 8656) or 0x7FFE (RFC 5766 compatibility).
    std::uint16_t max_channel_number = 0x4FFF;
    /// Unauthenticated answers (401, 438) per second per source-address bucket.
    std::uint32_t challenges_per_second = 20;
    /// Unix time (seconds) at the steady clock's epoch; 0 derives it from the real clocks.
    std::int64_t unix_at_steady_epoch = 0;
};

/// Where a client message came from.
struct ClientContext {
    std::uint32_t listener = 0;     ///< index into the listener table
    std::uint64_t connection = 0;   ///< stream connection id (0 for UDP)
    proto::TransportAddress client; ///< the client's address as this server sees it
};

/// One engine per worker; single-threaded by design: only its worker thread calls it.
class Engine {
public:
    /// `relays` and `quotas` may be null for a STUN-only engine; they must outlive the engine.
    Engine(EngineOptions options, std::vector<ListenerInfo> listeners,
           stats::WorkerCounters& counters, RelayOpener* relays = nullptr,
           QuotaLedger* quotas = nullptr);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    /// A UDP datagram (STUN or ChannelData) arrived on a listener socket.
    void on_client_datagram(Time now, const ClientContext& from, std::span<const std::byte> data,
                            Outbox& out) noexcept;
    /// The same for a datagram in a writable receive slot: relayed payloads are queued from the
    /// slot without copying, so the slot must stay unchanged until `out` is flushed.
    void on_client_datagram(Time now, const ClientContext& from, MutableDatagram dgram,
                            Outbox& out) noexcept;

    /// A complete frame (STUN message or padded ChannelData) cut from a TCP/TLS stream. Returns
    /// false when the connection must be closed (the frame is not valid).
    bool on_stream_frame(Time now, const ClientContext& from, std::span<const std::byte> frame,
                         Outbox& out) noexcept;

    /// A TCP/TLS connection closed: its allocation, if any, ends with it (RFC 8656 §3.1).
    void on_stream_closed(Time now, const ClientContext& from) noexcept;

    /// A datagram from `peer` arrived on relay socket `relay`.
    void on_peer_datagram(Time now, RelayId relay, const proto::TransportAddress& peer,
                          std::span<const std::byte> data, Outbox& out) noexcept;
    /// The same for a datagram in a writable receive slot: the ChannelData or Data indication
    /// header is written into the slot's headroom in front of the payload (at most
    /// `peer_headroom` bytes, plus up to 3 bytes of padding after it) and the message is queued
    /// from the slot, which must stay unchanged until `out` is flushed.
    void on_peer_datagram(Time now, RelayId relay, const proto::TransportAddress& peer,
                          MutableDatagram dgram, Outbox& out) noexcept;

    /// Headroom the engine needs in front of a peer's payload: a Data indication's header,
    /// XOR-PEER-ADDRESS (IPv6) and DATA attribute header.
    static constexpr std::size_t peer_headroom = 48;
    /// Tail room after a peer's payload: padding to a multiple of four bytes.
    static constexpr std::size_t peer_tailroom = 3;

    /// The kernel reported an ICMP error for a datagram relay `relay` sent to `peer`; a client
    /// with a permission for the peer hears about it (RFC 8656 §11).
    void on_peer_icmp(Time now, RelayId relay, const proto::TransportAddress& peer,
                      std::uint8_t type, std::uint8_t code, std::uint32_t info,
                      Outbox& out) noexcept;

    /// Expires allocations, permissions and channels that are due (one timer-wheel entry per
    /// allocation, at its earliest deadline); call about once a second. Lookups check expiry
    /// themselves, so the tick only reclaims memory and relay sockets.
    void on_tick(Time now) noexcept;

    const std::vector<ListenerInfo>& listeners() const noexcept { return listeners_; }
    /// True when the client's 5-tuple holds an allocation.
    bool has_allocation(const ClientContext& from) const noexcept {
        return allocations_.contains(FiveTuple{from.client, from.listener, from.connection});
    }
    std::size_t allocation_count() const noexcept { return allocations_.size(); }
    /// Most allocations held at once since the last reset_high_water() (or since start).
    std::size_t allocation_high_water() const noexcept { return allocations_high_; }
    /// Restarts the high-water mark at the current count.
    void reset_high_water() noexcept { allocations_high_ = allocations_.size(); }

    /// Replaces the peer filter (reload); applies to later requests and packets, and ends the
    /// permissions and channels of peers the new filter refuses.
    void set_peer_policy(std::shared_ptr<const PeerPolicy> peers) noexcept;

    /// Applies the settings a reload may change: credentials, peer filter, lifetimes, the
    /// challenge rate, the bandwidth cap and SOFTWARE. The listener layout, RFC 5780 and the
    /// channel-number range stay as the engine was built. Live allocations are kept.
    void reconfigure(const EngineOptions& options) noexcept;

    /// Draining: new Allocate requests are refused, with 300 (Try Alternate) and
    /// ALTERNATE-SERVER when `alternate` is set, else 508; existing allocations go on (Refresh,
    /// permissions, channels, data) until they end.
    void set_draining(bool draining,
                      std::optional<proto::TransportAddress> alternate = std::nullopt) noexcept;
    bool draining() const noexcept { return draining_; }

private:
    /// `borrow`: `data` stays valid and unchanged until the outbox is flushed, so relayed
    /// payloads may be queued from it without a copy.
    bool handle_stun(Time now, const ClientContext& from, std::span<const std::byte> data,
                     bool borrow, Outbox& out) noexcept;
    bool handle_channel_data(Time now, const ClientContext& from, std::span<const std::byte> data,
                             bool stream, bool borrow, Outbox& out) noexcept;
    /// Wraps a peer's payload in place and queues it; `in_arena` when `dgram.buffer` is the
    /// outbox's own prepared space.
    void relay_to_client(Time now, RelayId relay, const proto::TransportAddress& peer,
                         MutableDatagram dgram, bool in_arena, Outbox& out) noexcept;
    /// Queues a client's payload for a peer: borrowed from the receive slot, or copied.
    bool queue_payload(Via via, const proto::TransportAddress& to,
                       std::span<const std::byte> payload, bool borrow, Outbox& out) noexcept;
    void handle_binding(const ClientContext& from, const proto::MessageView& request,
                        Outbox& out) noexcept;
    void handle_turn_request(Time now, const ClientContext& from, const proto::MessageView& request,
                             Outbox& out) noexcept;
    void handle_send_indication(Time now, const ClientContext& from,
                                const proto::MessageView& indication, bool borrow,
                                Outbox& out) noexcept;

    // Method handlers, one file each under handlers/; `auth` has verified the request.
    void handle_allocate(Time now, const ClientContext& from, const proto::MessageView& request,
                         const AuthResult& auth, Outbox& out);
    void handle_refresh(Time now, const ClientContext& from, const proto::MessageView& request,
                        const AuthResult& auth, Allocation& allocation, Outbox& out);
    void handle_create_permission(Time now, const ClientContext& from,
                                  const proto::MessageView& request, const AuthResult& auth,
                                  Allocation& allocation, Outbox& out);
    void handle_channel_bind(Time now, const ClientContext& from, const proto::MessageView& request,
                             const AuthResult& auth, Allocation& allocation, Outbox& out);

    /// Builds, queues and counts a response: a success for `code` 0, else an error response
    /// (`fill` adds the ERROR-CODE and other attributes); MESSAGE-INTEGRITY(-SHA256) when `auth`
    /// is given, FINGERPRINT when the request had one. With `cache` the bytes are kept for
    /// retransmissions. Returns false if it could not be built.
    template <class Fill>
    bool respond(const ClientContext& from, const proto::MessageView& request, int code,
                 const AuthResult* auth, Allocation* cache, Outbox& out, Fill&& fill) noexcept;
    void send_error(const ClientContext& from, const proto::MessageView& request, int code,
                    std::span<const std::uint16_t> unknown, Outbox& out) noexcept;
    /// An authenticated error (437, 441, 403, 443, 486, 508 ...), signed, cached if `cache`.
    void send_turn_error(const ClientContext& from, const proto::MessageView& request, int code,
                         const AuthResult& auth, Allocation* cache, Outbox& out) noexcept;
    /// 401/438 with REALM and a fresh NONCE, or 400, subject to the per-source rate limit.
    void send_challenge(Time now, const ClientContext& from, const proto::MessageView& request,
                        int code, Outbox& out) noexcept;
    bool challenge_allowed(Time now, const proto::TransportAddress& source) noexcept;

    // Rate-limited log lines for events a client can trigger once per packet. Never a key,
    // password or secret; the username only at debug.
    void log_auth_failure(Time now, const ClientContext& from, const proto::MessageView& request,
                          AuthFailure failure) noexcept;
    /// Counts (peers_refused) and logs a peer the filter refused with 403.
    void refuse_peer(Time now, const ClientContext& from,
                     const proto::TransportAddress& peer) noexcept;
    void log_allocation_refused(Time now, const ClientContext& from, std::string_view reason,
                                int code) noexcept;

    Via reply_via(const ClientContext& from) const noexcept;
    Via client_via(const FiveTuple& tuple) const noexcept;
    std::int64_t unix_seconds(Time now) const noexcept;
    bool peer_allowed(const proto::TransportAddress& peer) noexcept;
    /// Applies the bandwidth cap to one relayed payload; false (counted) when over it.
    bool within_bandwidth(ByteBucket& bucket, std::size_t bytes, Time now) noexcept;
    Allocation* find(const FiveTuple& tuple) noexcept;
    /// Queues `cached` again if it answers this request's transaction; false otherwise.
    bool resend_cached(const CachedResponse& cached, const ClientContext& from,
                       const proto::MessageView& request, Outbox& out) noexcept;
    proto::TransactionId next_indication_id(RelayId relay) noexcept;
    /// Removes an allocation; `ended` (absent at shutdown) records its lifetime.
    void destroy(Allocation& allocation, std::optional<Time> ended) noexcept;
    std::chrono::seconds clamp_lifetime(std::optional<std::uint32_t> requested) const noexcept;

    EngineOptions options_;
    std::vector<ListenerInfo> listeners_;
    stats::WorkerCounters& counters_;
    RelayOpener* relays_;
    QuotaLedger* quotas_;
    std::shared_ptr<const PeerPolicy> peers_;
    std::unordered_map<FiveTuple, std::unique_ptr<Allocation>, FiveTupleHash> allocations_;
    std::vector<Allocation*> by_relay_; ///< RelayId -> allocation (ids are small and dense)
    TimerWheel<Allocation> wheel_;      ///< one entry per allocation, at its next deadline
    std::size_t allocations_high_ = 0;  ///< see allocation_high_water()
    /// Recently deleted allocations' last answers (5-tuple, response), so a retransmitted
    /// Refresh with LIFETIME 0 gets the same success instead of 437.
    struct Tombstone {
        FiveTuple tuple;
        CachedResponse response;
    };
    std::array<Tombstone, 16> tombstones_;
    std::size_t next_tombstone_ = 0;
    /// Per-source-bucket counters for unauthenticated answers: fixed size, no per-client state.
    struct ChallengeBucket {
        std::int64_t second = 0;
        std::uint32_t count = 0;
    };
    std::array<ChallengeBucket, 4096> challenge_buckets_{};
    std::int64_t unix_at_steady_epoch_;
    std::uint64_t indication_counter_ = 0; ///< makes Data indication transaction ids distinct
    bool draining_ = false;
    std::optional<proto::TransportAddress> alternate_server_; ///< 300 target while draining
};

} // namespace traverse::turn
