// SPDX-License-Identifier: Apache-2.0
#include "tools/turnbench/common.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace turnbench {

bool Options::parse(int argc, char** argv, int first, const std::vector<std::string>& flags,
                    std::string& error) {
    for (int i = first; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.rfind("--", 0) != 0 || arg.size() < 3) {
            error = "unexpected argument: " + arg;
            return false;
        }
        std::string key = arg.substr(2);
        if (const auto eq = key.find('='); eq != std::string::npos) {
            values_[key.substr(0, eq)] = key.substr(eq + 1);
            continue;
        }
        if (std::find(flags.begin(), flags.end(), key) != flags.end()) {
            values_[key] = "1";
            continue;
        }
        if (i + 1 >= argc) {
            error = "missing value for --" + key;
            return false;
        }
        values_[key] = argv[++i];
    }
    return true;
}

std::string Options::str(const std::string& key, const std::string& fallback) const {
    const auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
}

double Options::num(const std::string& key, double fallback) const {
    const auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    if (end == it->second.c_str() || *end != '\0' || !std::isfinite(v) || v < 0) {
        std::fprintf(stderr, "turnbench: bad number for --%s: %s\n", key.c_str(),
                     it->second.c_str());
        std::exit(2);
    }
    return v;
}

std::uint16_t Endpoint::port() const noexcept {
    if (storage.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

std::string Endpoint::to_string() const {
    char text[INET6_ADDRSTRLEN] = {};
    if (storage.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text,
                  sizeof text);
        return "[" + std::string(text) + "]:" + std::to_string(port());
    }
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text,
              sizeof text);
    return std::string(text) + ":" + std::to_string(port());
}

std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& error) {
    std::string host;
    std::string port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find("]:");
        if (close == std::string_view::npos) {
            error = "expected [addr]:port";
            return std::nullopt;
        }
        host = std::string(text.substr(1, close - 1));
        port_text = std::string(text.substr(close + 2));
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            error = "expected addr:port";
            return std::nullopt;
        }
        host = std::string(text.substr(0, colon));
        port_text = std::string(text.substr(colon + 1));
    }
    char* end = nullptr;
    const long port = std::strtol(port_text.c_str(), &end, 10);
    if (port_text.empty() || *end != '\0' || port < 0 || port > 65535) {
        error = "bad port: " + port_text;
        return std::nullopt;
    }
    Endpoint ep;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.storage);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127) {
            error = "only loopback addresses (127.0.0.0/8, ::1) are allowed: " + host;
            return std::nullopt;
        }
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<std::uint16_t>(port));
        ep.length = sizeof(sockaddr_in);
        return ep;
    }
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) {
            error = "only loopback addresses (127.0.0.0/8, ::1) are allowed: " + host;
            return std::nullopt;
        }
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<std::uint16_t>(port));
        ep.length = sizeof(sockaddr_in6);
        return ep;
    }
    error = "not an IP literal: " + host;
    return std::nullopt;
}

Endpoint local_endpoint(int fd) {
    Endpoint ep;
    ep.length = sizeof ep.storage;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ep.storage), &ep.length);
    return ep;
}

int udp_socket(int family, std::uint16_t port, const Endpoint* peer) {
    const int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    Endpoint local;
    if (family == AF_INET6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&local.storage);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons(port);
        local.length = sizeof(sockaddr_in6);
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&local.storage);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons(port);
        local.length = sizeof(sockaddr_in);
    }
    if (bind(fd, local.sa(), local.length) != 0 ||
        (peer != nullptr && connect(fd, peer->sa(), peer->length) != 0)) {
        const int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

double process_cpu_seconds(long pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return -1;
    const auto paren = line.rfind(')');
    if (paren == std::string::npos) return -1;
    // Fields after the command name start at field 3 (state); utime and stime are 14 and 15.
    std::istringstream rest(line.substr(paren + 2));
    std::string field;
    unsigned long long utime = 0;
    unsigned long long stime = 0;
    for (int index = 3; index <= 15 && rest >> field; ++index) {
        if (index == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
        if (index == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    const long ticks = sysconf(_SC_CLK_TCK);
    return static_cast<double>(utime + stime) / static_cast<double>(ticks > 0 ? ticks : 100);
}

long process_rss_kib(long pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return -1;
}

Percentiles percentiles(std::vector<std::uint32_t>& samples) {
    Percentiles p;
    if (samples.empty()) return p;
    std::sort(samples.begin(), samples.end());
    auto at = [&](double q) {
        const auto index = static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1));
        return static_cast<double>(samples[index]) / 1000.0;
    };
    p.p50 = at(0.50);
    p.p90 = at(0.90);
    p.p99 = at(0.99);
    p.max = at(1.0);
    return p;
}

void Report::add(const std::string& key, double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    items_.push_back({key, text, false});
}

void Report::add(const std::string& key, const std::string& value) {
    items_.push_back({key, value, true});
}

void Report::print(bool json) const {
    if (json) {
        std::string out = "{";
        for (std::size_t i = 0; i < items_.size(); ++i) {
            out += (i ? ", \"" : "\"") + items_[i].key + "\": ";
            if (items_[i].quoted) {
                out += '"';
                for (const char c : items_[i].text) {
                    if (c == '"' || c == '\\') out += '\\';
                    out += c;
                }
                out += '"';
            } else {
                out += items_[i].text;
            }
        }
        std::printf("%s}\n", out.c_str());
    } else {
        std::size_t width = 0;
        for (const auto& item : items_)
            width = std::max(width, item.key.size());
        for (const auto& item : items_)
            std::printf("  %-*s  %s\n", static_cast<int>(width), item.key.c_str(),
                        item.text.c_str());
    }
    std::fflush(stdout);
}

} // namespace turnbench
