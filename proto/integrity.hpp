// SPDX-License-Identifier: Apache-2.0
// Credential keys and HMACs for MESSAGE-INTEGRITY(-SHA256) and USERHASH, backed by libcrypto.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

namespace traverse::proto {

/// Length of an HMAC-SHA1 MESSAGE-INTEGRITY value (RFC 8489 §14.5).
inline constexpr std::size_t hmac_sha1_size = 20;
/// Length of a full HMAC-SHA256 MESSAGE-INTEGRITY-SHA256 value (RFC 8489 §14.6).
inline constexpr std::size_t hmac_sha256_size = 32;

/// Long-term key for PASSWORD-ALGORITHM MD5: MD5(username ":" realm ":" password), RFC 8489 §9.2.2.
/// The password must already be processed with OpaqueString/SASLprep by the caller.
/// All zero if libcrypto has no MD5 (e.g. a FIPS-only provider).
std::array<std::byte, 16> long_term_key_md5(std::string_view username, std::string_view realm,
                                            std::string_view password) noexcept;

/// Long-term key for PASSWORD-ALGORITHM SHA-256: SHA-256(username ":" realm ":" password).
std::array<std::byte, 32> long_term_key_sha256(std::string_view username, std::string_view realm,
                                               std::string_view password) noexcept;

/// USERHASH value: SHA-256(username ":" realm), RFC 8489 §14.4.
std::array<std::byte, 32> userhash(std::string_view username, std::string_view realm) noexcept;

/// Computes HMAC-SHA1 of the concatenated parts into out; false only if libcrypto fails.
bool compute_hmac_sha1(std::span<const std::byte> key,
                       std::span<const std::span<const std::byte>> parts,
                       std::span<std::byte, hmac_sha1_size> out) noexcept;

/// Computes HMAC-SHA256 of the concatenated parts into out; false only if libcrypto fails.
bool compute_hmac_sha256(std::span<const std::byte> key,
                         std::span<const std::span<const std::byte>> parts,
                         std::span<std::byte, hmac_sha256_size> out) noexcept;

/// HMAC-SHA1 of the concatenated parts (all zero if libcrypto fails).
std::array<std::byte, hmac_sha1_size>
hmac_sha1(std::span<const std::byte> key,
          std::span<const std::span<const std::byte>> parts) noexcept;

/// HMAC-SHA1 of one contiguous buffer.
std::array<std::byte, hmac_sha1_size> hmac_sha1(std::span<const std::byte> key,
                                                std::span<const std::byte> data) noexcept;

/// HMAC-SHA256 of the concatenated parts (all zero if libcrypto fails).
std::array<std::byte, hmac_sha256_size>
hmac_sha256(std::span<const std::byte> key,
            std::span<const std::span<const std::byte>> parts) noexcept;

/// HMAC-SHA256 of one contiguous buffer.
std::array<std::byte, hmac_sha256_size> hmac_sha256(std::span<const std::byte> key,
                                                    std::span<const std::byte> data) noexcept;

/// Compares two equally long byte ranges in constant time; false if the lengths differ.
bool constant_time_equal(std::span<const std::byte> a, std::span<const std::byte> b) noexcept;

} // namespace traverse::proto
