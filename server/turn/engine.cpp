// SPDX-License-Identifier: Apache-2.0
// Engine entry points: parse, count, dispatch on (class, method).
#include "server/turn/engine.hpp"

#include "proto/registry.hpp"
#include "proto/types.hpp"

#include <utility>

namespace traverse::turn {

Engine::Engine(EngineOptions options, std::vector<ListenerInfo> listeners,
               stats::WorkerCounters& counters)
    : options_(std::move(options)), listeners_(std::move(listeners)), counters_(counters) {}

void Engine::on_client_datagram(Time now, const ClientContext& from,
                                std::span<const std::byte> data, Outbox& out) noexcept {
    if (!handle_message(now, from, data, out)) stats::add(counters_.malformed_dropped);
}

bool Engine::on_stream_frame(Time now, const ClientContext& from, std::span<const std::byte> frame,
                             Outbox& out) noexcept {
    return handle_message(now, from, frame, out);
}

Via Engine::reply_via(const ClientContext& from) const noexcept {
    if (listeners_[from.listener].transport == Transport::udp) return Via::udp(from.listener);
    return Via::stream(from.listener, from.connection);
}

bool Engine::handle_message(Time /*now*/, const ClientContext& from,
                            std::span<const std::byte> data, Outbox& out) noexcept {
    auto parsed = proto::MessageView::parse(data);
    if (!parsed) return false;
    const proto::MessageView& msg = *parsed;

    switch (msg.message_class()) {
    case proto::MessageClass::request:
        if (msg.method() == static_cast<std::uint16_t>(proto::Method::binding)) {
            handle_binding(from, msg, out);
        } else {
            // RFC 8489 §6.3.1: a request whose method this server does not implement is a bad
            // request; TURN methods are answered the same way until the relay exists.
            stats::add(counters_.unexpected_dropped);
            send_error(from, msg, 400, {}, out);
        }
        return true;
    case proto::MessageClass::indication:
        // RFC 8489 §6.3.2: indications never get an answer. Binding indications are keepalives.
        if (msg.method() == static_cast<std::uint16_t>(proto::Method::binding))
            stats::add(counters_.binding_indications);
        else
            stats::add(counters_.unexpected_dropped);
        return true;
    case proto::MessageClass::success_response:
    case proto::MessageClass::error_response:
        // A server sends no requests, so a response is unsolicited: drop it silently.
        stats::add(counters_.unexpected_dropped);
        return true;
    }
    return true;
}

} // namespace traverse::turn
