// SPDX-License-Identifier: Apache-2.0
// traverse-signal's Prometheus endpoint: a collector reading stats::SignalCounters at scrape
// time (monitoring/signal_stats.hpp) and prometheus-cpp's Exposer serving /metrics.
#pragma once

#include "monitoring/signal_stats.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Exposer;
} // namespace prometheus

namespace traverse::monitoring {

/// The families of stats::signal_families, read from one counter block.
class SignalCollector final : public prometheus::Collectable {
public:
    explicit SignalCollector(const stats::SignalCounters& counters) : counters_(counters) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

private:
    const stats::SignalCounters& counters_;
};

/// /metrics for traverse-signal on its own (civetweb) threads.
class SignalMetricsServer {
public:
    /// Binds `listen` ("127.0.0.1:9642", "[::1]:0"); null and `error` set on failure.
    /// `counters` must outlive the server.
    static std::unique_ptr<SignalMetricsServer>
    start(const std::string& listen, const stats::SignalCounters& counters, std::string& error);
    ~SignalMetricsServer();
    SignalMetricsServer(const SignalMetricsServer&) = delete;
    SignalMetricsServer& operator=(const SignalMetricsServer&) = delete;
    /// "HOST:PORT" with the bound port.
    std::string bound_address() const;

private:
    SignalMetricsServer() = default;
    std::string host_;
    std::shared_ptr<SignalCollector> collector_;
    std::unique_ptr<prometheus::Exposer> exposer_;
};

} // namespace traverse::monitoring
