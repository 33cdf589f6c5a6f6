// SPDX-License-Identifier: Apache-2.0
// HMAC and digest helpers over OpenSSL 3 EVP_MAC / EVP_MD, with per-thread cached contexts.
#include "proto/integrity.hpp"

#include "proto/bytes.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>

namespace traverse::proto {
namespace {

enum class Digest { sha1, sha256, md5 };

// Per-thread libcrypto objects, created on first use and reused by every later call on the same
// thread. Why per thread: EVP contexts are not thread-safe, and fetching algorithms and creating
// contexts for every message costs several allocations and a provider lookup (OpenSSL 3).
class CryptoCache {
public:
    CryptoCache() = default;
    CryptoCache(const CryptoCache&) = delete;
    CryptoCache& operator=(const CryptoCache&) = delete;
    ~CryptoCache() {
        EVP_MAC_CTX_free(hmac_sha1_);
        EVP_MAC_CTX_free(hmac_sha256_);
        EVP_MAC_free(hmac_);
        EVP_MD_CTX_free(md_ctx_);
        EVP_MD_free(md5_);
        EVP_MD_free(sha256_);
    }

    // An HMAC context with its digest already set; nullptr if libcrypto cannot provide it.
    EVP_MAC_CTX* hmac(Digest d) noexcept {
        EVP_MAC_CTX*& slot = d == Digest::sha1 ? hmac_sha1_ : hmac_sha256_;
        if (slot != nullptr) return slot;
        if (hmac_ == nullptr) hmac_ = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
        if (hmac_ == nullptr) return nullptr;
        EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac_);
        if (ctx == nullptr) return nullptr;
        char name_sha1[] = "SHA1";
        char name_sha256[] = "SHA256";
        const OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                             d == Digest::sha1 ? name_sha1 : name_sha256, 0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_MAC_CTX_set_params(ctx, params) != 1) {
            EVP_MAC_CTX_free(ctx);
            return nullptr;
        }
        slot = ctx;
        return slot;
    }

    // A reusable digest context and the fetched digest; false if unavailable.
    bool digest(Digest d, EVP_MD_CTX*& ctx, const EVP_MD*& md) noexcept {
        if (md_ctx_ == nullptr) md_ctx_ = EVP_MD_CTX_new();
        EVP_MD*& slot = d == Digest::md5 ? md5_ : sha256_;
        if (slot == nullptr)
            slot = EVP_MD_fetch(nullptr, d == Digest::md5 ? "MD5" : "SHA256", nullptr);
        ctx = md_ctx_;
        md = slot;
        return ctx != nullptr && md != nullptr;
    }

private:
    EVP_MAC* hmac_ = nullptr;
    EVP_MAC_CTX* hmac_sha1_ = nullptr;
    EVP_MAC_CTX* hmac_sha256_ = nullptr;
    EVP_MD_CTX* md_ctx_ = nullptr;
    EVP_MD* md5_ = nullptr;
    EVP_MD* sha256_ = nullptr;
};

CryptoCache& cache() noexcept {
    thread_local CryptoCache instance;
    return instance;
}

bool compute_hmac(Digest d, std::span<const std::byte> key,
                  std::span<const std::span<const std::byte>> parts,
                  std::span<std::byte> out) noexcept {
    EVP_MAC_CTX* ctx = cache().hmac(d);
    if (ctx == nullptr) return false;
    // A null key means "keep the previous key" to EVP_MAC_init, so an empty key still needs a
    // valid pointer.
    static constexpr unsigned char empty_key[1] = {0};
    const auto* key_ptr =
        key.empty() ? empty_key : reinterpret_cast<const unsigned char*>(key.data());
    if (EVP_MAC_init(ctx, key_ptr, key.size(), nullptr) != 1) return false;
    for (const auto part : parts) {
        if (part.empty()) continue;
        if (EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size()) !=
            1)
            return false;
    }
    std::size_t written = 0;
    if (EVP_MAC_final(ctx, reinterpret_cast<unsigned char*>(out.data()), &written, out.size()) != 1)
        return false;
    return written == out.size();
}

template <std::size_t N>
std::array<std::byte, N> hash_joined(Digest d, std::string_view a, std::string_view b,
                                     const std::string_view* c) noexcept {
    std::array<std::byte, N> out{};
    EVP_MD_CTX* ctx = nullptr;
    const EVP_MD* md = nullptr;
    if (!cache().digest(d, ctx, md)) return out;
    static constexpr char colon = ':';
    bool ok = EVP_DigestInit_ex2(ctx, md, nullptr) == 1;
    ok = ok && EVP_DigestUpdate(ctx, a.data(), a.size()) == 1;
    ok = ok && EVP_DigestUpdate(ctx, &colon, 1) == 1;
    ok = ok && EVP_DigestUpdate(ctx, b.data(), b.size()) == 1;
    if (c != nullptr) {
        ok = ok && EVP_DigestUpdate(ctx, &colon, 1) == 1;
        ok = ok && EVP_DigestUpdate(ctx, c->data(), c->size()) == 1;
    }
    unsigned int length = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()), &length) == 1;
    if (!ok || length != N) out.fill(std::byte{0});
    return out;
}

} // namespace

std::array<std::byte, 16> long_term_key_md5(std::string_view username, std::string_view realm,
                                            std::string_view password) noexcept {
    return hash_joined<16>(Digest::md5, username, realm, &password);
}

std::array<std::byte, 32> long_term_key_sha256(std::string_view username, std::string_view realm,
                                               std::string_view password) noexcept {
    return hash_joined<32>(Digest::sha256, username, realm, &password);
}

std::array<std::byte, 32> userhash(std::string_view username, std::string_view realm) noexcept {
    return hash_joined<32>(Digest::sha256, username, realm, nullptr);
}

bool compute_hmac_sha1(std::span<const std::byte> key,
                       std::span<const std::span<const std::byte>> parts,
                       std::span<std::byte, hmac_sha1_size> out) noexcept {
    return compute_hmac(Digest::sha1, key, parts, out);
}

bool compute_hmac_sha256(std::span<const std::byte> key,
                         std::span<const std::span<const std::byte>> parts,
                         std::span<std::byte, hmac_sha256_size> out) noexcept {
    return compute_hmac(Digest::sha256, key, parts, out);
}

std::array<std::byte, hmac_sha1_size>
hmac_sha1(std::span<const std::byte> key,
          std::span<const std::span<const std::byte>> parts) noexcept {
    std::array<std::byte, hmac_sha1_size> out{};
    if (!compute_hmac_sha1(key, parts, out)) out.fill(std::byte{0});
    return out;
}

std::array<std::byte, hmac_sha1_size> hmac_sha1(std::span<const std::byte> key,
                                                std::span<const std::byte> data) noexcept {
    const std::span<const std::byte> parts[] = {data};
    return hmac_sha1(key, parts);
}

std::array<std::byte, hmac_sha256_size>
hmac_sha256(std::span<const std::byte> key,
            std::span<const std::span<const std::byte>> parts) noexcept {
    std::array<std::byte, hmac_sha256_size> out{};
    if (!compute_hmac_sha256(key, parts, out)) out.fill(std::byte{0});
    return out;
}

std::array<std::byte, hmac_sha256_size> hmac_sha256(std::span<const std::byte> key,
                                                    std::span<const std::byte> data) noexcept {
    const std::span<const std::byte> parts[] = {data};
    return hmac_sha256(key, parts);
}

bool constant_time_equal(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace traverse::proto
