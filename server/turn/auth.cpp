// SPDX-License-Identifier: Apache-2.0
// RFC 8489 §9.2 long-term credential checks, in the order §9.2.4 lists them (nonce moved up).
#include "server/turn/auth.hpp"

#include "proto/integrity.hpp"
#include "server/turn/rest_credentials.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace traverse::turn {
namespace {

bool all_zero(std::span<const std::byte> bytes) noexcept {
    return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

// The configured nonce secret, or a random one when it was left all zero.
std::array<std::byte, 32> secret_or_random(const std::array<std::byte, 32>& configured) {
    if (!all_zero(configured)) return configured;
    std::array<std::byte, 32> secret{};
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                   static_cast<int>(secret.size())) != 1)
        throw std::runtime_error("auth: cannot draw a random nonce secret (RAND_bytes failed)");
    return secret;
}

// Username anonymity makes RFC 8489 clients send USERHASH only (§9.2.5), and a REST user cannot
// be found by its hash (the name is not known in advance), so the bit is set only without REST.
SecurityFeatures features_for(const AuthOptions& o) noexcept {
    if (!o.offer_rfc8489) return {};
    return SecurityFeatures{true, o.rest_secrets.empty() && !o.users.empty()};
}

// True when a and b list the same algorithms with the same parameters, in the same order.
bool same_algorithms(std::span<const proto::PasswordAlgorithm> a,
                     std::span<const proto::PasswordAlgorithm> b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const proto::PasswordAlgorithm& x, const proto::PasswordAlgorithm& y) {
                          return x.algorithm == y.algorithm &&
                                 std::equal(x.parameters.begin(), x.parameters.end(),
                                            y.parameters.begin(), y.parameters.end());
                      });
}

AuthResult failed(AuthFailure f) noexcept {
    AuthResult r;
    r.failure = f;
    return r;
}

AuthResult succeeded(std::string_view username, const Key& key, bool sha256) noexcept {
    AuthResult r;
    r.username = username;
    r.key = key;
    r.integrity_sha256 = sha256;
    return r;
}

} // namespace

// ---- small public helpers -------------------------------------------------------------------

Key Key::md5(const std::array<std::byte, 16>& key) noexcept {
    Key k;
    k.algorithm = PasswordAlgorithm::md5;
    if (all_zero(key)) return k;
    std::copy(key.begin(), key.end(), k.bytes.begin());
    k.size = 16;
    return k;
}

Key Key::sha256(const std::array<std::byte, 32>& key) noexcept {
    Key k;
    k.algorithm = PasswordAlgorithm::sha256;
    if (all_zero(key)) return k;
    k.bytes = key;
    k.size = 32;
    return k;
}

int error_code(AuthFailure f) noexcept {
    switch (f) {
    case AuthFailure::none:
        return 0;
    case AuthFailure::bad_request:
        return 400;
    case AuthFailure::stale_nonce:
        return 438;
    case AuthFailure::wrong_credentials:
        return 441;
    case AuthFailure::missing_credentials:
    case AuthFailure::unknown_user:
    case AuthFailure::bad_integrity:
    case AuthFailure::expired_rest_credential:
        return 401;
    }
    return 401;
}

std::string_view to_string(AuthFailure f) noexcept {
    switch (f) {
    case AuthFailure::none:
        return "none";
    case AuthFailure::missing_credentials:
        return "missing_credentials";
    case AuthFailure::bad_request:
        return "bad_request";
    case AuthFailure::stale_nonce:
        return "stale_nonce";
    case AuthFailure::unknown_user:
        return "unknown_user";
    case AuthFailure::bad_integrity:
        return "bad_integrity";
    case AuthFailure::expired_rest_credential:
        return "expired_rest_credential";
    case AuthFailure::wrong_credentials:
        return "wrong_credentials";
    }
    return "unknown";
}

// ---- the request's claims -------------------------------------------------------------------

// What one request claims, read once; views point into the request.
struct Authenticator::Credentials {
    std::string_view username;           // empty when USERHASH is used instead
    std::span<const std::byte> userhash; // 32 bytes, or empty when USERNAME is present
    std::string_view realm;
    std::string_view nonce;
    PasswordAlgorithm algorithm = PasswordAlgorithm::md5;
    bool integrity_sha256 = false; // verify MESSAGE-INTEGRITY-SHA256, not -SHA1

    bool verify(const proto::MessageView& request, const Key& key) const noexcept {
        if (key.empty() || key.algorithm != algorithm) return false;
        return integrity_sha256 ? request.verify_integrity_sha256(key.span())
                                : request.verify_integrity(key.span());
    }
};

// ---- construction ---------------------------------------------------------------------------

Authenticator::Authenticator(AuthOptions options)
    : realm_(std::move(options.realm)), features_(features_for(options)),
      nonces_(secret_or_random(options.nonce_secret), options.nonce_lifetime, options.offer_rfc8489,
              features_) {
    // Moved here, not in the initializer list: features_for() above still reads the secrets.
    rest_secrets_ = std::move(options.rest_secrets);
    // RFC 8489 §9.2.2: key = H(username ":" OpaqueString(realm) ":" OpaqueString(password)).
    // OpaqueString (RFC 8265) is taken as the identity, which is exact for ASCII text only.
    bool md5_only_user = false;
    users_.reserve(options.users.size());
    for (auto& u : options.users) {
        UserEntry e;
        e.name = std::move(u.name);
        if (u.password) {
            e.md5 = Key::md5(proto::long_term_key_md5(e.name, realm_, *u.password));
            e.sha256 = Key::sha256(proto::long_term_key_sha256(e.name, realm_, *u.password));
        } else if (u.md5_key) {
            e.md5 = Key::md5(*u.md5_key);
            md5_only_user = true;
        }
        users_.push_back(std::move(e));
    }
    // Sorted for binary search by name; the first of duplicate names wins.
    std::stable_sort(users_.begin(), users_.end(),
                     [](const UserEntry& a, const UserEntry& b) { return a.name < b.name; });
    users_.erase(
        std::unique(users_.begin(), users_.end(),
                    [](const UserEntry& a, const UserEntry& b) { return a.name == b.name; }),
        users_.end());

    // RFC 8489 §14.4: USERHASH = SHA-256(username ":" OpaqueString(realm)).
    userhashes_.reserve(users_.size());
    for (std::size_t i = 0; i < users_.size(); ++i)
        userhashes_.push_back(HashEntry{proto::userhash(users_[i].name, realm_), i});
    std::sort(userhashes_.begin(), userhashes_.end(),
              [](const HashEntry& a, const HashEntry& b) { return a.hash < b.hash; });

    // The list challenges carry, in preference order (§9.2.4): clients take the first one they
    // support (§9.2.5), so SHA-256 leads unless some user could then not authenticate at all.
    if (options.offer_rfc8489) {
        const proto::PasswordAlgorithm md5{static_cast<std::uint16_t>(PasswordAlgorithm::md5), {}};
        const proto::PasswordAlgorithm sha256{static_cast<std::uint16_t>(PasswordAlgorithm::sha256),
                                              {}};
        offered_ = md5_only_user ? std::array{md5, sha256} : std::array{sha256, md5};
        offered_count_ = offered_.size();
    }
}

// ---- lookups --------------------------------------------------------------------------------

const Authenticator::UserEntry* Authenticator::find_user(std::string_view name) const noexcept {
    auto it = std::lower_bound(users_.begin(), users_.end(), name,
                               [](const UserEntry& e, std::string_view n) { return e.name < n; });
    return it != users_.end() && it->name == name ? &*it : nullptr;
}

const Authenticator::UserEntry*
Authenticator::find_userhash(std::span<const std::byte> hash) const noexcept {
    if (hash.size() != 32) return nullptr;
    std::array<std::byte, 32> wanted{};
    std::copy(hash.begin(), hash.end(), wanted.begin());
    auto it = std::lower_bound(
        userhashes_.begin(), userhashes_.end(), wanted,
        [](const HashEntry& e, const std::array<std::byte, 32>& h) { return e.hash < h; });
    return it != userhashes_.end() && it->hash == wanted ? &users_[it->user] : nullptr;
}

// ---- RFC 8489 §9.2.4, the 400 steps ---------------------------------------------------------

AuthFailure Authenticator::read_credentials(const proto::MessageView& request,
                                            Credentials& c) const noexcept {
    // Step 1: no MESSAGE-INTEGRITY nor MESSAGE-INTEGRITY-SHA256 → 401 with a challenge.
    if (!request.has_message_integrity() && !request.has_message_integrity_sha256())
        return AuthFailure::missing_credentials;
    // When both are present, MESSAGE-INTEGRITY-SHA256 is the one that counts.
    c.integrity_sha256 = request.has_message_integrity_sha256();

    // Step 2: integrity without (USERNAME or USERHASH), REALM and NONCE → 400. Values that
    // break their RFC size limits are malformed, so they are 400 as well.
    const auto username = request.find(proto::AttrType::username);
    const auto userhash = request.find(proto::AttrType::userhash);
    const auto realm = request.find(proto::AttrType::realm);
    const auto nonce = request.find(proto::AttrType::nonce);
    if ((!username && !userhash) || !realm || !nonce) return AuthFailure::bad_request;
    if (username) {
        auto v = proto::decode_username(*username);
        if (!v || v->empty()) return AuthFailure::bad_request;
        c.username = *v;
    } else {
        // USERHASH is a SHA-256 digest (§14.4).
        if (userhash->value.size() != 32) return AuthFailure::bad_request;
        c.userhash = userhash->value;
    }
    auto r = proto::decode_realm(*realm);
    auto n = proto::decode_nonce(*nonce);
    if (!r || !n) return AuthFailure::bad_request;
    c.realm = *r;
    c.nonce = *n;

    // Step 3: only for a nonce cookie with the "Password algorithms" bit. Without either
    // attribute the request is MD5; otherwise both must be present, PASSWORD-ALGORITHMS must
    // repeat what we sent with that nonce (always offered_, since it depends only on the
    // configuration) and PASSWORD-ALGORITHM must be one of its entries.
    const auto features = parse_nonce_cookie(c.nonce);
    if (!features || !features->password_algorithms) return AuthFailure::none;
    const auto chosen = request.find(proto::AttrType::password_algorithm);
    const auto listed = request.find(proto::AttrType::password_algorithms);
    if (!chosen && !listed) return AuthFailure::none;
    if (!chosen || !listed) return AuthFailure::bad_request;
    auto algorithm = proto::decode_password_algorithm(*chosen);
    auto algorithms = proto::decode_password_algorithms(*listed);
    if (!algorithm || !algorithms) return AuthFailure::bad_request;
    if (!same_algorithms(algorithms->view(), offered_algorithms())) return AuthFailure::bad_request;
    const proto::PasswordAlgorithm one[] = {*algorithm};
    const auto entries = algorithms->view();
    if (std::none_of(entries.begin(), entries.end(), [&](const proto::PasswordAlgorithm& e) {
            return same_algorithms(std::span(&e, 1), one);
        }))
        return AuthFailure::bad_request;
    // offered_ holds MD5 and SHA-256 only, so the choice is one of them.
    c.algorithm = static_cast<PasswordAlgorithm>(algorithm->algorithm);
    return AuthFailure::none;
}

// ---- authentication -------------------------------------------------------------------------

AuthResult Authenticator::authenticate(const proto::MessageView& request,
                                       const proto::TransportAddress& client,
                                       std::int64_t unix_now) const noexcept {
    Credentials c;
    if (auto f = read_credentials(request, c); f != AuthFailure::none) return failed(f);

    // The nonce must be ours, for this client IP, and unexpired; anything else is 438 so the
    // client retries with the fresh nonce the answer carries (e.g. after a server restart).
    if (!nonces_.valid(c.nonce, client, unix_now)) return failed(AuthFailure::stale_nonce);

    // Step 4: resolve the user. USERHASH finds static users only (a REST name is not known
    // beforehand); a static user shadows a REST credential of the same name.
    const UserEntry* user = nullptr;
    std::string_view name = c.username;
    if (!c.userhash.empty()) {
        user = find_userhash(c.userhash);
        if (user == nullptr) return failed(AuthFailure::unknown_user);
        name = user->name;
    } else {
        user = find_user(name);
    }
    if (user == nullptr) {
        if (rest_secrets_.empty()) return failed(AuthFailure::unknown_user);
        const auto expiry = rest_expiry(name);
        if (!expiry) return failed(AuthFailure::unknown_user);
        return verify_rest(request, c, name, *expiry, unix_now);
    }

    // Step 5: the integrity, with the key of the chosen algorithm. Keys are derived with our
    // realm, so a request naming another realm cannot verify.
    if (c.realm != realm_) return failed(AuthFailure::bad_integrity);
    const Key& key = c.algorithm == PasswordAlgorithm::sha256 ? user->sha256 : user->md5;
    if (!c.verify(request, key)) return failed(AuthFailure::bad_integrity);
    return succeeded(name, key, c.integrity_sha256);
}

AuthResult Authenticator::verify_rest(const proto::MessageView& request, const Credentials& c,
                                      std::string_view name, std::int64_t expiry,
                                      std::int64_t unix_now) const noexcept {
    // draft-uberti-behave-turn-rest §2.2: the username carries its expiry.
    if (expiry <= unix_now) return failed(AuthFailure::expired_rest_credential);
    if (c.realm != realm_) return failed(AuthFailure::bad_integrity);
    // Every configured secret may have issued it (rotation): newest first, first match wins.
    for (const auto& secret : rest_secrets_) {
        std::array<char, rest_password_size> password{};
        if (!rest_password(secret, name, password)) continue;
        const std::string_view text(password.data(), password.size());
        const Key key = c.algorithm == PasswordAlgorithm::sha256
                            ? Key::sha256(proto::long_term_key_sha256(name, realm_, text))
                            : Key::md5(proto::long_term_key_md5(name, realm_, text));
        if (c.verify(request, key)) return succeeded(name, key, c.integrity_sha256);
    }
    return failed(AuthFailure::bad_integrity);
}

AuthResult Authenticator::authenticate_with_key(const proto::MessageView& request,
                                                const proto::TransportAddress& client,
                                                std::int64_t unix_now, std::string_view username,
                                                const Key& key) const noexcept {
    Credentials c;
    if (auto f = read_credentials(request, c); f != AuthFailure::none) return failed(f);
    if (!nonces_.valid(c.nonce, client, unix_now)) return failed(AuthFailure::stale_nonce);

    // RFC 8656 §5: later requests on an allocation must come from the user that created it.
    const bool same_user = c.userhash.empty()
                               ? c.username == username
                               : std::ranges::equal(c.userhash, proto::userhash(username, realm_));
    if (!same_user) {
        // 441 only for a request that authenticates as its own user; otherwise the ordinary
        // failure, so an unauthenticated sender never gets more than the rate-limited 401.
        AuthResult other = authenticate(request, client, unix_now);
        return other.ok() ? failed(AuthFailure::wrong_credentials) : other;
    }
    if (c.realm != realm_) return failed(AuthFailure::bad_integrity);
    if (!c.verify(request, key)) return failed(AuthFailure::bad_integrity);
    return succeeded(username, key, c.integrity_sha256);
}

// ---- answers --------------------------------------------------------------------------------

void Authenticator::add_challenge(proto::MessageBuilder& b, const proto::TransportAddress& client,
                                  std::int64_t unix_now) const noexcept {
    // RFC 8489 §9.2.4: a 401 or 438 carries REALM and a NONCE chosen for this source, and
    // PASSWORD-ALGORITHMS whenever the nonce cookie announces the "Password algorithms" bit.
    b.add_string(proto::AttrType::realm, realm_);
    const NonceText n = nonces_.issue(client, unix_now);
    b.add_string(proto::AttrType::nonce, n.view());
    if (offered_count_ > 0) b.add_password_algorithms(offered_algorithms());
}

void Authenticator::sign(proto::MessageBuilder& b, const AuthResult& result) noexcept {
    // Answer with the integrity attribute the request used: a client that sent
    // MESSAGE-INTEGRITY-SHA256 checks that one (RFC 8489 §9.2.5), a legacy client knows only
    // MESSAGE-INTEGRITY (RFC 5389).
    if (!result.ok() || result.key.empty()) return;
    if (result.integrity_sha256)
        b.add_message_integrity_sha256(result.key.span());
    else
        b.add_message_integrity(result.key.span());
}

} // namespace traverse::turn
