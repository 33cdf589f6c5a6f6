// SPDX-License-Identifier: Apache-2.0
// ChannelData parsing and header writing.
#include "proto/channel_data.hpp"

#include "proto/bytes.hpp"

namespace traverse::proto {

Expected<ChannelDataView> parse_channel_data(std::span<const std::byte> wire, bool stream,
                                             std::uint16_t max) noexcept {
    if (wire.size() < channel_data_header_size) return errc::truncated;
    const std::uint16_t channel = load_be16(wire.data());
    if (!is_valid_channel(channel, max)) return errc::bad_channel_number;
    const std::size_t length = load_be16(wire.data() + 2);
    const std::size_t available = wire.size() - channel_data_header_size;
    if (stream) {
        // RFC 8656 §12.5: over TCP and TLS the padding is always present.
        if (available < pad4(length)) return errc::truncated;
    } else {
        // Over UDP the padding is optional; anything beyond it is not ChannelData.
        if (available < length || available > pad4(length)) return errc::bad_length;
    }
    return ChannelDataView{channel, wire.subspan(channel_data_header_size, length)};
}

std::size_t write_channel_data_header(std::span<std::byte, 4> out, std::uint16_t channel,
                                      std::uint16_t length) noexcept {
    store_be16(out.data(), channel);
    store_be16(out.data() + 2, length);
    return channel_data_header_size;
}

} // namespace traverse::proto
