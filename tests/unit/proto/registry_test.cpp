// SPDX-License-Identifier: Apache-2.0
// Registry names agree with the AttrType table and cover the documented error codes.
#include "proto/registry.hpp"
#include "proto/types.hpp"

#include <doctest/doctest.h>

#include <ostream> // doctest prints std::error_code through it

#include <string>

namespace traverse::proto {

TEST_SUITE("proto") {

    TEST_CASE("every known attribute type has a name and no other type does") {
        std::size_t known = 0;
        for (std::uint32_t t = 0; t <= 0xFFFF; ++t) {
            const auto type = static_cast<std::uint16_t>(t);
            const bool named = attribute_name(type) != "unknown";
            if (named != is_known(type)) FAIL("mismatch for type " << t);
            known += named;
        }
        CHECK(known == 43);
        CHECK(attribute_name(0x0020) == "XOR-MAPPED-ADDRESS");
        CHECK(attribute_name(0x8028) == "FINGERPRINT");
    }

    TEST_CASE("method names follow the IANA registry") {
        CHECK(method_name(0x001) == "Binding");
        CHECK(method_name(0x003) == "Allocate");
        CHECK(method_name(0x004) == "Refresh");
        CHECK(method_name(0x006) == "Send");
        CHECK(method_name(0x007) == "Data");
        CHECK(method_name(0x008) == "CreatePermission");
        CHECK(method_name(0x009) == "ChannelBind");
        CHECK(method_name(0x0FF) == "unknown");
    }

    TEST_CASE("default reason phrases exist for every code the server sends") {
        for (int code :
             {300, 400, 401, 403, 420, 437, 438, 440, 441, 442, 443, 486, 487, 500, 508}) {
            CAPTURE(code);
            CHECK_FALSE(error_reason(code).empty());
            CHECK(error_reason(code).size() < 128);
        }
        CHECK(error_reason(438) == "Stale Nonce");
        CHECK(error_reason(401) == "Unauthenticated");
        CHECK(error_reason(499) == "Client Error");
        CHECK(error_reason(200).empty());
    }

} // TEST_SUITE
} // namespace traverse::proto
