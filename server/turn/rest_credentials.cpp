// SPDX-License-Identifier: Apache-2.0
// TURN REST API credential helpers: username shape, password derivation, base64.
#include "server/turn/rest_credentials.hpp"

#include "proto/integrity.hpp"

#include <array>
#include <limits>

namespace traverse::turn {
namespace {

constexpr char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::span<const std::byte> as_bytes(std::string_view text) noexcept {
    return std::as_bytes(std::span(text.data(), text.size()));
}

} // namespace

std::size_t encode_base64(std::span<const std::byte> in, std::span<char> out) noexcept {
    const std::size_t needed = (in.size() + 2) / 3 * 4;
    if (out.size() < needed) return 0;
    std::size_t o = 0;
    for (std::size_t i = 0; i < in.size(); i += 3) {
        // Three input bytes make a 24-bit group, read as four 6-bit indices (RFC 4648 §4); a
        // short final group is zero-filled and its missing characters become '='.
        const std::size_t n = in.size() - i < 3 ? in.size() - i : 3;
        unsigned group = std::to_integer<unsigned>(in[i]) << 16;
        if (n > 1) group |= std::to_integer<unsigned>(in[i + 1]) << 8;
        if (n > 2) group |= std::to_integer<unsigned>(in[i + 2]);
        out[o++] = base64_alphabet[(group >> 18) & 0x3F];
        out[o++] = base64_alphabet[(group >> 12) & 0x3F];
        out[o++] = n > 1 ? base64_alphabet[(group >> 6) & 0x3F] : '=';
        out[o++] = n > 2 ? base64_alphabet[group & 0x3F] : '=';
    }
    return o;
}

std::string rest_username(std::int64_t expiry_unix, std::string_view user) {
    std::string name = std::to_string(expiry_unix);
    if (!user.empty()) {
        name += ':';
        name += user;
    }
    return name;
}

bool rest_password(std::string_view secret, std::string_view username,
                   std::span<char, rest_password_size> out) noexcept {
    std::array<std::byte, proto::hmac_sha1_size> mac{};
    const std::span<const std::byte> parts[] = {as_bytes(username)};
    if (!proto::compute_hmac_sha1(as_bytes(secret), parts, mac)) return false;
    return encode_base64(mac, out) == rest_password_size;
}

std::string rest_password(std::string_view secret, std::string_view username) {
    std::array<char, rest_password_size> text{};
    if (!rest_password(secret, username, text)) return {};
    return std::string(text.data(), text.size());
}

std::optional<std::int64_t> rest_expiry(std::string_view username) noexcept {
    const std::size_t colon = username.find(':');
    const std::string_view digits = username.substr(0, colon);
    if (digits.empty()) return std::nullopt;
    std::int64_t value = 0;
    constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
    for (const char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        const int digit = c - '0';
        if (value > (max - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

} // namespace traverse::turn
