// SPDX-License-Identifier: Apache-2.0
// Small text helpers for configuration messages: value quoting, "did you mean", durations.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace traverse::config {

/// Value as shown in a message: numbers bare (70000, -1), anything else quoted ('abc', '').
std::string quote_value(std::string_view text);

/// Edit distance (insertions, deletions, substitutions, adjacent swaps), ignoring ASCII case.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `word` if it is at most 2 edits away; the first one wins ties.
std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates);

/// "; did you mean 'port'?" for a close candidate, "" otherwise.
std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates);

/// Shortest exact spelling with one unit: 86400s -> "1d", 300s -> "5m", 90s -> "90s".
std::string format_duration(std::chrono::seconds duration);

/// "a, b or c" (or "a, b and c" with `last` = "and").
std::string join_alternatives(std::span<const std::string_view> words,
                              std::string_view last = "or");

} // namespace traverse::config
