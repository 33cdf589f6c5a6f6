// SPDX-License-Identifier: Apache-2.0
// traverse-signal's metrics: the collector publishes every declared family with the counters'
// values (histogram buckets cumulative), and monitoring/README.md lists exactly those families.
#include "monitoring/signal_exporter.hpp"
#include "monitoring/signal_stats.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

using namespace traverse;
using namespace std::chrono_literals;

namespace {

const prometheus::MetricFamily& find(const std::vector<prometheus::MetricFamily>& all,
                                     const std::string& name) {
    for (const auto& f : all)
        if (f.name == name) return f;
    FAIL("no family " << name);
    throw 0;
}

} // namespace

TEST_SUITE_BEGIN("monitoring");

TEST_CASE("the signal collector publishes every declared family with the counters' values") {
    stats::SignalCounters c;
    c.set(c.users, 5);
    c.set(c.waiting, 1);
    c.set(c.rooms, 2);
    c.observe_match(0s);
    c.observe_match(700ms);
    c.observe_match(1000s);
    c.bump(c.frames_relayed, 9);
    c.drop(stats::SignalDrop::slow_reader);
    c.drop(stats::SignalDrop::bad_json);
    c.drop(stats::SignalDrop::bad_json);
    c.bump(c.refused_origin);
    monitoring::SignalCollector collector(c);
    const auto all = collector.Collect();
    CHECK(all.size() == stats::signal_families.size());
    for (const auto& f : stats::signal_families) {
        CAPTURE(f.name);
        const auto& mf = find(all, std::string(f.name));
        CHECK(mf.help == f.help);
        CHECK(f.name.starts_with("traverse_signal_"));
        CHECK(f.name.ends_with("_total") == (f.type == "counter"));
    }
    CHECK(find(all, "traverse_signal_users_connected").metric[0].gauge.value == 5);
    CHECK(find(all, "traverse_signal_queue_waiting").metric[0].gauge.value == 1);
    CHECK(find(all, "traverse_signal_rooms_active").metric[0].gauge.value == 2);
    CHECK(find(all, "traverse_signal_matches_total").metric[0].counter.value == 3);
    CHECK(find(all, "traverse_signal_frames_relayed_total").metric[0].counter.value == 9);
    const auto& h = find(all, "traverse_signal_time_to_match_seconds").metric[0].histogram;
    CHECK(h.sample_count == 3);
    CHECK(h.sample_sum == doctest::Approx(1000.7));
    REQUIRE(h.bucket.size() == stats::signal_match_buckets.size() + 1);
    CHECK(h.bucket[0].upper_bound == 0.1);
    CHECK(h.bucket[0].cumulative_count == 1); // 0 s
    CHECK(h.bucket[1].cumulative_count == 1);
    CHECK(h.bucket[2].cumulative_count == 2); // 0.7 s <= 1
    CHECK(h.bucket[9].cumulative_count == 2); // 1000 s > 300
    CHECK(std::isinf(h.bucket[10].upper_bound));
    CHECK(h.bucket[10].cumulative_count == 3);
    const auto& dropped = find(all, "traverse_signal_frames_dropped_total");
    CHECK(dropped.metric.size() == stats::signal_drop_labels.size());
    for (const auto& m : dropped.metric) {
        CAPTURE(m.label[0].value);
        const double expected = m.label[0].value == "bad_json"      ? 2
                                : m.label[0].value == "slow_reader" ? 1
                                                                    : 0;
        CHECK(m.counter.value == expected);
    }
    const auto& refused = find(all, "traverse_signal_connections_refused_total");
    CHECK(refused.metric.size() == 2);
    CHECK(refused.metric[1].label[0].value == "origin");
    CHECK(refused.metric[1].counter.value == 1);
}

TEST_CASE("monitoring/README.md lists exactly the traverse-signal families") {
    std::ifstream in(std::string(TRAVERSE_SOURCE_DIR) + "/monitoring/README.md");
    REQUIRE(in.good());
    static const std::regex row(R"(^\| `(traverse_signal_[a-z0-9_]+)` \| ([a-z]+) \|)");
    std::set<std::string> listed;
    std::smatch m;
    for (std::string line; std::getline(in, line);) {
        if (!std::regex_search(line, m, row)) continue;
        listed.insert(m[1].str());
        bool known = false;
        for (const auto& f : stats::signal_families)
            if (f.name == m[1].str()) {
                known = true;
                CHECK_MESSAGE(f.type == m[2].str(), f.name << " has the wrong type in README");
            }
        CHECK_MESSAGE(known, m[1].str() << " is in README.md but not in signal_families");
    }
    for (const auto& f : stats::signal_families)
        CHECK_MESSAGE(listed.contains(std::string(f.name)), f.name << " is missing from README.md");
}

TEST_SUITE_END();
