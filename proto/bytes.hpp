// SPDX-License-Identifier: Apache-2.0
// Bounds-checked big-endian (network order) reading and writing over std::span.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace traverse::proto {

/// Views the characters of s as bytes (no copy).
inline std::span<const std::byte> bytes_of(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

/// Views bytes as characters (no copy).
inline std::string_view chars_of(std::span<const std::byte> b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Loads and stores go through memcpy (one unaligned move) and a byte swap on little-endian
// hosts; the byte-at-a-time form was not merged into single moves by the compiler for std::byte.
namespace detail {
template <class U> inline U to_big_endian(U v) noexcept {
    if constexpr (std::endian::native == std::endian::big) {
        return v;
    } else if constexpr (sizeof(U) == 2) {
        return __builtin_bswap16(v);
    } else if constexpr (sizeof(U) == 4) {
        return __builtin_bswap32(v);
    } else {
        return __builtin_bswap64(v);
    }
}
template <class U> inline U load_be(const std::byte* p) noexcept {
    U v;
    std::memcpy(&v, p, sizeof v);
    return to_big_endian(v);
}
template <class U> inline void store_be(std::byte* p, U v) noexcept {
    v = to_big_endian(v);
    std::memcpy(p, &v, sizeof v);
}
} // namespace detail

/// Reads a big-endian 16-bit value from the first two bytes of p (caller checked bounds).
inline std::uint16_t load_be16(const std::byte* p) noexcept {
    return detail::load_be<std::uint16_t>(p);
}

/// Reads a big-endian 32-bit value from the first four bytes of p (caller checked bounds).
inline std::uint32_t load_be32(const std::byte* p) noexcept {
    return detail::load_be<std::uint32_t>(p);
}

/// Reads a big-endian 64-bit value from the first eight bytes of p (caller checked bounds).
inline std::uint64_t load_be64(const std::byte* p) noexcept {
    return detail::load_be<std::uint64_t>(p);
}

/// Writes v big-endian into the first two bytes of p (caller checked bounds).
inline void store_be16(std::byte* p, std::uint16_t v) noexcept {
    detail::store_be(p, v);
}

/// Writes v big-endian into the first four bytes of p (caller checked bounds).
inline void store_be32(std::byte* p, std::uint32_t v) noexcept {
    detail::store_be(p, v);
}

/// Writes v big-endian into the first eight bytes of p (caller checked bounds).
inline void store_be64(std::byte* p, std::uint64_t v) noexcept {
    detail::store_be(p, v);
}

/// Rounds n up to the next multiple of 4 (STUN attribute and ChannelData padding).
constexpr std::size_t pad4(std::size_t n) noexcept {
    return (n + 3) & ~std::size_t{3};
}

/// Sequential big-endian reader; a read past the end fails and leaves the position unchanged.
class ByteReader {
public:
    /// Reads from data, starting at its first byte.
    explicit ByteReader(std::span<const std::byte> data) noexcept : data_(data) {}

    /// Bytes not yet consumed.
    std::size_t remaining() const noexcept { return data_.size() - pos_; }
    /// Bytes consumed so far.
    std::size_t position() const noexcept { return pos_; }
    /// True when every byte has been consumed.
    bool empty() const noexcept { return pos_ == data_.size(); }

    /// Reads one byte.
    bool read_u8(std::uint8_t& out) noexcept {
        if (remaining() < 1) return false;
        out = std::to_integer<std::uint8_t>(data_[pos_]);
        pos_ += 1;
        return true;
    }
    /// Reads a big-endian 16-bit value.
    bool read_u16(std::uint16_t& out) noexcept {
        if (remaining() < 2) return false;
        out = load_be16(data_.data() + pos_);
        pos_ += 2;
        return true;
    }
    /// Reads a big-endian 32-bit value.
    bool read_u32(std::uint32_t& out) noexcept {
        if (remaining() < 4) return false;
        out = load_be32(data_.data() + pos_);
        pos_ += 4;
        return true;
    }
    /// Reads a big-endian 64-bit value.
    bool read_u64(std::uint64_t& out) noexcept {
        if (remaining() < 8) return false;
        out = load_be64(data_.data() + pos_);
        pos_ += 8;
        return true;
    }
    /// Returns the next n bytes as a sub-span (no copy).
    bool read_bytes(std::size_t n, std::span<const std::byte>& out) noexcept {
        if (remaining() < n) return false;
        out = data_.subspan(pos_, n);
        pos_ += n;
        return true;
    }
    /// Copies the next out.size() bytes into out.
    bool copy_to(std::span<std::byte> out) noexcept {
        if (remaining() < out.size()) return false;
        if (!out.empty()) std::memcpy(out.data(), data_.data() + pos_, out.size());
        pos_ += out.size();
        return true;
    }
    /// Skips n bytes.
    bool skip(std::size_t n) noexcept {
        if (remaining() < n) return false;
        pos_ += n;
        return true;
    }

private:
    std::span<const std::byte> data_;
    std::size_t pos_ = 0;
};

/// Sequential big-endian writer into a fixed buffer; the first overflow is sticky.
class ByteWriter {
public:
    /// Writes into out, starting at its first byte.
    explicit ByteWriter(std::span<std::byte> out) noexcept : out_(out) {}

    /// True while no write has overflowed.
    bool ok() const noexcept { return ok_; }
    /// Bytes written so far.
    std::size_t size() const noexcept { return pos_; }
    /// Bytes still free.
    std::size_t remaining() const noexcept { return out_.size() - pos_; }
    /// The bytes written so far.
    std::span<const std::byte> written() const noexcept { return out_.first(pos_); }

    /// Writes one byte.
    void write_u8(std::uint8_t v) noexcept {
        if (std::byte* p = reserve(1)) *p = std::byte{v};
    }
    /// Writes a big-endian 16-bit value.
    void write_u16(std::uint16_t v) noexcept {
        if (std::byte* p = reserve(2)) store_be16(p, v);
    }
    /// Writes a big-endian 32-bit value.
    void write_u32(std::uint32_t v) noexcept {
        if (std::byte* p = reserve(4)) store_be32(p, v);
    }
    /// Writes a big-endian 64-bit value.
    void write_u64(std::uint64_t v) noexcept {
        if (std::byte* p = reserve(8)) store_be64(p, v);
    }
    /// Copies bytes.
    void write_bytes(std::span<const std::byte> bytes) noexcept {
        if (std::byte* p = reserve(bytes.size()); p != nullptr && !bytes.empty())
            std::memcpy(p, bytes.data(), bytes.size());
    }
    /// Writes n copies of value.
    void fill(std::size_t n, std::byte value) noexcept {
        if (std::byte* p = reserve(n); p != nullptr && n != 0)
            std::memset(p, std::to_integer<int>(value), n);
    }
    /// Claims n bytes and returns where they start, or nullptr (and sticky failure) on overflow.
    std::byte* reserve(std::size_t n) noexcept {
        if (!ok_ || remaining() < n) {
            ok_ = false;
            return nullptr;
        }
        std::byte* p = out_.data() + pos_;
        pos_ += n;
        return p;
    }

private:
    std::span<std::byte> out_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

} // namespace traverse::proto
