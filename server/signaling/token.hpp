// SPDX-License-Identifier: Apache-2.0
// Bearer tokens for /ws: "<expiry unix seconds>:<user>:<base64url HMAC-SHA256(secret,
// "<expiry>:<user>")>", minted by an application backend (or `traverse-signal token`) and
// checked at the WebSocket upgrade.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace traverse::signaling {

/// At most this many bytes of user name (1..128 printable ASCII characters except ':').
inline constexpr std::size_t max_token_user = 128;

/// Whether `user` can be carried in a token.
bool valid_token_user(std::string_view user);

/// The token for `user` valid until `expires` (unix seconds). `user` must be valid.
std::string mint_token(std::string_view secret, std::string_view user, std::int64_t expires);

/// The outcome of checking a token: the user on success, else a plain-words reason.
struct TokenCheck {
    bool ok = false;
    std::string user;
    std::string reason;
};

/// Checks format, MAC (constant time) and expiry against `unix_now`.
TokenCheck verify_token(std::string_view secret, std::string_view token, std::int64_t unix_now);

/// The token of an HTTP upgrade request: the `token` query parameter of `target`
/// (percent-decoded), else the `Authorization: Bearer` header value; empty when neither.
std::string token_from_request(std::string_view target, std::string_view authorization);

} // namespace traverse::signaling
