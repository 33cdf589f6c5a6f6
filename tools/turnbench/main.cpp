// SPDX-License-Identifier: Apache-2.0
// turnbench: load generator for STUN/TURN servers on loopback (binding, relay, allocs) and raw
// UDP baselines (echo, echo-forward). Every run is bounded in time; only loopback addresses.
#include "proto/message_builder.hpp"
#include "proto/types.hpp"
#include "tools/turnbench/common.hpp"
#include "tools/turnbench/load.hpp"
#include "tools/turnbench/raw.hpp"
#include "tools/turnbench/turn.hpp"

#include <arpa/inet.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>

namespace tb = turnbench;
namespace p = traverse::proto;

namespace {

constexpr const char* usage = R"(usage: turnbench MODE [options]   (loopback addresses only)
  binding --server ADDR:PORT [--duration S] [--rate PPS|0] [--sockets K] [--window W]
  relay   --server ADDR:PORT --user U --password P [--allocations N] [--rate PPS|0]
          [--size BYTES] [--duration S] [--channels | --send-indications] [--window W]
          [--raw --peer-port PORT]   (--raw: talk ChannelData to an echo-forward, no TURN)
  allocs  --server ADDR:PORT --user U --password P [--count N] [--concurrency C]
  echo          --listen ADDR:PORT [--duration S]
  echo-forward  --listen ADDR:PORT --peer ADDR:PORT [--duration S]
common: --pid PID (server CPU seconds, and RSS for allocs), --json (one JSON object)
)";

[[noreturn]] void fail(const std::string& message) {
    std::fprintf(stderr, "turnbench: %s\n", message.c_str());
    std::exit(1);
}

tb::Endpoint endpoint_option(const tb::Options& o, const std::string& key) {
    if (!o.has(key)) fail("--" + key + " is required");
    std::string error;
    const auto ep = tb::parse_endpoint(o.str(key), error);
    if (!ep) fail("--" + key + ": " + error);
    return *ep;
}

void raise_fd_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

std::vector<int> client_sockets(const tb::Endpoint& server, std::size_t count) {
    std::vector<int> fds;
    for (std::size_t i = 0; i < count; ++i) {
        const int fd = tb::udp_socket(server.family(), 0, &server);
        if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
        fds.push_back(fd);
    }
    return fds;
}

void close_all(const std::vector<int>& fds) {
    for (const int fd : fds)
        close(fd);
}

p::TransportAddress to_transport(const tb::Endpoint& ep) {
    p::TransportAddress a;
    if (ep.family() == AF_INET6) {
        const auto* s = reinterpret_cast<const sockaddr_in6*>(&ep.storage);
        a.family = p::Family::ipv6;
        std::memcpy(a.ip.data(), &s->sin6_addr, 16);
    } else {
        const auto* s = reinterpret_cast<const sockaddr_in*>(&ep.storage);
        std::memcpy(a.ip.data(), &s->sin_addr, 4);
    }
    a.port = ep.port();
    return a;
}

std::uint16_t be16(const std::byte* b) {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(b[0]) << 8) |
                                      std::to_integer<unsigned>(b[1]));
}

// Server CPU seconds over a phase, when --pid was given.
struct CpuMeter {
    long pid = 0;
    double start = 0;
    void begin() {
        if (pid > 0) start = tb::process_cpu_seconds(pid);
    }
    double seconds() const { return pid > 0 ? tb::process_cpu_seconds(pid) - start : 0; }
};

void add_load_report(tb::Report& r, tb::LoadResult& res, double cpu, bool has_pid) {
    const double lost = res.sent > res.received ? static_cast<double>(res.sent - res.received) : 0;
    r.add("sent", static_cast<double>(res.sent));
    r.add("received", static_cast<double>(res.received));
    r.add("lost", lost);
    r.add("loss_pct", res.sent ? 100.0 * lost / static_cast<double>(res.sent) : 0, 3);
    r.add("send_seconds", res.send_seconds, 3);
    const auto pc = tb::percentiles(res.rtt_ns);
    r.add("rtt_p50_us", pc.p50, 1);
    r.add("rtt_p90_us", pc.p90, 1);
    r.add("rtt_p99_us", pc.p99, 1);
    r.add("rtt_max_us", pc.max, 1);
    if (has_pid) r.add("server_cpu_s", cpu, 2);
}

int mode_binding(const tb::Options& o) {
    const auto server = endpoint_option(o, "server");
    const auto fds = client_sockets(server, static_cast<std::size_t>(o.num("sockets", 1)));
    tb::LoadSpec spec;
    spec.fds = fds;
    spec.duration_s = o.num("duration", 5);
    spec.rate = o.num("rate", 0);
    spec.window = static_cast<std::size_t>(o.num("window", 128));
    spec.make = [](std::size_t, std::uint64_t seq, std::uint64_t now, std::byte* out) {
        p::TransactionId tid{};
        std::memcpy(tid.data(), &now, 8);
        const auto low = static_cast<std::uint32_t>(seq);
        std::memcpy(tid.data() + 8, &low, 4);
        p::MessageBuilder b({out, p::header_size});
        b.start(p::make_type(p::Method::binding, p::MessageClass::request), tid);
        return b.size();
    };
    constexpr auto request = p::make_type(p::Method::binding, p::MessageClass::request).encode();
    constexpr auto success =
        p::make_type(p::Method::binding, p::MessageClass::success_response).encode();
    spec.parse = [](std::span<const std::byte> d) -> std::uint64_t {
        if (d.size() < p::header_size) return 0;
        const auto type = be16(d.data());
        if (type != success && type != request) // a raw echo returns the request itself
            return 0;
        std::uint64_t sent = 0;
        std::memcpy(&sent, d.data() + 8, 8);
        return sent;
    };
    CpuMeter cpu{static_cast<long>(o.num("pid", 0))};
    cpu.begin();
    auto res = tb::run_load(spec);
    const double cpu_s = cpu.seconds();
    close_all(fds);
    tb::Report r;
    r.add("mode", "binding");
    r.add("server", server.to_string());
    r.add("rate_target", spec.rate);
    r.add("sockets", static_cast<double>(fds.size()));
    add_load_report(r, res, cpu_s, cpu.pid > 0);
    const double answered_per_s = static_cast<double>(res.received) / res.send_seconds;
    r.add("answered_per_s", answered_per_s);
    if (cpu.pid > 0)
        r.add("answered_per_cpu_s", cpu_s > 0 ? static_cast<double>(res.received) / cpu_s : 0);
    r.print(o.has("json"));
    return res.received > 0 ? 0 : 1;
}

// Payload layout in both directions: send timestamp (8 bytes), allocation index (4 bytes).
constexpr std::size_t min_payload = 12;

int mode_relay(const tb::Options& o) {
    const auto server = endpoint_option(o, "server");
    const bool raw = o.has("raw");
    const bool indications = o.has("send-indications");
    const auto count = static_cast<std::size_t>(std::max(1.0, o.num("allocations", 1)));
    const auto size = static_cast<std::size_t>(o.num("size", 200));
    if (size < min_payload || size > 1200) fail("--size must be 12..1200");
    if (raw && indications) fail("--raw supports ChannelData only");
    raise_fd_limit();

    // The echo peer, on its own thread: answers every datagram to its sender (the relay).
    const int peer_fd =
        tb::udp_socket(server.family(), static_cast<std::uint16_t>(o.num("peer-port", 0)), nullptr);
    if (peer_fd < 0) fail(std::string("peer socket: ") + std::strerror(errno));
    const auto peer = tb::local_endpoint(peer_fd);
    std::atomic<bool> stop{false};
    tb::EchoCounters peer_counters;
    const double duration = o.num("duration", 5);
    std::thread echo([&] { tb::run_echo(peer_fd, duration + 60, stop, peer_counters); });

    const auto fds = client_sockets(server, count);
    std::vector<tb::Session> sessions(count);
    tb::ControlSpec control;
    control.credentials = {o.str("user"), o.str("password")};
    control.peer = to_transport(peer);
    control.timeout_s = 30;
    auto finish = [&](int code) {
        stop = true;
        echo.join();
        close_all(fds);
        close(peer_fd);
        return code;
    };
    if (!raw) {
        if (!o.has("user") || !o.has("password")) fail("--user and --password are required");
        for (std::size_t i = 0; i < count; ++i) {
            sessions[i].fd = fds[i];
            sessions[i].plan = {tb::Step::allocate,
                                indications ? tb::Step::permission : tb::Step::channel_bind};
        }
        tb::run_control(sessions, control);
        for (const auto& s : sessions) {
            if (s.failed) {
                std::fprintf(stderr, "turnbench: allocation setup failed: %s\n", s.error.c_str());
                return finish(1);
            }
        }
    }

    // Send-indication templates: XOR-PEER-ADDRESS then DATA; the timestamp is patched in place.
    std::vector<std::array<std::byte, tb::max_packet>> templates;
    std::size_t data_offset = 0;
    std::size_t template_size = 0;
    if (indications) {
        templates.resize(1);
        std::vector<std::byte> payload(size);
        p::MessageBuilder b(templates[0]);
        b.start(p::make_type(p::Method::send, p::MessageClass::indication), p::TransactionId{});
        b.add_xor_address(p::AttrType::xor_peer_address, control.peer);
        data_offset = b.size() + p::attribute_header_size;
        b.add_raw(p::AttrType::data, payload);
        template_size = b.size();
    }
    tb::LoadSpec spec;
    spec.fds = fds;
    spec.duration_s = duration;
    spec.rate = o.num("rate", 0);
    spec.window = static_cast<std::size_t>(o.num("window", 256));
    spec.drain_s = 1.0;
    spec.make = [&](std::size_t socket, std::uint64_t, std::uint64_t now, std::byte* out) {
        const auto index = static_cast<std::uint32_t>(socket);
        if (indications) {
            std::memcpy(out, templates[0].data(), template_size);
            std::memcpy(out + data_offset, &now, 8);
            std::memcpy(out + data_offset + 8, &index, 4);
            return template_size;
        }
        const std::uint16_t header[2] = {htons(control.channel),
                                         htons(static_cast<std::uint16_t>(size))};
        std::memcpy(out, header, 4);
        std::memcpy(out + 4, &now, 8);
        std::memcpy(out + 12, &index, 4);
        return size + 4;
    };
    constexpr auto data_type = p::make_type(p::Method::data, p::MessageClass::indication).encode();
    spec.parse = [&](std::span<const std::byte> d) -> std::uint64_t {
        std::uint64_t sent = 0;
        if (!indications) {
            if (d.size() < 4 + min_payload || (std::to_integer<unsigned>(d[0]) & 0xC0) != 0x40)
                return 0;
            std::memcpy(&sent, d.data() + 4, 8);
            return sent;
        }
        if (d.size() < p::header_size || be16(d.data()) != data_type) return 0;
        std::size_t at = p::header_size;
        while (at + 4 <= d.size()) {
            const auto type = be16(d.data() + at);
            const auto len = be16(d.data() + at + 2);
            if (type == p::to_underlying(p::AttrType::data) && len >= min_payload &&
                at + 4 + len <= d.size()) {
                std::memcpy(&sent, d.data() + at + 4, 8);
                return sent;
            }
            at += 4 + ((len + 3u) & ~3u);
        }
        return 0;
    };
    CpuMeter cpu{static_cast<long>(o.num("pid", 0))};
    const std::uint64_t peer_before = peer_counters.packets.load();
    cpu.begin();
    auto res = tb::run_load(spec);
    const double cpu_s = cpu.seconds();
    const double to_peer = static_cast<double>(peer_counters.packets.load() - peer_before);

    if (!raw) { // release the allocations (Refresh LIFETIME 0)
        for (auto& s : sessions) {
            s.plan = {tb::Step::release};
            s.next = 0;
        }
        tb::run_control(sessions, control);
    }
    tb::Report r;
    r.add("mode", "relay");
    r.add("server", server.to_string());
    r.add("framing", raw ? "raw-channeldata" : indications ? "send-indication" : "channeldata");
    r.add("allocations", static_cast<double>(count));
    r.add("size", static_cast<double>(size));
    r.add("rate_target", spec.rate);
    add_load_report(r, res, cpu_s, cpu.pid > 0);
    const double secs = res.send_seconds;
    r.add("to_peer_per_s", to_peer / secs);
    r.add("to_client_per_s", static_cast<double>(res.received) / secs);
    const double relayed = to_peer + static_cast<double>(res.received);
    r.add("relayed_per_s", relayed / secs);
    r.add("mbit_s_each_way",
          static_cast<double>(res.received) * static_cast<double>(size) * 8 / secs / 1e6, 1);
    if (cpu.pid > 0) r.add("relayed_per_cpu_s", cpu_s > 0 ? relayed / cpu_s : 0);
    r.print(o.has("json"));
    return finish(res.received > 0 ? 0 : 1);
}

int mode_allocs(const tb::Options& o) {
    const auto server = endpoint_option(o, "server");
    if (!o.has("user") || !o.has("password")) fail("--user and --password are required");
    const auto count = static_cast<std::size_t>(std::max(1.0, o.num("count", 1000)));
    raise_fd_limit();
    const auto fds = client_sockets(server, count);
    std::vector<tb::Session> sessions(count);
    for (std::size_t i = 0; i < count; ++i) {
        sessions[i].fd = fds[i];
        sessions[i].plan = {tb::Step::allocate};
    }
    tb::ControlSpec control;
    control.credentials = {o.str("user"), o.str("password")};
    control.concurrency = static_cast<std::size_t>(std::max(1.0, o.num("concurrency", 64)));
    control.timeout_s = 60;
    const long pid = static_cast<long>(o.num("pid", 0));
    CpuMeter cpu{pid};
    const long rss_before = pid > 0 ? tb::process_rss_kib(pid) : -1;
    cpu.begin();
    const double elapsed = tb::run_control(sessions, control);
    const double cpu_s = cpu.seconds();
    std::size_t ok = 0;
    std::vector<std::uint32_t> latency;
    std::string first_error;
    for (const auto& s : sessions) {
        if (s.failed) {
            if (first_error.empty()) first_error = s.error;
            continue;
        }
        ++ok;
        latency.push_back(
            static_cast<std::uint32_t>(std::min<std::uint64_t>(s.finished_at - s.started_at, ~0u)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const long rss_full = pid > 0 ? tb::process_rss_kib(pid) : -1;
    for (auto& s : sessions) {
        if (!s.failed) {
            s.plan = {tb::Step::release};
            s.next = 0;
        }
    }
    const double release_s = tb::run_control(sessions, control);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const long rss_after = pid > 0 ? tb::process_rss_kib(pid) : -1;
    close_all(fds);

    tb::Report r;
    r.add("mode", "allocs");
    r.add("server", server.to_string());
    r.add("requested", static_cast<double>(count));
    r.add("allocated", static_cast<double>(ok));
    r.add("failed", static_cast<double>(count - ok));
    r.add("setup_seconds", elapsed, 3);
    r.add("allocs_per_s", static_cast<double>(ok) / elapsed);
    const auto pc = tb::percentiles(latency);
    r.add("setup_p50_us", pc.p50, 1);
    r.add("setup_p99_us", pc.p99, 1);
    r.add("release_seconds", release_s, 3);
    if (pid > 0) {
        r.add("server_cpu_s", cpu_s, 2);
        r.add("allocs_per_cpu_s", cpu_s > 0 ? static_cast<double>(ok) / cpu_s : 0);
        r.add("rss_before_kib", static_cast<double>(rss_before));
        r.add("rss_allocated_kib", static_cast<double>(rss_full));
        r.add("rss_released_kib", static_cast<double>(rss_after));
        r.add("rss_per_alloc_bytes",
              ok ? static_cast<double>(rss_full - rss_before) * 1024 / static_cast<double>(ok) : 0);
    }
    if (!first_error.empty()) r.add("first_error", first_error);
    r.print(o.has("json"));
    return ok == count ? 0 : 1;
}

int mode_echo(const tb::Options& o, bool forward) {
    const auto listen = endpoint_option(o, "listen");
    const int fd = tb::udp_socket(listen.family(), listen.port(), nullptr);
    if (fd < 0) fail(std::string("bind ") + listen.to_string() + ": " + std::strerror(errno));
    const double duration = o.num("duration", 600);
    std::printf("listening %s\n", tb::local_endpoint(fd).to_string().c_str());
    std::fflush(stdout);
    if (forward) {
        tb::run_forwarder(fd, endpoint_option(o, "peer"), duration);
    } else {
        std::atomic<bool> stop{false};
        tb::EchoCounters counters;
        tb::run_echo(fd, duration, stop, counters);
    }
    close(fd);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
        std::fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const std::string mode = argv[1];
    tb::Options o;
    std::string error;
    if (!o.parse(argc, argv, 2, {"json", "channels", "send-indications", "raw"}, error)) {
        std::fprintf(stderr, "turnbench: %s\n%s", error.c_str(), usage);
        return 2;
    }
    if (mode == "binding") return mode_binding(o);
    if (mode == "relay") return mode_relay(o);
    if (mode == "allocs") return mode_allocs(o);
    if (mode == "echo") return mode_echo(o, false);
    if (mode == "echo-forward") return mode_echo(o, true);
    std::fprintf(stderr, "turnbench: unknown mode %s\n%s", mode.c_str(), usage);
    return 2;
}
