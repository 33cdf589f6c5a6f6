// SPDX-License-Identifier: Apache-2.0
// REST credential minting with OpenSSL (HMAC-SHA1, base64). The signaling relay does not link
// the TURN engine (a crash in one must not take the other down), so the few lines of this
// scheme live here too; an integration test checks the TURN server accepts what this mints.
#include "server/signaling/turn_credentials.hpp"

#include <array>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace traverse::signaling {

TurnCredential mint_turn_credential(std::string_view secret, std::string_view user,
                                    std::int64_t unix_now, std::chrono::seconds ttl) {
    TurnCredential c;
    c.expires = unix_now + ttl.count();
    c.username = std::to_string(c.expires) + ":" + std::string(user);
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_size = 0;
    HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(c.username.data()), c.username.size(), mac.data(),
         &mac_size);
    std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> b64{};
    int n = EVP_EncodeBlock(b64.data(), mac.data(), static_cast<int>(mac_size));
    c.password.assign(reinterpret_cast<const char*>(b64.data()), static_cast<std::size_t>(n));
    return c;
}

} // namespace traverse::signaling
