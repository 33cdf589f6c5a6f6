// SPDX-License-Identifier: Apache-2.0
// TURN ChannelData messages (RFC 8656 §12.4): view, header writer, UDP vs stream padding.
#pragma once

#include "proto/expected.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace traverse::proto {

/// ChannelData header size: channel number + length (RFC 8656 §12.4).
inline constexpr std::size_t channel_data_header_size = 4;
/// Lowest channel number a client may bind (RFC 8656 §12).
inline constexpr std::uint16_t min_channel = 0x4000;
/// Highest channel number a client may bind (RFC 8656 §12).
inline constexpr std::uint16_t max_channel = 0x4FFF;
/// Upper bound of RFC 5766's wider range (0x4000..0x7FFE), which some clients still use
/// (coturn's tools pick numbers up to 0x7FFE); accepted only when configured.
inline constexpr std::uint16_t max_channel_rfc5766 = 0x7FFE;

/// True for channel numbers 0x4000..0x4FFF (RFC 8656 §12).
constexpr bool is_valid_channel(std::uint16_t channel, std::uint16_t max = max_channel) noexcept {
    return channel >= min_channel && channel <= max;
}

/// A parsed ChannelData message; payload points into the caller's buffer.
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |         Channel Number        |            Length             |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                                                               |
///     /                       Application Data                        /
///     /                                                               /
///     |                               +-------------------------------+
///     |                               |
///     +-------------------------------+
struct ChannelDataView {
    std::uint16_t channel = 0;
    std::span<const std::byte> payload;
};

/// Parses a ChannelData message (RFC 8656 §12.5).
///
/// Over UDP (stream false) the datagram must hold the declared data (else errc::bad_length) and
/// may carry up to 3 padding bytes, no more. Over TCP/TLS (stream true) the frame must include
/// the padding to a multiple of 4 (else errc::truncated); bytes beyond it belong to the next
/// frame and are ignored. A channel outside 0x4000..0x4FFF is errc::bad_channel_number.
Expected<ChannelDataView> parse_channel_data(std::span<const std::byte> wire, bool stream,
                                             std::uint16_t max = max_channel) noexcept;

/// Writes the 4-byte header for a ChannelData message in place; returns 4.
std::size_t write_channel_data_header(std::span<std::byte, 4> out, std::uint16_t channel,
                                      std::uint16_t length) noexcept;

/// Bytes of a ChannelData frame with length bytes of data: padded to 4 on streams only.
constexpr std::size_t channel_data_frame_size(std::size_t length, bool stream) noexcept {
    const std::size_t data = stream ? (length + 3) & ~std::size_t{3} : length;
    return channel_data_header_size + data;
}

} // namespace traverse::proto
