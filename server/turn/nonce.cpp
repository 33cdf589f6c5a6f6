// SPDX-License-Identifier: Apache-2.0
// Stateless nonce issuing and checking: hex fields and a truncated HMAC-SHA256, no stored state.
#include "server/turn/nonce.hpp"

#include "proto/integrity.hpp"
#include "server/turn/rest_credentials.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace traverse::turn {
namespace {

constexpr std::size_t expiry_digits = 8; // unsigned 32-bit unix seconds
constexpr std::size_t salt_digits = 4;   // 16-bit source port
constexpr std::size_t mac_bytes = 12;    // 96 bits of HMAC-SHA256: forging stays out of reach
constexpr std::size_t mac_chars = 16;    // base64 of 12 bytes, no padding needed
constexpr std::size_t feature_chars = 4; // base64 of the 3-byte feature set (RFC 8489 §9.2)
constexpr std::size_t body_size = expiry_digits + salt_digits + mac_chars;

constexpr char hex_digits[] = "0123456789abcdef";

// Writes `value` as `digits` lowercase hex digits, most significant first.
void put_hex(std::uint32_t value, std::size_t digits, char* out) noexcept {
    for (std::size_t i = digits; i > 0; --i) {
        out[i - 1] = hex_digits[value & 0xF];
        value >>= 4;
    }
}

// Reads exactly text.size() lowercase hex digits; false on anything else (no uppercase, so each
// value has one spelling and a tampered nonce cannot alias a genuine one).
bool get_hex(std::string_view text, std::uint32_t& value) noexcept {
    value = 0;
    for (const char c : text) {
        unsigned digit = 0;
        if (c >= '0' && c <= '9')
            digit = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f')
            digit = static_cast<unsigned>(c - 'a' + 10);
        else
            return false;
        value = (value << 4) | digit;
    }
    return true;
}

// The 6-bit value of one standard base64 character, or -1.
int base64_value(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

} // namespace

std::optional<SecurityFeatures> parse_nonce_cookie(std::string_view nonce) noexcept {
    // RFC 8489 §9.2: the cookie is followed by the 24-bit feature set in base64 (4 characters).
    if (nonce.size() < nonce_cookie.size() + feature_chars || !nonce.starts_with(nonce_cookie))
        return std::nullopt;
    const std::string_view field = nonce.substr(nonce_cookie.size(), feature_chars);
    unsigned bits = 0;
    for (const char c : field) {
        const int v = base64_value(c);
        if (v < 0) return std::nullopt;
        bits = (bits << 6) | static_cast<unsigned>(v);
    }
    // Bit 23 (the first bit sent) is "Password algorithms", bit 22 "Username anonymity".
    return SecurityFeatures{(bits & 0x800000u) != 0, (bits & 0x400000u) != 0};
}

NonceCodec::NonceCodec(const std::array<std::byte, 32>& secret, std::chrono::seconds lifetime,
                       bool with_cookie, SecurityFeatures features) noexcept
    : secret_(secret), lifetime_(std::max<std::int64_t>(lifetime.count(), 1)) {
    if (!with_cookie) return;
    std::memcpy(prefix_.data(), nonce_cookie.data(), nonce_cookie.size());
    const std::byte field[3] = {
        static_cast<std::byte>((features.password_algorithms ? 0x80 : 0) |
                               (features.username_anonymity ? 0x40 : 0)),
        std::byte{0},
        std::byte{0},
    };
    const std::size_t written =
        encode_base64(field, std::span<char>(prefix_.data() + nonce_cookie.size(), feature_chars));
    prefix_size_ = nonce_cookie.size() + written;
}

bool NonceCodec::mac(std::string_view signed_text, const proto::TransportAddress& client,
                     std::span<char, mac_chars> out) const noexcept {
    const std::byte family[1] = {static_cast<std::byte>(client.family)};
    const auto ip = client.ip_bytes();
    const std::span<const std::byte> parts[] = {
        std::as_bytes(std::span(signed_text.data(), signed_text.size())),
        family,
        std::as_bytes(ip),
    };
    std::array<std::byte, proto::hmac_sha256_size> full{};
    if (!proto::compute_hmac_sha256(secret_, parts, full)) return false;
    // 12 bytes encode to exactly 16 base64 characters, without padding.
    std::array<char, mac_chars> text{};
    if (encode_base64(std::span(full).first(mac_bytes), text) != mac_chars) return false;
    std::copy(text.begin(), text.end(), out.begin());
    return true;
}

NonceText NonceCodec::issue(const proto::TransportAddress& client,
                            std::int64_t unix_now) const noexcept {
    NonceText n;
    char* p = n.chars.data();
    std::memcpy(p, prefix_.data(), prefix_size_);
    p += prefix_size_;
    // Clamped into 32 bits: a clock before 1970 or after 2106 is not a case worth a wider field.
    constexpr std::int64_t max_expiry = std::numeric_limits<std::uint32_t>::max();
    const std::int64_t expiry = std::clamp<std::int64_t>(unix_now + lifetime_, 0, max_expiry);
    put_hex(static_cast<std::uint32_t>(expiry), expiry_digits, p);
    p += expiry_digits;
    put_hex(client.port, salt_digits, p);
    p += salt_digits;
    const std::size_t signed_size = static_cast<std::size_t>(p - n.chars.data());
    // On a libcrypto failure the MAC stays "AAA...", the base64 of zero bytes, which valid()
    // does not accept (it recomputes the MAC, or fails the same way).
    std::array<char, mac_chars> m{};
    m.fill('A');
    (void)mac({n.chars.data(), signed_size}, client, m);
    std::memcpy(p, m.data(), mac_chars);
    n.size = static_cast<std::uint8_t>(signed_size + mac_chars);
    return n;
}

bool NonceCodec::valid(std::string_view nonce, const proto::TransportAddress& client,
                       std::int64_t unix_now) const noexcept {
    if (nonce.size() != prefix_size_ + body_size || !nonce.starts_with(prefix())) return false;
    std::uint32_t expiry = 0;
    std::uint32_t salt = 0;
    if (!get_hex(nonce.substr(prefix_size_, expiry_digits), expiry) ||
        !get_hex(nonce.substr(prefix_size_ + expiry_digits, salt_digits), salt))
        return false;
    std::array<char, mac_chars> expected{};
    const std::size_t signed_size = nonce.size() - mac_chars;
    if (!mac(nonce.substr(0, signed_size), client, expected)) return false;
    const std::string_view received = nonce.substr(signed_size);
    if (!proto::constant_time_equal(std::as_bytes(std::span(expected)),
                                    std::as_bytes(std::span(received.data(), received.size()))))
        return false;
    return static_cast<std::int64_t>(expiry) > unix_now;
}

} // namespace traverse::turn
