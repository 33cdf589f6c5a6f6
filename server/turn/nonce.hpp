// SPDX-License-Identifier: Apache-2.0
// Stateless NONCE values: expiry and client binding under a keyed MAC, with the RFC 8489 cookie.
#pragma once

#include "proto/address.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace traverse::turn {

/// The "nonce cookie" that starts a NONCE carrying the STUN Security Feature set (RFC 8489 §9.2).
inline constexpr std::string_view nonce_cookie = "obMatJos2";

/// The STUN Security Features a nonce cookie announces (RFC 8489 §9.2, §18.1).
struct SecurityFeatures {
    bool password_algorithms = false; ///< bit 23: PASSWORD-ALGORITHMS offered
    bool username_anonymity = false;  ///< bit 22: clients must send USERHASH instead of USERNAME

    friend bool operator==(const SecurityFeatures&, const SecurityFeatures&) = default;
};

/// The feature set of a nonce that starts with the nonce cookie followed by four base64
/// characters (the 24-bit feature field, RFC 8489 §9.2); nullopt for any other nonce.
std::optional<SecurityFeatures> parse_nonce_cookie(std::string_view nonce) noexcept;

/// Longest nonce a NonceCodec issues (well inside the 763-byte limit of RFC 8489 §14.10).
inline constexpr std::size_t max_issued_nonce_size = 48;

/// One issued nonce, held inline so issuing never allocates.
struct NonceText {
    std::array<char, max_issued_nonce_size> chars{};
    std::uint8_t size = 0;

    /// The nonce as text; valid while this object lives.
    std::string_view view() const noexcept { return {chars.data(), size}; }
};

/// Issues and checks stateless nonces; immutable after construction, so any thread may use it.
///
/// Layout (every character is qdtext, as RFC 8489 §14.10 requires):
///
///     [obMatJos2 FFFF]  EEEEEEEE  PPPP  MMMMMMMMMMMMMMMM
///      cookie+features  expiry    salt  MAC
///
/// - cookie + features: present only when constructed with a cookie; FFFF is the base64 of the
///   3-byte STUN Security Feature set (RFC 8489 §9.2).
/// - expiry: unix seconds, 8 lowercase hex digits (unsigned 32 bits, good until 2106).
/// - salt: the client's source port, 4 lowercase hex digits. It is not checked on verification;
///   it only makes nonces for different source ports differ, which RFC 8489 §9.2.4 requires.
/// - MAC: base64 of the first 12 bytes of HMAC-SHA256(secret, all the text before the MAC ||
///   address family || client IP bytes), so a nonce is bound to the client IP, not its port.
class NonceCodec {
public:
    /// `with_cookie` prefixes the nonce cookie announcing `features`.
    NonceCodec(const std::array<std::byte, 32>& secret, std::chrono::seconds lifetime,
               bool with_cookie, SecurityFeatures features) noexcept;

    /// A fresh nonce for `client`, valid until `unix_now` + lifetime.
    NonceText issue(const proto::TransportAddress& client, std::int64_t unix_now) const noexcept;

    /// True when `nonce` was issued by this codec (same secret, same cookie) for `client`'s IP
    /// and its expiry is still ahead of `unix_now`. Anything else is stale (438): expired,
    /// forged, from another IP, or from a previous process with another secret.
    bool valid(std::string_view nonce, const proto::TransportAddress& client,
               std::int64_t unix_now) const noexcept;

    /// The cookie and feature prefix every issued nonce starts with (empty without cookie).
    std::string_view prefix() const noexcept { return {prefix_.data(), prefix_size_}; }

private:
    bool mac(std::string_view signed_text, const proto::TransportAddress& client,
             std::span<char, 16> out) const noexcept;

    std::array<std::byte, 32> secret_{};
    std::int64_t lifetime_ = 0;
    std::array<char, 16> prefix_{};
    std::size_t prefix_size_ = 0;
};

} // namespace traverse::turn
