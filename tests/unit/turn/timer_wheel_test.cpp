// SPDX-License-Identifier: Apache-2.0
// The coarse timer wheel: due items fire once, cancelled ones never, far deadlines wait their
// round, long jumps visit every bucket once.
#include "server/turn/timer_wheel.hpp"

#include <algorithm>
#include <doctest/doctest.h>
#include <vector>

using namespace traverse;
using namespace std::chrono_literals;

namespace {

struct Item {
    int id = 0;
    turn::WheelHook wheel;
};

std::vector<int> advance(turn::TimerWheel<Item>& wheel, turn::Time now) {
    std::vector<int> fired;
    wheel.advance(now, [&](Item& i) { fired.push_back(i.id); });
    return fired;
}

} // namespace

TEST_SUITE("turn.timer_wheel") {

    TEST_CASE("items fire at the first advance at or after their deadline, once") {
        turn::TimerWheel<Item> wheel;
        const turn::Time t0 = turn::Time{} + 1000s;
        Item a{1, {}}, b{2, {}}, c{3, {}};
        wheel.schedule(a, t0 + 1500ms, t0);
        wheel.schedule(b, t0 + 3s, t0);
        wheel.schedule(c, t0 + 10s, t0);
        CHECK(wheel.size() == 3);
        CHECK(advance(wheel, t0 + 1s).empty());
        CHECK(advance(wheel, t0 + 2s) == std::vector<int>{1});
        CHECK(advance(wheel, t0 + 2900ms).empty());
        CHECK(advance(wheel, t0 + 3s) == std::vector<int>{2});
        CHECK(advance(wheel, t0 + 3s).empty()); // the same second again fires nothing
        CHECK(wheel.size() == 1);
        CHECK(advance(wheel, t0 + 12s) == std::vector<int>{3}); // skipped seconds are visited
        CHECK(wheel.size() == 0);
    }

    TEST_CASE("cancelled and rescheduled items fire only at their last deadline") {
        turn::TimerWheel<Item> wheel;
        const turn::Time t0 = turn::Time{} + 50s;
        std::vector<Item> items(10);
        for (int i = 0; i < 10; ++i) {
            items[static_cast<std::size_t>(i)].id = i;
            wheel.schedule(items[static_cast<std::size_t>(i)], t0 + 5s, t0); // one bucket
        }
        wheel.cancel(items[3]);
        wheel.cancel(items[3]); // twice is harmless
        wheel.schedule(items[7], t0 + 8s, t0);
        auto fired = advance(wheel, t0 + 5s);
        CHECK(fired.size() == 8);
        CHECK(std::find(fired.begin(), fired.end(), 3) == fired.end());
        CHECK(std::find(fired.begin(), fired.end(), 7) == fired.end());
        CHECK(advance(wheel, t0 + 8s) == std::vector<int>{7});
    }

    TEST_CASE("deadlines beyond one rotation wait for their round") {
        turn::TimerWheel<Item> wheel;
        const turn::Time t0 = turn::Time{} + 10s;
        Item far{1, {}};
        const auto rotation = std::chrono::seconds(turn::TimerWheel<Item>::slots);
        wheel.schedule(far, t0 + rotation + 2s, t0);
        for (auto t = t0 + 1s; t < t0 + rotation + 2s; t += 1s)
            REQUIRE(advance(wheel, t).empty());
        CHECK(advance(wheel, t0 + rotation + 2s) == std::vector<int>{1});
    }

    TEST_CASE("a jump longer than a rotation fires everything that is due") {
        turn::TimerWheel<Item> wheel;
        const turn::Time t0 = turn::Time{} + 10s;
        std::vector<Item> items(300);
        for (int i = 0; i < 300; ++i) {
            items[static_cast<std::size_t>(i)].id = i;
            wheel.schedule(items[static_cast<std::size_t>(i)], t0 + std::chrono::seconds(i), t0);
        }
        CHECK(advance(wheel, t0 + 3600s).size() == 300);
        CHECK(wheel.size() == 0);
    }

    TEST_CASE("a deadline already past fires at the next advance, and fire may reschedule") {
        turn::TimerWheel<Item> wheel;
        const turn::Time t0 = turn::Time{} + 100s;
        Item a{1, {}};
        CHECK(advance(wheel, t0).empty());
        wheel.schedule(a, t0 - 30s, t0);
        int fired = 0;
        wheel.advance(t0 + 1s, [&](Item& i) {
            ++fired;
            wheel.schedule(i, t0 + 4s, t0 + 1s); // e.g. a permission expired, the rest lives on
        });
        CHECK(fired == 1);
        CHECK(wheel.size() == 1);
        CHECK(advance(wheel, t0 + 4s) == std::vector<int>{1});
    }

} // TEST_SUITE
