// SPDX-License-Identifier: Apache-2.0
// Allocate (RFC 8656 §7.2, RFC 6156 and RFC 8656 §7.2 dual-stack): relays, quota, lifetime.
#include "proto/attributes.hpp"
#include "proto/registry.hpp"
#include "server/turn/handlers/respond.hpp"

#include <array>

namespace traverse::turn {
namespace {

using proto::AttrType;

constexpr std::uint8_t protocol_udp = 17;

int relay_error_code(RelayError e) noexcept {
    return e == RelayError::family_unsupported ? 440 : 508;
}

/// ADDRESS-ERROR-CODE (RFC 8656 §18.12): family, reserved, class, number, reason.
void add_address_error_code(proto::MessageBuilder& b, proto::Family family, int code) {
    auto reason = proto::error_reason(code);
    std::array<std::byte, 4 + 64> value{};
    value[0] = static_cast<std::byte>(family);
    value[2] = static_cast<std::byte>(code / 100);
    value[3] = static_cast<std::byte>(code % 100);
    auto n = std::min(reason.size(), value.size() - 4);
    for (std::size_t i = 0; i < n; ++i)
        value[4 + i] = static_cast<std::byte>(reason[i]);
    b.add_raw(AttrType::address_error_code, std::span<const std::byte>(value.data(), 4 + n));
}

} // namespace

void Engine::handle_allocate(Time now, const ClientContext& from, const proto::MessageView& request,
                             const AuthResult& auth, Outbox& out) {
    auto fail = [&](int code) { send_turn_error(from, request, code, auth, nullptr, out); };

    // Draining (SIGTERM with a drain timeout): no new allocations; send the client elsewhere.
    if (draining_) {
        stats::add(counters_.allocations_refused_draining);
        if (!alternate_server_) return fail(508);
        respond(from, request, 300, &auth, nullptr, out, [&](proto::MessageBuilder& b) {
            b.add_error_code(300, proto::error_reason(300));
            b.add_address(AttrType::alternate_server, *alternate_server_);
        });
        return;
    }

    // Step 3: REQUESTED-TRANSPORT must be present; only UDP relaying is offered (442 otherwise).
    auto transport_attr = request.find(AttrType::requested_transport);
    if (!transport_attr) return fail(400);
    auto transport = proto::decode_requested_transport(*transport_attr);
    if (!transport) return fail(400);
    if (*transport != protocol_udp) return fail(442);

    // Steps 5-7: EVEN-PORT, RESERVATION-TOKEN and the address families.
    RelayRequest relay_request;
    relay_request.dont_fragment = request.find(AttrType::dont_fragment).has_value();
    auto token_attr = request.find(AttrType::reservation_token);
    auto even_attr = request.find(AttrType::even_port);
    auto family_attr = request.find(AttrType::requested_address_family);
    auto additional_attr = request.find(AttrType::additional_address_family);
    if (token_attr && (even_attr || family_attr || additional_attr)) return fail(400);
    if (family_attr && additional_attr) return fail(400);
    if (token_attr) {
        auto token = proto::decode_u64(*token_attr);
        if (!token) return fail(400);
        relay_request.reservation_token = *token;
    }
    if (even_attr) {
        auto reserve = proto::decode_even_port(*even_attr);
        if (!reserve) return fail(400);
        relay_request.even_port = true;
        relay_request.reserve_next = *reserve;
    }
    if (family_attr) {
        auto family = proto::decode_address_family(*family_attr);
        if (!family) return fail(440);
        relay_request.family = *family;
    }
    bool dual_stack = false;
    if (additional_attr) {
        // RFC 8656 §7.2: ADDITIONAL-ADDRESS-FAMILY may only ask for IPv6 (IPv4 is implied).
        auto family = proto::decode_address_family(*additional_attr);
        if (!family || *family != proto::Family::ipv6) return fail(400);
        dual_stack = true;
    }
    auto lifetime_attr = request.find(AttrType::lifetime);
    std::optional<std::uint32_t> requested_lifetime;
    if (lifetime_attr) {
        auto v = proto::decode_u32(*lifetime_attr);
        if (!v) return fail(400);
        requested_lifetime = *v;
    }

    // Quotas: per user and per client IP -> 486, server total -> 508.
    if (quotas_) {
        switch (quotas_->acquire(auth.username, from.client)) {
        case QuotaRefusal::none:
            break;
        case QuotaRefusal::per_user:
            stats::add(counters_.allocations_refused_quota_user);
            log_allocation_refused(now, from, "quota_user", 486);
            return fail(486);
        case QuotaRefusal::per_ip:
            stats::add(counters_.allocations_refused_quota_ip);
            log_allocation_refused(now, from, "quota_ip", 486);
            return fail(486);
        case QuotaRefusal::total:
            stats::add(counters_.allocations_refused_quota_total);
            log_allocation_refused(now, from, "quota_total", 508);
            return fail(508);
        }
    }
    auto release_quota = [&] {
        if (quotas_) quotas_->release(auth.username, from.client);
    };
    if (!relays_) {
        release_quota();
        stats::add(counters_.allocations_refused_capacity);
        log_allocation_refused(now, from, "port_exhaustion", 508);
        return fail(508);
    }

    auto primary = relays_->open(relay_request);
    if (!primary.grant) {
        release_quota();
        if (primary.error != RelayError::family_unsupported) {
            stats::add(counters_.allocations_refused_capacity);
            log_allocation_refused(now, from, "port_exhaustion", 508);
        }
        return fail(relay_error_code(primary.error));
    }
    std::optional<RelayGrant> secondary;
    std::optional<int> secondary_error;
    if (dual_stack) {
        RelayRequest v6;
        v6.family = proto::Family::ipv6;
        v6.dont_fragment = relay_request.dont_fragment;
        auto opened = relays_->open(v6);
        if (opened.grant)
            secondary = opened.grant;
        else
            secondary_error = relay_error_code(opened.error);
    }

    auto allocation = std::make_unique<Allocation>();
    allocation->five_tuple = FiveTuple{from.client, from.listener, from.connection};
    allocation->relays[0] = Relay{primary.grant->id, primary.grant->relayed};
    if (secondary) allocation->relays[1] = Relay{secondary->id, secondary->relayed};
    allocation->username = std::string(auth.username);
    allocation->key = auth.key;
    const auto lifetime = clamp_lifetime(requested_lifetime);
    allocation->expires = now + lifetime;
    allocation->created = now;
    for (const auto& r : allocation->relays) {
        if (!r) continue;
        if (r->id >= by_relay_.size()) by_relay_.resize(r->id + 1, nullptr);
        by_relay_[r->id] = allocation.get();
    }
    Allocation& a = *allocation;
    allocations_.emplace(a.five_tuple, std::move(allocation));
    allocations_high_ = std::max(allocations_high_, allocations_.size());
    stats::add(counters_.allocations_created);

    // Step 10: the success response, cached for retransmissions.
    respond(from, request, 0, &auth, &a, out, [&](proto::MessageBuilder& b) {
        for (const auto& r : a.relays)
            if (r) b.add_xor_address(AttrType::xor_relayed_address, r->relayed);
        if (secondary_error) add_address_error_code(b, proto::Family::ipv6, *secondary_error);
        b.add_u32(AttrType::lifetime, static_cast<std::uint32_t>(lifetime.count()));
        if (primary.grant->reserved_token)
            b.add_u64(AttrType::reservation_token, *primary.grant->reserved_token);
        b.add_xor_address(AttrType::xor_mapped_address, from.client);
    });
}

} // namespace traverse::turn
