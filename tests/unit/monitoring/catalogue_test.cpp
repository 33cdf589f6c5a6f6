// SPDX-License-Identifier: Apache-2.0
// The catalogue (monitoring/catalogue.hpp) is the one list: every counter feeds a family, and
// the README, the Grafana dashboard and the alert rules only name families that exist.
#include "monitoring/catalogue.hpp"
#include "monitoring/signal_stats.hpp"
#include "monitoring/stats.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

using namespace traverse;

namespace {

const std::string source_dir = TRAVERSE_SOURCE_DIR;

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// Every `traverse_...` identifier in `text`.
std::set<std::string> metric_names(const std::string& text) {
    static const std::regex name(R"(traverse_[a-z0-9_]*[a-z0-9])");
    std::set<std::string> out;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), name);
         it != std::sregex_iterator(); ++it)
        out.insert(it->str());
    return out;
}

/// True for a family name, or a histogram family's _bucket, _sum or _count series.
/// True for a traverse_signal_* family of signal_stats.hpp (or a histogram's series of one).
bool is_signal_family(const std::string& name) {
    for (const auto& f : stats::signal_families) {
        if (name == f.name) return true;
        if (f.type != "histogram") continue;
        for (const char* suffix : {"_bucket", "_sum", "_count"})
            if (name == std::string(f.name) + suffix) return true;
    }
    return false;
}

bool is_published(const std::string& name) {
    if (name.starts_with("traverse_signal_")) return is_signal_family(name);
    if (stats::find_family(name)) return true;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        if (!name.ends_with(suffix)) continue;
        const auto* f = stats::find_family(name.substr(0, name.size() - std::strlen(suffix)));
        if (f && f->type == stats::MetricType::histogram) return true;
    }
    return false;
}

std::set<std::string> counter_names() {
    std::set<std::string> out;
    stats::WorkerCounters block;
    stats::for_each(block,
                    [&](std::string_view n, std::string_view, std::uint64_t) { out.emplace(n); });
    return out;
}

} // namespace

TEST_SUITE_BEGIN("monitoring");

TEST_CASE("every counter feeds a family and every source is consistent") {
    const auto counters = counter_names();
    std::set<std::string> fed;
    for (const stats::Source& s : stats::sources) {
        CAPTURE(s.counter);
        CHECK(counters.contains(std::string(s.counter)));
        const stats::Family* f = stats::find_family(s.family);
        REQUIRE_MESSAGE(f != nullptr, s.family << " is not in stats::families");
        CHECK(f->label.empty() == s.label_value.empty());
        CHECK((s.sign == 1 || (s.sign == -1 && f->type == stats::MetricType::gauge)));
        fed.emplace(s.counter);
    }
    for (const std::string& c : counters)
        CHECK_MESSAGE(fed.contains(c), c << " feeds no family in catalogue.hpp");
    std::set<std::string_view> names;
    for (const stats::Family& f : stats::families) {
        CAPTURE(f.name);
        CHECK(names.insert(f.name).second);
        CHECK(f.name.starts_with("traverse_"));
        CHECK(f.name.ends_with("_total") == (f.type == stats::MetricType::counter));
        CHECK_FALSE(f.help.empty());
        const bool has_source =
            std::any_of(stats::sources.begin(), stats::sources.end(),
                        [&](const stats::Source& s) { return s.family == f.name; });
        CHECK(has_source == (f.feed == stats::Feed::sources));
        CHECK((f.feed == stats::Feed::process) == f.name.starts_with("traverse_process_"));
        CHECK((f.type == stats::MetricType::histogram) == (f.feed == stats::Feed::lifetime));
        CHECK(f.label2.empty() == (f.feed != stats::Feed::responses));
    }
}

TEST_CASE("monitoring/README.md lists exactly the families of the catalogue") {
    // The catalogue table: one row per family, the name in backticks in the first column.
    std::istringstream readme(read_text(source_dir + "/monitoring/README.md"));
    static const std::regex row(R"(^\| `(traverse_[a-z0-9_]+)` \|)");
    std::set<std::string> listed;
    std::smatch m;
    for (std::string line; std::getline(readme, line);)
        if (std::regex_search(line, m, row) && !m[1].str().starts_with("traverse_signal_"))
            listed.insert(m[1].str()); // traverse-signal's rows: signal_exporter_test.cpp
    for (const stats::Family& f : stats::families)
        CHECK_MESSAGE(listed.contains(std::string(f.name)),
                      f.name << " is missing from the catalogue in monitoring/README.md");
    for (const std::string& name : listed)
        CHECK_MESSAGE(stats::find_family(name) != nullptr,
                      name << " is in monitoring/README.md but not in catalogue.hpp");
}

TEST_CASE("the dashboard and the alert rules only use metrics of the catalogue") {
    for (const char* file :
         {"/monitoring/grafana/traverse.json", "/monitoring/prometheus/alerts.yaml"}) {
        CAPTURE(file);
        const auto names = metric_names(read_text(source_dir + file));
        CHECK(names.size() >= 5);
        for (const std::string& name : names) {
            CHECK_MESSAGE(is_published(name),
                          name << " is used in " << file << " but not in catalogue.hpp");
        }
    }
}

TEST_CASE("the dashboard and the rules cover the issue's views") {
    const std::string dashboard = read_text(source_dir + "/monitoring/grafana/traverse.json");
    const std::string rules = read_text(source_dir + "/monitoring/prometheus/alerts.yaml");
    for (const char* family :
         {"traverse_relayed_bytes_total", "traverse_allocations_active",
          "traverse_allocations_refused_total", "traverse_auth_failures_total",
          "traverse_relay_ports_free", "traverse_stun_responses_total",
          "traverse_kernel_receive_drops_total", "traverse_allocation_lifetime_seconds_bucket",
          "traverse_stream_connections_active", "traverse_channels_active"})
        CHECK_MESSAGE(dashboard.find(family) != std::string::npos, family << " has no panel");
    CHECK(dashboard.find("by (instance, worker)") != std::string::npos); // per-worker balance
    for (const char* alert :
         {"TraverseDown", "TraverseTargetMissing", "TraverseRelayPortPoolNearlyExhausted",
          "TraverseAuthFailureSpike", "TraverseKernelReceiveDrops"})
        CHECK_MESSAGE(rules.find(std::string("alert: ") + alert) != std::string::npos,
                      alert << " is missing");
}

TEST_CASE("result codes and methods map to their label values") {
    CHECK(stats::result_codes[stats::code_index(0)] == "success");
    for (int code : {300, 400, 401, 403, 420, 437, 438, 440, 441, 442, 443, 486, 508})
        CHECK(stats::result_codes[stats::code_index(code)] == std::to_string(code));
    CHECK(stats::result_codes[stats::code_index(500)] == "other");
    CHECK(stats::request_methods[static_cast<std::size_t>(stats::method_index(0x001))] ==
          "binding");
    CHECK(stats::request_methods[static_cast<std::size_t>(stats::method_index(0x003))] ==
          "allocate");
    CHECK(stats::request_methods[static_cast<std::size_t>(stats::method_index(0x004))] ==
          "refresh");
    CHECK(stats::request_methods[static_cast<std::size_t>(stats::method_index(0x008))] ==
          "create_permission");
    CHECK(stats::request_methods[static_cast<std::size_t>(stats::method_index(0x009))] ==
          "channel_bind");
    CHECK(stats::method_index(0x006) == -1); // Send is an indication, never answered
}

TEST_CASE("lifetime observations land in the first bucket whose bound holds them") {
    stats::WorkerCounters block;
    stats::observe_lifetime(block, 0);         // <= 1 s
    stats::observe_lifetime(block, 1000);      // <= 1 s (bounds are inclusive)
    stats::observe_lifetime(block, 1001);      // <= 5 s
    stats::observe_lifetime(block, 600000);    // <= 600 s
    stats::observe_lifetime(block, 100000000); // +Inf
    CHECK(block.lifetime_buckets[0].load() == 2);
    CHECK(block.lifetime_buckets[1].load() == 1);
    CHECK(block.lifetime_buckets[7].load() == 1);
    CHECK(block.lifetime_buckets.back().load() == 1);
    CHECK(block.lifetime_sum_ms.load() == 100602001);
}

TEST_SUITE_END();
