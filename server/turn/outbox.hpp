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

/// Outgoing messages of one batch, encoded into an internal arena (no heap). The engine asks for
/// writable space, encodes, then commits; the worker flushes and clears after each batch.
class Outbox {
public:
    /// Upper bound of messages per batch: one answer per received datagram of a 32-message
    /// recvmmsg batch, with room to spare.
    static constexpr std::size_t max_messages = 64;
    /// Largest message the engine writes: a receive slot's payload plus a Data indication's
    /// headers. Larger relayed payloads are dropped and counted (relay_dropped_oversize).
    static constexpr std::size_t max_message_bytes = 9216 + 64;

    /// One committed message.
    struct Entry {
        Via via;
        proto::TransportAddress to;
        std::uint32_t offset;
        std::uint32_t size;
    };

    /// Space for the next message; empty when the outbox is full.
    std::span<std::byte> prepare() noexcept {
        if (count_ == max_messages) return {};
        return std::span<std::byte>(arena_).subspan(used_, max_message_bytes);
    }
    /// Records the first `size` bytes of the last prepare() as a message to `to` via `via`.
    void commit(Via via, const proto::TransportAddress& to, std::size_t size) noexcept {
        entries_[count_] =
            Entry{via, to, static_cast<std::uint32_t>(used_), static_cast<std::uint32_t>(size)};
        used_ += size;
        ++count_;
    }

    std::span<const Entry> entries() const noexcept { return {entries_.data(), count_}; }
    std::span<const std::byte> bytes(const Entry& e) const noexcept {
        return std::span<const std::byte>(arena_).subspan(e.offset, e.size);
    }
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
