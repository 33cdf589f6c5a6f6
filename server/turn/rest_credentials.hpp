// SPDX-License-Identifier: Apache-2.0
// TURN REST API credentials: time-limited usernames whose password is a keyed hash of the name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace traverse::turn {

// Convention of draft-uberti-behave-turn-rest-00 §2.2 (also coturn's and pion's): the username
// is "<expiry unix seconds>:<user>" and the password is base64(HMAC-SHA1(secret, username)).
// The server knows only the shared secret; it recomputes the password from the username.

/// Length of a REST password: base64 of a 20-byte HMAC-SHA1, padded (28 characters).
inline constexpr std::size_t rest_password_size = 28;

/// The REST username "<expiry_unix>:<user>" (just the number when `user` is empty).
std::string rest_username(std::int64_t expiry_unix, std::string_view user);

/// The REST password for `username` under `secret`: base64 (standard alphabet, padded) of
/// HMAC-SHA1(secret, username).
std::string rest_password(std::string_view secret, std::string_view username);

/// Writes the REST password into `out` without allocating; false only if libcrypto fails.
bool rest_password(std::string_view secret, std::string_view username,
                   std::span<char, rest_password_size> out) noexcept;

/// The expiry of a REST-shaped username: the decimal digits before the first ':' (or the whole
/// username when it is all digits); nullopt when there are none, anything else precedes the
/// ':', or the number does not fit in 63 bits.
std::optional<std::int64_t> rest_expiry(std::string_view username) noexcept;

/// Writes standard base64 (RFC 4648 §4, '=' padded) of `in` into `out`, which must hold at
/// least 4 * ceil(in.size() / 3) characters; returns the number written (0 if `out` is short).
std::size_t encode_base64(std::span<const std::byte> in, std::span<char> out) noexcept;

} // namespace traverse::turn
