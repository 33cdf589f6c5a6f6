// SPDX-License-Identifier: Apache-2.0
// CreatePermission (RFC 8656 §9): all listed peers or none, each through the peer filter.
#include "proto/attributes.hpp"
#include "server/turn/handlers/respond.hpp"

#include <array>

namespace traverse::turn {

void Engine::handle_create_permission(Time now, const ClientContext& from,
                                      const proto::MessageView& request, const AuthResult& auth,
                                      Allocation& allocation, Outbox& out) {
    // Every XOR-PEER-ADDRESS is checked before any is installed (§9.2: all or nothing).
    std::array<proto::TransportAddress, proto::max_attributes> peers;
    std::size_t count = 0;
    int failure = 0;
    for (const auto& attr : request.attributes()) {
        if (attr.attr() != proto::AttrType::xor_peer_address) continue;
        auto peer = proto::decode_xor_address(attr, request.transaction_id());
        if (!peer) {
            failure = 400;
            break;
        }
        if (!allocation.relay_for(peer->family)) {
            failure = 443; // RFC 8656 §9.2: no relay of the peer's family
            break;
        }
        if (!peer_allowed(*peer)) {
            refuse_peer(now, from, *peer);
            failure = 403;
            break;
        }
        peers[count++] = *peer;
    }
    if (failure == 0 && count == 0) failure = 400;
    if (failure != 0) {
        send_turn_error(from, request, failure, auth, &allocation, out);
        return;
    }
    const Time expires = now + options_.permission_lifetime;
    for (std::size_t i = 0; i < count; ++i)
        if (allocation.add_permission(peers[i], expires))
            stats::add(counters_.permissions_installed);
    respond(from, request, 0, &auth, &allocation, out, [](proto::MessageBuilder&) {});
}

} // namespace traverse::turn
