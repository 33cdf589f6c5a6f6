// SPDX-License-Identifier: Apache-2.0
// Binding requests (RFC 8489 §7.3, RFC 3489 §8.2, RFC 5780 §6).
#include "proto/attributes.hpp"
#include "proto/message_builder.hpp"
#include "proto/registry.hpp"
#include "proto/types.hpp"
#include "server/turn/engine.hpp"

#include <array>

namespace traverse::turn {
namespace {

using proto::AttrType;

/// Collects the comprehension-required attributes this server will not honour (at most 8).
struct UnknownList {
    std::array<std::uint16_t, 12> types{};
    std::size_t count = 0;
    void add(std::uint16_t t) noexcept {
        if (count < types.size()) types[count++] = t;
    }
    std::span<const std::uint16_t> span() const noexcept { return {types.data(), count}; }
};

} // namespace

void Engine::handle_binding(const ClientContext& from, const proto::MessageView& request,
                            Outbox& out) noexcept {
    stats::add(counters_.binding_requests);
    const ListenerInfo& here = listeners_[from.listener];
    const bool classic = !request.has_magic_cookie();
    if (classic) stats::add(counters_.rfc3489_requests);

    // The RFC 5780 attributes of the request, found in one pass (most requests carry none).
    const proto::Attribute* change_request = nullptr;
    const proto::Attribute* response_port = nullptr;
    const proto::Attribute* padding = nullptr;
    for (const proto::Attribute& a : request.attributes()) {
        switch (a.attr()) {
        case AttrType::change_request:
            if (!change_request) change_request = &a;
            break;
        case AttrType::response_port:
            if (!response_port) response_port = &a;
            break;
        case AttrType::padding:
            if (!padding) padding = &a;
            break;
        default:
            break;
        }
    }

    // RFC 8489 §6.3.1.1: unknown comprehension-required attributes -> 420 listing them.
    UnknownList unknown;
    for (std::uint16_t t : request.unknown_required())
        unknown.add(t);
    // RFC 5780 attributes are comprehension-required; when the behaviour-discovery sockets are
    // not configured the server does not implement them and must say so with 420 (RFC 5780
    // §7.2). Over TCP/TLS a server that does RFC 5780 knows these attributes and refuses them
    // (400 below); a UDP socket outside any group cannot honour them at all.
    const bool stream = here.transport != Transport::udp;
    if (!here.rfc5780() && !(stream && options_.rfc5780)) {
        for (const proto::Attribute* a : {change_request, response_port, padding})
            if (a) unknown.add(a->type);
    }
    if (unknown.count > 0) {
        send_error(from, request, 420, unknown.span(), out);
        return;
    }

    // RFC 5780 §6.1: CHANGE-REQUEST (and RESPONSE-PORT) only make sense over UDP.
    std::uint8_t flip = 0;
    std::uint16_t destination_port = from.client.port;
    if (const proto::Attribute* cr = change_request) {
        if (here.transport != Transport::udp) {
            send_error(from, request, 400, {}, out);
            return;
        }
        auto value = proto::decode_change_request(*cr);
        if (!value) {
            send_error(from, request, 400, {}, out);
            return;
        }
        flip = static_cast<std::uint8_t>((value->change_port ? 1 : 0) | (value->change_ip ? 2 : 0));
    }
    if (const proto::Attribute* rp = response_port) {
        auto port = proto::decode_response_port(*rp);
        if (here.transport != Transport::udp || !port || *port == 0) {
            send_error(from, request, 400, {}, out);
            return;
        }
        destination_port = *port;
    }

    // The answering socket: the receiving role with the requested bits flipped.
    std::uint32_t via_index = from.listener;
    if (here.rfc5780()) {
        auto role = static_cast<std::uint8_t>(here.role);
        via_index = static_cast<std::uint32_t>(here.group[role ^ flip]);
    }
    const ListenerInfo& origin = listeners_[via_index];

    auto space = out.prepare();
    if (space.empty()) return;
    proto::MessageBuilder b(space);
    b.start(proto::MessageType{request.method(), proto::MessageClass::success_response},
            request.transaction_id(), request.cookie());
    if (classic) {
        // RFC 3489 §11.2: MAPPED-ADDRESS, SOURCE-ADDRESS and CHANGED-ADDRESS.
        b.add_address(AttrType::mapped_address, from.client);
        if (here.rfc5780()) {
            auto other = listeners_[static_cast<std::size_t>(
                here.group[static_cast<std::uint8_t>(here.role) ^ 3])];
            b.add_address(AttrType::source_address, origin.local);
            b.add_address(AttrType::changed_address, other.local);
        }
    } else {
        b.add_xor_address(AttrType::xor_mapped_address, from.client);
        if (here.rfc5780()) {
            // RFC 5780 §7.3, §7.4: where the answer came from, and the address that a
            // change-IP-and-port request would be answered from.
            auto other = listeners_[static_cast<std::size_t>(
                here.group[static_cast<std::uint8_t>(here.role) ^ 3])];
            b.add_address(AttrType::response_origin, origin.local);
            b.add_address(AttrType::other_address, other.local);
            // RFC 5780 §7.6: answer PADDING with PADDING, never larger than the request's.
            if (padding) b.add_filled(AttrType::padding, padding->value.size());
        }
        if (!options_.software.empty()) b.add_string(AttrType::software, options_.software);
    }
    if (request.has_fingerprint()) b.add_fingerprint();
    auto wire = b.finish();
    if (!wire) return;

    proto::TransportAddress to = from.client;
    to.port = destination_port;
    Via via = here.transport == Transport::udp ? Via::udp(via_index) : reply_via(from);
    out.commit(via, to, wire->size());
    stats::count_response(counters_, request.method(), 0);
}

} // namespace traverse::turn
