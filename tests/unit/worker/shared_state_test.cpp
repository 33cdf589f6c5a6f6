// SPDX-License-Identifier: Apache-2.0
// The only state workers share, hammered from several threads: the quota ledger and the EVEN-PORT
// reservation registry. Counts must stay within limits and balance; every reserved socket is
// taken or expired exactly once. tools/tsan.sh runs this under ThreadSanitizer.
#include "server/net/socket.hpp"
#include "server/worker/relay_pool.hpp"
#include "server/worker/shared_quota.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace traverse;
using namespace std::chrono_literals;

namespace {

proto::TransportAddress ip(std::uint8_t last) {
    return proto::TransportAddress::v4({192, 0, 2, last}, 40000);
}

} // namespace

TEST_SUITE("worker.shared") {

    TEST_CASE("the quota ledger stays within its limits and balances under concurrent use") {
        worker::SharedQuota quota(worker::QuotaLimits{3, 5, 8});
        constexpr int threads = 4;
        constexpr int rounds = 3000;
        std::atomic<bool> over_limit{false};
        std::atomic<bool> done{false};
        std::atomic<int> granted{0};
        std::thread watcher([&] {
            while (!done.load())
                if (quota.total() > 8) over_limit = true;
        });
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                std::vector<std::pair<std::string, std::uint8_t>> held;
                for (int i = 0; i < rounds; ++i) {
                    const std::string user = "user" + std::to_string((i + t) % 4);
                    const auto last = static_cast<std::uint8_t>((i * 7 + t) % 3);
                    if (quota.acquire(user, ip(last)) == turn::QuotaRefusal::none) {
                        held.emplace_back(user, last);
                        ++granted;
                    }
                    if (held.size() > 2 || (i % 5 == 0 && !held.empty())) {
                        quota.release(held.front().first, ip(held.front().second));
                        held.erase(held.begin());
                    }
                }
                for (const auto& [user, last] : held)
                    quota.release(user, ip(last));
            });
        }
        for (auto& th : pool)
            th.join();
        done = true;
        watcher.join();
        CHECK_FALSE(over_limit.load());
        CHECK(granted.load() > rounds); // the limits were reached and freed many times
        CHECK(quota.total() == 0);
        // Everything came back: the full quota is available again.
        for (int i = 0; i < 3; ++i)
            CHECK(quota.acquire("fresh", ip(1)) == turn::QuotaRefusal::none);
        CHECK(quota.acquire("fresh", ip(1)) == turn::QuotaRefusal::per_user);
    }

    TEST_CASE("each reserved socket is taken or expired exactly once across threads") {
        worker::ReservationRegistry registry;
        constexpr std::uint64_t tokens = 400;
        const auto start = std::chrono::steady_clock::now();
        std::atomic<std::uint64_t> next{0};
        std::atomic<int> taken{0};
        std::vector<std::atomic<int>> times_taken(tokens);
        std::atomic<bool> adding{true};
        std::atomic<bool> open_failed{false};
        std::thread adder([&] {
            for (std::uint64_t token = 0; token < tokens; ++token) {
                auto opened =
                    net::open_udp(*proto::TransportAddress::parse("127.0.0.1:0"), 64 * 1024, false);
                if (!opened.ok()) { // no REQUIRE off the test thread: it would throw there
                    open_failed = true;
                    continue;
                }
                // Odd tokens expire at once; even ones live long enough to be taken.
                registry.add(token, opened.socket, start + (token % 2 ? 0s : 60s));
                next = token + 1;
            }
            adding = false;
        });
        auto taker = [&] {
            while (adding.load() || registry.size() > 0) {
                const std::uint64_t limit = next.load();
                for (std::uint64_t token = 0; token < limit; ++token) {
                    if (auto s = registry.take(token, start + 1s)) {
                        ++times_taken[token];
                        ++taken;
                        ::close(s->fd);
                    }
                }
                registry.expire(start + 1s);
            }
        };
        std::thread a(taker), b(taker);
        adder.join();
        a.join();
        b.join();
        REQUIRE_FALSE(open_failed.load());
        CHECK(registry.size() == 0);
        CHECK(taken.load() == static_cast<int>(tokens / 2));
        for (std::uint64_t token = 0; token < tokens; ++token)
            CHECK(times_taken[token].load() == (token % 2 ? 0 : 1));
    }
}
