// SPDX-License-Identifier: Apache-2.0
// FINGERPRINT computation over a message prefix.
#include "proto/fingerprint.hpp"

namespace traverse::proto {

std::uint32_t fingerprint(std::span<const std::byte> data) noexcept {
    return crc32(data) ^ fingerprint_xor;
}

} // namespace traverse::proto
