// SPDX-License-Identifier: Apache-2.0
// ChannelBind (RFC 8656 §11): bind or refresh a channel number to a peer, with rebinding rules.
#include "proto/attributes.hpp"
#include "proto/channel_data.hpp"
#include "server/turn/handlers/respond.hpp"

namespace traverse::turn {

void Engine::handle_channel_bind(Time now, const ClientContext& from,
                                 const proto::MessageView& request, const AuthResult& auth,
                                 Allocation& allocation, Outbox& out) {
    using proto::AttrType;
    auto fail = [&](int code) { send_turn_error(from, request, code, auth, &allocation, out); };

    // §11.2: CHANNEL-NUMBER in 0x4000-0x4FFF and one XOR-PEER-ADDRESS, else 400.
    auto number_attr = request.find(AttrType::channel_number);
    auto peer_attr = request.find(AttrType::xor_peer_address);
    if (!number_attr || !peer_attr) return fail(400);
    auto number = proto::decode_channel_number(*number_attr, options_.max_channel_number);
    auto peer = proto::decode_xor_address(*peer_attr, request.transaction_id());
    if (!number || !peer) return fail(400);
    if (!allocation.relay_for(peer->family)) return fail(443);
    if (!peer_allowed(*peer)) {
        refuse_peer(now, from, *peer);
        return fail(403);
    }

    // §11.2: a number already bound (or quarantined) to another peer, or the peer bound to
    // another number, is a bad request. Same number and peer refreshes.
    Channel* existing = nullptr;
    for (auto& c : allocation.channels) {
        const bool same_number = c.number == *number;
        const bool same_peer = c.peer == *peer;
        if (same_number && same_peer)
            existing = &c;
        else if (same_number || same_peer)
            return fail(400);
    }
    const Time expires = now + options_.channel_lifetime;
    if (existing) {
        existing->expires = expires;
        existing->quarantine_until = expires + options_.channel_quarantine;
        if (!existing->active) {
            // Rebound during its quarantine: relaying again.
            existing->active = true;
            stats::add(counters_.channels_bound);
        }
    } else {
        allocation.channels.push_back(
            Channel{*number, *peer, expires, expires + options_.channel_quarantine});
        stats::add(counters_.channels_bound);
    }
    // §11.2: binding a channel also installs or refreshes the permission for the peer.
    if (allocation.add_permission(*peer, now + options_.permission_lifetime))
        stats::add(counters_.permissions_installed);
    respond(from, request, 0, &auth, &allocation, out, [](proto::MessageBuilder&) {});
}

} // namespace traverse::turn
