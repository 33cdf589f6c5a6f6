// SPDX-License-Identifier: Apache-2.0
// The collectors: sums over worker blocks, labels, the derived active-allocations gauge, the
// opt-in worker label and the process metrics.
#include "monitoring/catalogue.hpp"
#include "monitoring/exporter.hpp"

#include <doctest/doctest.h>
#include <prometheus/text_serializer.h>

#include <set>
#include <string>
#include <vector>

using namespace traverse;
using prometheus::ClientMetric;
using prometheus::MetricFamily;

namespace {

const MetricFamily& family(const std::vector<MetricFamily>& all, const std::string& name) {
    for (const auto& f : all)
        if (f.name == name) return f;
    FAIL("no family " << name);
    throw 0;
}

std::string label(const ClientMetric& m, const std::string& name) {
    for (const auto& l : m.label)
        if (l.name == name) return l.value;
    return "<none>";
}

double value(const MetricFamily& f, const std::string& label_value = "",
             const std::string& worker = "") {
    for (const auto& m : f.metric) {
        const bool label_ok = label_value.empty() || m.label.back().value == label_value;
        const bool worker_ok = worker.empty() || label(m, "worker") == worker;
        if (label_ok && worker_ok)
            return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
    FAIL("no series " << f.name << "{" << label_value << "} worker " << worker);
    return -1;
}

} // namespace

TEST_SUITE_BEGIN("monitoring");

TEST_CASE("the collector sums every worker block into labelled families") {
    stats::WorkerCounters a, b;
    stats::add(a.relayed_to_peer_packets, 3);
    stats::add(b.relayed_to_peer_packets, 4);
    stats::add(a.relayed_to_client_packets, 5);
    stats::add(a.relayed_to_peer_bytes, 300);
    stats::add(b.relayed_to_client_bytes, 70);
    stats::add(a.auth_failures_stale_nonce, 2);
    stats::add(b.auth_failures_unknown_user);
    stats::add(a.allocations_created, 5);
    stats::add(b.allocations_created, 2);
    stats::add(a.allocations_deleted, 1);
    stats::add(b.allocations_expired, 1);
    stats::add(b.allocations_refused_capacity);
    stats::add(a.relay_dropped_bandwidth, 9);
    stats::add(b.malformed_dropped, 6);
    stats::add(a.binding_requests, 10);
    stats::add(b.turn_requests, 11);
    stats::add(a.challenges_sent, 12);
    stats::add(b.stream_connections_accepted, 13);

    monitoring::WorkerCountersCollector collector({&a, &b}, false);
    const auto all = collector.Collect();

    const auto& packets = family(all, "traverse_relayed_packets_total");
    CHECK(packets.type == prometheus::MetricType::Counter);
    REQUIRE(packets.metric.size() == 2);
    CHECK(packets.metric[0].label.size() == 1);
    CHECK(label(packets.metric[0], "direction") == "to_peer");
    CHECK(value(packets, "to_peer") == 7);
    CHECK(value(packets, "to_client") == 5);
    CHECK(value(family(all, "traverse_relayed_bytes_total"), "to_peer") == 300);
    CHECK(value(family(all, "traverse_relayed_bytes_total"), "to_client") == 70);

    const auto& auth = family(all, "traverse_auth_failures_total");
    CHECK(auth.metric.size() == 6);
    CHECK(value(auth, "stale_nonce") == 2);
    CHECK(value(auth, "unknown_user") == 1);
    CHECK(value(auth, "bad_integrity") == 0);

    CHECK(value(family(all, "traverse_allocations_created_total")) == 7);
    const auto& active = family(all, "traverse_allocations_active");
    CHECK(active.type == prometheus::MetricType::Gauge);
    REQUIRE(active.metric.size() == 1);
    CHECK(active.metric[0].label.empty());
    CHECK(value(active) == 5);
    CHECK(value(family(all, "traverse_allocations_ended_total"), "deleted") == 1);
    CHECK(value(family(all, "traverse_allocations_ended_total"), "expired") == 1);
    const auto& refused = family(all, "traverse_allocations_refused_total");
    CHECK(refused.metric.size() ==
          6); // quota_user, quota_ip, quota_total, port_exhaustion, peer_filter, draining
    CHECK(value(refused, "port_exhaustion") == 1);
    CHECK(value(refused, "quota_user") == 0);
    const auto& dropped = family(all, "traverse_relay_dropped_total");
    CHECK(dropped.metric.size() == 5);
    CHECK(value(dropped, "bandwidth") == 9);
    CHECK(value(family(all, "traverse_malformed_dropped_total")) == 6);
    CHECK(value(family(all, "traverse_stun_requests_total"), "binding") == 10);
    CHECK(value(family(all, "traverse_stun_requests_total"), "turn") == 11);
    CHECK(value(family(all, "traverse_challenges_total")) == 12);
    CHECK(value(family(all, "traverse_stream_connections_total")) == 13);

    // Later bumps show at the next scrape.
    stats::add(b.relayed_to_peer_packets);
    CHECK(value(family(collector.Collect(), "traverse_relayed_packets_total"), "to_peer") == 8);
}

TEST_CASE("derived gauges: permissions, channels, stream connections, relay ports") {
    stats::WorkerCounters a, b;
    stats::add(a.permissions_installed, 5);
    stats::add(a.permissions_removed, 2);
    stats::add(b.permissions_installed, 1);
    stats::add(a.channels_bound, 3);
    stats::add(b.channels_unbound, 1);
    stats::add(b.channels_bound, 2);
    stats::add(a.tcp_connections_opened, 4);
    stats::add(a.tcp_connections_closed, 1);
    stats::add(b.tls_connections_opened, 2);
    stats::add(b.tls_connections_closed, 2);
    stats::set(a.relay_ports, 100);
    stats::set(b.relay_ports, 101);
    stats::set(a.relay_ports_free, 90);
    stats::set(b.relay_ports_free, 7);
    stats::add(b.kernel_drops_listener, 12);
    stats::add(a.peers_refused, 3);
    stats::add(b.allocations_refused_quota_ip, 2);
    monitoring::WorkerCountersCollector collector({&a, &b}, false);
    const auto all = collector.Collect();
    CHECK(value(family(all, "traverse_permissions_active")) == 4);
    CHECK(value(family(all, "traverse_channels_active")) == 4);
    const auto& streams = family(all, "traverse_stream_connections_active");
    CHECK(streams.metric.size() == 2);
    CHECK(value(streams, "tcp") == 3);
    CHECK(value(streams, "tls") == 0);
    CHECK(value(family(all, "traverse_relay_ports")) == 201);
    CHECK(value(family(all, "traverse_relay_ports_free")) == 97);
    CHECK(value(family(all, "traverse_kernel_receive_drops_total"), "listener") == 12);
    CHECK(value(family(all, "traverse_kernel_receive_drops_total"), "relay") == 0);
    CHECK(value(family(all, "traverse_allocations_refused_total"), "peer_filter") == 3);
    CHECK(value(family(all, "traverse_allocations_refused_total"), "quota_ip") == 2);
}

TEST_CASE("responses are published for every method and code, summed over workers") {
    stats::WorkerCounters a, b;
    stats::count_response(a, 0x003, 401);
    stats::count_response(b, 0x003, 401);
    stats::count_response(b, 0x003, 0);
    stats::count_response(a, 0x009, 403);
    stats::count_response(a, 0x010, 400); // not a counted method: ignored
    monitoring::WorkerCountersCollector collector({&a, &b}, false);
    const auto all = collector.Collect();
    const auto& responses = family(all, "traverse_stun_responses_total");
    CHECK(responses.type == prometheus::MetricType::Counter);
    CHECK(responses.metric.size() == stats::request_methods.size() * stats::result_codes.size());
    auto at = [&](const std::string& method, const std::string& code) {
        for (const auto& m : responses.metric)
            if (label(m, "method") == method && label(m, "code") == code) return m.counter.value;
        FAIL("no series " << method << " " << code);
        return -1.0;
    };
    CHECK(at("allocate", "401") == 2);
    CHECK(at("allocate", "success") == 1);
    CHECK(at("channel_bind", "403") == 1);
    CHECK(at("binding", "400") == 0);
    double total = 0;
    for (const auto& m : responses.metric)
        total += m.counter.value;
    CHECK(total == 4);

    monitoring::WorkerCountersCollector split({&a, &b}, true);
    const auto split_all = split.Collect();
    const auto& per_worker = family(split_all, "traverse_stun_responses_total");
    CHECK(per_worker.metric.size() == 2 * responses.metric.size());
}

TEST_CASE("the allocation lifetime histogram is cumulative, with +Inf, count and sum") {
    stats::WorkerCounters a, b;
    stats::observe_lifetime(a, 500);      // 0.5 s
    stats::observe_lifetime(b, 45000);    // 45 s
    stats::observe_lifetime(b, 18000000); // 5 h
    monitoring::WorkerCountersCollector collector({&a, &b}, false);
    const auto all = collector.Collect();
    const auto& h = family(all, "traverse_allocation_lifetime_seconds");
    CHECK(h.type == prometheus::MetricType::Histogram);
    REQUIRE(h.metric.size() == 1);
    const auto& hist = h.metric[0].histogram;
    REQUIRE(hist.bucket.size() == stats::lifetime_bounds.size() + 1);
    CHECK(hist.bucket[0].upper_bound == 1);
    CHECK(hist.bucket[0].cumulative_count == 1);
    CHECK(hist.bucket[3].upper_bound == 30);
    CHECK(hist.bucket[3].cumulative_count == 1);
    CHECK(hist.bucket[4].upper_bound == 60);
    CHECK(hist.bucket[4].cumulative_count == 2);
    CHECK(hist.bucket[12].cumulative_count == 2); // <= 4 h
    CHECK(hist.bucket.back().cumulative_count == 3);
    CHECK(hist.sample_count == 3);
    CHECK(hist.sample_sum == doctest::Approx(18045.5));

    const std::string text = prometheus::TextSerializer().Serialize(all);
    CHECK(text.find("# TYPE traverse_allocation_lifetime_seconds histogram") != std::string::npos);
    CHECK(text.find("traverse_allocation_lifetime_seconds_bucket{le=\"60\"} 2") !=
          std::string::npos);
    CHECK(text.find("traverse_allocation_lifetime_seconds_bucket{le=\"+Inf\"} 3") !=
          std::string::npos);
    CHECK(text.find("traverse_allocation_lifetime_seconds_count 3") != std::string::npos);
    // Exactly one +Inf bucket line.
    const auto first = text.find("le=\"+Inf\"");
    CHECK(text.find("le=\"+Inf\"", first + 1) == std::string::npos);
}

TEST_CASE("the collector publishes every non-process family of the catalogue, HELP included") {
    stats::WorkerCounters a;
    monitoring::WorkerCountersCollector collector({&a}, false);
    std::set<std::string> names;
    for (const auto& f : collector.Collect()) {
        CHECK_FALSE(f.help.empty());
        CHECK_FALSE(f.metric.empty());
        names.insert(f.name);
    }
    for (const auto& f : stats::families)
        CHECK(names.contains(std::string(f.name)) != f.name.starts_with("traverse_process_"));
}

TEST_CASE("the active-allocations gauge never goes negative") {
    stats::WorkerCounters a;
    stats::add(a.allocations_expired, 2); // as if read before the matching created
    monitoring::WorkerCountersCollector collector({&a}, false);
    CHECK(value(family(collector.Collect(), "traverse_allocations_active")) == 0);
}

TEST_CASE("per-worker mode labels each series with its worker instead of summing") {
    stats::WorkerCounters a, b;
    stats::add(a.relayed_to_peer_packets, 3);
    stats::add(b.relayed_to_peer_packets, 4);
    monitoring::WorkerCountersCollector collector({&a, &b}, true);
    const auto all = collector.Collect();
    const auto& packets = family(all, "traverse_relayed_packets_total");
    CHECK(packets.metric.size() == 4);
    CHECK(value(packets, "to_peer", "0") == 3);
    CHECK(value(packets, "to_peer", "1") == 4);
    const auto& created = family(all, "traverse_allocations_created_total");
    REQUIRE(created.metric.size() == 2);
    CHECK(label(created.metric[1], "worker") == "1");
}

TEST_CASE("the text exposition carries TYPE, HELP and labelled samples") {
    stats::WorkerCounters a;
    stats::add(a.relayed_to_client_packets, 42);
    monitoring::WorkerCountersCollector collector({&a}, false);
    const std::string text = prometheus::TextSerializer().Serialize(collector.Collect());
    CHECK(text.find("# TYPE traverse_relayed_packets_total counter") != std::string::npos);
    CHECK(text.find("traverse_relayed_packets_total{direction=\"to_client\"} 42") !=
          std::string::npos);
    CHECK(text.find("# TYPE traverse_allocations_active gauge") != std::string::npos);
}

TEST_CASE("process metrics come from /proc/self") {
    const auto sample = monitoring::read_process_sample();
    REQUIRE(sample.has_value());
    CHECK(sample->cpu_seconds >= 0);
    CHECK(sample->resident_bytes > 0);
    CHECK(sample->open_fds >= 3); // stdin, stdout, stderr at least
    const auto all = monitoring::ProcessCollector().Collect();
    CHECK(all.size() == 4);
    CHECK(value(family(all, "traverse_process_resident_memory_bytes")) > 0);
    CHECK(value(family(all, "traverse_process_draining")) == 0);
    bool draining = true;
    const auto drained = monitoring::ProcessCollector([&] { return draining; }).Collect();
    CHECK(value(family(drained, "traverse_process_draining")) == 1);
}

TEST_SUITE_END();
