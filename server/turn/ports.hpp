// SPDX-License-Identifier: Apache-2.0
// What the sans-IO engine needs from outside: relay sockets and the cross-worker quota ledger.
#pragma once

#include "proto/address.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace traverse::turn {

/// Worker-local handle of one relay socket; the worker's read handler carries it, so the
/// peer->client path finds the allocation by index, without hashing.
using RelayId = std::uint32_t;

/// What Allocate asks of the relay side (RFC 8656 §7.2).
struct RelayRequest {
    proto::Family family = proto::Family::ipv4;
    bool even_port = false;    ///< EVEN-PORT present
    bool reserve_next = false; ///< EVEN-PORT with the R bit: keep port+1 for a later Allocate
    std::optional<std::uint64_t> reservation_token; ///< RESERVATION-TOKEN present
    bool dont_fragment = false;                     ///< DONT-FRAGMENT present
};

/// Why a relay could not be opened.
enum class RelayError : std::uint8_t {
    family_unsupported, ///< no relay address of that family (440)
    exhausted,          ///< no free port in this worker's slice (508)
    bad_token,          ///< unknown or expired reservation token (508)
    io_error,           ///< the kernel refused the socket (508)
};

/// A relay socket the opener created.
struct RelayGrant {
    RelayId id = 0;
    proto::TransportAddress relayed;             ///< as reported to the client (external address)
    std::optional<std::uint64_t> reserved_token; ///< set when reserve_next was honoured
};

/// Outcome of RelayOpener::open.
struct RelayOpenResult {
    std::optional<RelayGrant> grant;
    RelayError error = RelayError::io_error;
};

/// Opens and closes relay sockets for one worker; implemented with real sockets by the worker
/// and by a fake in tests. Called only on the worker's thread.
class RelayOpener {
public:
    virtual RelayOpenResult open(const RelayRequest& request) = 0;
    virtual void close(RelayId id) = 0;

protected:
    ~RelayOpener() = default;
};

/// Why a quota refused an allocation.
enum class QuotaRefusal : std::uint8_t { none, per_user, per_ip, total };

/// Allocation counts shared by all workers (the only state on the Allocate path that crosses
/// threads). Touched on Allocate and on deletion only, never per packet.
class QuotaLedger {
public:
    /// Counts one allocation for `user` from `client_ip` unless a limit is reached.
    virtual QuotaRefusal acquire(std::string_view user,
                                 const proto::TransportAddress& client_ip) = 0;
    virtual void release(std::string_view user, const proto::TransportAddress& client_ip) = 0;

protected:
    ~QuotaLedger() = default;
};

} // namespace traverse::turn
