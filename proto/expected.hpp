// SPDX-License-Identifier: Apache-2.0
// Expected<T>: a value or a std::error_code, the result type of every fallible proto call.
#pragma once

#include "proto/error.hpp"

#include <cassert>
#include <cstdlib>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

namespace traverse::proto {

/// Holds either a T or a non-zero std::error_code; a stand-in until std::expected (C++23).
///
/// Never throws: value() on an error aborts, because it is a programming error, not bad input.
template <class T> class Expected {
public:
    /// Holds a value.
    Expected(T value) noexcept(std::is_nothrow_move_constructible_v<T>)
        : value_(std::move(value)) {}

    /// Holds a value converted from U (e.g. span<byte> to span<const byte>).
    template <class U>
    requires(!std::is_same_v<std::remove_cvref_t<U>, T> &&
             !std::is_same_v<std::remove_cvref_t<U>, Expected> &&
             !std::is_same_v<std::remove_cvref_t<U>, std::error_code> &&
             !std::is_same_v<std::remove_cvref_t<U>, errc> &&
             std::is_constructible_v<T, U&&>) explicit(!std::is_convertible_v<U&&, T>)
        Expected(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>)
        : value_(std::in_place, std::forward<U>(value)) {}

    /// Holds a T constructed in place from `args` (no copy of a large T).
    template <class... Args>
    explicit Expected(std::in_place_t,
                      Args&&... args) noexcept(std::is_nothrow_constructible_v<T, Args&&...>)
        : value_(std::in_place, std::forward<Args>(args)...) {}

    /// Holds an error; ec must be non-zero.
    Expected(std::error_code ec) noexcept
        : error_value_(ec.value()), error_category_(&ec.category()) {
        assert(ec && "an Expected error must be a failure code");
    }

    /// Holds a proto::errc error.
    Expected(errc e) noexcept : Expected(make_error_code(e)) {}

    /// True when a value is held.
    bool has_value() const noexcept { return value_.has_value(); }
    /// True when a value is held.
    explicit operator bool() const noexcept { return value_.has_value(); }

    /// The value; aborts if an error is held.
    T& value() & {
        if (!value_) std::abort();
        return *value_;
    }
    /// The value; aborts if an error is held.
    const T& value() const& {
        if (!value_) std::abort();
        return *value_;
    }
    /// The value, moved out; aborts if an error is held.
    T&& value() && {
        if (!value_) std::abort();
        return std::move(*value_);
    }

    /// The value if held, otherwise fallback.
    template <class U> T value_or(U&& fallback) const& {
        return value_ ? *value_ : static_cast<T>(std::forward<U>(fallback));
    }

    /// Unchecked access to the value (asserted in debug builds).
    T& operator*() & noexcept {
        assert(value_);
        return *value_;
    }
    /// Unchecked access to the value (asserted in debug builds).
    const T& operator*() const& noexcept {
        assert(value_);
        return *value_;
    }
    /// Unchecked member access to the value (asserted in debug builds).
    T* operator->() noexcept {
        assert(value_);
        return &*value_;
    }
    /// Unchecked member access to the value (asserted in debug builds).
    const T* operator->() const noexcept {
        assert(value_);
        return &*value_;
    }

    /// The error, or a default (success) error_code when a value is held.
    std::error_code error() const noexcept {
        return error_category_ ? std::error_code(error_value_, *error_category_)
                               : std::error_code();
    }

private:
    std::optional<T> value_;
    // The error as its two parts, not a std::error_code member: a default error_code looks up
    // system_category() out of line, once per successful parse or build on the packet path.
    int error_value_ = 0;
    const std::error_category* error_category_ = nullptr;
};

} // namespace traverse::proto
