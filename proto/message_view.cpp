// SPDX-License-Identifier: Apache-2.0
// STUN message validation and in-place integrity verification.
#include "proto/message_view.hpp"

#include "proto/bytes.hpp"
#include "proto/fingerprint.hpp"
#include "proto/integrity.hpp"

#include <algorithm>

namespace traverse::proto {
namespace {

constexpr std::uint16_t type_mi = to_underlying(AttrType::message_integrity);
constexpr std::uint16_t type_mi256 = to_underlying(AttrType::message_integrity_sha256);
constexpr std::uint16_t type_fp = to_underlying(AttrType::fingerprint);

// MESSAGE-INTEGRITY-SHA256 may be truncated to 16 bytes at the shortest, in 4-byte steps (§14.6).
constexpr bool valid_sha256_length(std::size_t n) noexcept {
    return n >= 16 && n <= hmac_sha256_size && n % 4 == 0;
}

} // namespace

Expected<MessageView> MessageView::parse(std::span<const std::byte> wire) noexcept {
    // Built in place and returned by name (NRVO): the view holds a kilobyte of inline index,
    // and parse runs once per received STUN message.
    Expected<MessageView> result(std::in_place, Unparsed{});
    if (const errc e = result->index(wire); e != errc{}) result = Expected<MessageView>(e);
    return result;
}

errc MessageView::index(std::span<const std::byte> wire) noexcept {
    // RFC 8489 §7.3: the basic checks come first; any failure means "not a STUN message".
    if (wire.size() < header_size) return errc::truncated;
    const std::byte* base = wire.data();
    if ((std::to_integer<unsigned>(base[0]) & 0xC0u) != 0) return errc::bad_header;
    const std::size_t length = load_be16(base + 2);
    if (length % 4 != 0 || header_size + length != wire.size()) return errc::bad_length;

    MessageView& view = *this;
    view.wire_ = wire;
    view.type_ = MessageType::decode(load_be16(base));
    view.cookie_ = load_be32(base + 4);
    std::copy_n(base + 8, view.transaction_id_.size(), view.transaction_id_.begin());

    // Where the indexing stops: after MESSAGE-INTEGRITY only MI-SHA256 and FINGERPRINT count,
    // after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT (RFC 8489 §14.5, §14.6).
    bool seen_mi = false;
    bool seen_mi256 = false;

    std::size_t pos = header_size;
    const std::size_t end = wire.size();
    while (pos < end) {
        // pos and end are both multiples of 4, so at least a full attribute header remains.
        if (end - pos < attribute_header_size) return errc::bad_attribute_length;
        const std::uint16_t type = load_be16(base + pos);
        const std::size_t value_length = load_be16(base + pos + 2);
        const std::size_t room = end - pos - attribute_header_size;
        if (pad4(value_length) > room) return errc::bad_attribute_length;
        const Attribute attribute{type, wire.subspan(pos + attribute_header_size, value_length),
                                  pos};
        const std::size_t next = pos + attribute_header_size + pad4(value_length);

        bool index = false;
        if (type == type_fp) {
            // §14.7: FINGERPRINT is a 32-bit CRC and the last attribute; it covers everything
            // before it, and the header length already includes it because it is last.
            if (value_length != 4) return errc::bad_attribute_length;
            if (next != end) return errc::attribute_after_fingerprint;
            if (load_be32(attribute.value.data()) != fingerprint(wire.first(pos)))
                return errc::fingerprint_mismatch;
            view.fingerprint_offset_ = pos;
            index = true;
        } else if (type == type_mi) {
            if (seen_mi) return errc::integrity_misplaced;
            if (value_length != hmac_sha1_size) return errc::bad_attribute_length;
            seen_mi = true;
            // A MESSAGE-INTEGRITY after MESSAGE-INTEGRITY-SHA256 is ignored (§14.6).
            if (!seen_mi256) {
                view.integrity_offset_ = pos;
                index = true;
            }
        } else if (type == type_mi256) {
            if (seen_mi256) return errc::integrity_misplaced;
            if (!valid_sha256_length(value_length)) return errc::bad_attribute_length;
            seen_mi256 = true;
            view.integrity_sha256_offset_ = pos;
            index = true;
        } else if (!seen_mi && !seen_mi256) {
            index = true;
            if (is_comprehension_required(type) && !is_known(type)) {
                const auto recorded =
                    std::span<const std::uint16_t>(view.unknown_.data(), view.unknown_count_);
                const bool duplicate =
                    std::find(recorded.begin(), recorded.end(), type) != recorded.end();
                if (!duplicate && view.unknown_count_ < max_unknown_required)
                    view.unknown_[view.unknown_count_++] = type;
            }
        }

        if (index) {
            // Why a hard limit: the index is an inline array; a request with more attributes
            // than any real client sends is answered with 400 rather than partly ignored.
            if (view.count_ == max_attributes) return errc::too_many_attributes;
            view.slots_.items[view.count_++] = attribute;
        }
        pos = next;
    }
    return errc{};
}

std::optional<Attribute> MessageView::find(AttrType t) const noexcept {
    return find(to_underlying(t));
}

std::optional<Attribute> MessageView::find(std::uint16_t t) const noexcept {
    for (const Attribute& a : attributes())
        if (a.type == t) return a;
    return std::nullopt;
}

std::size_t MessageView::count(AttrType t) const noexcept {
    const auto range = all(t);
    return static_cast<std::size_t>(std::distance(range.begin(), range.end()));
}

bool MessageView::verify_hmac(std::size_t offset, bool sha256,
                              std::span<const std::byte> key) const noexcept {
    // The HMAC covers the message up to the integrity attribute, with the header length field
    // set as if the integrity attribute were the last one (§14.5). Instead of copying the
    // message, feed the header in three parts with a patched length in the middle.
    const std::span<const std::byte> stored =
        wire_.subspan(offset + attribute_header_size, load_be16(wire_.data() + offset + 2));
    std::byte patched_length[2];
    store_be16(patched_length, static_cast<std::uint16_t>(offset + attribute_header_size +
                                                          stored.size() - header_size));
    const std::span<const std::byte> parts[] = {
        wire_.first(2),
        patched_length,
        wire_.subspan(4, offset - 4),
    };
    if (sha256) {
        std::array<std::byte, hmac_sha256_size> mac{};
        if (!compute_hmac_sha256(key, parts, mac)) return false;
        return constant_time_equal(std::span(mac).first(stored.size()), stored);
    }
    std::array<std::byte, hmac_sha1_size> mac{};
    if (!compute_hmac_sha1(key, parts, mac)) return false;
    return constant_time_equal(mac, stored);
}

bool MessageView::verify_integrity(std::span<const std::byte> key) const noexcept {
    if (integrity_offset_ == none) return false;
    return verify_hmac(integrity_offset_, false, key);
}

bool MessageView::verify_integrity_sha256(std::span<const std::byte> key) const noexcept {
    if (integrity_sha256_offset_ == none) return false;
    return verify_hmac(integrity_sha256_offset_, true, key);
}

} // namespace traverse::proto
