// SPDX-License-Identifier: Apache-2.0
// Fixed-capacity list of outgoing messages the engine fills and the worker flushes.
#pragma once

#include "proto/address.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace traverse::turn {

/// Which socket a message leaves through.
struct Via {
    enum class Kind : std::uint8_t {
        listener,   ///< a client-facing UDP socket, by worker-local listener index
        connection, ///< a TCP/TLS client connection, by connection id
        relay,      ///< an allocation's relay socket, by RelayId (in `listener`)
    };
    Kind kind = Kind::listener;
    std::uint32_t listener = 0;
    std::uint64_t connection = 0;

    static Via udp(std::uint32_t listener_index) noexcept {
        return {Kind::listener, listener_index, 0};
    }
    static Via stream(std::uint32_t listener_index, std::uint64_t id) noexcept {
        return {Kind::connection, listener_index, id};
    }
    static Via relay(std::uint32_t relay_id) noexcept { return {Kind::relay, relay_id, 0}; }
};

/// A received datagram in a buffer the engine may write to: `size` payload bytes at `offset`
/// within `buffer`, with `offset` bytes of headroom in front and the rest of `buffer` as tail
/// room. Relaying writes ChannelData or Data-indication headers into the headroom, so the
/// payload is never moved (RFC 8656 §10.3, §12.4 framing around the peer's bytes).
struct MutableDatagram {
    std::span<std::byte> buffer;
    std::size_t offset = 0;
    std::size_t size = 0;

    std::span<std::byte> payload() const noexcept { return buffer.subspan(offset, size); }
    std::size_t headroom() const noexcept { return offset; }
    std::size_t tailroom() const noexcept { return buffer.size() - offset - size; }
};

/// Outgoing messages of one batch. Encoded answers go into an internal arena (no heap); relayed
/// payloads may instead be borrowed from the receive slot they arrived in (commit_view), which
/// the caller keeps unchanged until it has flushed and cleared the outbox.
class Outbox {
public:
    /// Upper bound of messages per batch: one answer per received datagram of a 64-message
    /// recvmmsg batch (net::ReceiveBatch::batch_size), with room to spare.
    static constexpr std::size_t max_messages = 128;
    /// Largest message the engine writes: a receive slot's payload plus a Data indication's
    /// headers. Larger relayed payloads are dropped and counted (relay_dropped_oversize).
    static constexpr std::size_t max_message_bytes = 9216 + 64;

    /// One committed message.
    struct Entry {
        Via via;
        proto::TransportAddress to;
        const std::byte* data;
        std::uint32_t size;
        /// A relayed payload (peer data to a client, or client data to a peer), as opposed to
        /// an answer: the sender may coalesce runs of them (UDP GSO).
        bool relayed;
    };

    /// Space for the next message; empty when the outbox is full.
    std::span<std::byte> prepare() noexcept {
        if (count_ == max_messages) return {};
        return std::span<std::byte>(arena_).subspan(used_, max_message_bytes);
    }
    /// Records the first `size` bytes of the last prepare() as a message to `to` via `via`;
    /// `relayed` marks a relayed payload (see Entry::relayed).
    void commit(Via via, const proto::TransportAddress& to, std::size_t size,
                bool relayed = false) noexcept {
        entries_[count_] =
            Entry{via, to, arena_.data() + used_, static_cast<std::uint32_t>(size), relayed};
        used_ += size;
        ++count_;
    }
    /// Records the relayed payload `bytes` (outside the arena, or inside the last prepare()) as
    /// a message, without copying. `arena_bytes` is how much of the last prepare() the message
    /// occupies (0 when it lies elsewhere). Returns false (nothing recorded) when the outbox is
    /// full.
    bool commit_view(Via via, const proto::TransportAddress& to, std::span<const std::byte> bytes,
                     std::size_t arena_bytes = 0) noexcept {
        if (count_ == max_messages) return false;
        entries_[count_] =
            Entry{via, to, bytes.data(), static_cast<std::uint32_t>(bytes.size()), true};
        used_ += arena_bytes;
        ++count_;
        return true;
    }
    /// True when no further message fits.
    bool full() const noexcept { return count_ == max_messages; }

    std::span<const Entry> entries() const noexcept { return {entries_.data(), count_}; }
    std::span<const std::byte> bytes(const Entry& e) const noexcept { return {e.data, e.size}; }
    bool empty() const noexcept { return count_ == 0; }
    void clear() noexcept {
        count_ = 0;
        used_ = 0;
    }

private:
    std::array<std::byte, max_messages * max_message_bytes> arena_;
    std::array<Entry, max_messages> entries_;
    std::size_t count_ = 0;
    std::size_t used_ = 0;
};

} // namespace traverse::turn
