// SPDX-License-Identifier: Apache-2.0
// HMAC, long-term key and USERHASH helpers against independently computed values.
#include "proto/fingerprint.hpp"
#include "proto/integrity.hpp"
#include "tests/unit/proto/proto_test_support.hpp"

#include <doctest/doctest.h>

#include <ostream> // doctest prints std::error_code through it

namespace traverse::proto {

TEST_SUITE("proto") {

    TEST_CASE("HMAC-SHA1 and HMAC-SHA256 match the RFC 2202 and RFC 4231 values") {
        const test::Bytes key(20, std::byte{0x0b});
        const auto data = bytes_of("Hi There");
        CHECK(test::to_hex(hmac_sha1(key, data)) == "b617318655057264e28bc0b6fb378c8ef146be00");
        CHECK(test::to_hex(hmac_sha256(key, data)) ==
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    }

    TEST_CASE("an empty key is a real empty key and not the previous one") {
        const test::Bytes other(20, std::byte{0x0b});
        (void)hmac_sha1(other, bytes_of("prime the cached context"));
        CHECK(test::to_hex(hmac_sha1({}, std::span<const std::byte>{})) ==
              "fbdb1d1b18aa6c08324b7d64b71fb76370690e1d");
        (void)hmac_sha256(other, bytes_of("prime the cached context"));
        CHECK(test::to_hex(hmac_sha256({}, std::span<const std::byte>{})) ==
              "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    }

    TEST_CASE("keys longer than the block size are hashed first") {
        const test::Bytes key(100, std::byte{'k'});
        CHECK(test::to_hex(hmac_sha1(key, bytes_of("long key"))) ==
              "20787832fbe1ad68140348ce2ff9cd1af0c1f525");
    }

    TEST_CASE("a multi-part HMAC equals the HMAC of the concatenation") {
        const auto key = bytes_of("secret");
        const auto whole = bytes_of("header|length|body");
        const std::span<const std::byte> parts[] = {whole.first(7), whole.subspan(7, 0),
                                                    whole.subspan(7, 7), whole.subspan(14)};
        CHECK(hmac_sha1(key, parts) == hmac_sha1(key, whole));
        CHECK(hmac_sha256(key, parts) == hmac_sha256(key, whole));
    }

    TEST_CASE("long-term keys and USERHASH hash the colon-joined credentials") {
        CHECK(test::to_hex(long_term_key_md5("user", "realm", "pass")) ==
              "8493fbc53ba582fb4c044c456bdc40eb");
        CHECK(test::to_hex(long_term_key_sha256("user", "realm", "pass")) ==
              "07e934117abd40836e7c6329b54731b2b2d2a5f9a71f544922d75e0730d8251b");
        CHECK(test::to_hex(userhash("user", "realm")) ==
              "6a3029116b47aa98bcaa325399733dc1a23cd57e26b81bef3ff6531ce624e2da");
    }

    TEST_CASE("constant-time comparison requires equal length and content") {
        const auto a = bytes_of("abcd");
        CHECK(constant_time_equal(a, bytes_of("abcd")));
        CHECK_FALSE(constant_time_equal(a, bytes_of("abce")));
        CHECK_FALSE(constant_time_equal(a, bytes_of("abc")));
        CHECK(constant_time_equal({}, {}));
    }

    TEST_CASE("CRC-32 and FINGERPRINT match the standard check values") {
        // The CRC-32/ISO-HDLC check value of "123456789".
        static_assert(crc32(std::span<const std::byte>{}) == 0);
        CHECK(crc32(bytes_of("123456789")) == 0xCBF43926u);
        CHECK(fingerprint(bytes_of("123456789")) == (0xCBF43926u ^ 0x5354554eu));
    }

} // TEST_SUITE
} // namespace traverse::proto
