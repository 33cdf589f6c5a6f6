// SPDX-License-Identifier: Apache-2.0
// turnbench support: options, loopback-only endpoints, UDP sockets, /proc readings, statistics.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace turnbench {

/// Monotonic clock in nanoseconds.
inline std::uint64_t now_ns() noexcept {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

/// "--key value" options and "--flag" switches after the mode word.
class Options {
public:
    /// Parses argv[first..]; flags are the names that take no value.
    bool parse(int argc, char** argv, int first, const std::vector<std::string>& flags,
               std::string& error);
    bool has(const std::string& key) const { return values_.count(key) != 0; }
    std::string str(const std::string& key, const std::string& fallback = "") const;
    double num(const std::string& key, double fallback) const;

private:
    std::map<std::string, std::string> values_;
};

/// A loopback socket address (127.0.0.0/8 or ::1); anything else is refused.
struct Endpoint {
    sockaddr_storage storage{};
    socklen_t length = 0;

    int family() const noexcept { return storage.ss_family; }
    const sockaddr* sa() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
    std::uint16_t port() const noexcept;
    std::string to_string() const;
};

/// Parses "127.0.0.1:3478" or "[::1]:3478"; nullopt (and a message) if not loopback.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& error);
/// The local address a socket is bound to.
Endpoint local_endpoint(int fd);

/// A UDP socket bound to the loopback address of the family (port 0 = ephemeral), with large
/// buffers; connected to peer when given. Returns -1 on failure (errno set).
int udp_socket(int family, std::uint16_t port, const Endpoint* peer);

/// utime + stime of a process in seconds, from /proc/PID/stat; negative if unreadable.
double process_cpu_seconds(long pid);
/// VmRSS of a process in KiB, from /proc/PID/status; negative if unreadable.
long process_rss_kib(long pid);

/// Latency percentiles in microseconds over samples in nanoseconds (sorts samples).
struct Percentiles {
    double p50 = 0, p90 = 0, p99 = 0, max = 0;
};
Percentiles percentiles(std::vector<std::uint32_t>& samples_ns);

/// An ordered list of results printed as an aligned table and as one JSON object.
class Report {
public:
    void add(const std::string& key, double value, int decimals = 0);
    void add(const std::string& key, const std::string& value);
    void print(bool json) const;

private:
    struct Item {
        std::string key;
        std::string text;
        bool quoted;
    };
    std::vector<Item> items_;
};

} // namespace turnbench
