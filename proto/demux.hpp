// SPDX-License-Identifier: Apache-2.0
// First-byte demultiplexing of packets sharing one port (RFC 7983 §7, RFC 8656 §12).
#pragma once

#include <cstdint>

namespace traverse::proto {

/// What a packet is, judged by its first byte.
enum class PacketKind { stun, channel_data, dtls, rtp, other };

/// Classifies a packet by its first byte (RFC 7983 §7):
///
///                 +----------------+
///                 |        [0..3] -+--> STUN
///                 |                |
///                 |      [16..19] -+--> ZRTP (other)
///     packet -->  |                |
///                 |      [20..63] -+--> DTLS
///                 |                |
///                 |      [64..79] -+--> TURN ChannelData
///                 |                |
///                 |    [128..191] -+--> RTP/RTCP
///                 +----------------+
constexpr PacketKind classify(std::uint8_t first) noexcept {
    if (first <= 3) return PacketKind::stun;
    if (first >= 20 && first <= 63) return PacketKind::dtls;
    if (first >= 64 && first <= 79) return PacketKind::channel_data;
    if (first >= 128 && first <= 191) return PacketKind::rtp;
    return PacketKind::other;
}

} // namespace traverse::proto
