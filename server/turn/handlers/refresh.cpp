// SPDX-License-Identifier: Apache-2.0
// Refresh (RFC 8656 §7.3): extend or delete an allocation.
#include "proto/attributes.hpp"
#include "server/turn/handlers/respond.hpp"

namespace traverse::turn {

void Engine::handle_refresh(Time now, const ClientContext& from, const proto::MessageView& request,
                            const AuthResult& auth, Allocation& allocation, Outbox& out) {
    using proto::AttrType;
    // RFC 8656 §7.3: a REQUESTED-ADDRESS-FAMILY the allocation has no relay for -> 443.
    if (auto family_attr = request.find(AttrType::requested_address_family)) {
        auto family = proto::decode_address_family(*family_attr);
        if (!family || !allocation.relay_for(*family)) {
            send_turn_error(from, request, 443, auth, &allocation, out);
            return;
        }
    }
    std::optional<std::uint32_t> requested;
    if (auto lifetime_attr = request.find(AttrType::lifetime)) {
        auto v = proto::decode_u32(*lifetime_attr);
        if (!v) {
            send_turn_error(from, request, 400, auth, &allocation, out);
            return;
        }
        requested = *v;
    }
    const bool remove = requested && *requested == 0;
    const auto lifetime = remove ? std::chrono::seconds(0) : clamp_lifetime(requested);
    respond(from, request, 0, &auth, &allocation, out, [&](proto::MessageBuilder& b) {
        b.add_u32(AttrType::lifetime, static_cast<std::uint32_t>(lifetime.count()));
    });
    if (remove) {
        stats::add(counters_.allocations_deleted);
        destroy(allocation, now); // its cached answer moves to a tombstone for retransmissions
        return;
    }
    allocation.expires = now + lifetime;
}

} // namespace traverse::turn
