// SPDX-License-Identifier: Apache-2.0
// Vocabulary shared by the engine's files: clock, time point, client transport.
#pragma once

#include <chrono>
#include <cstdint>

namespace traverse::turn {

/// The engine's clock; callers pass `now` explicitly so tests can use any time point.
using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;

/// Client-facing transport of a listener.
enum class Transport : std::uint8_t { udp, tcp, tls };

} // namespace traverse::turn
