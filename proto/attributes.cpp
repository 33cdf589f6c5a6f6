// SPDX-License-Identifier: Apache-2.0
// Typed attribute decoders; each checks the value length and ranges before reading.
#include "proto/attributes.hpp"

#include "proto/bytes.hpp"
#include "proto/channel_data.hpp"

#include <algorithm>
#include <cstring>

namespace traverse::proto {
namespace {

// Text attributes share one rule shape: a byte cap and a character cap.
Expected<std::string_view> bounded_text(const Attribute& a, std::size_t max_bytes,
                                        std::size_t max_chars) noexcept {
    const std::string_view text = decode_string(a);
    if (text.size() > max_bytes || utf8_length(text) > max_chars) return errc::bad_value;
    return text;
}

} // namespace

std::size_t utf8_length(std::string_view text) noexcept {
    std::size_t n = 0;
    for (const char c : text)
        if ((static_cast<unsigned char>(c) & 0xC0u) != 0x80u) ++n;
    return n;
}

Expected<TransportAddress> decode_address(const Attribute& a) noexcept {
    // The first byte must be zero on send and is ignored on receipt (RFC 8489 §14.1).
    if (a.value.size() < 4) return errc::bad_attribute_length;
    const std::uint8_t family = std::to_integer<std::uint8_t>(a.value[1]);
    TransportAddress out;
    if (family == static_cast<std::uint8_t>(Family::ipv4)) {
        if (a.value.size() != 8) return errc::bad_attribute_length;
        out.family = Family::ipv4;
    } else if (family == static_cast<std::uint8_t>(Family::ipv6)) {
        if (a.value.size() != 20) return errc::bad_attribute_length;
        out.family = Family::ipv6;
    } else {
        return errc::bad_address_family;
    }
    out.port = load_be16(a.value.data() + 2);
    std::memcpy(out.ip.data(), a.value.data() + 4, out.ip_size());
    return out;
}

Expected<TransportAddress> decode_xor_address(const Attribute& a,
                                              const TransactionId& id) noexcept {
    auto plain = decode_address(a);
    if (!plain) return plain.error();
    return xor_transform(*plain, id);
}

Expected<std::uint32_t> decode_u32(const Attribute& a) noexcept {
    if (a.value.size() != 4) return errc::bad_attribute_length;
    return load_be32(a.value.data());
}

Expected<std::uint64_t> decode_u64(const Attribute& a) noexcept {
    if (a.value.size() != 8) return errc::bad_attribute_length;
    return load_be64(a.value.data());
}

std::string_view decode_string(const Attribute& a) noexcept {
    return chars_of(a.value);
}

Expected<std::string_view> decode_username(const Attribute& a) noexcept {
    if (a.value.size() > max_username_bytes) return errc::bad_value;
    return decode_string(a);
}

Expected<std::string_view> decode_realm(const Attribute& a) noexcept {
    return bounded_text(a, max_realm_bytes, max_realm_chars);
}

Expected<std::string_view> decode_nonce(const Attribute& a) noexcept {
    return bounded_text(a, max_nonce_bytes, max_nonce_chars);
}

Expected<std::string_view> decode_software(const Attribute& a) noexcept {
    return bounded_text(a, max_software_bytes, max_software_chars);
}

Expected<ErrorCode> decode_error_code(const Attribute& a) noexcept {
    if (a.value.size() < 4) return errc::bad_attribute_length;
    // The class is 3 bits, the number 8 bits; only 300..699 are defined (RFC 8489 §14.8).
    const int error_class = std::to_integer<int>(a.value[2]) & 0x07;
    const int number = std::to_integer<int>(a.value[3]);
    if (error_class < 3 || error_class > 6 || number > 99) return errc::bad_value;
    const std::string_view reason = chars_of(a.value.subspan(4));
    if (reason.size() > max_reason_bytes || utf8_length(reason) > max_reason_chars)
        return errc::bad_value;
    return ErrorCode{error_class * 100 + number, reason};
}

Expected<ChangeRequest> decode_change_request(const Attribute& a) noexcept {
    const auto flags = decode_u32(a);
    if (!flags) return flags.error();
    return ChangeRequest{(*flags & change_ip_flag) != 0, (*flags & change_port_flag) != 0};
}

Expected<std::uint16_t> decode_response_port(const Attribute& a) noexcept {
    if (a.value.size() != 4) return errc::bad_attribute_length;
    return load_be16(a.value.data());
}

Expected<ChannelNumber> decode_channel_number(const Attribute& a, std::uint16_t max) noexcept {
    if (a.value.size() != 4) return errc::bad_attribute_length;
    const ChannelNumber channel = load_be16(a.value.data());
    if (!is_valid_channel(channel, max)) return errc::bad_channel_number;
    return channel;
}

Expected<std::uint8_t> decode_requested_transport(const Attribute& a) noexcept {
    if (a.value.size() != 4) return errc::bad_attribute_length;
    return std::to_integer<std::uint8_t>(a.value[0]);
}

Expected<bool> decode_even_port(const Attribute& a) noexcept {
    if (a.value.size() != 1) return errc::bad_attribute_length;
    return (std::to_integer<unsigned>(a.value[0]) & 0x80u) != 0;
}

Expected<Family> decode_address_family(const Attribute& a) noexcept {
    if (a.value.size() != 4) return errc::bad_attribute_length;
    const std::uint8_t family = std::to_integer<std::uint8_t>(a.value[0]);
    if (family == static_cast<std::uint8_t>(Family::ipv4)) return Family::ipv4;
    if (family == static_cast<std::uint8_t>(Family::ipv6)) return Family::ipv6;
    return errc::bad_address_family;
}

Expected<UnknownAttributeList> decode_unknown_attributes(const Attribute& a) noexcept {
    if (a.value.size() % 2 != 0) return errc::bad_attribute_length;
    const std::size_t n = a.value.size() / 2;
    if (n > max_unknown_attribute_list) return errc::bad_value;
    UnknownAttributeList list;
    for (std::size_t i = 0; i < n; ++i)
        list.types[i] = load_be16(a.value.data() + 2 * i);
    list.count = n;
    return list;
}

Expected<PasswordAlgorithm> decode_password_algorithm(const Attribute& a) noexcept {
    ByteReader reader(a.value);
    PasswordAlgorithm out;
    std::uint16_t length = 0;
    if (!reader.read_u16(out.algorithm) || !reader.read_u16(length) ||
        !reader.read_bytes(length, out.parameters))
        return errc::bad_attribute_length;
    // Only the declared parameters and their padding may follow.
    if (reader.remaining() > pad4(length) - length) return errc::bad_attribute_length;
    return out;
}

Expected<PasswordAlgorithmList> decode_password_algorithms(const Attribute& a) noexcept {
    ByteReader reader(a.value);
    PasswordAlgorithmList list;
    while (!reader.empty()) {
        PasswordAlgorithm item;
        std::uint16_t length = 0;
        if (!reader.read_u16(item.algorithm) || !reader.read_u16(length) ||
            !reader.read_bytes(length, item.parameters))
            return errc::bad_attribute_length;
        // Each entry's parameters are padded to 4 bytes (RFC 8489 §14.11); the last entry's
        // padding coincides with the attribute padding and may be absent from the value.
        const std::size_t padding = pad4(length) - length;
        if (!reader.skip(std::min(padding, reader.remaining()))) return errc::bad_attribute_length;
        if (list.count == max_password_algorithms) return errc::bad_value;
        list.items[list.count++] = item;
    }
    return list;
}

} // namespace traverse::proto
