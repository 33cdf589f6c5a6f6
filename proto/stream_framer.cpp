// SPDX-License-Identifier: Apache-2.0
// Stream framing for STUN and ChannelData over TCP/TLS.
#include "proto/stream_framer.hpp"

#include "proto/bytes.hpp"
#include "proto/channel_data.hpp"
#include "proto/types.hpp"

namespace traverse::proto {
namespace {

constexpr FrameResult bad() noexcept {
    return {FrameResult::Status::bad, FrameKind::stun, 0};
}

constexpr FrameResult frame(FrameKind kind, std::size_t total, std::size_t buffered) noexcept {
    if (buffered < total) return {FrameResult::Status::need_more, kind, total};
    return {FrameResult::Status::complete, kind, total};
}

} // namespace

FrameResult next_frame(std::span<const std::byte> buffered,
                       std::uint16_t max_channel_number) noexcept {
    if (buffered.empty()) return {FrameResult::Status::need_more, FrameKind::stun, 0};
    const unsigned first = std::to_integer<unsigned>(buffered[0]);
    switch (first >> 6) {
    case 0: {
        // STUN: the length sits in bytes 2..3; the frame is 20 + length bytes (RFC 8489 §5).
        if (buffered.size() < 4) return {FrameResult::Status::need_more, FrameKind::stun, 0};
        const std::size_t length = load_be16(buffered.data() + 2);
        if (length % 4 != 0) return bad();
        const std::size_t total = header_size + length;
        if (buffered.size() < header_size)
            return {FrameResult::Status::need_more, FrameKind::stun, total};
        return frame(FrameKind::stun, total, buffered.size());
    }
    case 1: {
        // ChannelData: 0x40..0x4F are valid channel high bytes, 0x50..0x7F are reserved
        // (RFC 8656 §12), so one byte is enough to reject a bad stream early.
        if (first > (max_channel_number >> 8)) return bad();
        if (buffered.size() < channel_data_header_size)
            return {FrameResult::Status::need_more, FrameKind::channel_data, 0};
        const std::size_t length = load_be16(buffered.data() + 2);
        // On streams the data is always padded to a multiple of 4 (RFC 8656 §12.5).
        return frame(FrameKind::channel_data, channel_data_frame_size(length, true),
                     buffered.size());
    }
    default:
        return bad();
    }
}

} // namespace traverse::proto
