// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the signaling hub's frame handling (JSON parse, validation, queue, rooms, relay)
// driven by up to four connections. The input is a list of records separated by 0xFF bytes:
// the first byte of a record picks the connection and the action (message, connect,
// disconnect, clock step), the rest is the text frame. Invariants: every frame the hub emits
// is a JSON object with a string "type", addressed to a connected peer, and no bigger than the
// escaped frame that caused it plus a small envelope; one input frame causes a bounded number of
// outgoing frames; the hub's user count matches the connections.
#include "server/signaling/hub.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

using namespace traverse::signaling;

namespace {

constexpr std::size_t connections = 4;
// Room ids, peer ids, an error message and the JSON punctuation around a relayed payload.
constexpr std::size_t envelope_bytes = 512;

void check_outbox(const Outbox& out, const std::set<PeerId>& connected, std::size_t input) {
    // At most one frame per other member plus the sender's own answers.
    FUZZ_CHECK(out.size() <= connections + 2);
    for (const auto& o : out) {
        FUZZ_CHECK(connected.contains(o.to));
        FUZZ_CHECK(o.frame != nullptr);
        // JSON escaping may turn each input byte into six (\u0001), never more.
        FUZZ_CHECK(o.frame->size() <= 6 * input + envelope_bytes);
        const auto j = nlohmann::json::parse(*o.frame, nullptr, false);
        FUZZ_CHECK(!j.is_discarded());
        FUZZ_CHECK(j.is_object());
        FUZZ_CHECK(j.contains("type") && j["type"].is_string());
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The server's defaults (64 KiB frames): the corpus holds frames near that size.
    Hub hub(HubOptions{}, 1234);
    Time now{};
    std::array<PeerId, connections> ids;
    std::set<PeerId> connected;
    for (auto& id : ids) {
        id = hub.connect(now);
        connected.insert(id);
    }
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::size_t pos = 0;
    while (pos < input.size()) {
        std::size_t end = input.find('\xFF', pos);
        if (end == std::string_view::npos) end = input.size();
        const std::string_view record = input.substr(pos, end - pos);
        pos = end + 1;
        if (record.empty()) continue;
        const auto control = static_cast<unsigned char>(record[0]);
        const std::string_view frame = record.substr(1);
        PeerId& who = ids[control % connections];
        Outbox out;
        switch ((control >> 2) % 8) {
        case 0: // reconnect: the old connection goes, a new one takes its slot
            hub.disconnect(who, out);
            connected.erase(who);
            check_outbox(out, connected, 0);
            who = hub.connect(now);
            connected.insert(who);
            break;
        case 1: // time passes (refills rate-limit tokens)
            now += std::chrono::milliseconds(50 * (control >> 5));
            break;
        default:
            hub.on_message(now, who, frame, out);
            check_outbox(out, connected, frame.size());
            break;
        }
        FUZZ_CHECK(hub.users() == connected.size());
        FUZZ_CHECK(hub.waiting() <= connected.size());
        FUZZ_CHECK(hub.rooms() <= connected.size());
    }
    for (auto& id : ids) {
        Outbox out;
        hub.disconnect(id, out);
        connected.erase(id);
        check_outbox(out, connected, 0);
    }
    FUZZ_CHECK(hub.users() == 0 && hub.waiting() == 0 && hub.rooms() == 0);
    return 0;
}
