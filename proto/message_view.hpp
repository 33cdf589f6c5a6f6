// SPDX-License-Identifier: Apache-2.0
// MessageView: a validated, non-owning view of one STUN message with an inline attribute index.
#pragma once

#include "proto/expected.hpp"
#include "proto/types.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <type_traits>

namespace traverse::proto {

/// One attribute inside a parsed message; value points into the caller's buffer.
///
/// Attribute layout (RFC 8489 §14), value padded to a multiple of 4 bytes:
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |         Type                  |            Length             |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                         Value (variable)                ....
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
struct Attribute {
    std::uint16_t type = 0;
    std::span<const std::byte> value; ///< Length bytes, without padding
    std::size_t offset = 0;           ///< of the attribute header within the message

    /// The type as the enum (may hold a value outside the named enumerators).
    AttrType attr() const noexcept { return AttrType{type}; }
};

/// Iterable subset of a message's attributes that share one type, in wire order.
class AttributeRange {
public:
    /// Forward iterator over the matching attributes.
    class iterator {
    public:
        using value_type = Attribute;
        using difference_type = std::ptrdiff_t;
        using reference = const Attribute&;
        using pointer = const Attribute*;
        using iterator_category = std::forward_iterator_tag;

        iterator() = default;
        /// Positions at the first match in [current, end).
        iterator(const Attribute* current, const Attribute* end, std::uint16_t type) noexcept
            : current_(current), end_(end), type_(type) {
            skip();
        }
        reference operator*() const noexcept { return *current_; }
        pointer operator->() const noexcept { return current_; }
        iterator& operator++() noexcept {
            ++current_;
            skip();
            return *this;
        }
        iterator operator++(int) noexcept {
            iterator old = *this;
            ++*this;
            return old;
        }
        friend bool operator==(const iterator& a, const iterator& b) noexcept {
            return a.current_ == b.current_;
        }

    private:
        void skip() noexcept {
            while (current_ != end_ && current_->type != type_)
                ++current_;
        }
        const Attribute* current_ = nullptr;
        const Attribute* end_ = nullptr;
        std::uint16_t type_ = 0;
    };

    /// The matching attributes among all.
    AttributeRange(std::span<const Attribute> all, std::uint16_t type) noexcept
        : all_(all), type_(type) {}
    iterator begin() const noexcept { return {all_.data(), all_.data() + all_.size(), type_}; }
    iterator end() const noexcept {
        return {all_.data() + all_.size(), all_.data() + all_.size(), type_};
    }

private:
    std::span<const Attribute> all_;
    std::uint16_t type_;
};

/// Most attributes indexed per message; more is errc::too_many_attributes (answered with 400).
inline constexpr std::size_t max_attributes = 32;
/// Most distinct unknown comprehension-required types recorded for a 420 answer.
inline constexpr std::size_t max_unknown_required = 8;

/// Validated view of one STUN message inside a caller-owned buffer; copies nothing.
///
/// Header layout (RFC 8489 §5):
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |0 0|     STUN Message Type     |         Message Length        |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                         Magic Cookie                          |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                                                               |
///     |                     Transaction ID (96 bits)                  |
///     |                                                               |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// The view must not outlive the buffer it was parsed from.
class MessageView {
public:
    /// Validates one datagram holding exactly one message (20 + Message Length bytes).
    ///
    /// A message without the magic cookie is accepted as RFC 3489 (has_magic_cookie() false).
    /// Attributes after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT
    /// are skipped (RFC 8489 §14.5); after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT is indexed
    /// (§14.6); FINGERPRINT must be last and is verified here (§14.7).
    static Expected<MessageView> parse(std::span<const std::byte> wire) noexcept;

    /// Method and class.
    MessageType type() const noexcept { return type_; }
    /// The 12-bit method.
    std::uint16_t method() const noexcept { return type_.method; }
    /// The class.
    MessageClass message_class() const noexcept { return type_.cls; }
    /// Bytes 8..19 of the header.
    const TransactionId& transaction_id() const noexcept { return transaction_id_; }
    /// Bytes 4..7 of the header.
    std::uint32_t cookie() const noexcept { return cookie_; }
    /// False for an RFC 3489 classic message.
    bool has_magic_cookie() const noexcept { return cookie_ == magic_cookie; }
    /// The whole message.
    std::span<const std::byte> bytes() const noexcept { return wire_; }

    /// The first indexed attribute of type t.
    std::optional<Attribute> find(AttrType t) const noexcept;
    /// The first indexed attribute with raw type t.
    std::optional<Attribute> find(std::uint16_t t) const noexcept;
    /// Every indexed attribute of type t, in wire order (e.g. several XOR-PEER-ADDRESS).
    AttributeRange all(AttrType t) const noexcept { return {attributes(), to_underlying(t)}; }
    /// Number of indexed attributes of type t.
    std::size_t count(AttrType t) const noexcept;
    /// Every indexed attribute, in wire order, repeated ones included.
    std::span<const Attribute> attributes() const noexcept { return {slots_.items, count_}; }
    /// Distinct comprehension-required types that are not AttrType enumerators (at most 8).
    std::span<const std::uint16_t> unknown_required() const noexcept {
        return {unknown_.data(), unknown_count_};
    }

    /// True when MESSAGE-INTEGRITY is indexed.
    bool has_message_integrity() const noexcept { return integrity_offset_ != none; }
    /// True when MESSAGE-INTEGRITY-SHA256 is indexed.
    bool has_message_integrity_sha256() const noexcept { return integrity_sha256_offset_ != none; }
    /// True when FINGERPRINT is present (and therefore correct).
    bool has_fingerprint() const noexcept { return fingerprint_offset_ != none; }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1) with key, RFC 8489 §14.5; false if absent.
    bool verify_integrity(std::span<const std::byte> key) const noexcept;
    /// Checks MESSAGE-INTEGRITY-SHA256 (possibly truncated to 16..28 bytes), §14.6.
    bool verify_integrity_sha256(std::span<const std::byte> key) const noexcept;

private:
    /// Passkey: only parse() can make a view that is not yet validated.
    struct Unparsed {
        explicit Unparsed() = default;
    };

public:
    /// For Expected's in-place construction inside parse(); not usable elsewhere.
    explicit MessageView(Unparsed) noexcept {}

private:
    static constexpr std::size_t none = ~std::size_t{0};

    /// Validates `wire` into this (fresh) view; errc{} on success.
    errc index(std::span<const std::byte> wire) noexcept;
    bool verify_hmac(std::size_t offset, bool sha256,
                     std::span<const std::byte> key) const noexcept;

    std::span<const std::byte> wire_;
    MessageType type_{};
    TransactionId transaction_id_{};
    std::uint32_t cookie_ = 0;
    std::size_t integrity_offset_ = none;
    std::size_t integrity_sha256_offset_ = none;
    std::size_t fingerprint_offset_ = none;
    std::size_t count_ = 0;
    std::size_t unknown_count_ = 0;
    /// The index: only the first count_ entries are ever written or read. Left uninitialized
    /// on purpose (a union with an empty constructor): zeroing a kilobyte per received message
    /// cost more than indexing it.
    union Slots {
        Slots() noexcept {}
        Attribute items[max_attributes];
    };
    static_assert(std::is_trivially_copyable_v<Attribute> &&
                  std::is_trivially_destructible_v<Attribute>);
    Slots slots_;
    std::array<std::uint16_t, max_unknown_required> unknown_; ///< first unknown_count_ are set
};

} // namespace traverse::proto
