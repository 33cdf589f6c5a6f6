// SPDX-License-Identifier: Apache-2.0
// Error categories for proto::errc and proto::condition.
#include "proto/error.hpp"

#include <string>

namespace traverse::proto {
namespace {

// True for errors produced by the basic message checks of RFC 8489 §7.3, after which the
// message must be discarded without an answer.
constexpr bool is_not_stun(errc e) noexcept {
    switch (e) {
    case errc::truncated:
    case errc::bad_header:
    case errc::bad_length:
    case errc::bad_magic:
    case errc::fingerprint_mismatch:
        return true;
    default:
        return false;
    }
}

// True for errors that come from parsing received bytes (as opposed to building).
constexpr bool is_parse_error(errc e) noexcept {
    return e != errc::buffer_too_small && e != errc::order_violation && e != errc::crypto_failed;
}

class ErrcCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "traverse.proto"; }

    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
        case errc::truncated:
            return "message truncated";
        case errc::bad_header:
            return "top two bits of the STUN header are not zero";
        case errc::bad_length:
            return "message length is not a multiple of 4 or does not match the datagram";
        case errc::bad_magic:
            return "magic cookie missing";
        case errc::bad_attribute_length:
            return "attribute length does not fit the message or its type";
        case errc::too_many_attributes:
            return "too many attributes";
        case errc::integrity_misplaced:
            return "MESSAGE-INTEGRITY repeated or out of order";
        case errc::fingerprint_mismatch:
            return "FINGERPRINT does not match";
        case errc::attribute_after_fingerprint:
            return "attribute after FINGERPRINT";
        case errc::bad_address_family:
            return "unknown address family";
        case errc::bad_value:
            return "attribute value out of range";
        case errc::buffer_too_small:
            return "output buffer too small";
        case errc::bad_channel_number:
            return "channel number outside 0x4000..0x4FFF";
        case errc::order_violation:
            return "attribute added out of order";
        case errc::crypto_failed:
            return "libcrypto could not compute the HMAC";
        }
        return "unknown proto error";
    }

    bool equivalent(int value, const std::error_condition& cond) const noexcept override {
        if (cond.category() != condition_category()) return false;
        const auto e = static_cast<errc>(value);
        switch (static_cast<condition>(cond.value())) {
        case condition::malformed:
            return is_parse_error(e);
        case condition::not_stun:
            return is_not_stun(e);
        case condition::unknown_required:
        case condition::unauthenticated:
            return false;
        }
        return false;
    }
};

class ConditionCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "traverse.proto.condition"; }

    std::string message(int value) const override {
        switch (static_cast<condition>(value)) {
        case condition::malformed:
            return "malformed STUN message (400)";
        case condition::unknown_required:
            return "unknown comprehension-required attribute (420)";
        case condition::unauthenticated:
            return "unauthenticated (401)";
        case condition::not_stun:
            return "not a STUN message (discard)";
        }
        return "unknown proto condition";
    }
};

} // namespace

const std::error_category& category() noexcept {
    static const ErrcCategory instance;
    return instance;
}

const std::error_category& condition_category() noexcept {
    static const ConditionCategory instance;
    return instance;
}

std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}

std::error_condition make_error_condition(condition c) noexcept {
    return {static_cast<int>(c), condition_category()};
}

} // namespace traverse::proto
