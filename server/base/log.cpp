// SPDX-License-Identifier: Apache-2.0
// Implementation of the structured logger: one mutex-protected write per line (control plane).
#include "server/base/log.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <vector>

namespace traverse::log {
namespace {

/// One module with its own level. The name is written before the slot is published (the
/// count's release store), and never changes afterwards, so readers need no lock.
struct ModuleSlot {
    std::array<char, 24> name{};
    std::size_t size = 0;
    std::atomic<Level> level{Level::info};
};

struct State {
    std::atomic<Level> default_level{Level::info};
    std::atomic<Format> format{Format::text};
    /// Lowest threshold of the default and every module: most disabled lines stop here.
    std::atomic<Level> floor{Level::info};
    std::array<ModuleSlot, 16> modules;
    std::atomic<std::size_t> module_count{0};
    std::atomic<unsigned> rate_limit{10};
    std::mutex config_mutex; // serialises configuration writers; readers never take it
    std::mutex write_mutex;  // one line at a time on stderr
};

State& state() {
    static State s;
    return s;
}

bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (char c : v)
        if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
            return true;
    return false;
}

void append_escaped(std::string& out, std::string_view v) {
    for (char c : v) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                out += buf;
            } else {
                out += c;
            }
        }
    }
}

void append_timestamp(std::string& out) {
    auto now = std::chrono::system_clock::now();
    auto secs = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms.count()));
    out += buf;
}

} // namespace

bool parse_level(std::string_view text, Level& out) noexcept {
    static constexpr std::pair<std::string_view, Level> names[] = {
        {"trace", Level::trace}, {"debug", Level::debug}, {"info", Level::info},
        {"warn", Level::warn},   {"error", Level::error}, {"off", Level::off}};
    for (auto [name, level] : names) {
        if (name == text) {
            out = level;
            return true;
        }
    }
    return false;
}

std::string_view to_string(Level level) noexcept {
    switch (level) {
    case Level::trace:
        return "trace";
    case Level::debug:
        return "debug";
    case Level::info:
        return "info";
    case Level::warn:
        return "warn";
    case Level::error:
        return "error";
    case Level::off:
        return "off";
    }
    return "?";
}

namespace {

/// Recomputes the floor; called with config_mutex held.
void update_floor(State& s) noexcept {
    Level floor = s.default_level.load(std::memory_order_relaxed);
    const std::size_t n = s.module_count.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i)
        floor = std::min(floor, s.modules[i].level.load(std::memory_order_relaxed));
    s.floor.store(floor, std::memory_order_relaxed);
}

} // namespace

void configure(Level default_level, Format format) noexcept {
    auto& s = state();
    std::lock_guard lock(s.config_mutex);
    s.default_level.store(default_level, std::memory_order_relaxed);
    s.format.store(format, std::memory_order_relaxed);
    update_floor(s);
}

void set_module_level(std::string_view module, Level level) {
    auto& s = state();
    std::lock_guard lock(s.config_mutex);
    const std::size_t n = s.module_count.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i) {
        if (std::string_view(s.modules[i].name.data(), s.modules[i].size) == module) {
            s.modules[i].level.store(level, std::memory_order_relaxed);
            update_floor(s);
            return;
        }
    }
    if (n == s.modules.size() || module.size() >= s.modules[n].name.size()) return;
    ModuleSlot& slot = s.modules[n];
    std::copy(module.begin(), module.end(), slot.name.begin());
    slot.size = module.size();
    slot.level.store(level, std::memory_order_relaxed);
    s.module_count.store(n + 1, std::memory_order_release);
    update_floor(s);
}

void reset_module_levels() noexcept {
    auto& s = state();
    std::lock_guard lock(s.config_mutex);
    const Level level = s.default_level.load(std::memory_order_relaxed);
    const std::size_t n = s.module_count.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i)
        s.modules[i].level.store(level, std::memory_order_relaxed);
    update_floor(s);
}

void set_rate_limit(unsigned lines_per_second) noexcept {
    state().rate_limit.store(std::max(1u, lines_per_second), std::memory_order_relaxed);
}

bool enabled(std::string_view module, Level level) noexcept {
    auto& s = state();
    if (level == Level::off || level < s.floor.load(std::memory_order_relaxed)) return false;
    Level threshold = s.default_level.load(std::memory_order_relaxed);
    const std::size_t n = s.module_count.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < n; ++i) {
        if (std::string_view(s.modules[i].name.data(), s.modules[i].size) == module) {
            threshold = s.modules[i].level.load(std::memory_order_relaxed);
            break;
        }
    }
    return threshold != Level::off && level >= threshold;
}

void write_limited(Level level, std::string_view module, std::string_view msg,
                   std::uint64_t suppressed, std::initializer_list<Field> fields) {
    if (suppressed == 0) return write(level, module, msg, fields);
    std::vector<Field> all(fields);
    all.emplace_back("suppressed", suppressed);
    write(level, module, msg, all);
}

bool SiteLimiter::allow(std::chrono::steady_clock::time_point now,
                        std::uint64_t& suppressed) noexcept {
    const std::int64_t second =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    std::int64_t current = second_.load(std::memory_order_relaxed);
    // The first thread to see a new second opens its window; a thread with an older clock
    // reading simply counts against the newer window.
    if (second > current && second_.compare_exchange_strong(current, second))
        used_.store(0, std::memory_order_relaxed);
    if (used_.fetch_add(1, std::memory_order_relaxed) <
        state().rate_limit.load(std::memory_order_relaxed)) {
        suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
        return true;
    }
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

void write(Level level, std::string_view module, std::string_view msg,
           std::span<const Field> fields) {
    std::string line;
    line.reserve(128);
    if (state().format.load(std::memory_order_relaxed) == Format::json) {
        line += "{\"ts\":\"";
        append_timestamp(line);
        line += "\",\"level\":\"";
        line += to_string(level);
        line += "\",\"module\":\"";
        append_escaped(line, module);
        line += "\",\"msg\":\"";
        append_escaped(line, msg);
        line += '"';
        for (const auto& f : fields) {
            line += ",\"";
            append_escaped(line, f.key);
            line += "\":\"";
            append_escaped(line, f.value);
            line += '"';
        }
        line += "}\n";
    } else {
        line += "ts=";
        append_timestamp(line);
        line += " level=";
        line += to_string(level);
        line += " module=";
        line += module;
        line += " msg=\"";
        append_escaped(line, msg);
        line += '"';
        for (const auto& f : fields) {
            line += ' ';
            line += f.key;
            line += '=';
            if (needs_quotes(f.value)) {
                line += '"';
                append_escaped(line, f.value);
                line += '"';
            } else {
                line += f.value;
            }
        }
        line += '\n';
    }
    std::lock_guard lock(state().write_mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

bool RateLimiter::allow(std::chrono::steady_clock::time_point now) noexcept {
    if (now - window_start_ >= period_) {
        window_start_ = now;
        used_ = 0;
    }
    if (used_ < burst_) {
        ++used_;
        return true;
    }
    ++suppressed_;
    return false;
}

} // namespace traverse::log
