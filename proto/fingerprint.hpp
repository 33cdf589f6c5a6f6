// SPDX-License-Identifier: Apache-2.0
// CRC-32 (ISO-HDLC) and the STUN FINGERPRINT value derived from it (RFC 8489 §14.7).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace traverse::proto {

/// Value xored into the CRC-32 to form FINGERPRINT ("STUN" in ASCII, RFC 8489 §14.7).
inline constexpr std::uint32_t fingerprint_xor = 0x5354554e;

namespace detail {
/// Lookup table for the reflected CRC-32 polynomial 0xEDB88320, computed at compile time.
inline constexpr std::array<std::uint32_t, 256> crc32_table = [] {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int bit = 0; bit < 8; ++bit)
            c = (c & 1u) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    return table;
}();
} // namespace detail

/// Continues a CRC-32 over data; start with state 0xFFFFFFFF and finish by inverting.
constexpr std::uint32_t crc32_update(std::uint32_t state,
                                     std::span<const std::byte> data) noexcept {
    for (const std::byte b : data)
        state =
            detail::crc32_table[(state ^ std::to_integer<std::uint32_t>(b)) & 0xFFu] ^ (state >> 8);
    return state;
}

/// CRC-32 (ISO-HDLC, as used by Ethernet and zlib) of data.
constexpr std::uint32_t crc32(std::span<const std::byte> data) noexcept {
    return ~crc32_update(0xFFFFFFFFu, data);
}

/// The FINGERPRINT value for a message prefix: CRC-32 xor 0x5354554e.
std::uint32_t fingerprint(std::span<const std::byte> data) noexcept;

} // namespace traverse::proto
