// SPDX-License-Identifier: Apache-2.0
// Composition root of `traverse-signal`: options, the WebSocket server, signals.
#include "config/load.hpp"
#include "monitoring/signal_exporter.hpp"
#include "server/net/tls.hpp"
#include "server/signaling/server.hpp"
#include "server/signaling/token.hpp"

#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

namespace {

using namespace traverse;

constexpr const char* usage_text = R"(Usage: traverse-signal [OPTIONS]
       traverse-signal token --secret-file FILE --user USER [--ttl DURATION]

Traverse signaling relay: WebSocket at /ws (protocol: docs/signaling.md), GET /ice, GET /healthz.

Options:
  --listen IP:PORT            where to listen (default 127.0.0.1:8080; port 0 = any)
  --turn-host HOST            TURN/STUN host in the ICE URLs (default 127.0.0.1)
  --turn-port PORT            stun:/turn: port (default 3478)
  --turns-port PORT           turns: port, 0 to leave it out (default 5349)
  --turn-secret-file FILE     TURN REST API secret (first line); without it only STUN is offered
  --ttl DURATION              TURN credential lifetime (default 1h)
  --room-capacity N           members of a named room, 2..8 (default 2)
  --origin ORIGIN             allowed Origin for /ws, repeatable (default: any)
  --max-connections-per-ip N  HTTP/WebSocket connections per client IP (default 32)
  --tls-cert FILE             serve https:// and wss:// with this certificate chain...
  --tls-key FILE              ...and this private key (both or neither)
  --token-secret-file FILE    require a bearer token (HMAC-SHA256 with this secret) on /ws
  --idle-timeout DURATION     close a WebSocket silent this long; ping after half (default 60s)
  --metrics IP:PORT           serve Prometheus metrics at http://IP:PORT/metrics (port 0 = any)
  --redis HOST:PORT           share the queue and rooms with other nodes through this Redis
  --redis-prefix PREFIX       key and channel prefix in Redis (default traverse:signal:)
  --redis-ttl DURATION        entries of a node that stops refreshing expire after this (30s)
  -h, --help                  show this help and exit
  -V, --version               show the version and exit

`token` prints a bearer token for USER valid for DURATION (default 1h), signed with the
secret in FILE (first line); clients pass it as /ws?token=... or Authorization: Bearer ....

Once listening it prints "listening ws <address>" and "ready" on standard output.
SIGINT and SIGTERM stop it.
)";

int usage_error(const std::string& what) {
    std::fprintf(stderr, "traverse-signal: %s (see --help)\n", what.c_str());
    return 2;
}

std::optional<std::string> read_secret(const std::string& path) {
    std::ifstream in(path);
    std::string secret;
    if (!in || !std::getline(in, secret) || secret.empty()) return std::nullopt;
    return secret;
}

/// `traverse-signal token ...`: mints a bearer token.
int token_command(int argc, char** argv) {
    std::string secret_file, user;
    std::chrono::seconds ttl{3600};
    for (int i = 2; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (i + 1 >= argc) return usage_error("token: " + std::string(arg) + " needs a value");
        std::string value = argv[++i];
        if (arg == "--secret-file") {
            secret_file = value;
        } else if (arg == "--user") {
            user = value;
        } else if (arg == "--ttl") {
            auto parsed = config::parse_duration(value);
            if (!parsed) return usage_error("token --ttl: " + parsed.error);
            ttl = *parsed.value;
        } else {
            return usage_error("token: unknown option '" + std::string(arg) + "'");
        }
    }
    if (secret_file.empty() || user.empty())
        return usage_error("token needs --secret-file and --user");
    if (!signaling::valid_token_user(user))
        return usage_error("token --user: 1..128 printable characters without ':' or spaces");
    auto secret = read_secret(secret_file);
    if (!secret)
        return usage_error("token --secret-file: cannot read a secret from " + secret_file);
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    std::printf("%s\n", signaling::mint_token(*secret, user, now + ttl.count()).c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && std::string_view(argv[1]) == "token") return token_command(argc, argv);
    std::signal(SIGPIPE, SIG_IGN);
    signaling::ServerOptions options;
    std::string listen = "127.0.0.1:8080";
    std::string tls_cert, tls_key;
    std::optional<std::string> redis_prefix;
    std::string metrics_listen;
    std::optional<std::chrono::seconds> redis_ttl;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::fputs(usage_text, stdout);
            return 0;
        }
        if (arg == "-V" || arg == "--version") {
            std::printf("traverse-signal %s\n", TRAVERSE_VERSION);
            return 0;
        }
        if (i + 1 >= argc) return usage_error(std::string(arg) + " needs a value");
        std::string value = argv[++i];
        if (arg == "--listen") {
            listen = value;
        } else if (arg == "--turn-host") {
            options.ice.turn_host = value;
        } else if (arg == "--turn-port" || arg == "--turns-port") {
            auto port = config::parse_port(value);
            if (!port) return usage_error(std::string(arg) + ": " + port.error);
            (arg == "--turn-port" ? options.ice.turn_port : options.ice.turns_port) = *port.value;
        } else if (arg == "--turn-secret-file") {
            std::ifstream in(value);
            std::string secret;
            if (!in || !std::getline(in, secret) || secret.empty())
                return usage_error("--turn-secret-file: cannot read a secret from " + value);
            options.ice.secret = secret;
        } else if (arg == "--ttl") {
            auto ttl = config::parse_duration(value);
            if (!ttl) return usage_error("--ttl: " + ttl.error);
            options.ice.ttl = *ttl.value;
        } else if (arg == "--room-capacity") {
            if (value.size() != 1 || value[0] < '2' || value[0] > '8')
                return usage_error("--room-capacity: expected 2..8, got '" + value + "'");
            options.hub.room_capacity = static_cast<std::size_t>(value[0] - '0');
        } else if (arg == "--tls-cert") {
            tls_cert = value;
        } else if (arg == "--tls-key") {
            tls_key = value;
        } else if (arg == "--max-connections-per-ip") {
            char* end = nullptr;
            unsigned long n = std::strtoul(value.c_str(), &end, 10);
            if (value.empty() || *end != '\0' || n < 1 || n > 100000)
                return usage_error("--max-connections-per-ip: expected 1..100000, got '" + value +
                                   "'");
            options.max_connections_per_ip = n;
        } else if (arg == "--token-secret-file") {
            auto secret = read_secret(value);
            if (!secret)
                return usage_error("--token-secret-file: cannot read a secret from " + value);
            options.token_secret = *secret;
        } else if (arg == "--idle-timeout") {
            auto idle = config::parse_duration(value);
            if (!idle) return usage_error("--idle-timeout: " + idle.error);
            if (idle.value->count() < 2) return usage_error("--idle-timeout: at least 2s");
            options.idle_timeout = *idle.value;
        } else if (arg == "--metrics") {
            auto metrics = config::parse_listen_spec("tcp://" + value);
            if (!metrics) return usage_error("--metrics: " + metrics.error);
            metrics_listen = value;
        } else if (arg == "--redis") {
            auto redis = signaling::parse_redis_address(value);
            if (!redis) return usage_error("--redis: expected HOST:PORT, got '" + value + "'");
            options.redis = *redis;
        } else if (arg == "--redis-prefix") {
            if (value.empty()) return usage_error("--redis-prefix: empty");
            redis_prefix = value;
        } else if (arg == "--redis-ttl") {
            auto ttl = config::parse_duration(value);
            if (!ttl) return usage_error("--redis-ttl: " + ttl.error);
            if (*ttl.value < std::chrono::seconds(3))
                return usage_error("--redis-ttl: at least 3s");
            redis_ttl = *ttl.value;
        } else if (arg == "--origin") {
            options.allowed_origins.push_back(value);
        } else {
            return usage_error("unknown option '" + std::string(arg) + "'");
        }
    }
    if ((redis_prefix || redis_ttl) && !options.redis)
        return usage_error("--redis-prefix and --redis-ttl need --redis");
    if (options.redis) {
        if (redis_prefix) options.redis->prefix = *redis_prefix;
        if (redis_ttl) options.redis->peer_ttl = *redis_ttl;
    }
    if (tls_cert.empty() != tls_key.empty())
        return usage_error("--tls-cert and --tls-key go together");
    if (!tls_cert.empty()) {
        auto made = net::make_tls_server_context(tls_cert, tls_key);
        if (!made.context) {
            std::fprintf(stderr, "traverse-signal: %s\n", made.error.c_str());
            return 1;
        }
        options.tls = made.context;
    }
    auto spec = config::parse_listen_spec("tcp://" + listen);
    if (!spec) return usage_error("--listen: " + spec.error);
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(spec.value->address, ec);
    if (ec) return usage_error("--listen: bad address " + spec.value->address);

    // The counters outlive the server (which writes them) and the exporter (which reads them).
    stats::SignalCounters counters;
    options.stats = &counters;
    std::unique_ptr<monitoring::SignalMetricsServer> metrics;
    if (!metrics_listen.empty()) {
        std::string error;
        metrics = monitoring::SignalMetricsServer::start(metrics_listen, counters, error);
        if (!metrics) {
            std::fprintf(stderr, "traverse-signal: metrics: %s\n", error.c_str());
            return 1;
        }
    }
    boost::asio::io_context io(1);
    signaling::Server server(io, options);
    boost::asio::ip::tcp::endpoint bound;
    try {
        bound = server.listen({address, spec.value->port});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "traverse-signal: cannot listen on %s: %s\n", listen.c_str(),
                     e.what());
        return 1;
    }
    if (auto error = server.start_cluster()) {
        std::fprintf(stderr, "traverse-signal: redis %s:%u: %s\n", options.redis->host.c_str(),
                     options.redis->port, error->c_str());
        return 1;
    }
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) {
        server.stop();
        io.stop();
    });
    const std::string shown = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                      : bound.address().to_string();
    std::printf("listening %s %s:%u\n", options.tls ? "wss" : "ws", shown.c_str(), bound.port());
    if (metrics) std::printf("listening metrics %s\n", metrics->bound_address().c_str());
    std::printf("ready\n");
    std::fflush(stdout);
    io.run();
    return 0;
}
