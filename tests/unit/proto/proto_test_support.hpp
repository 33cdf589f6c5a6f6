// SPDX-License-Identifier: Apache-2.0
// Shared helpers for the proto unit tests: hex and vector loading, raw message assembly.
#pragma once

#include "proto/bytes.hpp"
#include "proto/fingerprint.hpp"
#include "proto/types.hpp"

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace traverse::proto::test {

using Bytes = std::vector<std::byte>;

/// Decodes hex text, ignoring whitespace; throws on anything else (test setup only).
inline Bytes from_hex(std::string_view text) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        throw std::invalid_argument("bad hex digit");
    };
    Bytes out;
    int high = -1;
    for (const char c : text) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        const int v = nibble(c);
        if (high < 0) {
            high = v;
        } else {
            out.push_back(static_cast<std::byte>(high * 16 + v));
            high = -1;
        }
    }
    if (high >= 0) throw std::invalid_argument("odd hex length");
    return out;
}

/// Lowercase hex of bytes (for readable failure messages).
inline std::string to_hex(std::span<const std::byte> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const std::byte b : bytes) {
        const auto v = std::to_integer<unsigned>(b);
        out += digits[v >> 4];
        out += digits[v & 0xF];
    }
    return out;
}

/// Loads tests/vectors/<relative> (a .hex file).
inline Bytes load_vector(const std::string& relative) {
    std::ifstream in(std::string(TRAVERSE_VECTORS_DIR) + "/" + relative);
    if (!in) throw std::runtime_error("cannot open vector " + relative);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return from_hex(text);
}

/// Bytes from a string literal.
inline Bytes bytes(std::string_view s) {
    const auto b = bytes_of(s);
    return {b.begin(), b.end()};
}

/// Transaction id from 24 hex digits.
inline TransactionId tid(std::string_view hex) {
    const Bytes b = from_hex(hex);
    TransactionId id{};
    for (std::size_t i = 0; i < id.size() && i < b.size(); ++i)
        id[i] = b[i];
    return id;
}

/// Assembles messages byte by byte, bypassing every builder rule (for malformed input).
class RawMessage {
public:
    /// Header with type, cookie and transaction id; length maintained by fix_length().
    explicit RawMessage(std::uint16_t type = 0x0001, std::uint32_t cookie = magic_cookie) {
        bytes_.resize(header_size);
        store_be16(bytes_.data(), type);
        store_be32(bytes_.data() + 4, cookie);
        for (std::size_t i = 0; i < 12; ++i)
            bytes_[8 + i] = static_cast<std::byte>(0xA0 + i);
    }
    /// Appends an attribute with a declared length that may differ from value.size().
    RawMessage& attribute(std::uint16_t type, std::span<const std::byte> value,
                          std::size_t declared, bool pad = true) {
        const std::size_t at = bytes_.size();
        bytes_.resize(at + 4);
        store_be16(bytes_.data() + at, type);
        store_be16(bytes_.data() + at + 2, static_cast<std::uint16_t>(declared));
        bytes_.insert(bytes_.end(), value.begin(), value.end());
        if (pad) bytes_.resize(at + 4 + pad4(value.size()));
        return fix_length();
    }
    /// Appends a well-formed attribute.
    RawMessage& attribute(std::uint16_t type, std::span<const std::byte> value) {
        return attribute(type, value, value.size());
    }
    /// Appends a well-formed attribute with value filled with n copies of fill.
    RawMessage& filled(std::uint16_t type, std::size_t n, std::byte fill = std::byte{0x11}) {
        const Bytes value(n, fill);
        return attribute(type, value);
    }
    /// Appends a correct FINGERPRINT.
    RawMessage& fingerprint() {
        const std::size_t at = bytes_.size();
        bytes_.resize(at + 8);
        store_be16(bytes_.data() + at, to_underlying(AttrType::fingerprint));
        store_be16(bytes_.data() + at + 2, 4);
        fix_length();
        store_be32(bytes_.data() + at + 4, proto::fingerprint(std::span(bytes_).first(at)));
        return *this;
    }
    /// Sets the header length to cover everything appended.
    RawMessage& fix_length() {
        store_be16(bytes_.data() + 2, static_cast<std::uint16_t>(bytes_.size() - header_size));
        return *this;
    }
    /// Overwrites the header length.
    RawMessage& set_length(std::uint16_t length) {
        store_be16(bytes_.data() + 2, length);
        return *this;
    }
    /// Appends raw bytes without touching the length.
    RawMessage& append(std::span<const std::byte> more) {
        bytes_.insert(bytes_.end(), more.begin(), more.end());
        return *this;
    }
    /// The assembled bytes.
    const Bytes& bytes() const { return bytes_; }
    /// Mutable access for in-place corruption.
    Bytes& mutable_bytes() { return bytes_; }

private:
    Bytes bytes_;
};

} // namespace traverse::proto::test
