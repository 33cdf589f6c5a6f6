// SPDX-License-Identifier: Apache-2.0
// Bearer tokens: a known vector, expiry, tampering, malformed input, extraction from requests.
#include "server/signaling/token.hpp"

#include <doctest/doctest.h>

using namespace traverse::signaling;

TEST_SUITE("signaling.token") {

    TEST_CASE("a minted token matches an independently computed HMAC-SHA256 and verifies") {
        // printf '1700000000:alice' | openssl dgst -sha256 -hmac s3cret -binary | base64 | tr
        // '+/' '-_' | tr -d '='
        const std::string token = mint_token("s3cret", "alice", 1700000000);
        CHECK(token == "1700000000:alice:_ZoF3CCGHLh8i931encJBdO_7McRjBispJKVGeoYOas");
        auto check = verify_token("s3cret", token, 1699999999);
        CHECK(check.ok);
        CHECK(check.user == "alice");
        CHECK(check.reason.empty());
    }

    TEST_CASE("expired, tampered and foreign tokens are refused with a reason") {
        const std::string token = mint_token("s3cret", "bob", 2000);
        auto expired = verify_token("s3cret", token, 2000);
        CHECK_FALSE(expired.ok);
        CHECK(expired.reason == "token expired");
        auto other_secret = verify_token("other", token, 1000);
        CHECK_FALSE(other_secret.ok);
        CHECK(other_secret.reason == "token signature does not verify");
        std::string longer = token;
        longer.replace(0, 4, "9999"); // extend the expiry without the secret
        CHECK(verify_token("s3cret", longer, 1000).reason == "token signature does not verify");
        std::string renamed = mint_token("s3cret", "bob", 2000);
        renamed.replace(5, 3, "eve");
        CHECK_FALSE(verify_token("s3cret", renamed, 1000).ok);
    }

    TEST_CASE("malformed tokens are refused") {
        for (const char* bad : {"", "abc", "12:alice", "x12:alice:mac", "12::mac", ":alice:mac",
                                "12:al ice:mac", "-:a:b"}) {
            CAPTURE(bad);
            auto check = verify_token("s", bad, 0);
            CHECK_FALSE(check.ok);
            CHECK(check.reason.starts_with("malformed token"));
        }
        CHECK_FALSE(valid_token_user(std::string(129, 'a')));
        CHECK(valid_token_user(std::string(128, 'a')));
        CHECK_FALSE(valid_token_user("a:b"));
    }

    TEST_CASE("the token comes from ?token= (percent-decoded) or Authorization: Bearer") {
        CHECK(token_from_request("/ws?token=1:a:b", "") == "1:a:b");
        CHECK(token_from_request("/ws?x=1&token=1%3Aa%3Ab&y=2", "") == "1:a:b");
        CHECK(token_from_request("/ws", "Bearer 1:a:b") == "1:a:b");
        CHECK(token_from_request("/ws", "bearer 1:a:b") == "1:a:b");
        CHECK(token_from_request("/ws?token=q", "Bearer h") == "q");
        CHECK(token_from_request("/ws", "Basic abc") == "");
        CHECK(token_from_request("/ws?tokens=1", "") == "");
    }
}
