// SPDX-License-Identifier: Apache-2.0
#include "monitoring/signal_exporter.hpp"

#include <prometheus/exposer.h>

#include <exception>
#include <limits>

namespace traverse::monitoring {

namespace {

prometheus::MetricFamily header(std::string_view name) {
    for (const auto& f : stats::signal_families) {
        if (f.name != name) continue;
        prometheus::MetricFamily mf;
        mf.name = std::string(f.name);
        mf.help = std::string(f.help);
        mf.type = f.type == "counter" ? prometheus::MetricType::Counter
                  : f.type == "gauge" ? prometheus::MetricType::Gauge
                                      : prometheus::MetricType::Histogram;
        return mf;
    }
    std::terminate(); // every name below is in signal_families (checked by the unit tests)
}

double load(const std::atomic<std::uint64_t>& c) {
    return static_cast<double>(c.load(std::memory_order_relaxed));
}

prometheus::MetricFamily gauge(std::string_view name, const std::atomic<std::int64_t>& g) {
    auto mf = header(name);
    prometheus::ClientMetric m;
    m.gauge.value = static_cast<double>(g.load(std::memory_order_relaxed));
    mf.metric.push_back(m);
    return mf;
}

prometheus::MetricFamily counter(std::string_view name, const std::atomic<std::uint64_t>& c) {
    auto mf = header(name);
    prometheus::ClientMetric m;
    m.counter.value = load(c);
    mf.metric.push_back(m);
    return mf;
}

prometheus::ClientMetric labelled(std::string_view label, std::string_view value, double v) {
    prometheus::ClientMetric m;
    m.label.push_back({std::string(label), std::string(value)});
    m.counter.value = v;
    return m;
}

} // namespace

std::vector<prometheus::MetricFamily> SignalCollector::Collect() const {
    const auto& c = counters_;
    std::vector<prometheus::MetricFamily> out;
    out.push_back(gauge("traverse_signal_users_connected", c.users));
    out.push_back(gauge("traverse_signal_queue_waiting", c.waiting));
    out.push_back(gauge("traverse_signal_rooms_active", c.rooms));
    out.push_back(counter("traverse_signal_matches_total", c.matches));

    auto histogram = header("traverse_signal_time_to_match_seconds");
    prometheus::ClientMetric h;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < c.match_buckets.size(); ++i) {
        cumulative += c.match_buckets[i].load(std::memory_order_relaxed);
        prometheus::ClientMetric::Bucket b;
        b.cumulative_count = cumulative;
        b.upper_bound = i < stats::signal_match_buckets.size()
                            ? stats::signal_match_buckets[i]
                            : std::numeric_limits<double>::infinity();
        h.histogram.bucket.push_back(b);
    }
    // The count is the +Inf bucket, so count and buckets agree within one scrape.
    h.histogram.sample_count = cumulative;
    h.histogram.sample_sum = load(c.match_wait_microseconds) / 1e6;
    histogram.metric.push_back(h);
    out.push_back(std::move(histogram));

    out.push_back(counter("traverse_signal_frames_relayed_total", c.frames_relayed));
    auto dropped = header("traverse_signal_frames_dropped_total");
    for (std::size_t i = 0; i < c.dropped.size(); ++i)
        dropped.metric.push_back(
            labelled("reason", stats::signal_drop_labels[i], load(c.dropped[i])));
    out.push_back(std::move(dropped));
    auto refused = header("traverse_signal_connections_refused_total");
    refused.metric.push_back(labelled("reason", "unauthorized", load(c.refused_unauthorized)));
    refused.metric.push_back(labelled("reason", "origin", load(c.refused_origin)));
    out.push_back(std::move(refused));
    return out;
}

std::unique_ptr<SignalMetricsServer> SignalMetricsServer::start(const std::string& listen,
                                                                const stats::SignalCounters& c,
                                                                std::string& error) {
    std::unique_ptr<SignalMetricsServer> server(new SignalMetricsServer());
    server->host_ = listen.substr(0, listen.rfind(':'));
    server->collector_ = std::make_shared<SignalCollector>(c);
    try {
        server->exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
    } catch (const std::exception& e) {
        error = "cannot listen on " + listen + ": " + e.what();
        return nullptr;
    }
    server->exposer_->RegisterCollectable(server->collector_);
    return server;
}

SignalMetricsServer::~SignalMetricsServer() {
    exposer_.reset(); // civetweb's threads stop before the collector goes
}

std::string SignalMetricsServer::bound_address() const {
    const auto ports = exposer_->GetListeningPorts();
    return host_ + ":" + (ports.empty() ? std::string("0") : std::to_string(ports.front()));
}

} // namespace traverse::monitoring
