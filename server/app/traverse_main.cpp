// SPDX-License-Identifier: Apache-2.0
// Composition root of the `traverse` daemon: options, config, sockets, workers, signals.
#include "config/load.hpp"
#include "config/reload.hpp"
#include "config/validate.hpp"
#include "monitoring/exporter.hpp"
#include "monitoring/stats.hpp"
#include "proto/channel_data.hpp"
#include "server/app/control.hpp"
#include "server/app/cred_command.hpp"
#include "server/app/listener_plan.hpp"
#include "server/base/log.hpp"
#include "server/net/tls.hpp"
#include "server/worker/shared_quota.hpp"
#include "server/worker/turn_worker.hpp"

#include <openssl/rand.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace traverse;

constexpr int exit_ok = 0;
constexpr int exit_config = 1; // invalid configuration or start-up failure
constexpr int exit_usage = 2;  // bad command line

constexpr const char* usage_text = R"(Usage: traverse [OPTIONS]
       traverse cred --user NAME --secret-file FILE [--ttl 24h]   (see traverse cred --help)
       traverse ctl [--socket PATH] status|reload|drain            (see traverse ctl --help)

Traverse STUN/TURN server.

Options:
  -c, --config FILE         load the YAML configuration FILE (default: built-in localhost defaults)
      --check-config FILE   validate FILE, print every problem, and exit (0 valid, 1 invalid)
      --listen SPEC         listen on SPEC, e.g. udp://127.0.0.1:3478, tcp://[::1]:3478,
                            tls://127.0.0.1:5349; repeatable; replaces the configured listeners
      --workers N|auto      number of worker threads (default: one per CPU)
      --log-level LEVEL     trace, debug, info, warn, error or off
      --software TEXT       SOFTWARE attribute value ("" omits it)
  -h, --help                show this help and exit
  -V, --version             show the version and exit

Once every socket is bound, one "listening <transport> <address>" line per socket and then
"ready" are printed on standard output.

Signals:
  SIGHUP    reload the configuration file: credentials, REST secrets, peer filters, quotas,
            rate limits, lifetimes, logging and the TLS certificate change without dropping
            allocations or connections; an invalid file is refused and the running one stays;
            settings that need a restart (listeners, workers, relay range) are named in the log
  SIGTERM   stop; with server.drain_timeout set, drain first: refuse new allocations (508, or
            300 with server.alternate_server), relay until allocations end or the timeout
            passes, then exit; a second SIGTERM exits at once
  SIGINT    stop at once
)";

struct CommandLine {
    std::optional<std::string> config_file;
    std::optional<std::string> check_file;
    std::vector<std::string> listens;
    std::optional<std::string> workers;
    std::optional<std::string> log_level;
    std::optional<std::string> software;
    bool help = false;
    bool version = false;
};

/// Parses argv; on error prints the reason and returns nullopt.
std::optional<CommandLine> parse_command_line(int argc, char** argv) {
    CommandLine cl;
    auto need_value = [&](int& i, std::string_view name) -> std::optional<std::string> {
        if (i + 1 >= argc) {
            std::fprintf(stderr, "traverse: option %.*s needs a value\n",
                         static_cast<int>(name.size()), name.data());
            return std::nullopt;
        }
        return std::string(argv[++i]);
    };
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::optional<std::string> value;
        // Accept --name=value as well as --name value.
        if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            value = std::string(arg.substr(eq + 1));
            arg = arg.substr(0, eq);
        }
        auto take = [&]() -> std::optional<std::string> {
            return value ? value : need_value(i, arg);
        };
        if (arg == "-h" || arg == "--help") {
            cl.help = true;
        } else if (arg == "-V" || arg == "--version") {
            cl.version = true;
        } else if (arg == "-c" || arg == "--config") {
            if (!(cl.config_file = take())) return std::nullopt;
        } else if (arg == "--check-config") {
            if (!(cl.check_file = take())) return std::nullopt;
        } else if (arg == "--listen") {
            auto v = take();
            if (!v) return std::nullopt;
            cl.listens.push_back(*v);
        } else if (arg == "--workers") {
            if (!(cl.workers = take())) return std::nullopt;
        } else if (arg == "--log-level") {
            if (!(cl.log_level = take())) return std::nullopt;
        } else if (arg == "--software") {
            if (!(cl.software = take())) return std::nullopt;
        } else {
            std::fprintf(stderr, "traverse: unknown option '%s' (see --help)\n", argv[i]);
            return std::nullopt;
        }
    }
    return cl;
}

void print_diagnostics(const std::vector<config::Diagnostic>& errors) {
    for (const auto& d : errors)
        std::fprintf(stderr, "%s\n", config::to_string(d).c_str());
}

/// Applies command-line overrides; returns every problem as a diagnostic.
std::vector<config::Diagnostic> apply_overrides(const CommandLine& cl, config::ServerConfig& cfg) {
    std::vector<config::Diagnostic> errors;
    if (!cl.listens.empty()) {
        cfg.listeners.clear();
        for (const auto& spec : cl.listens) {
            auto l = config::parse_listen_spec(spec);
            if (!l)
                errors.push_back({"--listen", 0, l.error});
            else
                cfg.listeners.push_back(*l.value);
        }
    }
    if (cl.workers) {
        auto w = config::parse_workers(*cl.workers);
        if (!w)
            errors.push_back({"--workers", 0, w.error});
        else
            cfg.server.workers = *w.value;
    }
    if (cl.log_level) {
        auto l = config::parse_log_level(*cl.log_level);
        if (!l)
            errors.push_back({"--log-level", 0, l.error});
        else
            cfg.logging.level = *l.value;
    }
    if (cl.software) cfg.server.software = *cl.software;
    if (errors.empty()) {
        auto more = config::validate(cfg);
        errors.insert(errors.end(), more.begin(), more.end());
    }
    return errors;
}

proto::TransportAddress ip_of(const std::string& literal) {
    bool v6 = literal.find(':') != std::string::npos;
    auto a = proto::TransportAddress::parse((v6 ? "[" + literal + "]" : literal) + ":0");
    return a ? *a : proto::TransportAddress{};
}

/// Long-term credentials from the config; null when none are configured (STUN-only).
/// `nonce_secret` is made once per process: a reload keeps outstanding nonces valid, a restart
/// invalidates them (clients retry after 438).
std::shared_ptr<const turn::Authenticator>
make_authenticator(const config::Auth& auth, const std::array<std::byte, 32>& nonce_secret) {
    if (!auth.enabled()) return nullptr;
    turn::AuthOptions o;
    o.realm = auth.realm;
    o.rest_secrets = auth.secrets;
    o.nonce_lifetime = auth.nonce_lifetime;
    o.nonce_secret = nonce_secret;
    for (const auto& u : auth.users) {
        turn::StaticUser user;
        user.name = u.name;
        if (!u.password.empty()) {
            user.password = u.password;
        } else {
            std::array<std::byte, 16> key{};
            for (std::size_t i = 0; i < key.size(); ++i)
                key[i] = static_cast<std::byte>(std::stoi(u.key.substr(2 * i, 2), nullptr, 16));
            user.md5_key = key;
        }
        o.users.push_back(std::move(user));
    }
    return std::make_shared<const turn::Authenticator>(std::move(o));
}

/// The peer filter: configured allow/deny over the defaults, plus this server's own addresses.
std::shared_ptr<const turn::PeerPolicy> make_peer_policy(const config::ServerConfig& cfg) {
    std::vector<turn::Cidr> allow, deny;
    for (const auto& c : cfg.peers.allow)
        if (auto p = turn::Cidr::parse(c)) allow.push_back(*p);
    for (const auto& c : cfg.peers.deny)
        if (auto p = turn::Cidr::parse(c)) deny.push_back(*p);
    std::vector<proto::TransportAddress> own;
    for (const auto& l : cfg.listeners)
        own.push_back(ip_of(l.address));
    for (const auto& r : cfg.relay.addresses) {
        own.push_back(ip_of(r.address));
        if (!r.external.empty()) own.push_back(ip_of(r.external));
    }
    return std::make_shared<const turn::PeerPolicy>(std::move(allow), std::move(deny),
                                                    std::move(own));
}

/// This worker's relay addresses and its slice of the port range.
worker::RelayPoolOptions relay_options(const config::Relay& relay, unsigned worker,
                                       unsigned workers) {
    worker::RelayPoolOptions o;
    o.udp_gso = relay.udp_gso;
    for (const auto& r : relay.addresses) {
        worker::RelayAddress a;
        a.bind = ip_of(r.address);
        a.external = r.external.empty() ? a.bind : ip_of(r.external);
        (a.bind.family == proto::Family::ipv4 ? o.ipv4 : o.ipv6) = a;
    }
    // Disjoint slices: port allocation never crosses threads.
    const unsigned total = static_cast<unsigned>(relay.port_max - relay.port_min) + 1;
    const unsigned slice = total / workers;
    o.port_min = static_cast<std::uint16_t>(relay.port_min + worker * slice);
    o.port_max =
        worker + 1 == workers ? relay.port_max : static_cast<std::uint16_t>(o.port_min + slice - 1);
    return o;
}

/// One relay socket per allocation is inherent to TURN: make sure the descriptor limit allows
/// the configured number of allocations, raising the soft limit when the hard one permits.
/// Below what the process needs just to run (stdio, the control loop, each worker's epoll,
/// eventfd and timer, every listener socket, and a little room for relays and connections) it
/// refuses to start with a clear message instead of failing later inside Asio; between that
/// floor and the configured limits it warns. Returns false when it must not start.
bool check_descriptor_limit(const config::ServerConfig& cfg, unsigned workers,
                            std::size_t listener_sockets) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return true;
    const rlim_t allocations = cfg.quotas.max_allocations ? cfg.quotas.max_allocations : 16384;
    const rlim_t needed = allocations + cfg.limits.max_connections + listener_sockets + 64;
    if (lim.rlim_cur < needed && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = std::min<rlim_t>(needed, lim.rlim_max);
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    constexpr rlim_t fixed = 16;     // stdio, control loop, signal pipe, metrics
    constexpr rlim_t per_worker = 3; // epoll, eventfd, tick timer
    constexpr rlim_t headroom = 16;  // a few relay sockets and connections
    const rlim_t minimum = fixed + rlim_t{workers} * per_worker + listener_sockets + headroom;
    if (lim.rlim_cur < minimum) {
        TRAVERSE_LOG(error, "app",
                     "file descriptor limit too low to start; raise it (ulimit -n, or "
                     "LimitNOFILE= in the systemd unit)",
                     {"nofile", static_cast<std::uint64_t>(lim.rlim_cur)},
                     {"minimum", static_cast<std::uint64_t>(minimum)},
                     {"needed", static_cast<std::uint64_t>(needed)});
        return false;
    }
    if (lim.rlim_cur < needed) {
        TRAVERSE_LOG(warn, "app",
                     "file descriptor limit is below what the limits allow; raise it "
                     "(ulimit -n, or LimitNOFILE= in the systemd unit)",
                     {"nofile", static_cast<std::uint64_t>(lim.rlim_cur)},
                     {"needed", static_cast<std::uint64_t>(needed)});
    }
    return true;
}

void apply_logging(const config::Logging& logging) {
    log::Level level = log::Level::info;
    log::parse_level(logging.level, level);
    log::configure(level, logging.format == config::LogFormat::json ? log::Format::json
                                                                    : log::Format::text);
    // A module dropped from the configuration by a reload falls back to the default level.
    log::reset_module_levels();
    for (const auto& [module, name] : logging.modules) {
        log::Level module_level = level;
        log::parse_level(name, module_level);
        log::set_module_level(module, module_level);
    }
    log::set_rate_limit(logging.rate_limit);
}

/// The engine settings every worker shares; `auth` and `peers` are built from `cfg`.
turn::EngineOptions engine_options(const config::ServerConfig& cfg,
                                   std::shared_ptr<const turn::Authenticator> auth,
                                   std::shared_ptr<const turn::PeerPolicy> peers) {
    turn::EngineOptions o;
    o.software = cfg.server.software;
    o.rfc5780 = cfg.rfc5780.enabled();
    o.auth = std::move(auth);
    o.peers = std::move(peers);
    o.default_lifetime = cfg.relay.default_lifetime;
    o.max_lifetime = cfg.relay.max_lifetime;
    o.permission_lifetime = cfg.relay.permission_lifetime;
    o.channel_lifetime = cfg.relay.channel_lifetime;
    o.challenges_per_second = cfg.quotas.challenges_per_second;
    o.max_channel_number =
        cfg.relay.rfc5766_channel_numbers ? proto::max_channel_rfc5766 : proto::max_channel;
    o.max_allocation_bytes_per_second = cfg.quotas.max_allocation_bytes_per_second;
    return o;
}

worker::QuotaLimits quota_limits(const config::Quotas& q) {
    return {q.max_allocations_per_user, q.max_allocations_per_ip, q.max_allocations};
}

std::optional<proto::TransportAddress> alternate_of(const config::Server& server) {
    if (server.alternate_server.empty()) return std::nullopt;
    auto parsed = proto::TransportAddress::parse(server.alternate_server);
    if (!parsed) return std::nullopt;
    return *parsed;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items)
        out += (out.empty() ? "" : ",") + item;
    return out.empty() ? "none" : out;
}

/// Reads the configuration again (file and command-line overrides) for a reload; empty when
/// the server runs without a file.
using ConfigSource = std::function<config::LoadResult()>;

int run(config::ServerConfig cfg, const ConfigSource& reload_source) {
    apply_logging(cfg.logging);
    unsigned workers = cfg.server.workers;
    if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
    const unsigned relay_ports = static_cast<unsigned>(cfg.relay.port_max - cfg.relay.port_min) + 1;
    if (cfg.auth.enabled() && relay_ports < 2 * workers) {
        TRAVERSE_LOG(error, "app", "relay.port_range too small: each worker needs 2 ports",
                     {"ports", relay_ports}, {"workers", workers});
        return exit_config;
    }

    auto plan = app::bind_listeners(cfg, workers);
    if (!plan.error.empty()) {
        TRAVERSE_LOG(error, "app", "cannot start", {"error", plan.error});
        return exit_config;
    }
    // Every UDP listener socket has a send-only twin (net::open_udp_sender).
    std::size_t udp_listeners = 0;
    for (const auto& l : plan.table)
        udp_listeners += l.transport == turn::Transport::udp ? 1 : 0;
    if (!check_descriptor_limit(cfg, workers, (plan.table.size() + udp_listeners) * workers)) {
        app::close_all(plan);
        return exit_config;
    }

    std::shared_ptr<boost::asio::ssl::context> tls;
    for (const auto& l : plan.table) {
        if (l.transport != turn::Transport::tls || tls) continue;
        auto made = net::make_tls_server_context(cfg.tls.certificate, cfg.tls.private_key);
        if (!made.context) {
            TRAVERSE_LOG(error, "app", "cannot start", {"error", made.error});
            app::close_all(plan);
            return exit_config;
        }
        tls = made.context;
    }

    std::array<std::byte, 32> nonce_secret{};
    RAND_bytes(reinterpret_cast<unsigned char*>(nonce_secret.data()),
               static_cast<int>(nonce_secret.size()));
    auto authenticator = make_authenticator(cfg.auth, nonce_secret);
    worker::SharedQuota quota(quota_limits(cfg.quotas));
    worker::ReservationRegistry reservations;

    net::StreamLimits limits;
    limits.max_connections = cfg.limits.max_connections;
    limits.max_connections_per_ip = cfg.limits.max_connections_per_ip;
    limits.idle_timeout = cfg.limits.idle_timeout;
    limits.handshake_timeout = cfg.limits.tls_handshake_timeout;
    const std::uint16_t max_channel =
        cfg.relay.rfc5766_channel_numbers ? proto::max_channel_rfc5766 : proto::max_channel;
    limits.max_channel_number = max_channel;
    net::ConnectionLimiter limiter(limits.max_connections, limits.max_connections_per_ip);

    std::vector<std::unique_ptr<worker::TurnWorker>> pool;
    for (unsigned w = 0; w < workers; ++w) {
        worker::WorkerSetup setup;
        setup.index = w;
        setup.engine = engine_options(cfg, authenticator, make_peer_policy(cfg));
        setup.relay = relay_options(cfg.relay, w, workers);
        setup.udp_gso = cfg.relay.udp_gso;
        setup.quotas = &quota;
        setup.reservations = &reservations;
        setup.listeners = plan.table;
        setup.sockets = plan.sockets[w];
        setup.tls = tls;
        setup.limits = limits;
        pool.push_back(std::make_unique<worker::TurnWorker>(std::move(setup), limiter));
    }

    // Signals are handled on the main thread; workers never see them.
    boost::asio::io_context control;
    boost::asio::signal_set signals(control, SIGINT, SIGTERM, SIGHUP);
    boost::asio::steady_timer drain_timer(control);
    std::string stop_reason;
    std::atomic<bool> draining{false}; // read by the metrics thread (traverse_process_draining)
    std::atomic<bool> serving{false};  // /readyz: listeners bound, workers running, not draining

    auto stop = [&](std::string reason) {
        stop_reason = std::move(reason);
        control.stop();
    };
    auto allocations = [&] {
        std::size_t total = 0;
        for (auto& w : pool)
            total += w->allocations();
        return total;
    };

    // SIGHUP: read the file again; apply what may change live, name what needs a restart.
    auto reload = [&]() -> std::string {
        if (!reload_source) {
            TRAVERSE_LOG(warn, "app", "reload: started without --config, nothing to read");
            return "refused: started without --config, nothing to read";
        }
        auto loaded = reload_source();
        if (!loaded.ok()) {
            std::string reasons;
            for (const auto& d : loaded.errors) {
                TRAVERSE_LOG(error, "app", "reload refused; the running configuration stays",
                             {"error", config::to_string(d)});
                reasons += (reasons.empty() ? "" : "; ") + config::to_string(d);
            }
            return "refused: " + reasons;
        }
        auto change = config::plan_reload(cfg, *loaded.config);
        std::shared_ptr<boost::asio::ssl::context> new_tls;
        if (tls) { // read the certificate again even when its path is unchanged (renewals)
            auto made = net::make_tls_server_context(change.effective.tls.certificate,
                                                     change.effective.tls.private_key);
            if (!made.context) {
                TRAVERSE_LOG(error, "app", "reload refused; the running configuration stays",
                             {"error", made.error});
                return "refused: " + made.error;
            }
            new_tls = made.context;
        }
        cfg = std::move(change.effective);
        apply_logging(cfg.logging);
        authenticator = make_authenticator(cfg.auth, nonce_secret);
        quota.set_limits(quota_limits(cfg.quotas));
        const auto options = engine_options(cfg, authenticator, make_peer_policy(cfg));
        for (auto& w : pool) {
            w->reconfigure(options, new_tls);
            if (draining) w->set_draining(true, alternate_of(cfg.server));
        }
        for (const auto& key : change.restart_needed)
            TRAVERSE_LOG(warn, "app",
                         "reload: this change needs a restart; the running value stays",
                         {"key", key});
        TRAVERSE_LOG(info, "app", "reloaded", {"applied", join(change.applied)},
                     {"restart_needed", join(change.restart_needed)});
        return "ok applied=" + join(change.applied) +
               " restart_needed=" + join(change.restart_needed);
    };

    // Drain: refuse new allocations, poll until none is left or the timeout passes. The
    // workers refresh their allocation counts when they take the drain order, so the first
    // poll (after 250 ms) sees current figures.
    std::function<void(std::chrono::steady_clock::time_point)> drain_poll =
        [&](std::chrono::steady_clock::time_point deadline) {
            const auto left = allocations();
            if (left == 0) return stop("drained");
            if (std::chrono::steady_clock::now() >= deadline) {
                TRAVERSE_LOG(warn, "app", "drain timeout: ending the remaining allocations",
                             {"allocations", static_cast<std::uint64_t>(left)});
                return stop("drain timeout");
            }
            drain_timer.expires_after(std::chrono::milliseconds(250));
            drain_timer.async_wait([&, deadline](boost::system::error_code ec) {
                if (!ec) drain_poll(deadline);
            });
        };
    auto start_drain = [&](std::chrono::seconds timeout) {
        draining = true;
        serving = false;
        for (auto& w : pool)
            w->set_draining(true, alternate_of(cfg.server));
        TRAVERSE_LOG(info, "app", "draining: new allocations refused",
                     {"timeout_s", static_cast<std::uint64_t>(timeout.count())},
                     {"alternate_server", cfg.server.alternate_server.empty()
                                              ? std::string{"none (508)"}
                                              : cfg.server.alternate_server});
        std::printf("draining\n");
        std::fflush(stdout);
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        drain_timer.expires_after(std::chrono::milliseconds(250));
        drain_timer.async_wait([&, deadline](boost::system::error_code ec) {
            if (!ec) drain_poll(deadline);
        });
    };

    std::function<void()> wait_signal = [&] {
        signals.async_wait([&](boost::system::error_code ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                (void)reload();
            } else if (sig == SIGINT) {
                return stop("SIGINT");
            } else if (draining) {
                return stop("second SIGTERM while draining");
            } else if (cfg.server.drain_timeout.count() == 0) {
                return stop("SIGTERM");
            } else {
                start_drain(cfg.server.drain_timeout);
            }
            wait_signal();
        });
    };
    wait_signal();

    // `traverse ctl`: the same operations over a Unix-domain socket, with an answer line.
    std::unique_ptr<app::ControlServer> control_server;
    if (!cfg.server.control_socket.empty()) {
        auto handle = [&](std::string_view command) -> std::string {
            TRAVERSE_LOG(info, "app", "control command", {"command", command});
            if (command == "status")
                return std::string(draining ? "ok draining" : "ok serving") +
                       " allocations=" + std::to_string(allocations());
            if (command == "reload") return reload();
            if (command == "drain") {
                if (draining) return "ok already draining";
                // Without a configured timeout, an operator's drain waits for the last
                // allocation (at most a day); SIGTERM or SIGINT still end it.
                start_drain(cfg.server.drain_timeout.count() > 0 ? cfg.server.drain_timeout
                                                                 : std::chrono::hours(24));
                return "ok draining";
            }
            return "error: unknown command (status, reload, drain)";
        };
        std::string error;
        control_server =
            app::ControlServer::open(control, cfg.server.control_socket, handle, error);
        if (!control_server) { // the workers own the sockets and close them
            TRAVERSE_LOG(error, "app", "cannot start", {"error", error});
            return exit_config;
        }
    }

    // Every listening socket is bound: give up root now, before any thread starts.
    if (!cfg.server.user.empty()) {
        if (auto error = app::drop_privileges(cfg.server.user, cfg.server.group); !error.empty()) {
            TRAVERSE_LOG(error, "app", "cannot start", {"error", error});
            return exit_config;
        }
        TRAVERSE_LOG(info, "app", "running as", {"user", cfg.server.user},
                     {"uid", static_cast<std::uint64_t>(::getuid())},
                     {"gid", static_cast<std::uint64_t>(::getgid())});
    }

    for (auto& w : pool)
        w->start();

    // --- metrics endpoint (issue 7): scrapes read the worker blocks, never the packet path ---
    std::unique_ptr<monitoring::MetricsServer> metrics;
    if (cfg.metrics.enabled()) {
        monitoring::CounterBlocks blocks;
        for (auto& w : pool)
            blocks.push_back(&w->counters());
        // Ready: serving, every worker's listeners open, and (TURN) a relay port free somewhere.
        auto ready = [&serving, blocks, listeners = plan.table.size(),
                      turn = authenticator != nullptr] {
            if (!serving.load()) return false;
            std::uint64_t free_ports = 0;
            for (const stats::WorkerCounters* b : blocks) {
                if (b->listeners_bound.load(std::memory_order_relaxed) != listeners) return false;
                free_ports += b->relay_ports_free.load(std::memory_order_relaxed);
            }
            return !turn || free_ports > 0;
        };
        std::string error;
        metrics = monitoring::MetricsServer::start({cfg.metrics.listen, cfg.metrics.per_worker,
                                                    std::move(ready),
                                                    [&draining] { return draining.load(); }},
                                                   std::move(blocks), error);
        if (!metrics) {
            TRAVERSE_LOG(error, "app", "cannot start", {"error", error});
            for (auto& w : pool)
                w->stop();
            return exit_config;
        }
    }
    // --- end metrics endpoint ---

    for (const auto& line : app::describe(plan))
        std::printf("%s\n", line.c_str());
    if (metrics) std::printf("listening metrics %s\n", metrics->bound_address().c_str());
    serving = true;
    std::printf("ready\n");
    std::fflush(stdout);
    TRAVERSE_LOG(info, "app", "started", {"workers", workers}, {"listeners", plan.table.size()},
                 {"turn", authenticator ? "on" : "off"}, {"version", TRAVERSE_VERSION});

    control.run();
    TRAVERSE_LOG(info, "app", "stopping", {"reason", stop_reason});
    serving = false;
    metrics.reset(); // stop scraping before the worker blocks go away
    for (auto& w : pool)
        w->stop();

    // Sum the per-worker blocks (the workers have stopped, so these are final).
    std::map<std::string_view, std::uint64_t> totals;
    for (auto& w : pool)
        stats::for_each(w->counters(), [&](std::string_view name, std::string_view,
                                           std::uint64_t v) { totals[name] += v; });
    // One line with every counter, so operators and tests can read the totals.
    std::vector<log::Field> fields;
    for (auto& [name, value] : totals)
        fields.emplace_back(name, value);
    if (log::enabled("app", log::Level::info))
        log::write(log::Level::info, "app", "final stats", fields);
    return exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    // A peer closing a TLS/TCP connection mid-write must not kill the process.
    std::signal(SIGPIPE, SIG_IGN);

    if (argc >= 2 && std::string_view(argv[1]) == "cred")
        return app::run_cred_command(argc - 1, argv + 1);
    if (argc >= 2 && std::string_view(argv[1]) == "ctl")
        return app::run_ctl_command(argc - 1, argv + 1);

    auto cl = parse_command_line(argc, argv);
    if (!cl) return exit_usage;
    if (cl->help) {
        std::fputs(usage_text, stdout);
        return exit_ok;
    }
    if (cl->version) {
        std::printf("traverse %s\n", TRAVERSE_VERSION);
        return exit_ok;
    }
    if (cl->check_file) {
        auto loaded = config::load_file(*cl->check_file);
        if (!loaded.ok()) {
            print_diagnostics(loaded.errors);
            return exit_config;
        }
        std::printf("%s: configuration is valid (%zu listeners)\n", cl->check_file->c_str(),
                    loaded.config->listeners.size());
        return exit_ok;
    }

    config::ServerConfig cfg = config::default_config();
    if (cl->config_file) {
        auto loaded = config::load_file(*cl->config_file);
        if (!loaded.ok()) {
            print_diagnostics(loaded.errors);
            return exit_config;
        }
        cfg = *loaded.config;
    }
    auto errors = apply_overrides(*cl, cfg);
    if (!errors.empty()) {
        print_diagnostics(errors);
        return exit_config;
    }
    ConfigSource reload_source;
    if (cl->config_file) {
        reload_source = [&cl]() {
            auto loaded = config::load_file(*cl->config_file);
            if (loaded.ok()) {
                auto more = apply_overrides(*cl, *loaded.config);
                if (!more.empty()) {
                    loaded.errors = std::move(more);
                    loaded.config.reset();
                }
            }
            return loaded;
        };
    }
    try {
        return run(std::move(cfg), reload_source);
    } catch (const std::exception& e) {
        // Start-up may throw (Asio cannot create an epoll or a pipe, a socket option fails):
        // say what failed instead of terminating with an uncaught exception.
        TRAVERSE_LOG(error, "app", "cannot start", {"error", e.what()});
        return exit_config;
    }
}
