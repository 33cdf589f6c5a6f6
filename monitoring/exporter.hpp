// SPDX-License-Identifier: Apache-2.0
// Prometheus exporter: collectors that read the per-worker counter blocks and /proc/self at
// scrape time, and the HTTP endpoint (/metrics, /healthz, /readyz) that serves them. Nothing
// here runs on the packet path: workers only bump their own stats::WorkerCounters.
#pragma once

#include "monitoring/stats.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace prometheus {
class Exposer;
} // namespace prometheus

namespace traverse::monitoring {

/// The counter blocks of every worker, index = worker number. The blocks must outlive the
/// collector; they are only read (relaxed loads).
using CounterBlocks = std::vector<const stats::WorkerCounters*>;

/// Sums the worker blocks into the families of stats::families (monitoring/catalogue.hpp).
class WorkerCountersCollector final : public prometheus::Collectable {
public:
    /// `per_worker`: one series per worker with a `worker` label instead of the sums.
    WorkerCountersCollector(CounterBlocks blocks, bool per_worker);
    std::vector<prometheus::MetricFamily> Collect() const override;

private:
    CounterBlocks blocks_;
    bool per_worker_;
};

/// What /proc/self reports about this process.
struct ProcessSample {
    double cpu_seconds = 0;           ///< user + system time
    std::uint64_t resident_bytes = 0; ///< resident set size
    std::uint64_t open_fds = 0;       ///< entries in /proc/self/fd
};

/// Reads /proc/self/stat, /proc/self/statm and /proc/self/fd; nullopt when /proc is missing.
std::optional<ProcessSample> read_process_sample();

/// The traverse_process_* families (prometheus-cpp has no process collector on Linux).
class ProcessCollector final : public prometheus::Collectable {
public:
    /// `draining` feeds traverse_process_draining (0 when null).
    explicit ProcessCollector(std::function<bool()> draining = {})
        : draining_(std::move(draining)) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

private:
    std::function<bool()> draining_;
};

/// The metrics HTTP server: prometheus-cpp's Exposer (civetweb) on its own threads.
struct MetricsOptions {
    std::string listen;             ///< "127.0.0.1:9641" or "[::1]:9641"; port 0 = ephemeral
    bool per_worker = false;        ///< add the `worker` label (one series per worker)
    std::function<bool()> ready;    ///< /readyz answers 200 when this returns true, else 503
    std::function<bool()> draining; ///< traverse_process_draining is 1 while this returns true
};

class MetricsServer {
public:
    /// Binds and starts serving; on failure returns null and sets `error`. At most one
    /// MetricsServer per process (/healthz and /readyz go through one civetweb callback).
    static std::unique_ptr<MetricsServer> start(MetricsOptions options, CounterBlocks blocks,
                                                std::string& error);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    /// "127.0.0.1:PORT" with the bound port.
    std::string bound_address() const;

private:
    MetricsServer() = default;
    std::string host_; // as given, brackets kept for IPv6
    std::function<bool()> ready_;
    std::shared_ptr<WorkerCountersCollector> counters_;
    std::shared_ptr<ProcessCollector> process_;
    std::unique_ptr<prometheus::Exposer> exposer_;
};

} // namespace traverse::monitoring
