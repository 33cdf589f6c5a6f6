// SPDX-License-Identifier: Apache-2.0
// A coarse hashed timer wheel (1 s slots) with one intrusive entry per scheduled object.
#pragma once

#include "server/turn/types.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace traverse::turn {

/// Where an object sits in a TimerWheel; embedded in the object (intrusive, no allocation per
/// timer). `slot` is TimerWheel::none while unscheduled.
struct WheelHook {
    std::uint32_t slot = ~std::uint32_t{0};
    std::uint32_t index = 0;
    Time deadline{};
};

/// Hashed wheel of `slots` one-second buckets. An object is filed under the second its deadline
/// rounds up to; deadlines beyond one rotation stay in their bucket and are skipped until their
/// round comes (checked against the stored deadline). Scheduling, rescheduling and cancelling
/// are O(1) (swap-remove inside a bucket); advancing costs the buckets passed plus the entries
/// in them. T must have a `WheelHook wheel` member. Single-threaded, like the engine.
template <class T> class TimerWheel {
public:
    static constexpr std::size_t slots = 256;
    static constexpr std::uint32_t none = ~std::uint32_t{0};

    /// Files `item` under `deadline`, replacing any earlier schedule; `now` starts the wheel.
    void schedule(T& item, Time deadline, Time now) {
        cancel(item);
        if (current_ == unset) current_ = floor_seconds(now) - 1;
        const auto second = ceil_seconds(deadline);
        // Never behind the wheel: a past deadline fires on the next advance.
        const auto at = second > current_ ? second : current_ + 1;
        auto& bucket = buckets_[static_cast<std::size_t>(at) % slots];
        item.wheel.slot = static_cast<std::uint32_t>(static_cast<std::size_t>(at) % slots);
        item.wheel.index = static_cast<std::uint32_t>(bucket.size());
        item.wheel.deadline = deadline;
        bucket.push_back(&item);
        ++size_;
    }

    /// Removes `item` if it is scheduled.
    void cancel(T& item) noexcept {
        if (item.wheel.slot == none) return;
        auto& bucket = buckets_[item.wheel.slot];
        T* last = bucket.back();
        bucket[item.wheel.index] = last;
        last->wheel.index = item.wheel.index;
        bucket.pop_back();
        item.wheel.slot = none;
        --size_;
    }

    /// Calls `fire(item)` for every item whose deadline is at or before `now`, unscheduled
    /// first (so `fire` may reschedule or destroy it).
    template <class Fire> void advance(Time now, Fire&& fire) {
        const auto target = floor_seconds(now);
        if (current_ == unset) current_ = target - 1;
        // A jump longer than one rotation visits every bucket once.
        std::int64_t from = current_ + 1;
        if (target - from >= static_cast<std::int64_t>(slots))
            from = target - static_cast<std::int64_t>(slots) + 1;
        for (std::int64_t s = from; s <= target; ++s) {
            auto& bucket = buckets_[static_cast<std::size_t>(s) % slots];
            due_.clear();
            for (T* item : bucket)
                if (item->wheel.deadline <= now) due_.push_back(item);
            for (T* item : due_) {
                cancel(*item);
                fire(*item);
            }
        }
        if (target > current_) current_ = target;
    }

    std::size_t size() const noexcept { return size_; }

private:
    static constexpr std::int64_t unset = INT64_MIN;

    static std::int64_t floor_seconds(Time t) noexcept {
        return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
    }
    static std::int64_t ceil_seconds(Time t) noexcept {
        return std::chrono::ceil<std::chrono::seconds>(t.time_since_epoch()).count();
    }

    std::array<std::vector<T*>, slots> buckets_;
    std::vector<T*> due_;          ///< reused scratch list of one bucket's due items
    std::int64_t current_ = unset; ///< last second advanced to
    std::size_t size_ = 0;
};

} // namespace traverse::turn
