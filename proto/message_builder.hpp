// SPDX-License-Identifier: Apache-2.0
// MessageBuilder: encodes one STUN message into a caller-provided buffer, without allocating.
#pragma once

#include "proto/address.hpp"
#include "proto/attributes.hpp"
#include "proto/expected.hpp"
#include "proto/types.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>

namespace traverse::proto {

/// Writes a STUN message attribute by attribute into a caller buffer.
///
/// The first error is sticky and makes later calls no-ops; start() clears it. The header's
/// length field always covers the attributes written so far. Order is enforced (RFC 8489
/// §14.5-§14.7): ordinary attributes, then MESSAGE-INTEGRITY, then MESSAGE-INTEGRITY-SHA256,
/// then FINGERPRINT; anything else is errc::order_violation.
class MessageBuilder {
public:
    /// Builds into buffer, which must outlive the builder and the span finish() returns.
    explicit MessageBuilder(std::span<std::byte> buffer) noexcept : buffer_(buffer) {}

    /// Writes the 20-byte header and resets any previous message or error.
    void start(MessageType type, const TransactionId& id,
               std::uint32_t cookie = magic_cookie) noexcept;

    /// Appends an attribute with value, padding it to 4 with pad bytes.
    void add_raw(AttrType type, std::span<const std::byte> value,
                 std::byte pad = std::byte{0}) noexcept;
    /// Appends an attribute by raw type (e.g. one the AttrType table lacks).
    void add_raw(std::uint16_t type, std::span<const std::byte> value,
                 std::byte pad = std::byte{0}) noexcept;
    /// Appends a text attribute (USERNAME, REALM, NONCE, SOFTWARE, ...), padded with pad.
    void add_string(AttrType type, std::string_view value, std::byte pad = std::byte{0}) noexcept;
    /// Appends a 4-byte big-endian value.
    void add_u32(AttrType type, std::uint32_t value) noexcept;
    /// Appends an 8-byte big-endian value.
    void add_u64(AttrType type, std::uint64_t value) noexcept;
    /// Appends an attribute with no value (DONT-FRAGMENT, USE-CANDIDATE).
    void add_empty(AttrType type) noexcept;
    /// Appends an attribute whose value is length copies of fill (e.g. PADDING).
    void add_filled(AttrType type, std::size_t length, std::byte fill = std::byte{0}) noexcept;
    /// Appends an address in MAPPED-ADDRESS layout (RFC 8489 §14.1).
    void add_address(AttrType type, const TransportAddress& a) noexcept;
    /// Appends an address in XOR-MAPPED-ADDRESS layout with the started transaction id (§14.2).
    void add_xor_address(AttrType type, const TransportAddress& a) noexcept;
    /// Appends ERROR-CODE (§14.8); code must be 300..699 and reason within max_reason_bytes.
    void add_error_code(int code, std::string_view reason) noexcept;
    /// Appends UNKNOWN-ATTRIBUTES listing types (§14.13).
    void add_unknown_attributes(std::span<const std::uint16_t> types) noexcept;
    /// Appends CHANGE-REQUEST (RFC 5780 §7.2).
    void add_change_request(bool change_ip, bool change_port) noexcept;
    /// Appends CHANNEL-NUMBER (RFC 8656 §18.1); errc::bad_channel_number outside the range.
    void add_channel_number(ChannelNumber channel) noexcept;
    /// Appends REQUESTED-TRANSPORT with a protocol number (RFC 8656 §18.8).
    void add_requested_transport(std::uint8_t protocol) noexcept;
    /// Appends REQUESTED-ADDRESS-FAMILY or ADDITIONAL-ADDRESS-FAMILY (RFC 8656 §18.6, §18.11).
    void add_address_family(AttrType type, Family family) noexcept;
    /// Appends EVEN-PORT with the R (reserve next port) bit (RFC 8656 §18.7).
    void add_even_port(bool reserve_next) noexcept;
    /// Appends RESPONSE-PORT (RFC 5780 §7.5).
    void add_response_port(std::uint16_t port) noexcept;
    /// Appends PASSWORD-ALGORITHM (RFC 8489 §14.12).
    void add_password_algorithm(const PasswordAlgorithm& algorithm) noexcept;
    /// Appends PASSWORD-ALGORITHMS (RFC 8489 §14.11).
    void add_password_algorithms(std::span<const PasswordAlgorithm> algorithms) noexcept;

    /// Appends MESSAGE-INTEGRITY: HMAC-SHA1 over the message so far, its length counted (§14.5).
    /// If libcrypto cannot compute the HMAC the sticky error is errc::crypto_failed.
    void add_message_integrity(std::span<const std::byte> key) noexcept;
    /// Appends MESSAGE-INTEGRITY-SHA256 with the full 32-byte HMAC-SHA256 (§14.6).
    void add_message_integrity_sha256(std::span<const std::byte> key) noexcept;
    /// Appends FINGERPRINT (§14.7); nothing may follow it.
    void add_fingerprint() noexcept;

    /// The first error, or a success code.
    std::error_code error() const noexcept {
        return error_ == errc{} ? std::error_code{} : make_error_code(error_);
    }
    /// Bytes written so far (0 before start()).
    std::size_t size() const noexcept { return size_; }
    /// The encoded message, or the sticky error (errc::order_violation before start()).
    Expected<std::span<const std::byte>> finish() const noexcept;

private:
    // Where in the mandated attribute order the message is.
    enum class Stage { idle, attributes, integrity, integrity_sha256, fingerprint };

    void add_algorithm_list(AttrType type, std::span<const PasswordAlgorithm> algorithms) noexcept;
    bool usable() noexcept;
    bool admit(std::uint16_t type) noexcept;
    std::byte* begin_attribute(std::uint16_t type, std::size_t value_length) noexcept;
    void fail(errc e) noexcept;
    void set_length() noexcept;

    std::span<std::byte> buffer_;
    std::size_t size_ = 0;
    errc error_{}; ///< errc{} while there is none (kept as the enum: no category lookups per call)
    Stage stage_ = Stage::idle;
    TransactionId transaction_id_{};
};

} // namespace traverse::proto
