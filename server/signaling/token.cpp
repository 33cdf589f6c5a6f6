// SPDX-License-Identifier: Apache-2.0
// Bearer token minting and checking (HMAC-SHA256 with OpenSSL).
#include "server/signaling/token.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace traverse::signaling {

namespace {

/// base64url without padding (RFC 4648 §5): safe in a query string without escaping.
std::string mac_of(std::string_view secret, std::string_view message) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_size = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(),
         &mac_size);
    std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> b64{};
    const int n = EVP_EncodeBlock(b64.data(), mac.data(), static_cast<int>(mac_size));
    std::string out(reinterpret_cast<const char*>(b64.data()), static_cast<std::size_t>(n));
    while (!out.empty() && out.back() == '=')
        out.pop_back();
    for (char& c : out)
        c = c == '+' ? '-' : c == '/' ? '_' : c;
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

} // namespace

bool valid_token_user(std::string_view user) {
    if (user.empty() || user.size() > max_token_user) return false;
    for (char c : user)
        if (c <= ' ' || c > '~' || c == ':') return false;
    return true;
}

std::string mint_token(std::string_view secret, std::string_view user, std::int64_t expires) {
    std::string signed_part = std::to_string(expires) + ":" + std::string(user);
    return signed_part + ":" + mac_of(secret, signed_part);
}

TokenCheck verify_token(std::string_view secret, std::string_view token, std::int64_t unix_now) {
    TokenCheck r;
    const auto first = token.find(':');
    const auto last = token.rfind(':');
    if (first == std::string_view::npos || first == last) {
        r.reason = "malformed token: expected <expiry>:<user>:<mac>";
        return r;
    }
    const std::string_view expiry_text = token.substr(0, first);
    const std::string_view user = token.substr(first + 1, last - first - 1);
    const std::string_view mac = token.substr(last + 1);
    std::int64_t expires = 0;
    auto [p, ec] =
        std::from_chars(expiry_text.data(), expiry_text.data() + expiry_text.size(), expires);
    if (ec != std::errc{} || p != expiry_text.data() + expiry_text.size() ||
        !valid_token_user(user)) {
        r.reason = "malformed token: expected <expiry>:<user>:<mac>";
        return r;
    }
    const std::string expected = mac_of(secret, token.substr(0, last));
    if (mac.size() != expected.size() || CRYPTO_memcmp(mac.data(), expected.data(), mac.size())) {
        r.reason = "token signature does not verify";
        return r;
    }
    if (expires <= unix_now) {
        r.reason = "token expired";
        return r;
    }
    r.ok = true;
    r.user = std::string(user);
    return r;
}

std::string token_from_request(std::string_view target, std::string_view authorization) {
    const auto q = target.find('?');
    if (q != std::string_view::npos) {
        std::string_view query = target.substr(q + 1);
        while (!query.empty()) {
            const auto amp = query.find('&');
            const std::string_view param = query.substr(0, amp);
            if (param.starts_with("token=")) return percent_decode(param.substr(6));
            if (amp == std::string_view::npos) break;
            query.remove_prefix(amp + 1);
        }
    }
    constexpr std::string_view bearer = "Bearer ";
    if (authorization.size() > bearer.size()) {
        bool match = true;
        for (std::size_t i = 0; i < bearer.size(); ++i)
            match = match && std::tolower(static_cast<unsigned char>(authorization[i])) ==
                                 std::tolower(static_cast<unsigned char>(bearer[i]));
        if (match) return std::string(authorization.substr(bearer.size()));
    }
    return {};
}

} // namespace traverse::signaling
