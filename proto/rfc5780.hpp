// SPDX-License-Identifier: Apache-2.0
// RFC 5780 NAT behaviour discovery helpers: CHANGE-REQUEST, RESPONSE-PORT and PADDING.
#pragma once

#include "proto/attributes.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>

namespace traverse::proto {

// CHANGE-REQUEST flags change_ip_flag (0x04) and change_port_flag (0x02) live in
// attributes.hpp beside decode_change_request(); OTHER-ADDRESS and RESPONSE-ORIGIN use the
// MAPPED-ADDRESS layout (decode_address / MessageBuilder::add_address).

/// Largest PADDING value that still fits a message (RFC 5780 §7.6: at most up to 64 KiB of IP
/// datagram; the STUN length field caps it lower).
inline constexpr std::size_t max_padding_bytes = 0xFFFF - attribute_header_size;

/// Appends a PADDING attribute of length zero bytes (RFC 5780 §7.6); the builder reports
/// errc::buffer_too_small if the message would not fit.
inline void add_padding(MessageBuilder& builder, std::size_t length) noexcept {
    builder.add_filled(AttrType::padding, length, std::byte{0});
}

/// PADDING length that makes a message of current_size bytes reach target_size bytes
/// (e.g. the path MTU minus IP/UDP headers), or 0 if it is already that long.
constexpr std::size_t padding_to_reach(std::size_t current_size, std::size_t target_size) noexcept {
    const std::size_t needed = current_size + attribute_header_size;
    if (target_size <= needed) return 0;
    const std::size_t length = (target_size - needed) & ~std::size_t{3};
    return length > max_padding_bytes ? max_padding_bytes & ~std::size_t{3} : length;
}

/// The CHANGE-REQUEST of a request, if present and well formed.
inline std::optional<ChangeRequest> change_request_of(const MessageView& m) noexcept {
    const auto a = m.find(AttrType::change_request);
    if (!a) return std::nullopt;
    const auto decoded = decode_change_request(*a);
    if (!decoded) return std::nullopt;
    return *decoded;
}

/// The RESPONSE-PORT of a request, if present and well formed.
inline std::optional<std::uint16_t> response_port_of(const MessageView& m) noexcept {
    const auto a = m.find(AttrType::response_port);
    if (!a) return std::nullopt;
    const auto decoded = decode_response_port(*a);
    if (!decoded) return std::nullopt;
    return *decoded;
}

} // namespace traverse::proto
