// SPDX-License-Identifier: Apache-2.0
// STUN/TURN vocabulary: message types, methods, classes, transaction ids and attribute types.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace traverse::proto {

/// Fixed value of bytes 4..7 of every RFC 5389/8489 message (RFC 8489 §5).
inline constexpr std::uint32_t magic_cookie = 0x2112A442;
/// Size of the STUN message header in bytes (RFC 8489 §5).
inline constexpr std::size_t header_size = 20;
/// Size of an attribute header (type + length) in bytes (RFC 8489 §14).
inline constexpr std::size_t attribute_header_size = 4;

/// STUN methods this codebase speaks (RFC 8489 §18.2, RFC 8656 §17).
enum class Method : std::uint16_t {
    binding = 0x001,
    allocate = 0x003,
    refresh = 0x004,
    send = 0x006,
    data = 0x007,
    create_permission = 0x008,
    channel_bind = 0x009,
};

/// The two class bits of a message type (RFC 8489 §5).
enum class MessageClass : std::uint8_t {
    request = 0,
    indication = 1,
    success_response = 2,
    error_response = 3,
};

/// Method and class of a message; the method is kept raw (12 bits) so unknown ones survive.
///
/// The 14-bit message type interleaves method bits M and class bits C (RFC 8489 §5):
///
///      0                 1
///      2  3  4 5 6 7 8 9 0 1 2 3 4 5
///     +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
///     |M |M |M|M|M|C|M|M|M|C|M|M|M|M|
///     |11|10|9|8|7|1|6|5|4|0|3|2|1|0|
///     +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
struct MessageType {
    std::uint16_t method = 0;
    MessageClass cls = MessageClass::request;

    /// The 14-bit wire value of this type.
    constexpr std::uint16_t encode() const noexcept {
        const unsigned m = method & 0x0FFFu;
        const unsigned c = static_cast<unsigned>(cls) & 0x3u;
        return static_cast<std::uint16_t>((m & 0x000Fu) | ((c & 0x1u) << 4) | ((m & 0x0070u) << 1) |
                                          ((c & 0x2u) << 7) | ((m & 0x0F80u) << 2));
    }

    /// Splits a wire value (top two bits ignored) into method and class.
    static constexpr MessageType decode(std::uint16_t wire) noexcept {
        const unsigned t = wire;
        const unsigned m = (t & 0x000Fu) | ((t >> 1) & 0x0070u) | ((t >> 2) & 0x0F80u);
        const unsigned c = ((t >> 4) & 0x1u) | ((t >> 7) & 0x2u);
        return MessageType{static_cast<std::uint16_t>(m), static_cast<MessageClass>(c)};
    }

    /// True when this is method m in class c.
    constexpr bool is(Method m, MessageClass c) const noexcept {
        return method == static_cast<std::uint16_t>(m) && cls == c;
    }

    /// The method as the enum (may hold a value outside the named enumerators).
    constexpr Method known_method() const noexcept { return static_cast<Method>(method); }

    friend constexpr bool operator==(const MessageType&, const MessageType&) = default;
};

/// Builds a MessageType from a named method and a class.
constexpr MessageType make_type(Method m, MessageClass c) noexcept {
    return MessageType{static_cast<std::uint16_t>(m), c};
}

/// The 96-bit transaction id (bytes 8..19 of the header, RFC 8489 §5).
using TransactionId = std::array<std::byte, 12>;

/// A TURN channel number (RFC 8656 §12); valid ones are 0x4000..0x4FFF.
using ChannelNumber = std::uint16_t;

/// Attribute types this codec knows by name (IANA "STUN Attributes" registry).
enum class AttrType : std::uint16_t {
    mapped_address = 0x0001,            // RFC 8489 §14.1
    response_address = 0x0002,          // RFC 3489 §11.2.2 (reserved since RFC 5389)
    change_request = 0x0003,            // RFC 5780 §7.2
    source_address = 0x0004,            // RFC 3489 §11.2.3 (reserved since RFC 5389)
    changed_address = 0x0005,           // RFC 3489 §11.2.4 (reserved since RFC 5389)
    username = 0x0006,                  // RFC 8489 §14.3
    password = 0x0007,                  // RFC 3489 §11.2.7 (reserved since RFC 5389)
    message_integrity = 0x0008,         // RFC 8489 §14.5
    error_code = 0x0009,                // RFC 8489 §14.8
    unknown_attributes = 0x000A,        // RFC 8489 §14.13
    reflected_from = 0x000B,            // RFC 3489 §11.2.11 (reserved since RFC 5389)
    channel_number = 0x000C,            // RFC 8656 §18.1
    lifetime = 0x000D,                  // RFC 8656 §18.2
    xor_peer_address = 0x0012,          // RFC 8656 §18.3
    data = 0x0013,                      // RFC 8656 §18.4
    realm = 0x0014,                     // RFC 8489 §14.9
    nonce = 0x0015,                     // RFC 8489 §14.10
    xor_relayed_address = 0x0016,       // RFC 8656 §18.5
    requested_address_family = 0x0017,  // RFC 8656 §18.6
    even_port = 0x0018,                 // RFC 8656 §18.7
    requested_transport = 0x0019,       // RFC 8656 §18.8
    dont_fragment = 0x001A,             // RFC 8656 §18.9
    message_integrity_sha256 = 0x001C,  // RFC 8489 §14.6
    password_algorithm = 0x001D,        // RFC 8489 §14.12
    userhash = 0x001E,                  // RFC 8489 §14.4
    xor_mapped_address = 0x0020,        // RFC 8489 §14.2
    reservation_token = 0x0022,         // RFC 8656 §18.10
    priority = 0x0024,                  // RFC 8445 §16.1
    use_candidate = 0x0025,             // RFC 8445 §16.1
    padding = 0x0026,                   // RFC 5780 §7.6
    response_port = 0x0027,             // RFC 5780 §7.5
    additional_address_family = 0x8000, // RFC 8656 §18.11
    address_error_code = 0x8001,        // RFC 8656 §18.12
    password_algorithms = 0x8002,       // RFC 8489 §14.11
    alternate_domain = 0x8003,          // RFC 8489 §14.16
    icmp = 0x8004,                      // RFC 8656 §18.13
    software = 0x8022,                  // RFC 8489 §14.14
    alternate_server = 0x8023,          // RFC 8489 §14.15
    fingerprint = 0x8028,               // RFC 8489 §14.7
    ice_controlled = 0x8029,            // RFC 8445 §16.1
    ice_controlling = 0x802A,           // RFC 8445 §16.1
    response_origin = 0x802B,           // RFC 5780 §7.3
    other_address = 0x802C,             // RFC 5780 §7.4
};

/// True for types 0x0000..0x7FFF, which a receiver must understand (RFC 8489 §14).
constexpr bool is_comprehension_required(std::uint16_t t) noexcept {
    return t < 0x8000;
}

/// True when type is one of the AttrType enumerators.
bool is_known(std::uint16_t type) noexcept;

/// The wire value of an attribute type.
constexpr std::uint16_t to_underlying(AttrType t) noexcept {
    return static_cast<std::uint16_t>(t);
}

} // namespace traverse::proto
