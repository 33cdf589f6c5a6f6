// SPDX-License-Identifier: Apache-2.0
// Mints TURN REST API credentials for browsers (the scheme the TURN server verifies).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace traverse::signaling {

/// A time-limited TURN credential: username "<expiry unix seconds>:<user>", password
/// base64(HMAC-SHA1(secret, username)).
struct TurnCredential {
    std::string username;
    std::string password;
    std::int64_t expires = 0;
};

/// Mints a credential for `user` valid for `ttl` from `unix_now`.
TurnCredential mint_turn_credential(std::string_view secret, std::string_view user,
                                    std::int64_t unix_now, std::chrono::seconds ttl);

} // namespace traverse::signaling
