// SPDX-License-Identifier: Apache-2.0
// proto::errc category, messages and the condition (STUN error class) mapping.
#include "proto/error.hpp"
#include "proto/expected.hpp"

#include <doctest/doctest.h>

#include <ostream> // doctest prints std::error_code through it

#include <string>

namespace traverse::proto {

TEST_SUITE("proto") {

    TEST_CASE("every error code has a category and a message") {
        for (int v = static_cast<int>(errc::truncated); v <= static_cast<int>(errc::crypto_failed);
             ++v) {
            const std::error_code ec = make_error_code(static_cast<errc>(v));
            CAPTURE(v);
            CHECK(ec);
            CHECK(ec.category() == category());
            CHECK(std::string(ec.category().name()) == "traverse.proto");
            CHECK_FALSE(ec.message().empty());
            CHECK(ec.message() != "unknown proto error");
        }
    }

    TEST_CASE("header errors mean not STUN and parse errors mean malformed") {
        CHECK(std::error_code(errc::bad_header) == condition::not_stun);
        CHECK(std::error_code(errc::bad_header) == condition::malformed);
        CHECK(std::error_code(errc::fingerprint_mismatch) == condition::not_stun);
        CHECK(std::error_code(errc::bad_attribute_length) == condition::malformed);
        CHECK(std::error_code(errc::bad_attribute_length) != condition::not_stun);
        CHECK(std::error_code(errc::too_many_attributes) == condition::malformed);
        CHECK(std::error_code(errc::buffer_too_small) != condition::malformed);
        CHECK(std::error_code(errc::order_violation) != condition::malformed);
        CHECK(std::error_code(errc::crypto_failed) != condition::malformed);
        CHECK(std::error_code(errc::bad_value) != condition::unauthenticated);
        CHECK(std::make_error_code(std::errc::invalid_argument) != condition::malformed);
    }

    TEST_CASE("conditions map to STUN error codes") {
        CHECK(stun_error_code(condition::malformed) == 400);
        CHECK(stun_error_code(condition::unknown_required) == 420);
        CHECK(stun_error_code(condition::unauthenticated) == 401);
        CHECK(stun_error_code(condition::not_stun) == 0);
        CHECK_FALSE(make_error_condition(condition::malformed).message().empty());
    }

    TEST_CASE("Expected holds either a value or an error") {
        Expected<int> value = 5;
        CHECK(value.has_value());
        CHECK(static_cast<bool>(value));
        CHECK(*value == 5);
        CHECK(value.value() == 5);
        CHECK_FALSE(value.error());

        Expected<int> error = errc::bad_value;
        CHECK_FALSE(error.has_value());
        CHECK(error.error() == errc::bad_value);
        CHECK(error.value_or(7) == 7);

        Expected<std::string> text = std::string("abc");
        CHECK(text->size() == 3);
        Expected<std::string> from_code = std::make_error_code(std::errc::io_error);
        CHECK(from_code.error() == std::errc::io_error);
    }

} // TEST_SUITE
} // namespace traverse::proto
