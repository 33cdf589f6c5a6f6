// SPDX-License-Identifier: Apache-2.0
// Splits a TCP/TLS byte stream into STUN messages and ChannelData frames (RFC 8656 §12.5).
#pragma once

#include "proto/channel_data.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace traverse::proto {

/// What a complete frame holds.
enum class FrameKind { stun, channel_data };

/// Largest frame the framer accepts: a STUN header plus the largest 16-bit length.
inline constexpr std::size_t max_frame_size = 65535 + 20;

/// Outcome of looking at the front of a stream buffer.
struct FrameResult {
    /// complete: the first length bytes are one frame; need_more: read more and call again;
    /// bad: the stream is not STUN/ChannelData and must be closed.
    enum class Status { complete, need_more, bad };
    Status status = Status::need_more;
    FrameKind kind = FrameKind::stun;
    /// complete: bytes of the frame including padding; need_more: total bytes the frame needs
    /// once known (0 while the header itself is incomplete); bad: 0.
    std::size_t length = 0;
};

/// Classifies the first frame in buffered (Asio request_parser contract: consume what is there,
/// report complete / need more / bad). The first two bits pick the kind: 00 is STUN (header of
/// 20 bytes, length multiple of 4; the magic cookie is not required so RFC 3489 clients work),
/// 01 is ChannelData (valid channel, data padded to 4 on streams), 10 and 11 are bad.
FrameResult next_frame(std::span<const std::byte> buffered,
                       std::uint16_t max_channel_number = max_channel) noexcept;

} // namespace traverse::proto
