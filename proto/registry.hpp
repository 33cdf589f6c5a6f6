// SPDX-License-Identifier: Apache-2.0
// Human-readable names of STUN methods, attributes and error codes (IANA STUN registries).
#pragma once

#include <cstdint>
#include <string_view>

namespace traverse::proto {

/// Method name as registered ("Binding", "CreatePermission", ...), or "unknown".
std::string_view method_name(std::uint16_t method) noexcept;

/// Attribute name as registered ("XOR-MAPPED-ADDRESS", ...), or "unknown".
std::string_view attribute_name(std::uint16_t type) noexcept;

/// Default reason phrase for an error code ("Unauthenticated" for 401, ...); for unregistered
/// codes in 300..699 a phrase for the class ("Server Error"), otherwise "".
std::string_view error_reason(int code) noexcept;

} // namespace traverse::proto
