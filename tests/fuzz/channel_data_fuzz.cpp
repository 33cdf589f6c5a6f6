// SPDX-License-Identifier: Apache-2.0
// Fuzz target: parse_channel_data over UDP and stream rules and both channel ranges. Invariants:
// the payload lies inside the input right after the header, has the declared length, the
// channel is in range, and re-writing the header reproduces the input's first bytes.
#include "proto/bytes.hpp"
#include "proto/channel_data.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

using namespace traverse::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> wire(reinterpret_cast<const std::byte*>(data), size);
    for (const bool stream : {false, true}) {
        for (const std::uint16_t max : {max_channel, max_channel_rfc5766}) {
            const auto cd = parse_channel_data(wire, stream, max);
            if (!cd) continue;
            FUZZ_CHECK(is_valid_channel(cd->channel, max));
            FUZZ_CHECK(wire.size() >= channel_data_header_size);
            FUZZ_CHECK(cd->payload.data() == wire.data() + channel_data_header_size);
            FUZZ_CHECK(cd->payload.size() == load_be16(wire.data() + 2));
            const std::size_t frame = channel_data_frame_size(cd->payload.size(), stream);
            FUZZ_CHECK(frame <= wire.size());
            // UDP: at most 3 padding bytes after the data (RFC 8656 §12.5).
            if (!stream) FUZZ_CHECK(wire.size() - frame <= 3);
            std::array<std::byte, 4> header{};
            FUZZ_CHECK(write_channel_data_header(header, cd->channel,
                                                 static_cast<std::uint16_t>(cd->payload.size())) ==
                       4);
            FUZZ_CHECK(std::memcmp(header.data(), wire.data(), 4) == 0);
            // A wider range accepts everything a narrower one does.
            if (max == max_channel)
                FUZZ_CHECK(parse_channel_data(wire, stream, max_channel_rfc5766));
        }
    }
    return 0;
}
