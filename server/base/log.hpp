// SPDX-License-Identifier: Apache-2.0
// Structured logging: levels per module, key=value or JSON lines on stderr, rate limiting.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace traverse::log {

/// Severity, lowest first; `off` disables a module.
enum class Level : std::uint8_t { trace, debug, info, warn, error, off };
/// Output format of every line.
enum class Format : std::uint8_t { text, json };

/// Parses "trace".."off"; returns false on an unknown name.
bool parse_level(std::string_view text, Level& out) noexcept;
std::string_view to_string(Level level) noexcept;

/// One key=value field; values are rendered quoted when they contain spaces or quotes.
struct Field {
    std::string_view key;
    std::string value;
    Field(std::string_view k, std::string_view v) : key(k), value(v) {}
    Field(std::string_view k, const char* v) : key(k), value(v) {}
    Field(std::string_view k, const std::string& v) : key(k), value(v) {}
    template <class Int>
    requires std::is_integral_v<Int> Field(std::string_view k, Int v)
        : key(k), value(std::to_string(v)) {}
};

/// Global settings; set once at start-up before workers run (reload comes later).
void configure(Level default_level, Format format) noexcept;
/// Sets the level of one module ("net", "turn", "app" ...). At most 16 modules; names longer
/// than 23 characters are ignored.
void set_module_level(std::string_view module, Level level);
/// Puts every module back on the default level (before applying a new configuration).
void reset_module_levels() noexcept;
/// Lines per second each TRAVERSE_LOG_LIMITED call site may write (at least 1).
void set_rate_limit(unsigned lines_per_second) noexcept;

/// True when a line of `level` from `module` would be written (cheap: check before formatting).
/// Lock-free: a few relaxed loads and, when some module has its own level, a short name scan.
bool enabled(std::string_view module, Level level) noexcept;
/// Writes one line: ts, level, module, msg, then the fields in order.
void write(Level level, std::string_view module, std::string_view msg,
           std::span<const Field> fields);
inline void write(Level level, std::string_view module, std::string_view msg,
                  std::initializer_list<Field> fields = {}) {
    write(level, module, msg, std::span<const Field>(fields.begin(), fields.size()));
}

/// Writes one line with a trailing `suppressed=K` field when K > 0 (TRAVERSE_LOG_LIMITED).
void write_limited(Level level, std::string_view module, std::string_view msg,
                   std::uint64_t suppressed, std::initializer_list<Field> fields);

/// The limiter of one TRAVERSE_LOG_LIMITED call site: at most set_rate_limit() lines per
/// second of `now`, shared by every thread through atomics (no lock); the lines left out are
/// counted and handed to the next line that is written.
class SiteLimiter {
public:
    /// True if a line may be written now; `suppressed` is then the count left out before it.
    bool allow(std::chrono::steady_clock::time_point now, std::uint64_t& suppressed) noexcept;

private:
    std::atomic<std::int64_t> second_{-1};
    std::atomic<std::uint32_t> used_{0};
    std::atomic<std::uint64_t> suppressed_{0};
};

/// Allows at most `burst` events per `period`; for logging on per-packet paths. Single-threaded.
class RateLimiter {
public:
    RateLimiter(unsigned burst, std::chrono::steady_clock::duration period) noexcept
        : burst_(burst), period_(period) {}
    /// True if this event may be logged; counts the suppressed ones.
    bool allow(std::chrono::steady_clock::time_point now) noexcept;
    /// Events suppressed since the last allowed one.
    std::uint64_t suppressed() const noexcept { return suppressed_; }

private:
    unsigned burst_;
    std::chrono::steady_clock::duration period_;
    std::chrono::steady_clock::time_point window_start_{};
    unsigned used_ = 0;
    std::uint64_t suppressed_ = 0;
};

} // namespace traverse::log

#define TRAVERSE_LOG(level, module, msg, ...)                                                      \
    do {                                                                                           \
        if (::traverse::log::enabled(module, ::traverse::log::Level::level))                       \
            ::traverse::log::write(::traverse::log::Level::level, module, msg, {__VA_ARGS__});     \
    } while (0)

/// TRAVERSE_LOG for per-packet paths: at most logging.rate_limit lines per second from this
/// call site; `now` is a steady_clock time_point (the engine passes its own `now`).
#define TRAVERSE_LOG_LIMITED(level, module, now, msg, ...)                                         \
    do {                                                                                           \
        if (::traverse::log::enabled(module, ::traverse::log::Level::level)) {                     \
            static ::traverse::log::SiteLimiter traverse_log_site;                                 \
            std::uint64_t traverse_log_suppressed = 0;                                             \
            if (traverse_log_site.allow(now, traverse_log_suppressed))                             \
                ::traverse::log::write_limited(::traverse::log::Level::level, module, msg,         \
                                               traverse_log_suppressed, {__VA_ARGS__});            \
        }                                                                                          \
    } while (0)
