// SPDX-License-Identifier: Apache-2.0
// Error codes of the STUN codec and the conditions (STUN error classes) they map to.
#pragma once

#include <system_error>

namespace traverse::proto {

/// Precise reasons a parse or build call failed; never zero.
enum class errc {
    truncated = 1,               ///< fewer bytes than a header or declared length needs
    bad_header,                  ///< the two most significant bits of a STUN message are not zero
    bad_length,                  ///< length not a multiple of 4, or not matching the datagram size
    bad_magic,                   ///< magic cookie absent where RFC 5389+ semantics are required
    bad_attribute_length,        ///< attribute overruns the message or has a wrong fixed size
    too_many_attributes,         ///< more than max_attributes indexed attributes
    integrity_misplaced,         ///< second MESSAGE-INTEGRITY(-SHA256) or wrong integrity order
    fingerprint_mismatch,        ///< FINGERPRINT CRC does not match the message
    attribute_after_fingerprint, ///< FINGERPRINT is not the last attribute
    bad_address_family,          ///< address family other than IPv4 (0x01) or IPv6 (0x02)
    bad_value,                   ///< attribute value outside its allowed range or size limit
    buffer_too_small,            ///< the builder's output buffer cannot hold the next write
    bad_channel_number,          ///< channel number outside 0x4000..0x4FFF (RFC 8656 §12)
    order_violation,             ///< builder call out of order (e.g. attribute after FINGERPRINT)
    crypto_failed,               ///< libcrypto could not compute an HMAC
};

/// What a receiver should do about an error, independent of its precise cause.
///
/// Mapping (RFC 8489 §6.3, §7.3; RFC 8656):
///   not_stun         -> discard silently (§7.3: header checks and FINGERPRINT failures)
///   malformed        -> 400 Bad Request (every parse error, including the not_stun ones)
///   unknown_required -> 420 Unknown Attribute (with UNKNOWN-ATTRIBUTES)
///   unauthenticated  -> 401 Unauthenticated
/// A header-level error is equivalent to both not_stun and malformed; test not_stun first.
enum class condition {
    malformed = 1,    ///< the request is not well formed: answer 400 (if answering at all)
    unknown_required, ///< comprehension-required attribute not understood: answer 420
    unauthenticated,  ///< integrity missing or wrong: answer 401
    not_stun,         ///< fails the basic §7.3 checks: drop without an answer
};

/// The std::error_category of proto::errc (name "traverse.proto").
const std::error_category& category() noexcept;
/// The std::error_category of proto::condition (name "traverse.proto.condition").
const std::error_category& condition_category() noexcept;

/// Wraps an errc in a std::error_code of category().
std::error_code make_error_code(errc e) noexcept;
/// Wraps a condition in a std::error_condition of condition_category().
std::error_condition make_error_condition(condition c) noexcept;

/// The STUN error code to answer with for a condition (0 means: send nothing).
constexpr int stun_error_code(condition c) noexcept {
    switch (c) {
    case condition::malformed:
        return 400;
    case condition::unknown_required:
        return 420;
    case condition::unauthenticated:
        return 401;
    case condition::not_stun:
        return 0;
    }
    return 400;
}

} // namespace traverse::proto

template <> struct std::is_error_code_enum<traverse::proto::errc> : std::true_type {};
template <> struct std::is_error_condition_enum<traverse::proto::condition> : std::true_type {};
