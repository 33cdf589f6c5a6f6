// SPDX-License-Identifier: Apache-2.0
// STUN message encoding with order enforcement, integrity and fingerprint.
#include "proto/message_builder.hpp"

#include "proto/bytes.hpp"
#include "proto/channel_data.hpp"
#include "proto/fingerprint.hpp"
#include "proto/integrity.hpp"

#include <cstring>

namespace traverse::proto {
namespace {

constexpr std::uint16_t type_mi = to_underlying(AttrType::message_integrity);
constexpr std::uint16_t type_mi256 = to_underlying(AttrType::message_integrity_sha256);
constexpr std::uint16_t type_fp = to_underlying(AttrType::fingerprint);

// The Message Length field is 16 bits wide (RFC 8489 §5).
constexpr std::size_t max_message_length = 0xFFFF;

} // namespace

void MessageBuilder::start(MessageType type, const TransactionId& id,
                           std::uint32_t cookie) noexcept {
    error_ = errc{};
    stage_ = Stage::idle;
    size_ = 0;
    transaction_id_ = id;
    if (buffer_.size() < header_size) {
        fail(errc::buffer_too_small);
        return;
    }
    std::byte* p = buffer_.data();
    store_be16(p, type.encode());
    store_be16(p + 2, 0);
    store_be32(p + 4, cookie);
    std::memcpy(p + 8, id.data(), id.size());
    size_ = header_size;
    stage_ = Stage::attributes;
}

void MessageBuilder::fail(errc e) noexcept {
    if (error_ == errc{}) error_ = e;
}

bool MessageBuilder::usable() noexcept {
    if (error_ != errc{}) return false;
    if (stage_ == Stage::idle) {
        fail(errc::order_violation);
        return false;
    }
    return true;
}

bool MessageBuilder::admit(std::uint16_t type) noexcept {
    // RFC 8489 §14.5-§14.7: MESSAGE-INTEGRITY, then MESSAGE-INTEGRITY-SHA256, then FINGERPRINT,
    // each at most once, and nothing else after the first of them.
    bool allowed = false;
    switch (stage_) {
    case Stage::attributes:
        allowed = true;
        break;
    case Stage::integrity:
        allowed = type == type_mi256 || type == type_fp;
        break;
    case Stage::integrity_sha256:
        allowed = type == type_fp;
        break;
    case Stage::idle:
    case Stage::fingerprint:
        allowed = false;
        break;
    }
    if (!allowed) fail(errc::order_violation);
    return allowed;
}

void MessageBuilder::set_length() noexcept {
    store_be16(buffer_.data() + 2, static_cast<std::uint16_t>(size_ - header_size));
}

std::byte* MessageBuilder::begin_attribute(std::uint16_t type, std::size_t value_length) noexcept {
    // The common case (ordinary attributes, no error yet) needs none of the order checks.
    if (stage_ != Stage::attributes || error_ != errc{}) [[unlikely]] {
        if (!usable() || !admit(type)) return nullptr;
    }
    if (value_length > 0xFFFF) {
        fail(errc::bad_value);
        return nullptr;
    }
    const std::size_t total = attribute_header_size + pad4(value_length);
    if (size_ - header_size + total > max_message_length) {
        fail(errc::bad_length);
        return nullptr;
    }
    if (buffer_.size() - size_ < total) {
        fail(errc::buffer_too_small);
        return nullptr;
    }
    std::byte* p = buffer_.data() + size_;
    store_be16(p, type);
    store_be16(p + 2, static_cast<std::uint16_t>(value_length));
    // Padding defaults to zero: clear the last word before the caller writes the value over its
    // first bytes (add_raw then sets the caller's pad byte).
    if (value_length % 4 != 0) store_be32(p + total - 4, 0);
    size_ += total;
    set_length();
    if (type == type_mi) stage_ = Stage::integrity;
    if (type == type_mi256) stage_ = Stage::integrity_sha256;
    if (type == type_fp) stage_ = Stage::fingerprint;
    return p + attribute_header_size;
}

void MessageBuilder::add_raw(std::uint16_t type, std::span<const std::byte> value,
                             std::byte pad) noexcept {
    std::byte* p = begin_attribute(type, value.size());
    if (p == nullptr) return;
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
    if (pad != std::byte{0})
        std::memset(p + value.size(), std::to_integer<int>(pad), pad4(value.size()) - value.size());
}

void MessageBuilder::add_raw(AttrType type, std::span<const std::byte> value,
                             std::byte pad) noexcept {
    add_raw(to_underlying(type), value, pad);
}

void MessageBuilder::add_string(AttrType type, std::string_view value, std::byte pad) noexcept {
    add_raw(type, bytes_of(value), pad);
}

void MessageBuilder::add_u32(AttrType type, std::uint32_t value) noexcept {
    if (std::byte* p = begin_attribute(to_underlying(type), 4)) store_be32(p, value);
}

void MessageBuilder::add_u64(AttrType type, std::uint64_t value) noexcept {
    if (std::byte* p = begin_attribute(to_underlying(type), 8)) store_be64(p, value);
}

void MessageBuilder::add_empty(AttrType type) noexcept {
    begin_attribute(to_underlying(type), 0);
}

void MessageBuilder::add_filled(AttrType type, std::size_t length, std::byte fill) noexcept {
    if (std::byte* p = begin_attribute(to_underlying(type), length); p != nullptr && length != 0)
        std::memset(p, std::to_integer<int>(fill), length);
}

void MessageBuilder::add_address(AttrType type, const TransportAddress& a) noexcept {
    if (a.family != Family::ipv4 && a.family != Family::ipv6) {
        if (usable()) fail(errc::bad_address_family);
        return;
    }
    // 0x00 | family | port | address (RFC 8489 §14.1).
    std::byte* p = begin_attribute(to_underlying(type), 4 + a.ip_size());
    if (p == nullptr) return;
    p[0] = std::byte{0};
    p[1] = static_cast<std::byte>(a.family);
    store_be16(p + 2, a.port);
    std::memcpy(p + 4, a.ip.data(), a.ip_size());
}

void MessageBuilder::add_xor_address(AttrType type, const TransportAddress& a) noexcept {
    add_address(type, xor_transform(a, transaction_id_));
}

void MessageBuilder::add_error_code(int code, std::string_view reason) noexcept {
    if (!usable()) return;
    if (code < 300 || code > 699 || reason.size() > max_reason_bytes) {
        fail(errc::bad_value);
        return;
    }
    std::byte* p = begin_attribute(to_underlying(AttrType::error_code), 4 + reason.size());
    if (p == nullptr) return;
    // Reserved (21 bits) | Class (3 bits) | Number (8 bits), then the reason phrase (§14.8).
    store_be16(p, 0);
    p[2] = static_cast<std::byte>(code / 100);
    p[3] = static_cast<std::byte>(code % 100);
    if (!reason.empty()) std::memcpy(p + 4, reason.data(), reason.size());
}

void MessageBuilder::add_unknown_attributes(std::span<const std::uint16_t> types) noexcept {
    std::byte* p = begin_attribute(to_underlying(AttrType::unknown_attributes), 2 * types.size());
    if (p == nullptr) return;
    for (std::size_t i = 0; i < types.size(); ++i)
        store_be16(p + 2 * i, types[i]);
}

void MessageBuilder::add_change_request(bool change_ip, bool change_port) noexcept {
    add_u32(AttrType::change_request,
            (change_ip ? change_ip_flag : 0u) | (change_port ? change_port_flag : 0u));
}

void MessageBuilder::add_channel_number(ChannelNumber channel) noexcept {
    if (!usable()) return;
    if (!is_valid_channel(channel)) {
        fail(errc::bad_channel_number);
        return;
    }
    // Channel number | RFFU = 0 (RFC 8656 §18.1).
    add_u32(AttrType::channel_number, std::uint32_t{channel} << 16);
}

void MessageBuilder::add_requested_transport(std::uint8_t protocol) noexcept {
    // Protocol | RFFU = 0 (RFC 8656 §18.8).
    add_u32(AttrType::requested_transport, std::uint32_t{protocol} << 24);
}

void MessageBuilder::add_address_family(AttrType type, Family family) noexcept {
    // Family | Reserved = 0 (RFC 8656 §18.6).
    add_u32(type, std::uint32_t{static_cast<std::uint8_t>(family)} << 24);
}

void MessageBuilder::add_even_port(bool reserve_next) noexcept {
    // R bit | RFFU (RFC 8656 §18.7); one value byte, padded to 4.
    if (std::byte* p = begin_attribute(to_underlying(AttrType::even_port), 1))
        p[0] = reserve_next ? std::byte{0x80} : std::byte{0};
}

void MessageBuilder::add_response_port(std::uint16_t port) noexcept {
    // Port | padding (RFC 5780 §7.5).
    add_u32(AttrType::response_port, std::uint32_t{port} << 16);
}

void MessageBuilder::add_password_algorithm(const PasswordAlgorithm& algorithm) noexcept {
    add_algorithm_list(AttrType::password_algorithm, std::span(&algorithm, 1));
}

void MessageBuilder::add_password_algorithms(
    std::span<const PasswordAlgorithm> algorithms) noexcept {
    add_algorithm_list(AttrType::password_algorithms, algorithms);
}

void MessageBuilder::add_algorithm_list(AttrType type,
                                        std::span<const PasswordAlgorithm> algorithms) noexcept {
    if (!usable()) return;
    std::size_t length = 0;
    for (const auto& a : algorithms) {
        if (a.parameters.size() > 0xFFFF) {
            fail(errc::bad_value);
            return;
        }
        length += 4 + pad4(a.parameters.size());
    }
    std::byte* p = begin_attribute(to_underlying(type), length);
    if (p == nullptr) return;
    // Algorithm | Parameters Length | Parameters, padded to 4 (RFC 8489 §14.11, §14.12).
    for (const auto& a : algorithms) {
        store_be16(p, a.algorithm);
        store_be16(p + 2, static_cast<std::uint16_t>(a.parameters.size()));
        if (!a.parameters.empty()) std::memcpy(p + 4, a.parameters.data(), a.parameters.size());
        std::memset(p + 4 + a.parameters.size(), 0,
                    pad4(a.parameters.size()) - a.parameters.size());
        p += 4 + pad4(a.parameters.size());
    }
}

void MessageBuilder::add_message_integrity(std::span<const std::byte> key) noexcept {
    // §14.5: the length field already counts this attribute when the HMAC is computed, and the
    // HMAC covers every byte before the attribute.
    std::byte* p = begin_attribute(type_mi, hmac_sha1_size);
    if (p == nullptr) return;
    const std::span<const std::byte> parts[] = {
        buffer_.first(size_ - attribute_header_size - hmac_sha1_size)};
    if (!compute_hmac_sha1(key, parts, std::span<std::byte, hmac_sha1_size>(p, hmac_sha1_size)))
        error_ = errc::crypto_failed;
}

void MessageBuilder::add_message_integrity_sha256(std::span<const std::byte> key) noexcept {
    std::byte* p = begin_attribute(type_mi256, hmac_sha256_size);
    if (p == nullptr) return;
    const std::span<const std::byte> parts[] = {
        buffer_.first(size_ - attribute_header_size - hmac_sha256_size)};
    if (!compute_hmac_sha256(key, parts,
                             std::span<std::byte, hmac_sha256_size>(p, hmac_sha256_size)))
        error_ = errc::crypto_failed;
}

void MessageBuilder::add_fingerprint() noexcept {
    // §14.7: CRC-32 of everything before the attribute, with the length field counting it.
    std::byte* p = begin_attribute(type_fp, 4);
    if (p == nullptr) return;
    store_be32(p, fingerprint(buffer_.first(size_ - attribute_header_size - 4)));
}

Expected<std::span<const std::byte>> MessageBuilder::finish() const noexcept {
    if (error_ != errc{}) return error_;
    if (stage_ == Stage::idle) return errc::order_violation;
    return std::span<const std::byte>(buffer_.first(size_));
}

} // namespace traverse::proto
