// SPDX-License-Identifier: Apache-2.0
// Long-term credential checks driven with real encoded requests: nonces, algorithms, REST users.
#include "proto/attributes.hpp"
#include "proto/integrity.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "server/turn/auth.hpp"
#include "server/turn/nonce.hpp"
#include "server/turn/rest_credentials.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

using namespace traverse;
using proto::AttrType;
using turn::Authenticator;
using turn::AuthFailure;

namespace {

constexpr std::int64_t now = 1'700'000'000;
constexpr const char* realm = "example.org";
constexpr std::uint16_t md5_id = 0x0001;
constexpr std::uint16_t sha256_id = 0x0002;

proto::TransportAddress addr(const char* text) {
    auto a = proto::TransportAddress::parse(text);
    REQUIRE(a);
    return *a;
}

const proto::TransportAddress client = proto::TransportAddress::v4({192, 0, 2, 10}, 5000);

template <std::size_t N> std::vector<std::byte> bytes(const std::array<std::byte, N>& a) {
    return {a.begin(), a.end()};
}

std::vector<std::byte> md5_key(const char* user, const char* password) {
    return bytes(proto::long_term_key_md5(user, realm, password));
}

std::vector<std::byte> sha256_key(const char* user, const char* password) {
    return bytes(proto::long_term_key_sha256(user, realm, password));
}

/// Static users alice/wonderland and bob/builder, a deterministic nonce secret, no REST.
turn::AuthOptions options() {
    turn::AuthOptions o;
    o.realm = realm;
    o.users.push_back(turn::StaticUser{"alice", std::string("wonderland"), std::nullopt});
    o.users.push_back(turn::StaticUser{"bob", std::string("builder"), std::nullopt});
    for (std::size_t i = 0; i < o.nonce_secret.size(); ++i)
        o.nonce_secret[i] = static_cast<std::byte>(i + 1);
    return o;
}

/// The attributes of one Allocate request; each optional is left out when empty.
struct Request {
    std::optional<std::string> username = "alice";
    std::optional<std::array<std::byte, 32>> userhash;
    std::optional<std::string> realm_value = std::string(realm);
    std::optional<std::string> nonce;
    std::optional<std::uint16_t> algorithm;               // PASSWORD-ALGORITHM
    std::optional<std::vector<std::uint16_t>> algorithms; // PASSWORD-ALGORITHMS
    std::vector<std::byte> key;                           // empty: no integrity at all
    bool sha256 = false;                                  // MESSAGE-INTEGRITY-SHA256
    std::vector<std::byte> wrong_sha1_key;                // also add MESSAGE-INTEGRITY first

    std::vector<std::byte> encode() const {
        std::vector<std::byte> buf(1024);
        proto::MessageBuilder b(buf);
        proto::TransactionId id{};
        id[0] = std::byte{7};
        b.start(proto::make_type(proto::Method::allocate, proto::MessageClass::request), id);
        b.add_requested_transport(proto::transport_udp);
        if (username) b.add_string(AttrType::username, *username);
        if (userhash) b.add_raw(AttrType::userhash, *userhash);
        if (realm_value) b.add_string(AttrType::realm, *realm_value);
        if (nonce) b.add_string(AttrType::nonce, *nonce);
        if (algorithms) {
            std::vector<proto::PasswordAlgorithm> list;
            for (auto a : *algorithms)
                list.push_back(proto::PasswordAlgorithm{a, {}});
            b.add_password_algorithms(list);
        }
        if (algorithm) b.add_password_algorithm(proto::PasswordAlgorithm{*algorithm, {}});
        if (!wrong_sha1_key.empty()) b.add_message_integrity(wrong_sha1_key);
        if (!key.empty()) {
            if (sha256)
                b.add_message_integrity_sha256(key);
            else
                b.add_message_integrity(key);
        }
        b.add_fingerprint();
        auto wire = b.finish();
        REQUIRE(wire);
        buf.resize(wire->size());
        return buf;
    }
};

/// Encodes `r` and authenticates it (the wire bytes stay alive in `wire`).
struct Checked {
    std::vector<std::byte> wire;
    turn::AuthResult result;
};

Checked check(const Authenticator& auth, const Request& r,
              const proto::TransportAddress& from = client, std::int64_t at = now) {
    Checked c{r.encode(), {}};
    auto view = proto::MessageView::parse(c.wire);
    REQUIRE(view);
    c.result = auth.authenticate(*view, from, at);
    return c;
}

/// A 401 answer with the challenge added, as the engine builds it.
std::vector<std::byte> challenge(const Authenticator& auth,
                                 const proto::TransportAddress& to = client,
                                 std::int64_t at = now) {
    std::vector<std::byte> buf(512);
    proto::MessageBuilder b(buf);
    b.start(proto::make_type(proto::Method::allocate, proto::MessageClass::error_response), {});
    b.add_error_code(401, "Unauthenticated");
    auth.add_challenge(b, to, at);
    auto wire = b.finish();
    REQUIRE(wire);
    buf.resize(wire->size());
    return buf;
}

/// The NONCE a challenge for `to` at `at` carries.
std::string nonce_for(const Authenticator& auth, const proto::TransportAddress& to = client,
                      std::int64_t at = now) {
    auto wire = challenge(auth, to, at);
    auto view = proto::MessageView::parse(wire);
    REQUIRE(view);
    auto n = view->find(AttrType::nonce);
    REQUIRE(n);
    return std::string(proto::decode_string(*n));
}

/// The PASSWORD-ALGORITHMS ids a challenge offers, in order.
std::vector<std::uint16_t> offered(const Authenticator& auth) {
    std::vector<std::uint16_t> ids;
    for (const auto& a : auth.offered_algorithms())
        ids.push_back(a.algorithm);
    return ids;
}

/// A well-formed MD5 request from alice with a fresh nonce.
Request alice(const Authenticator& auth) {
    Request r;
    r.nonce = nonce_for(auth);
    r.key = md5_key("alice", "wonderland");
    return r;
}

/// Signs a success response with `result` and returns it parsed-ready.
std::vector<std::byte> signed_answer(const turn::AuthResult& result) {
    std::vector<std::byte> buf(512);
    proto::MessageBuilder b(buf);
    b.start(proto::make_type(proto::Method::allocate, proto::MessageClass::success_response), {});
    b.add_u32(AttrType::lifetime, 600);
    Authenticator::sign(b, result);
    b.add_fingerprint();
    auto wire = b.finish();
    REQUIRE(wire);
    buf.resize(wire->size());
    return buf;
}

} // namespace

TEST_SUITE("turn.auth") {

    TEST_CASE("a request without message integrity is answered with a 401 challenge") {
        Authenticator auth(options());
        Request r;
        r.nonce = nonce_for(auth);
        auto c = check(auth, r);
        CHECK(c.result.failure == AuthFailure::missing_credentials);
        CHECK(turn::error_code(c.result.failure) == 401);
        CHECK_FALSE(c.result.ok());
    }

    TEST_CASE("the challenge carries the realm, a cookie nonce and the password algorithms only") {
        Authenticator auth(options());
        auto wire = challenge(auth);
        auto view = proto::MessageView::parse(wire);
        REQUIRE(view);
        CHECK(proto::decode_string(*view->find(AttrType::realm)) == realm);
        auto nonce = std::string(proto::decode_string(*view->find(AttrType::nonce)));
        CHECK(nonce.starts_with(turn::nonce_cookie));
        auto features = turn::parse_nonce_cookie(nonce);
        REQUIRE(features);
        CHECK(features->password_algorithms);
        CHECK(features->username_anonymity); // no REST secrets: USERHASH can find everybody
        auto algorithms =
            proto::decode_password_algorithms(*view->find(AttrType::password_algorithms));
        REQUIRE(algorithms);
        REQUIRE(algorithms->count == 2);
        CHECK(algorithms->items[0].algorithm == sha256_id);
        CHECK(algorithms->items[1].algorithm == md5_id);
        CHECK(algorithms->items[0].parameters.empty());
        // Small and unsigned: no SOFTWARE, USERNAME or integrity in an unauthenticated answer.
        CHECK_FALSE(view->find(AttrType::software));
        CHECK_FALSE(view->find(AttrType::username));
        CHECK_FALSE(view->has_message_integrity());
        CHECK(wire.size() <= 128);
        // RFC 8489 §14.10: at most 763 bytes / 127 characters of qdtext (no '"', '\' or controls).
        CHECK(nonce.size() <= turn::max_issued_nonce_size);
        CHECK(nonce.size() <= proto::max_nonce_chars);
        CHECK(std::all_of(nonce.begin(), nonce.end(), [](char ch) {
            return ch > 0x20 && ch < 0x7F && ch != '"' && ch != '\\';
        }));
    }

    TEST_CASE("nonces differ per source port and per expiry but verify for any port of the IP") {
        Authenticator auth(options());
        auto a = nonce_for(auth, addr("192.0.2.10:5000"));
        auto b = nonce_for(auth, addr("192.0.2.10:5001"));
        auto later = nonce_for(auth, client, now + 1);
        CHECK(a != b);
        CHECK(a != later);
        Request r = alice(auth);
        r.nonce = b;
        CHECK(check(auth, r, addr("192.0.2.10:5000")).result.ok());
    }

    TEST_CASE("an MD5 request verifies and the signed answer verifies with the same key") {
        Authenticator auth(options());
        auto c = check(auth, alice(auth));
        REQUIRE(c.result.ok());
        CHECK(c.result.username == "alice");
        CHECK(c.result.key.algorithm == turn::PasswordAlgorithm::md5);
        CHECK(c.result.key.size == 16);
        CHECK_FALSE(c.result.integrity_sha256);
        CHECK(turn::error_code(c.result.failure) == 0);

        auto answer = signed_answer(c.result);
        auto view = proto::MessageView::parse(answer);
        REQUIRE(view);
        CHECK(view->verify_integrity(md5_key("alice", "wonderland")));
        CHECK_FALSE(view->has_message_integrity_sha256());
    }

    TEST_CASE("a SHA-256 request with PASSWORD-ALGORITHM and MESSAGE-INTEGRITY-SHA256 verifies") {
        Authenticator auth(options());
        Request r = alice(auth);
        r.algorithms = offered(auth);
        r.algorithm = sha256_id;
        r.key = sha256_key("alice", "wonderland");
        r.sha256 = true;
        auto c = check(auth, r);
        REQUIRE(c.result.ok());
        CHECK(c.result.key.algorithm == turn::PasswordAlgorithm::sha256);
        CHECK(c.result.key.size == 32);
        CHECK(c.result.integrity_sha256);

        auto answer = signed_answer(c.result);
        auto view = proto::MessageView::parse(answer);
        REQUIRE(view);
        CHECK(view->verify_integrity_sha256(sha256_key("alice", "wonderland")));
        CHECK_FALSE(view->has_message_integrity());

        SUBCASE("choosing MD5 from the list works too") {
            r.algorithm = md5_id;
            r.key = md5_key("alice", "wonderland");
            auto m = check(auth, r);
            REQUIRE(m.result.ok());
            CHECK(m.result.key.algorithm == turn::PasswordAlgorithm::md5);
            CHECK(m.result.integrity_sha256);
        }
        SUBCASE("the MD5 key does not verify a SHA-256 choice") {
            r.key = md5_key("alice", "wonderland");
            CHECK(check(auth, r).result.failure == AuthFailure::bad_integrity);
        }
    }

    TEST_CASE("with both integrity attributes the SHA-256 one decides") {
        Authenticator auth(options());
        Request r = alice(auth);
        r.wrong_sha1_key = md5_key("alice", "not-the-password");
        r.sha256 = true; // HMAC-SHA256 under the MD5 key: no PASSWORD-ALGORITHM means MD5
        auto c = check(auth, r);
        REQUIRE(c.result.ok());
        CHECK(c.result.integrity_sha256);
        CHECK(c.result.key.algorithm == turn::PasswordAlgorithm::md5);
    }

    TEST_CASE("USERHASH finds a static user and the result names it") {
        Authenticator auth(options());
        Request r = alice(auth);
        r.username.reset();
        r.userhash = proto::userhash("alice", realm);
        auto c = check(auth, r);
        REQUIRE(c.result.ok());
        CHECK(c.result.username == "alice");
        // The name lives in the Authenticator, not in the request (which never carried it).
        const auto* first = reinterpret_cast<const char*>(c.wire.data());
        const std::less<const char*> before;
        const char* name = c.result.username.data();
        CHECK((before(name, first) || !before(name, first + c.wire.size())));

        SUBCASE("an unknown USERHASH is an unknown user") {
            r.userhash = proto::userhash("mallory", realm);
            CHECK(check(auth, r).result.failure == AuthFailure::unknown_user);
        }
        SUBCASE("a USERHASH of the wrong size is a bad request") {
            const auto h = proto::userhash("alice", realm);
            std::vector<std::byte> buf(1024);
            proto::MessageBuilder b(buf);
            b.start(proto::make_type(proto::Method::allocate, proto::MessageClass::request), {});
            b.add_raw(AttrType::userhash, std::span(h).first(28));
            b.add_string(AttrType::realm, realm);
            b.add_string(AttrType::nonce, nonce_for(auth));
            b.add_message_integrity(md5_key("alice", "wonderland"));
            auto w = b.finish();
            REQUIRE(w);
            auto view = proto::MessageView::parse(*w);
            REQUIRE(view);
            CHECK(auth.authenticate(*view, client, now).failure == AuthFailure::bad_request);
        }
    }

    TEST_CASE("a wrong password is bad_integrity and an unknown user is unknown_user (both 401)") {
        Authenticator auth(options());
        Request r = alice(auth);
        r.key = md5_key("alice", "guess");
        auto wrong = check(auth, r);
        CHECK(wrong.result.failure == AuthFailure::bad_integrity);
        CHECK(turn::error_code(wrong.result.failure) == 401);

        r.username = "mallory";
        r.key = md5_key("mallory", "anything");
        auto unknown = check(auth, r);
        CHECK(unknown.result.failure == AuthFailure::unknown_user);
        CHECK(turn::error_code(unknown.result.failure) == 401);

        // A REST-shaped name is just an unknown user when no REST secret is configured.
        r.username = "1800000000:carol";
        CHECK(check(auth, r).result.failure == AuthFailure::unknown_user);
    }

    TEST_CASE("a request naming another realm does not verify") {
        Authenticator auth(options());
        Request r = alice(auth);
        r.realm_value = "elsewhere.example";
        CHECK(check(auth, r).result.failure == AuthFailure::bad_integrity);
    }

    TEST_CASE("an expired nonce is stale (438)") {
        auto o = options();
        o.nonce_lifetime = std::chrono::seconds(600);
        Authenticator auth(std::move(o));
        Request r = alice(auth);
        CHECK(check(auth, r, client, now + 599).result.ok());
        auto c = check(auth, r, client, now + 600);
        CHECK(c.result.failure == AuthFailure::stale_nonce);
        CHECK(turn::error_code(c.result.failure) == 438);
    }

    TEST_CASE("a nonce issued to another client IP is stale") {
        Authenticator auth(options());
        Request r = alice(auth);
        CHECK(check(auth, r, addr("192.0.2.11:5000")).result.failure == AuthFailure::stale_nonce);
        CHECK(check(auth, r, addr("[2001:db8::10]:5000")).result.failure ==
              AuthFailure::stale_nonce);

        SUBCASE("IPv6 clients get their own nonces") {
            const auto v6 = addr("[2001:db8::10]:5000");
            r.nonce = nonce_for(auth, v6);
            CHECK(check(auth, r, v6).result.ok());
            CHECK(check(auth, r, addr("[2001:db8::11]:5000")).result.failure ==
                  AuthFailure::stale_nonce);
        }
    }

    TEST_CASE("a tampered or foreign nonce is stale (438)") {
        Authenticator auth(options());
        const std::string good = nonce_for(auth);
        const std::size_t prefix = auth.nonce(client, now).view().size() - 28;
        auto stale = [&](std::string nonce) {
            Request r = alice(auth);
            r.nonce = std::move(nonce);
            return check(auth, r).result.failure == AuthFailure::stale_nonce;
        };
        CHECK_FALSE(stale(good));
        SUBCASE("a MAC character changed") {
            std::string n = good;
            n.back() = n.back() == 'A' ? 'B' : 'A';
            CHECK(stale(n));
        }
        SUBCASE("the expiry pushed forward") {
            std::string n = good;
            n[prefix] = n[prefix] == 'f' ? 'e' : 'f';
            CHECK(stale(n));
        }
        SUBCASE("the features changed") {
            std::string n = good;
            n[turn::nonce_cookie.size()] = 'g'; // password algorithms only, no anonymity
            CHECK(stale(n));
        }
        SUBCASE("truncated or extended") {
            CHECK(stale(good.substr(0, good.size() - 1)));
            CHECK(stale(good + "A"));
            CHECK(stale("opaque"));
        }
        SUBCASE("issued under another secret, as before a restart") {
            auto o = options();
            o.nonce_secret[0] = std::byte{0xEE};
            Authenticator other(std::move(o));
            CHECK(stale(nonce_for(other)));
        }
    }

    TEST_CASE("a zero nonce secret is replaced by a random one") {
        auto o = options();
        o.nonce_secret = {};
        Authenticator a(o);
        Authenticator b(o);
        Request r = alice(a);
        CHECK(check(a, r).result.ok());
        CHECK(check(b, r).result.failure == AuthFailure::stale_nonce);
    }

    TEST_CASE("message integrity without USERNAME, REALM or NONCE is a bad request (400)") {
        Authenticator auth(options());
        Request r = alice(auth);
        SUBCASE("no USERNAME nor USERHASH") {
            r.username.reset();
        }
        SUBCASE("no REALM") {
            r.realm_value.reset();
        }
        SUBCASE("no NONCE") {
            r.nonce.reset();
        }
        SUBCASE("an empty USERNAME") {
            r.username = "";
        }
        auto c = check(auth, r);
        CHECK(c.result.failure == AuthFailure::bad_request);
        CHECK(turn::error_code(c.result.failure) == 400);
    }

    TEST_CASE("PASSWORD-ALGORITHM(S) that do not match the challenge are a bad request (400)") {
        Authenticator auth(options());
        Request r = alice(auth);
        r.algorithms = offered(auth);
        r.algorithm = md5_id;
        REQUIRE(check(auth, r).result.ok());
        SUBCASE("the list reordered") {
            r.algorithms = std::vector<std::uint16_t>{md5_id, sha256_id};
        }
        SUBCASE("the list shortened") {
            r.algorithms = std::vector<std::uint16_t>{sha256_id};
        }
        SUBCASE("an algorithm outside the list") {
            r.algorithm = 0x0003;
        }
        SUBCASE("PASSWORD-ALGORITHM without PASSWORD-ALGORITHMS") {
            r.algorithms.reset();
        }
        SUBCASE("PASSWORD-ALGORITHMS without PASSWORD-ALGORITHM") {
            r.algorithm.reset();
        }
        CHECK(check(auth, r).result.failure == AuthFailure::bad_request);
    }

    TEST_CASE("SHA-256 leads the offered algorithms unless a user has an MD5 key only") {
        CHECK(offered(Authenticator(options())) == std::vector<std::uint16_t>{sha256_id, md5_id});
        auto o = options();
        o.users.push_back(turn::StaticUser{"legacy", std::nullopt,
                                           proto::long_term_key_md5("legacy", realm, "old")});
        CHECK(offered(Authenticator(std::move(o))) ==
              std::vector<std::uint16_t>{md5_id, sha256_id});
    }

    TEST_CASE("a user configured with a precomputed MD5 key authenticates with MD5 only") {
        auto o = options();
        o.users.push_back(turn::StaticUser{"legacy", std::nullopt,
                                           proto::long_term_key_md5("legacy", realm, "old")});
        Authenticator auth(std::move(o));
        Request r;
        r.username = "legacy";
        r.nonce = nonce_for(auth);
        r.key = md5_key("legacy", "old");
        auto c = check(auth, r);
        REQUIRE(c.result.ok());
        CHECK(c.result.username == "legacy");
        CHECK(std::ranges::equal(c.result.key.span(), r.key));

        // No SHA-256 key can be derived without the password: documented as bad_integrity.
        r.algorithms = offered(auth);
        r.algorithm = sha256_id;
        r.key = sha256_key("legacy", "old");
        r.sha256 = true;
        CHECK(check(auth, r).result.failure == AuthFailure::bad_integrity);
    }

    TEST_CASE("without RFC 8489 extras the nonce has no cookie and MD5 requests work") {
        auto o = options();
        o.offer_rfc8489 = false;
        Authenticator auth(std::move(o));
        auto wire = challenge(auth);
        auto view = proto::MessageView::parse(wire);
        REQUIRE(view);
        auto nonce = std::string(proto::decode_string(*view->find(AttrType::nonce)));
        CHECK_FALSE(turn::parse_nonce_cookie(nonce));
        CHECK_FALSE(view->find(AttrType::password_algorithms));
        CHECK(auth.offered_algorithms().empty());
        CHECK(check(auth, alice(auth)).result.ok());
    }

    TEST_CASE("REST credentials verify under any configured secret until they expire") {
        auto o = options();
        o.rest_secrets = {"new-secret", "old-secret"};
        Authenticator auth(std::move(o));
        const std::string user = turn::rest_username(now + 3600, "carol");
        auto request = [&](const std::string& secret) {
            Request r;
            r.username = user;
            r.nonce = nonce_for(auth);
            const std::string password = turn::rest_password(secret, user);
            r.key = bytes(proto::long_term_key_md5(user, realm, password));
            return r;
        };

        SUBCASE("signed with the newest secret") {
            auto c = check(auth, request("new-secret"));
            REQUIRE(c.result.ok());
            CHECK(c.result.username == user);
            CHECK(c.result.key.algorithm == turn::PasswordAlgorithm::md5);
        }
        SUBCASE("signed with the older secret during a rotation") {
            CHECK(check(auth, request("old-secret")).result.ok());
        }
        SUBCASE("signed with an unknown secret") {
            CHECK(check(auth, request("guessed")).result.failure == AuthFailure::bad_integrity);
        }
        SUBCASE("expired") {
            Request r = request("new-secret");
            r.nonce = nonce_for(auth, client, now + 3600); // a fresh nonce, an expired credential
            auto c = check(auth, r, client, now + 3600);
            CHECK(c.result.failure == AuthFailure::expired_rest_credential);
            CHECK(turn::error_code(c.result.failure) == 401);
        }
        SUBCASE("with SHA-256") {
            Request r = request("old-secret");
            const std::string password = turn::rest_password("old-secret", user);
            r.algorithms = offered(auth);
            r.algorithm = sha256_id;
            r.key = bytes(proto::long_term_key_sha256(user, realm, password));
            r.sha256 = true;
            auto c = check(auth, r);
            REQUIRE(c.result.ok());
            CHECK(c.result.key.algorithm == turn::PasswordAlgorithm::sha256);
        }
        SUBCASE("by USERHASH, which cannot find REST users") {
            Request r = request("new-secret");
            r.username.reset();
            r.userhash = proto::userhash(user, realm);
            CHECK(check(auth, r).result.failure == AuthFailure::unknown_user);
        }
        SUBCASE("a name that is not REST-shaped") {
            Request r = request("new-secret");
            r.username = "carol";
            CHECK(check(auth, r).result.failure == AuthFailure::unknown_user);
        }
    }

    TEST_CASE("with REST secrets the nonce cookie does not demand USERHASH") {
        auto o = options();
        o.rest_secrets = {"s"};
        Authenticator auth(std::move(o));
        auto features = turn::parse_nonce_cookie(nonce_for(auth));
        REQUIRE(features);
        CHECK(features->password_algorithms);
        CHECK_FALSE(features->username_anonymity);
    }

    TEST_CASE("a static user shadows a REST credential with the same name") {
        const std::string name = turn::rest_username(now + 3600, "dave");
        auto o = options();
        o.rest_secrets = {"rest"};
        o.users.push_back(turn::StaticUser{name, std::string("static"), std::nullopt});
        Authenticator auth(std::move(o));
        Request r;
        r.username = name;
        r.nonce = nonce_for(auth);
        r.key = bytes(proto::long_term_key_md5(name, realm, turn::rest_password("rest", name)));
        CHECK(check(auth, r).result.failure == AuthFailure::bad_integrity);
        r.key = bytes(proto::long_term_key_md5(name, realm, "static"));
        CHECK(check(auth, r).result.ok());
    }

    TEST_CASE("rest_password matches an independently computed HMAC-SHA1") {
        // Computed once with: printf '%s' '1700000000:alice' |
        //   openssl dgst -sha1 -hmac secret -binary | base64
        CHECK(turn::rest_password("secret", "1700000000:alice") == "d8soP47RbdIKLDUOpnJPVQyq5Ts=");
        CHECK(turn::rest_username(1'700'000'000, "alice") == "1700000000:alice");
        CHECK(turn::rest_username(42, "") == "42");
        std::array<char, turn::rest_password_size> out{};
        REQUIRE(turn::rest_password("secret", "1700000000:alice", out));
        CHECK(std::string_view(out.data(), out.size()) == "d8soP47RbdIKLDUOpnJPVQyq5Ts=");
    }

    TEST_CASE("rest_expiry reads the leading number of REST-shaped usernames only") {
        CHECK(turn::rest_expiry("1700000000:alice") == 1'700'000'000);
        CHECK(turn::rest_expiry("1700000000") == 1'700'000'000);
        CHECK(turn::rest_expiry("0:x") == 0);
        CHECK(turn::rest_expiry("1700000000:a:b") == 1'700'000'000);
        CHECK_FALSE(turn::rest_expiry("alice"));
        CHECK_FALSE(turn::rest_expiry("alice:1700000000"));
        CHECK_FALSE(turn::rest_expiry(":alice"));
        CHECK_FALSE(turn::rest_expiry(""));
        CHECK_FALSE(turn::rest_expiry("-5:alice"));
        CHECK_FALSE(turn::rest_expiry("17x:alice"));
        CHECK(turn::rest_expiry("9223372036854775807:a") == INT64_MAX);
        CHECK_FALSE(turn::rest_expiry("9223372036854775808:a"));
    }

    TEST_CASE("encode_base64 matches the RFC 4648 test vectors") {
        auto enc = [](std::string_view text) {
            std::array<char, 16> out{};
            auto n = turn::encode_base64(std::as_bytes(std::span(text.data(), text.size())), out);
            return std::string(out.data(), n);
        };
        CHECK(enc("") == "");
        CHECK(enc("f") == "Zg==");
        CHECK(enc("fo") == "Zm8=");
        CHECK(enc("foo") == "Zm9v");
        CHECK(enc("foob") == "Zm9vYg==");
        CHECK(enc("fooba") == "Zm9vYmE=");
        CHECK(enc("foobar") == "Zm9vYmFy");
        std::array<char, 3> small{};
        const std::byte one[1] = {std::byte{1}};
        CHECK(turn::encode_base64(one, small) == 0);
    }

    TEST_CASE("parse_nonce_cookie reads the two feature bits") {
        auto both = turn::parse_nonce_cookie("obMatJos2wAAArest");
        REQUIRE(both);
        CHECK(both->password_algorithms);
        CHECK(both->username_anonymity);
        auto first = turn::parse_nonce_cookie("obMatJos2gAAA");
        REQUIRE(first);
        CHECK(first->password_algorithms);
        CHECK_FALSE(first->username_anonymity);
        auto none = turn::parse_nonce_cookie("obMatJos2AAAA");
        REQUIRE(none);
        CHECK_FALSE(none->password_algorithms);
        CHECK_FALSE(turn::parse_nonce_cookie("obMatJos2wA"));
        CHECK_FALSE(turn::parse_nonce_cookie("obMatJos2wA=A"));
        CHECK_FALSE(turn::parse_nonce_cookie("plain-nonce"));
    }

    TEST_CASE("requests on an allocation are checked against its user and cached key") {
        Authenticator auth(options());
        const turn::Key key =
            turn::Key::md5(proto::long_term_key_md5("alice", realm, "wonderland"));
        const std::string owner = "alice";
        auto with_key = [&](const Request& r, std::int64_t at = now) {
            auto wire = r.encode();
            auto view = proto::MessageView::parse(wire);
            REQUIRE(view);
            return auth.authenticate_with_key(*view, client, at, owner, key);
        };
        Request r = alice(auth);

        SUBCASE("the same user verifies with the cached key") {
            auto result = with_key(r);
            REQUIRE(result.ok());
            CHECK(result.username.data() == owner.data());
            CHECK(result.key == key);
        }
        SUBCASE("the same user by USERHASH") {
            r.username.reset();
            r.userhash = proto::userhash("alice", realm);
            CHECK(with_key(r).ok());
        }
        SUBCASE("another valid user is wrong_credentials (441)") {
            r.username = "bob";
            r.key = md5_key("bob", "builder");
            auto result = with_key(r);
            CHECK(result.failure == AuthFailure::wrong_credentials);
            CHECK(turn::error_code(result.failure) == 441);
        }
        SUBCASE("another user with a bad password is only 401") {
            r.username = "bob";
            r.key = md5_key("bob", "guess");
            CHECK(with_key(r).failure == AuthFailure::bad_integrity);
        }
        SUBCASE("the right user with a wrong key") {
            r.key = md5_key("alice", "guess");
            CHECK(with_key(r).failure == AuthFailure::bad_integrity);
        }
        SUBCASE("a stale nonce") {
            CHECK(with_key(r, now + 3600).failure == AuthFailure::stale_nonce);
        }
        SUBCASE("no integrity") {
            r.key.clear();
            CHECK(with_key(r).failure == AuthFailure::missing_credentials);
        }
    }

    TEST_CASE("sign adds nothing for a failed result") {
        turn::AuthResult failed;
        failed.failure = AuthFailure::bad_integrity;
        failed.key = turn::Key::md5(proto::long_term_key_md5("alice", realm, "wonderland"));
        auto answer = signed_answer(failed);
        auto view = proto::MessageView::parse(answer);
        REQUIRE(view);
        CHECK_FALSE(view->has_message_integrity());
        CHECK_FALSE(view->has_message_integrity_sha256());
    }

    TEST_CASE("an all-zero key (libcrypto without MD5) is treated as no key") {
        CHECK(turn::Key::md5({}).empty());
        CHECK(turn::Key::sha256({}).empty());
        CHECK(turn::Key::md5({}).span().empty());
    }

    TEST_CASE("every failure has a stable name and its STUN error code") {
        struct Row {
            AuthFailure failure;
            int code;
            const char* name;
        };
        const Row rows[] = {
            {AuthFailure::none, 0, "none"},
            {AuthFailure::missing_credentials, 401, "missing_credentials"},
            {AuthFailure::bad_request, 400, "bad_request"},
            {AuthFailure::stale_nonce, 438, "stale_nonce"},
            {AuthFailure::unknown_user, 401, "unknown_user"},
            {AuthFailure::bad_integrity, 401, "bad_integrity"},
            {AuthFailure::expired_rest_credential, 401, "expired_rest_credential"},
            {AuthFailure::wrong_credentials, 441, "wrong_credentials"},
        };
        for (const auto& row : rows) {
            CAPTURE(row.name);
            CHECK(turn::error_code(row.failure) == row.code);
            CHECK(turn::to_string(row.failure) == row.name);
        }
    }

} // TEST_SUITE
