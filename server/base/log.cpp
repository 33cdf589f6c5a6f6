// SPDX-License-Identifier: Apache-2.0
// Implementation of the structured logger: one mutex-protected write per line (control plane).
#include "server/base/log.hpp"

#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <shared_mutex>

namespace traverse::log {
namespace {

struct State {
    std::atomic<Level> default_level{Level::info};
    std::atomic<Format> format{Format::text};
    std::shared_mutex modules_mutex; // guards module_levels; written at start-up and reload only
    std::map<std::string, Level, std::less<>> module_levels;
    std::mutex write_mutex; // one line at a time on stderr
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

void configure(Level default_level, Format format) noexcept {
    state().default_level.store(default_level, std::memory_order_relaxed);
    state().format.store(format, std::memory_order_relaxed);
}

void set_module_level(std::string_view module, Level level) {
    std::unique_lock lock(state().modules_mutex);
    state().module_levels.insert_or_assign(std::string(module), level);
}

bool enabled(std::string_view module, Level level) noexcept {
    auto& s = state();
    Level threshold = s.default_level.load(std::memory_order_relaxed);
    {
        std::shared_lock lock(s.modules_mutex);
        if (!s.module_levels.empty()) {
            auto it = s.module_levels.find(module);
            if (it != s.module_levels.end()) threshold = it->second;
        }
    }
    return level != Level::off && threshold != Level::off && level >= threshold;
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
