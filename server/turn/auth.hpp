// SPDX-License-Identifier: Apache-2.0
// Long-term credential checks for TURN requests: static and REST users, nonces, signing.
#pragma once

#include "proto/address.hpp"
#include "proto/attributes.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "server/turn/nonce.hpp"
#include "server/turn/rest_credentials.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace traverse::turn {

/// Password algorithm numbers (RFC 8489 §18.5); they select how the long-term key is derived.
enum class PasswordAlgorithm : std::uint16_t { md5 = 0x0001, sha256 = 0x0002 };

/// The long-term key of one user for one algorithm; md5 keys are 16 bytes, sha256 32.
struct Key {
    PasswordAlgorithm algorithm = PasswordAlgorithm::md5;
    std::array<std::byte, 32> bytes{};
    std::uint8_t size = 0; ///< 0 = no key

    /// The meaningful key bytes.
    std::span<const std::byte> span() const noexcept { return {bytes.data(), size}; }
    /// True when no key is held.
    bool empty() const noexcept { return size == 0; }
    /// A 16-byte MD5 key (RFC 8489 §9.2.2); an all-zero input (libcrypto without MD5) is no key.
    static Key md5(const std::array<std::byte, 16>& key) noexcept;
    /// A 32-byte SHA-256 key (RFC 8489 §9.2.2); an all-zero input is no key.
    static Key sha256(const std::array<std::byte, 32>& key) noexcept;

    friend bool operator==(const Key&, const Key&) = default;
};

/// A user configured with a password or a precomputed MD5 key.
struct StaticUser {
    std::string name;
    /// Plain password (OpaqueString processing is treated as the identity: ASCII passwords only).
    std::optional<std::string> password;
    /// Precomputed MD5(name ":" realm ":" password), from the configuration as hex. Used only
    /// when `password` is absent; such a user can authenticate with MD5 only.
    std::optional<std::array<std::byte, 16>> md5_key;
};

/// What the Authenticator is built from (configuration-time data).
struct AuthOptions {
    std::string realm = "traverse";
    std::vector<StaticUser> users;
    /// TURN REST API shared secrets; the first is the newest, and any of them may verify.
    std::vector<std::string> rest_secrets;
    std::chrono::seconds nonce_lifetime{600};
    /// Random per process (the composition root fills it with RAND_bytes). All zero means
    /// "not set": the Authenticator then draws its own, since a known secret makes nonces
    /// forgeable.
    std::array<std::byte, 32> nonce_secret{};
    /// RFC 8489 extras: the nonce cookie, PASSWORD-ALGORITHMS (MD5 and SHA-256) and, when no
    /// REST secret is configured, the username anonymity (USERHASH) feature bit.
    bool offer_rfc8489 = true;
};

/// Why a request did not authenticate; error_code() gives the STUN error to answer with.
enum class AuthFailure : std::uint8_t {
    none,
    missing_credentials,     ///< no MESSAGE-INTEGRITY(-SHA256): 401 challenge
    bad_request,             ///< integrity without USERNAME/USERHASH, REALM or NONCE, or bad
                             ///< PASSWORD-ALGORITHM(S) (RFC 8489 §9.2.4): 400
    stale_nonce,             ///< expired, forged or another client's nonce: 438
    unknown_user,            ///< no such user: 401
    bad_integrity,           ///< the user exists but the integrity does not verify: 401
    expired_rest_credential, ///< REST username whose expiry has passed: 401
    wrong_credentials,       ///< valid, but not the allocation's user (RFC 8656 §5): 441
};

/// The STUN error code for a failure: 0 for none, else 400, 401, 438 or 441.
int error_code(AuthFailure f) noexcept;

/// A stable snake_case name for metrics and logs ("bad_integrity", ...).
std::string_view to_string(AuthFailure f) noexcept;

/// The outcome of checking one request.
struct AuthResult {
    AuthFailure failure = AuthFailure::none;
    /// The authenticated user: points into the request for USERNAME, into the Authenticator for
    /// USERHASH, and is the caller's `username` for authenticate_with_key(). Copy it to keep it.
    std::string_view username;
    /// The key that verified (its algorithm is the one the request used).
    Key key;
    /// The request used MESSAGE-INTEGRITY-SHA256, so the answer must too.
    bool integrity_sha256 = false;

    /// True when the request authenticated.
    bool ok() const noexcept { return failure == AuthFailure::none; }
};

/// Checks long-term credentials (RFC 8489 §9.2) for static users and TURN REST users.
///
/// Immutable after construction: every method is const and touches no shared mutable state,
/// so one instance serves all workers. Request paths neither allocate nor throw.
///
/// Check order: the 400 checks of RFC 8489 §9.2.4 first, then the nonce (438), then the user
/// (401) and the integrity (401). RFC 8489 checks the nonce last; checking it first (as RFC
/// 5389 §10.2.2 did) rejects replayed or forged nonces with one HMAC and no per-user work.
class Authenticator {
public:
    /// Precomputes every static user's keys and USERHASH; may throw (configuration time).
    explicit Authenticator(AuthOptions options);

    /// RFC 8489 §9.2.4 server steps for a request; `unix_now` in seconds; `client` binds the
    /// nonce to the client IP.
    ///
    /// The key algorithm is MD5 unless the nonce carries the cookie with the password
    /// algorithms bit and the request chose SHA-256. A static user configured with an MD5 key
    /// only has no SHA-256 key: such a request fails as bad_integrity.
    AuthResult authenticate(const proto::MessageView& request,
                            const proto::TransportAddress& client,
                            std::int64_t unix_now) const noexcept;

    /// Checks a request on an existing allocation against the key cached at Allocate: the 400
    /// checks, the nonce (438), USERNAME (or USERHASH) equal to `username`, integrity with `key`.
    /// A request from another user that authenticates on its own is wrong_credentials (441);
    /// one that does not gets that failure instead, so 441 is never an unauthenticated answer.
    /// A REST user's expiry is not re-checked: the allocation was granted while it was valid.
    AuthResult authenticate_with_key(const proto::MessageView& request,
                                     const proto::TransportAddress& client, std::int64_t unix_now,
                                     std::string_view username, const Key& key) const noexcept;

    /// Adds REALM, a fresh NONCE for this client and, when offering RFC 8489, PASSWORD-ALGORITHMS
    /// to a 401/438 error response being built (no SOFTWARE: unauthenticated answers stay small).
    void add_challenge(proto::MessageBuilder& b, const proto::TransportAddress& client,
                       std::int64_t unix_now) const noexcept;

    /// Adds MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256 (matching `result.integrity_sha256`)
    /// with result.key to a response being built (before FINGERPRINT); nothing if not ok().
    static void sign(proto::MessageBuilder& b, const AuthResult& result) noexcept;

    /// A fresh nonce for `client`, as add_challenge() would send it.
    NonceText nonce(const proto::TransportAddress& client, std::int64_t unix_now) const noexcept {
        return nonces_.issue(client, unix_now);
    }

    /// The realm every key is derived with.
    const std::string& realm() const noexcept { return realm_; }

    /// The PASSWORD-ALGORITHMS value challenges carry, in preference order (empty when RFC 8489
    /// is not offered). SHA-256 comes first unless a static user has an MD5 key only.
    std::span<const proto::PasswordAlgorithm> offered_algorithms() const noexcept {
        return {offered_.data(), offered_count_};
    }

    /// The security features announced in the nonce cookie.
    SecurityFeatures features() const noexcept { return features_; }

private:
    struct Credentials;

    // One static user with both keys precomputed (an absent key has size 0).
    struct UserEntry {
        std::string name;
        Key md5;
        Key sha256;
    };
    // USERHASH → index into users_, sorted by hash.
    struct HashEntry {
        std::array<std::byte, 32> hash{};
        std::size_t user = 0;
    };

    AuthFailure read_credentials(const proto::MessageView& request, Credentials& c) const noexcept;
    const UserEntry* find_user(std::string_view name) const noexcept;
    const UserEntry* find_userhash(std::span<const std::byte> hash) const noexcept;
    AuthResult verify_rest(const proto::MessageView& request, const Credentials& c,
                           std::string_view name, std::int64_t expiry,
                           std::int64_t unix_now) const noexcept;

    std::string realm_;
    std::vector<UserEntry> users_;      // sorted by name, unique
    std::vector<HashEntry> userhashes_; // sorted by hash
    std::vector<std::string> rest_secrets_;
    SecurityFeatures features_;
    std::array<proto::PasswordAlgorithm, 2> offered_{};
    std::size_t offered_count_ = 0;
    NonceCodec nonces_;
};

} // namespace traverse::turn
