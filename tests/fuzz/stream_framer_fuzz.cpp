// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the TCP/TLS stream framer. The input is cut into reads whose sizes come from the
// input itself and appended to a connection buffer, as the stream reader does; frames are taken
// off the front whenever next_frame says complete. Invariants: frame lengths are sane and inside
// the buffer, and the frame boundaries do not depend on how the bytes were split into reads
// (compared with framing the whole input at once).
#include "proto/channel_data.hpp"
#include "proto/message_view.hpp"
#include "proto/stream_framer.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

using namespace traverse::proto;

namespace {

struct Cut {
    FrameKind kind;
    std::size_t length;
    friend bool operator==(const Cut&, const Cut&) = default;
};

// Takes every complete frame off the front of `buffer`; returns false once the stream is bad.
bool drain(std::vector<std::byte>& buffer, std::vector<Cut>& cuts, std::uint16_t max) {
    for (;;) {
        const auto r = next_frame(buffer, max);
        switch (r.status) {
        case FrameResult::Status::bad:
            FUZZ_CHECK(r.length == 0);
            return false;
        case FrameResult::Status::need_more:
            // Either the header is incomplete (0) or the frame needs more than is buffered.
            FUZZ_CHECK(r.length == 0 || r.length > buffer.size());
            FUZZ_CHECK(r.length <= max_frame_size);
            return true;
        case FrameResult::Status::complete: {
            FUZZ_CHECK(r.length >= channel_data_header_size && r.length <= buffer.size());
            FUZZ_CHECK(r.length <= max_frame_size);
            FUZZ_CHECK(r.length % 4 == 0);
            const std::span<const std::byte> frame(buffer.data(), r.length);
            if (r.kind == FrameKind::stun) {
                FUZZ_CHECK(r.length >= header_size);
                (void)MessageView::parse(frame);
            } else {
                // A complete ChannelData frame is exactly what the engine's parser accepts.
                FUZZ_CHECK(parse_channel_data(frame, true, max).has_value());
            }
            cuts.push_back({r.kind, r.length});
            buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(r.length));
            break;
        }
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    // Byte 0 seeds the read sizes, byte 1 picks the channel range; the rest is the stream.
    const unsigned seed = data[0];
    const std::uint16_t max = (data[1] & 1) ? max_channel_rfc5766 : max_channel;
    const std::span<const std::byte> stream(reinterpret_cast<const std::byte*>(data + 2), size - 2);

    std::vector<Cut> whole_cuts;
    std::vector<std::byte> whole(stream.begin(), stream.end());
    const bool whole_ok = drain(whole, whole_cuts, max);

    std::vector<Cut> cuts;
    std::vector<std::byte> buffer;
    bool ok = true;
    std::size_t pos = 0;
    std::size_t step = 0;
    while (ok && pos < stream.size()) {
        const std::size_t read = 1 + (seed * 31 + step * 17) % 23;
        const std::size_t n = std::min(read, stream.size() - pos);
        buffer.insert(buffer.end(), stream.begin() + static_cast<std::ptrdiff_t>(pos),
                      stream.begin() + static_cast<std::ptrdiff_t>(pos + n));
        pos += n;
        ++step;
        ok = drain(buffer, cuts, max);
    }
    FUZZ_CHECK(ok == whole_ok);
    FUZZ_CHECK(cuts == whole_cuts);
    if (ok) FUZZ_CHECK(buffer.size() == whole.size());
    return 0;
}
