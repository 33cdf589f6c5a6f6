// SPDX-License-Identifier: Apache-2.0
// The engine's response writer, shared by the handler files (internal header).
#pragma once

#include "proto/message_builder.hpp"
#include "server/turn/engine.hpp"

namespace traverse::turn {

template <class Fill>
bool Engine::respond(const ClientContext& from, const proto::MessageView& request, int code,
                     const AuthResult* auth, Allocation* cache, Outbox& out, Fill&& fill) noexcept {
    const auto cls =
        code == 0 ? proto::MessageClass::success_response : proto::MessageClass::error_response;
    auto space = out.prepare();
    if (space.empty()) return false;
    proto::MessageBuilder b(space);
    b.start(proto::MessageType{request.method(), cls}, request.transaction_id(), request.cookie());
    fill(b);
    // SOFTWARE only in answers to authenticated requests: unauthenticated ones stay small.
    if (auth && !options_.software.empty())
        b.add_string(proto::AttrType::software, options_.software);
    if (auth) Authenticator::sign(b, *auth);
    if (request.has_fingerprint()) b.add_fingerprint();
    auto wire = b.finish();
    if (!wire) return false;
    if (cache) {
        cache->last_response.transaction_id = request.transaction_id();
        cache->last_response.bytes.assign(wire->begin(), wire->end());
    }
    out.commit(reply_via(from), from.client, wire->size());
    if (code != 0) stats::add(counters_.error_responses);
    stats::count_response(counters_, request.method(), code);
    return true;
}

} // namespace traverse::turn
