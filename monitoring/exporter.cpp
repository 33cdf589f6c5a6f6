// SPDX-License-Identifier: Apache-2.0
#include "monitoring/exporter.hpp"

#include "monitoring/catalogue.hpp"

#include <civetweb.h>
#include <prometheus/exposer.h>
#include <unistd.h>

#include <CivetServer.h>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <span>
#include <sstream>
#include <string_view>
#include <utility>

namespace traverse::monitoring {
namespace {

prometheus::MetricType to_prometheus(stats::MetricType type) {
    switch (type) {
    case stats::MetricType::counter:
        return prometheus::MetricType::Counter;
    case stats::MetricType::gauge:
        return prometheus::MetricType::Gauge;
    case stats::MetricType::histogram:
        return prometheus::MetricType::Histogram;
    }
    return prometheus::MetricType::Untyped;
}

/// One block's counters by name.
std::map<std::string_view, std::uint64_t> values_of(const stats::WorkerCounters& block) {
    std::map<std::string_view, std::uint64_t> values;
    stats::for_each(block, [&](std::string_view name, std::string_view, std::uint64_t value) {
        values.emplace(name, value);
    });
    return values;
}

prometheus::ClientMetric make_metric(const stats::Family& family, std::string_view label_value,
                                     const std::string* worker, std::int64_t value) {
    prometheus::ClientMetric m;
    if (worker) m.label.push_back({"worker", *worker});
    if (!family.label.empty())
        m.label.push_back({std::string(family.label), std::string(label_value)});
    // Counters derived by subtraction can read a transient negative: the blocks are read one
    // relaxed load at a time while workers keep writing.
    const double v = static_cast<double>(std::max<std::int64_t>(value, 0));
    if (family.type == stats::MetricType::counter)
        m.counter.value = v;
    else
        m.gauge.value = v;
    return m;
}

bool is_process_family(const stats::Family& family) {
    return family.feed == stats::Feed::process;
}

std::uint64_t load(const std::atomic<std::uint64_t>& a) {
    return a.load(std::memory_order_relaxed);
}

/// The responses family: one series per (method, code), from the blocks' response matrices.
void collect_responses(const stats::Family& family, const CounterBlocks& blocks, bool per_worker,
                       prometheus::MetricFamily& mf) {
    auto series = [&](std::size_t m, std::size_t c, const std::string* worker, double v) {
        prometheus::ClientMetric metric;
        if (worker) metric.label.push_back({"worker", *worker});
        metric.label.push_back({std::string(family.label), std::string(stats::request_methods[m])});
        metric.label.push_back({std::string(family.label2), std::string(stats::result_codes[c])});
        metric.counter.value = v;
        mf.metric.push_back(std::move(metric));
    };
    for (std::size_t m = 0; m < stats::request_methods.size(); ++m) {
        for (std::size_t c = 0; c < stats::result_codes.size(); ++c) {
            if (per_worker) {
                for (std::size_t w = 0; w < blocks.size(); ++w) {
                    const std::string worker = std::to_string(w);
                    series(m, c, &worker, static_cast<double>(load(blocks[w]->responses[m][c])));
                }
            } else {
                std::uint64_t total = 0;
                for (const stats::WorkerCounters* block : blocks)
                    total += load(block->responses[m][c]);
                series(m, c, nullptr, static_cast<double>(total));
            }
        }
    }
}

/// A histogram series from the (non-cumulative) buckets of one or more blocks.
prometheus::ClientMetric lifetime_series(std::span<const stats::WorkerCounters* const> blocks,
                                         const std::string* worker) {
    prometheus::ClientMetric metric;
    if (worker) metric.label.push_back({"worker", *worker});
    std::uint64_t cumulative = 0;
    std::uint64_t sum_ms = 0;
    for (std::size_t b = 0; b < stats::lifetime_bounds.size() + 1; ++b) {
        for (const stats::WorkerCounters* block : blocks)
            cumulative += load(block->lifetime_buckets[b]);
        const double bound = b < stats::lifetime_bounds.size()
                                 ? static_cast<double>(stats::lifetime_bounds[b])
                                 : std::numeric_limits<double>::infinity();
        metric.histogram.bucket.push_back({cumulative, bound});
    }
    for (const stats::WorkerCounters* block : blocks)
        sum_ms += load(block->lifetime_sum_ms);
    // The count is the +Inf bucket, so the series stays self-consistent even when a worker
    // writes between two loads.
    metric.histogram.sample_count = cumulative;
    metric.histogram.sample_sum = static_cast<double>(sum_ms) / 1000.0;
    return metric;
}

prometheus::MetricFamily family_header(const stats::Family& family) {
    prometheus::MetricFamily out;
    out.name = std::string(family.name);
    out.help = std::string(family.help);
    out.type = to_prometheus(family.type);
    return out;
}

} // namespace

WorkerCountersCollector::WorkerCountersCollector(CounterBlocks blocks, bool per_worker)
    : blocks_(std::move(blocks)), per_worker_(per_worker) {}

std::vector<prometheus::MetricFamily> WorkerCountersCollector::Collect() const {
    std::vector<std::map<std::string_view, std::uint64_t>> values;
    values.reserve(blocks_.size());
    for (const stats::WorkerCounters* block : blocks_)
        values.push_back(values_of(*block));

    std::vector<prometheus::MetricFamily> out;
    for (const stats::Family& family : stats::families) {
        if (is_process_family(family)) continue;
        prometheus::MetricFamily mf = family_header(family);
        if (family.feed == stats::Feed::responses) {
            collect_responses(family, blocks_, per_worker_, mf);
            out.push_back(std::move(mf));
            continue;
        }
        if (family.feed == stats::Feed::lifetime) {
            if (per_worker_) {
                for (std::size_t w = 0; w < blocks_.size(); ++w) {
                    const std::string worker = std::to_string(w);
                    mf.metric.push_back(lifetime_series({&blocks_[w], 1}, &worker));
                }
            } else {
                mf.metric.push_back(lifetime_series(blocks_, nullptr));
            }
            out.push_back(std::move(mf));
            continue;
        }
        // Label values in table order; each series sums its sources.
        std::vector<std::string_view> label_values;
        for (const stats::Source& s : stats::sources)
            if (s.family == family.name && std::find(label_values.begin(), label_values.end(),
                                                     s.label_value) == label_values.end())
                label_values.push_back(s.label_value);
        auto sum = [&](std::size_t worker, std::string_view label_value) {
            std::int64_t total = 0;
            for (const stats::Source& s : stats::sources)
                if (s.family == family.name && s.label_value == label_value)
                    total += s.sign * static_cast<std::int64_t>(values[worker].at(s.counter));
            return total;
        };
        for (std::string_view lv : label_values) {
            if (per_worker_) {
                for (std::size_t w = 0; w < values.size(); ++w) {
                    const std::string worker = std::to_string(w);
                    mf.metric.push_back(make_metric(family, lv, &worker, sum(w, lv)));
                }
            } else {
                std::int64_t total = 0;
                for (std::size_t w = 0; w < values.size(); ++w)
                    total += sum(w, lv);
                mf.metric.push_back(make_metric(family, lv, nullptr, total));
            }
        }
        out.push_back(std::move(mf));
    }
    return out;
}

std::optional<ProcessSample> read_process_sample() {
    ProcessSample sample;
    std::ifstream stat("/proc/self/stat");
    std::string line;
    if (!stat || !std::getline(stat, line)) return std::nullopt;
    // The command name (field 2) may hold spaces; the fields after its ')' start at field 3.
    const std::size_t close = line.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(line.substr(close + 1));
    std::vector<std::string> after{std::istream_iterator<std::string>(fields), {}};
    if (after.size() < 13) return std::nullopt;
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    // utime is field 14 and stime field 15: indexes 11 and 12 counting from field 3.
    sample.cpu_seconds = (std::stod(after[11]) + std::stod(after[12])) / ticks;

    std::ifstream statm("/proc/self/statm");
    std::uint64_t size_pages = 0, resident_pages = 0;
    if (!(statm >> size_pages >> resident_pages)) return std::nullopt;
    sample.resident_bytes = resident_pages * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));

    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
        ++sample.open_fds;
    // The iterator's own descriptor is counted; it is closed again once the loop ends.
    if (sample.open_fds > 0) --sample.open_fds;
    return sample;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
    std::vector<prometheus::MetricFamily> out;
    const auto sample = read_process_sample();
    if (!sample) return out;
    for (const stats::Family& family : stats::families) {
        if (!is_process_family(family)) continue;
        prometheus::MetricFamily mf = family_header(family);
        prometheus::ClientMetric m;
        if (family.name == "traverse_process_cpu_seconds_total")
            m.counter.value = sample->cpu_seconds;
        else if (family.name == "traverse_process_resident_memory_bytes")
            m.gauge.value = static_cast<double>(sample->resident_bytes);
        else if (family.name == "traverse_process_open_fds")
            m.gauge.value = static_cast<double>(sample->open_fds);
        else if (family.name == "traverse_process_draining")
            m.gauge.value = draining_ && draining_() ? 1 : 0;
        mf.metric.push_back(std::move(m));
        out.push_back(std::move(mf));
    }
    return out;
}

namespace {

// civetweb's begin_request callback has no user pointer: the one live server's readiness check.
std::atomic<const std::function<bool()>*> live_ready{nullptr};

int reply(mg_connection* conn, int status, const char* reason, const char* body) {
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
              "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n%s",
              status, reason, std::strlen(body), body);
    return status;
}

/// Answers /healthz and /readyz before civetweb dispatches to prometheus-cpp's /metrics.
int health_endpoints(mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    if (!info || !info->local_uri || !info->request_method) return 0;
    const std::string_view uri = info->local_uri;
    if (uri != "/healthz" && uri != "/readyz") return 0;
    const std::string_view method = info->request_method;
    if (method != "GET" && method != "HEAD") return reply(conn, 405, "Method Not Allowed", "");
    if (uri == "/healthz") return reply(conn, 200, "OK", "ok\n");
    const auto* ready = live_ready.load();
    if (ready && *ready && (*ready)()) return reply(conn, 200, "OK", "ready\n");
    return reply(conn, 503, "Service Unavailable", "not ready\n");
}

} // namespace

std::unique_ptr<MetricsServer> MetricsServer::start(MetricsOptions options, CounterBlocks blocks,
                                                    std::string& error) {
    std::unique_ptr<MetricsServer> server(new MetricsServer());
    server->host_ = options.listen.substr(0, options.listen.rfind(':'));
    server->ready_ = std::move(options.ready);
    server->counters_ =
        std::make_shared<WorkerCountersCollector>(std::move(blocks), options.per_worker);
    server->process_ = std::make_shared<ProcessCollector>(std::move(options.draining));
    const std::function<bool()>* expected = nullptr;
    if (!live_ready.compare_exchange_strong(expected, &server->ready_)) {
        error = "a metrics server is already running";
        return nullptr;
    }
    CivetCallbacks callbacks;
    callbacks.begin_request = health_endpoints;
    try {
        server->exposer_ = std::make_unique<prometheus::Exposer>(options.listen, 2, &callbacks);
    } catch (const std::exception& e) {
        live_ready.store(nullptr);
        error = "cannot listen on " + options.listen + ": " + e.what();
        return nullptr;
    }
    server->exposer_->RegisterCollectable(server->counters_);
    server->exposer_->RegisterCollectable(server->process_);
    return server;
}

MetricsServer::~MetricsServer() {
    exposer_.reset(); // stops civetweb's threads before the collectors and readiness go
    const std::function<bool()>* mine = &ready_;
    live_ready.compare_exchange_strong(mine, nullptr);
}

std::string MetricsServer::bound_address() const {
    const auto ports = exposer_->GetListeningPorts();
    return host_ + ":" + (ports.empty() ? std::string("0") : std::to_string(ports.front()));
}

} // namespace traverse::monitoring
