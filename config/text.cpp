// SPDX-License-Identifier: Apache-2.0
// Small text helpers for configuration messages.
#include "config/text.hpp"

#include <algorithm>
#include <vector>

namespace traverse::config {

namespace {

bool is_number(std::string_view text) {
    if (!text.empty() && text.front() == '-') text.remove_prefix(1);
    if (text.empty()) return false;
    bool seen_dot = false;
    for (const char c : text) {
        if (c == '.' && !seen_dot) {
            seen_dot = true;
        } else if (c < '0' || c > '9') {
            return false;
        }
    }
    return text.front() != '.' && text.back() != '.';
}

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

std::string quote_value(std::string_view text) {
    if (is_number(text)) return std::string{text};
    return "'" + std::string{text} + "'";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    // Optimal string alignment distance over three rolling rows; keys are short.
    const std::size_t n = b.size();
    std::vector<std::size_t> before(n + 1), previous(n + 1), current(n + 1);
    for (std::size_t j = 0; j <= n; ++j)
        previous[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        current[0] = i;
        for (std::size_t j = 1; j <= n; ++j) {
            const bool same = lower(a[i - 1]) == lower(b[j - 1]);
            current[j] =
                std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (same ? 0 : 1)});
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
                lower(a[i - 2]) == lower(b[j - 1])) {
                current[j] = std::min(current[j], before[j - 2] + 1);
            }
        }
        before.swap(previous);
        previous.swap(current);
    }
    return previous[n];
}

std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates) {
    constexpr std::size_t max_distance = 2;
    std::optional<std::string_view> best;
    std::size_t best_distance = max_distance + 1;
    for (const std::string_view candidate : candidates) {
        const std::size_t distance = edit_distance(word, candidate);
        // Replacing every letter of a short candidate is not a typo of it.
        if (distance < best_distance && distance < candidate.size()) {
            best = candidate;
            best_distance = distance;
        }
    }
    return best;
}

std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates) {
    const auto match = closest_match(word, candidates);
    if (!match) return {};
    return "; did you mean '" + std::string{*match} + "'?";
}

std::string format_duration(std::chrono::seconds duration) {
    const auto count = duration.count();
    if (count != 0 && count % 86400 == 0) return std::to_string(count / 86400) + "d";
    if (count != 0 && count % 3600 == 0) return std::to_string(count / 3600) + "h";
    if (count != 0 && count % 60 == 0) return std::to_string(count / 60) + "m";
    return std::to_string(count) + "s";
}

std::string join_alternatives(std::span<const std::string_view> words, std::string_view last) {
    std::string text;
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (i + 1 == words.size() && i > 0) {
            text += " ";
            text += last;
            text += " ";
        } else if (i > 0) {
            text += ", ";
        }
        text += words[i];
    }
    return text;
}

} // namespace traverse::config
