// SPDX-License-Identifier: Apache-2.0
// The logger: module levels override the default, the per-call-site limiter counts what it
// leaves out, and both line formats escape what they print.
#include "server/base/log.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace traverse;
using namespace std::chrono_literals;

namespace {

/// Captures what the logger writes to stderr while alive.
class StderrCapture {
public:
    StderrCapture() : file_(std::tmpfile()) {
        std::fflush(stderr);
        saved_ = ::dup(2);
        ::dup2(::fileno(file_), 2);
    }
    ~StderrCapture() {
        restore();
        std::fclose(file_);
    }
    std::string text() {
        restore();
        std::string out;
        std::rewind(file_);
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, file_)) > 0;)
            out.append(buf, n);
        return out;
    }

private:
    void restore() {
        if (saved_ < 0) return;
        std::fflush(stderr);
        ::dup2(saved_, 2);
        ::close(saved_);
        saved_ = -1;
    }
    std::FILE* file_;
    int saved_ = -1;
};

} // namespace

TEST_SUITE_BEGIN("base");

TEST_CASE("module levels override the default level in both directions") {
    log::configure(log::Level::warn, log::Format::text);
    log::set_module_level("turn", log::Level::debug);
    log::set_module_level("net", log::Level::off);
    CHECK(log::enabled("turn", log::Level::debug));
    CHECK_FALSE(log::enabled("turn", log::Level::trace));
    CHECK_FALSE(log::enabled("net", log::Level::error));
    CHECK_FALSE(log::enabled("app", log::Level::info));
    CHECK(log::enabled("app", log::Level::warn));
    CHECK_FALSE(log::enabled("app", log::Level::off));
    log::set_module_level("turn", log::Level::error); // replaced, not added twice
    CHECK_FALSE(log::enabled("turn", log::Level::warn));
    // A reload that drops the modules puts them back on the (new) default level.
    log::configure(log::Level::error, log::Format::text);
    log::reset_module_levels();
    CHECK_FALSE(log::enabled("net", log::Level::warn));
    CHECK(log::enabled("net", log::Level::error));
    CHECK_FALSE(log::enabled("turn", log::Level::warn));
    log::configure(log::Level::info, log::Format::text);
    log::reset_module_levels();
}

TEST_CASE("a call site writes at most the rate limit per second and reports what it left out") {
    log::set_rate_limit(3);
    log::SiteLimiter site;
    const auto t0 = std::chrono::steady_clock::time_point{} + 100s;
    std::uint64_t suppressed = 99;
    int written = 0;
    for (int i = 0; i < 10; ++i) {
        if (site.allow(t0 + 10ms * i, suppressed)) {
            ++written;
            CHECK(suppressed == 0);
        }
    }
    CHECK(written == 3);
    REQUIRE(site.allow(t0 + 1s, suppressed)); // next second: allowed again, with the count
    CHECK(suppressed == 7);
    REQUIRE(site.allow(t0 + 1100ms, suppressed));
    CHECK(suppressed == 0);
    log::set_rate_limit(10);
}

TEST_CASE("the limiter is shared by threads without losing counts") {
    log::set_rate_limit(5);
    log::SiteLimiter site;
    const auto now = std::chrono::steady_clock::time_point{} + 7s;
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            std::uint64_t s = 0;
            for (int i = 0; i < 1000; ++i)
                if (site.allow(now, s)) ++allowed;
        });
    for (auto& th : threads)
        th.join();
    CHECK(allowed.load() == 5);
    std::uint64_t suppressed = 0;
    REQUIRE(site.allow(now + 1s, suppressed));
    CHECK(suppressed == 3995);
    log::set_rate_limit(10);
}

TEST_CASE("TRAVERSE_LOG_LIMITED appends suppressed=K to the next line it writes") {
    log::configure(log::Level::info, log::Format::text);
    log::set_rate_limit(2);
    StderrCapture capture;
    const auto t0 = std::chrono::steady_clock::time_point{} + 50s;
    for (int i = 0; i < 5; ++i) {
        const auto now = i < 4 ? t0 : t0 + 1s;
        TRAVERSE_LOG_LIMITED(info, "turn", now, "auth failure", {"reason", "bad_integrity"},
                             {"n", i});
    }
    const std::string text = capture.text();
    log::set_rate_limit(10);
    CHECK(text.find("n=0") != std::string::npos);
    CHECK(text.find("n=1") != std::string::npos);
    CHECK(text.find("n=2") == std::string::npos);
    CHECK(text.find("n=4 suppressed=2\n") != std::string::npos);
}

TEST_CASE("text and json lines escape quotes, spaces and control characters") {
    StderrCapture capture;
    log::configure(log::Level::info, log::Format::text);
    TRAVERSE_LOG(info, "app", "hello", {"user", "a \"b\"\n"}, {"n", 3});
    log::configure(log::Level::info, log::Format::json);
    TRAVERSE_LOG(info, "app", "hello", {"user", "a \"b\"\n"}, {"n", 3});
    log::configure(log::Level::info, log::Format::text);
    const std::string text = capture.text();
    CHECK(text.find(R"(level=info module=app msg="hello" user="a \"b\"\n" n=3)") !=
          std::string::npos);
    CHECK(text.find(R"("level":"info","module":"app","msg":"hello","user":"a \"b\"\n","n":"3"})") !=
          std::string::npos);
}

TEST_SUITE_END();
