// SPDX-License-Identifier: Apache-2.0
// Typed decoders for attribute values, and the size limits the RFCs put on them.
#pragma once

#include "proto/address.hpp"
#include "proto/channel_data.hpp"
#include "proto/expected.hpp"
#include "proto/message_view.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace traverse::proto {

/// USERNAME: RFC 5389 §15.3 allows "less than 513 bytes"; RFC 8489 §14.3 tightened senders to
/// fewer than 509. Receivers accept up to 512 bytes so older clients keep working.
inline constexpr std::size_t max_username_bytes = 512;
/// REALM: fewer than 128 characters (RFC 8489 §14.9), i.e. at most 127.
inline constexpr std::size_t max_realm_chars = 127;
/// REALM: at most 763 bytes once encoded (RFC 8489 §14.9).
inline constexpr std::size_t max_realm_bytes = 763;
/// NONCE: fewer than 128 characters (RFC 8489 §14.10), i.e. at most 127.
inline constexpr std::size_t max_nonce_chars = 127;
/// NONCE: at most 763 bytes (RFC 8489 §14.10).
inline constexpr std::size_t max_nonce_bytes = 763;
/// SOFTWARE: fewer than 128 characters (RFC 8489 §14.14), i.e. at most 127.
inline constexpr std::size_t max_software_chars = 127;
/// SOFTWARE: at most 763 bytes (RFC 8489 §14.14).
inline constexpr std::size_t max_software_bytes = 763;
/// ERROR-CODE reason phrase: fewer than 128 characters (RFC 8489 §14.8), i.e. at most 127.
inline constexpr std::size_t max_reason_chars = 127;
/// ERROR-CODE reason phrase: at most 763 bytes (RFC 8489 §14.8).
inline constexpr std::size_t max_reason_bytes = 763;
/// ALTERNATE-DOMAIN: a DNS name, at most 255 bytes (RFC 8489 §14.16, RFC 1035 §2.3.4).
inline constexpr std::size_t max_alternate_domain_bytes = 255;

/// CHANGE-REQUEST flag: send the response from the other IP address (RFC 5780 §7.2).
inline constexpr std::uint32_t change_ip_flag = 0x04;
/// CHANGE-REQUEST flag: send the response from the other port (RFC 5780 §7.2).
inline constexpr std::uint32_t change_port_flag = 0x02;

/// REQUESTED-TRANSPORT protocol number for UDP (RFC 8656 §18.8).
inline constexpr std::uint8_t transport_udp = 17;
/// REQUESTED-TRANSPORT protocol number for TCP (RFC 6062 §6.1).
inline constexpr std::uint8_t transport_tcp = 6;

/// Counts UTF-8 characters (bytes that are not continuation bytes); no validation.
std::size_t utf8_length(std::string_view text) noexcept;

/// MAPPED-ADDRESS layout, also used by OTHER-ADDRESS, RESPONSE-ORIGIN, ALTERNATE-SERVER and the
/// RFC 3489 address attributes (RFC 8489 §14.1):
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |0 0 0 0 0 0 0 0|    Family     |           Port                |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                 Address (32 bits or 128 bits)                 |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
Expected<TransportAddress> decode_address(const Attribute& a) noexcept;

/// XOR-MAPPED-ADDRESS layout (also XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS), RFC 8489 §14.2: as
/// above with X-Port = port ^ (cookie >> 16) and X-Address = address ^ cookie (IPv4) or
/// address ^ (cookie || transaction id) (IPv6).
Expected<TransportAddress> decode_xor_address(const Attribute& a, const TransactionId& id) noexcept;

/// A 4-byte big-endian value (LIFETIME, PRIORITY, FINGERPRINT, ...).
Expected<std::uint32_t> decode_u32(const Attribute& a) noexcept;
/// An 8-byte big-endian value (ICE-CONTROLLED, ICE-CONTROLLING, RESERVATION-TOKEN).
Expected<std::uint64_t> decode_u64(const Attribute& a) noexcept;

/// The value as text, unvalidated (SOFTWARE, REALM, NONCE, USERNAME, ...).
std::string_view decode_string(const Attribute& a) noexcept;
/// USERNAME, at most max_username_bytes (errc::bad_value otherwise).
Expected<std::string_view> decode_username(const Attribute& a) noexcept;
/// REALM, within max_realm_chars / max_realm_bytes.
Expected<std::string_view> decode_realm(const Attribute& a) noexcept;
/// NONCE, within max_nonce_chars / max_nonce_bytes.
Expected<std::string_view> decode_nonce(const Attribute& a) noexcept;
/// SOFTWARE, within max_software_chars / max_software_bytes.
Expected<std::string_view> decode_software(const Attribute& a) noexcept;

/// A decoded ERROR-CODE: code 300..699 and its reason phrase.
struct ErrorCode {
    int code = 0;
    std::string_view reason;
};

/// ERROR-CODE (RFC 8489 §14.8); class 3..6 and number 0..99, reason within the limits:
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |           Reserved, should be 0         |Class|     Number    |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |      Reason Phrase (variable)                                ..
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
Expected<ErrorCode> decode_error_code(const Attribute& a) noexcept;

/// A decoded CHANGE-REQUEST.
struct ChangeRequest {
    bool change_ip = false;
    bool change_port = false;
};

/// CHANGE-REQUEST (RFC 5780 §7.2): a 32-bit word with flags A (0x04, change IP), B (0x02, port).
Expected<ChangeRequest> decode_change_request(const Attribute& a) noexcept;

/// RESPONSE-PORT (RFC 5780 §7.5): a 16-bit port followed by 16 bits of padding.
Expected<std::uint16_t> decode_response_port(const Attribute& a) noexcept;

/// CHANNEL-NUMBER (RFC 8656 §18.1): 16-bit number + 16 bits RFFU; range checked
/// (errc::bad_channel_number outside 0x4000..0x4FFF).
Expected<ChannelNumber> decode_channel_number(const Attribute& a,
                                              std::uint16_t max = max_channel) noexcept;

/// REQUESTED-TRANSPORT (RFC 8656 §18.8): protocol number + 24 bits RFFU.
Expected<std::uint8_t> decode_requested_transport(const Attribute& a) noexcept;

/// EVEN-PORT (RFC 8656 §18.7): one byte whose top bit R asks to reserve the next port.
Expected<bool> decode_even_port(const Attribute& a) noexcept;

/// REQUESTED-ADDRESS-FAMILY / ADDITIONAL-ADDRESS-FAMILY (RFC 8656 §18.6, §18.11): family
/// byte + 24 bits RFFU; errc::bad_address_family for other families.
Expected<Family> decode_address_family(const Attribute& a) noexcept;

/// Most entries kept from one UNKNOWN-ATTRIBUTES attribute.
inline constexpr std::size_t max_unknown_attribute_list = 32;

/// Fixed-capacity list of attribute types, as carried by UNKNOWN-ATTRIBUTES.
struct UnknownAttributeList {
    std::array<std::uint16_t, max_unknown_attribute_list> types{};
    std::size_t count = 0;

    /// The listed types.
    std::span<const std::uint16_t> view() const noexcept { return {types.data(), count}; }
};

/// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13): a list of 16-bit types; errc::bad_value beyond the
/// capacity. RFC 3489 padding by repeating one entry shows up as a duplicate entry.
Expected<UnknownAttributeList> decode_unknown_attributes(const Attribute& a) noexcept;

/// Password algorithm numbers (RFC 8489 §18.5).
enum class PasswordAlgorithmId : std::uint16_t { md5 = 0x0001, sha256 = 0x0002 };

/// One PASSWORD-ALGORITHM(S) entry; parameters point into the message.
struct PasswordAlgorithm {
    std::uint16_t algorithm = 0;
    std::span<const std::byte> parameters;
};

/// Most entries kept from one PASSWORD-ALGORITHMS attribute.
inline constexpr std::size_t max_password_algorithms = 8;

/// Fixed-capacity list of PASSWORD-ALGORITHMS entries.
struct PasswordAlgorithmList {
    std::array<PasswordAlgorithm, max_password_algorithms> items{};
    std::size_t count = 0;

    /// The listed algorithms, in order.
    std::span<const PasswordAlgorithm> view() const noexcept { return {items.data(), count}; }
};

/// PASSWORD-ALGORITHM (RFC 8489 §14.12):
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |          Algorithm           |  Algorithm Parameters Length   |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                    Algorithm Parameters (variable)
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
Expected<PasswordAlgorithm> decode_password_algorithm(const Attribute& a) noexcept;

/// PASSWORD-ALGORITHMS (RFC 8489 §14.11): a sequence of the entries above, each padded to 4.
Expected<PasswordAlgorithmList> decode_password_algorithms(const Attribute& a) noexcept;

} // namespace traverse::proto
