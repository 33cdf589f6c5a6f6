// SPDX-License-Identifier: Apache-2.0
// natcheck: tells a user their public address, how their NAT maps and filters, whether UDP gets
// out, whether TURN works over UDP/TCP/TLS, and what that means for calls.
#include "tools/natcheck/classify.hpp"
#include "tools/natcheck/probes.hpp"
#include "tools/natcheck/report.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <tuple>
#include <vector>

using namespace traverse::natcheck;

namespace {

constexpr const char* usage = R"(usage: natcheck --server HOST[:PORT] [options]

Tells you your public address, how your NAT behaves (RFC 5780), whether UDP gets out,
whether a TURN server works over UDP, TCP and TLS, and what that means for calls.
The server should be a STUN server with two IP addresses (traverse with an rfc5780 section).

  --server HOST[:PORT]   STUN/TURN server (default port 3478; [v6addr]:port for IPv6)
  --json                 print one JSON object instead of the report
  --alt HOST[:PORT]      a second STUN server, used for the mapping test when the server
                         does not support RFC 5780
  --tcp-port PORT        port for STUN/TURN over TCP (default: the --server port)
  --tls-port PORT        port for STUN/TURN over TLS (default 5349)
  --turn-user USER       TURN user name (with --turn-pass, or the name part with --turn-secret)
  --turn-pass PASS       TURN password (long-term credentials)
  --turn-secret SECRET   TURN REST API shared secret: user name "<expiry>:<user>",
                         password base64(HMAC-SHA1(secret, user name))
  --turn-transports L    comma-separated subset of udp,tcp,tls (default all three)
  --ca FILE              trust anchors for TLS (default: the system's)
  --insecure             do not verify the TLS certificate
  --lifetime SECONDS     also measure how long an idle UDP mapping lasts, up to SECONDS
                         (slow: adds about SECONDS to the run, beyond --timeout)
  --timeout SECONDS      total time limit (default 30)
  --rto MS               initial STUN retransmission timeout (default 500, doubling)
  --probe-timeout MS     give up on one STUN transaction after MS (default 3000)
  -h, --help             this text

Exit status: 0 the checks ran, 1 nothing was reachable, 2 usage or configuration error.
)";

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "natcheck: %s\n(see natcheck --help)\n", message.c_str());
    std::exit(2);
}

long number(const std::string& option, const std::string& text, long low, long high) {
    errno = 0;
    char* end = nullptr;
    const long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || v < low || v > high)
        usage_error(option + " needs a number from " + std::to_string(low) + " to " +
                    std::to_string(high) + ", got '" + text + "'");
    return v;
}

/// "host", "host:port", "[v6]:port" or a bare IPv6 literal.
void split_host_port(const std::string& option, const std::string& text, std::string& host,
                     std::uint16_t& port) {
    if (text.empty()) usage_error(option + " needs a host");
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos) usage_error(option + ": missing ']' in '" + text + "'");
        host = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':') usage_error(option + ": expected ]:PORT in '" + text + "'");
            port = static_cast<std::uint16_t>(number(option, text.substr(close + 2), 1, 65535));
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        const auto colon = text.find(':');
        host = text.substr(0, colon);
        port = static_cast<std::uint16_t>(number(option, text.substr(colon + 1), 1, 65535));
    } else {
        host = text; // a name, an IPv4 literal or a bare IPv6 literal
    }
    if (host.empty()) usage_error(option + " needs a host");
}

} // namespace

int main(int argc, char** argv) {
    Settings s;
    bool json = false;
    std::string server, alt, user, pass, secret;
    bool have_pass = false, have_secret = false;
    std::vector<std::string> args(argv + 1, argv + argc);
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i];
        std::string value;
        bool inline_value = false;
        if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            inline_value = true;
        }
        auto need = [&]() -> std::string {
            if (inline_value) return value;
            if (i + 1 >= args.size()) usage_error(arg + " needs a value");
            return args[++i];
        };
        if (arg == "-h" || arg == "--help") {
            std::fputs(usage, stdout);
            return 0;
        } else if (arg == "--json") {
            json = true;
        } else if (arg == "--insecure") {
            s.tls.verify = false;
        } else if (arg == "--server") {
            server = need();
        } else if (arg == "--alt") {
            alt = need();
        } else if (arg == "--tcp-port") {
            s.tcp_port = static_cast<std::uint16_t>(number(arg, need(), 1, 65535));
        } else if (arg == "--tls-port") {
            s.tls_port = static_cast<std::uint16_t>(number(arg, need(), 1, 65535));
        } else if (arg == "--turn-user") {
            user = need();
        } else if (arg == "--turn-pass") {
            pass = need();
            have_pass = true;
        } else if (arg == "--turn-secret") {
            secret = need();
            have_secret = true;
        } else if (arg == "--turn-transports") {
            s.turn_transports.clear();
            std::string list = need() + ",";
            for (std::size_t start = 0, comma; (comma = list.find(',', start)) != std::string::npos;
                 start = comma + 1) {
                const std::string t = list.substr(start, comma - start);
                if (t != "udp" && t != "tcp" && t != "tls")
                    usage_error("--turn-transports: unknown transport '" + t +
                                "' (use udp, tcp, tls)");
                s.turn_transports.push_back(t);
            }
        } else if (arg == "--ca") {
            s.tls.ca_file = need();
        } else if (arg == "--lifetime") {
            s.lifetime_max_s = static_cast<int>(number(arg, need(), 1, 600));
        } else if (arg == "--timeout") {
            s.total = std::chrono::seconds(number(arg, need(), 1, 3600));
        } else if (arg == "--rto") {
            s.retransmit.rto = std::chrono::milliseconds(number(arg, need(), 10, 10000));
        } else if (arg == "--probe-timeout") {
            s.retransmit.limit = std::chrono::milliseconds(number(arg, need(), 100, 60000));
        } else {
            usage_error("unknown option '" + args[i] + "'");
        }
    }
    if (server.empty()) usage_error("--server is required");
    split_host_port("--server", server, s.host, s.port);
    if (!alt.empty()) split_host_port("--alt", alt, s.alt_host, s.alt_port);
    if (have_pass && have_secret) usage_error("give --turn-pass or --turn-secret, not both");
    if (have_pass && user.empty()) usage_error("--turn-pass needs --turn-user");
    if (!user.empty() && !have_pass && !have_secret)
        usage_error("--turn-user needs --turn-pass or --turn-secret");
    if (have_secret && secret.empty()) usage_error("--turn-secret must not be empty");
    if (have_pass || have_secret) {
        s.turn = true;
        s.turn_options.retransmit = s.retransmit;
        if (have_secret) {
            // Valid for a day, as a signaling server would mint them.
            const auto expiry = static_cast<std::uint64_t>(std::time(nullptr)) + 86400;
            std::tie(s.turn_options.username, s.turn_options.password) =
                rest_credentials(secret, user, expiry);
        } else {
            s.turn_options.username = user;
            s.turn_options.password = pass;
        }
    }
    if (!s.tls.ca_file.empty()) {
        if (std::FILE* f = std::fopen(s.tls.ca_file.c_str(), "r"))
            std::fclose(f);
        else
            usage_error("--ca: cannot read '" + s.tls.ca_file + "'");
    }
    // Verify TLS against the name the user typed, unless it is an IP literal.
    if (!TransportAddress::parse(s.host + ":1") && !TransportAddress::parse("[" + s.host + "]:1"))
        s.tls.server_name = s.host;
    s.turn_options.tls = s.tls;

    // A server closing a TLS connection must not kill us with SIGPIPE inside SSL_write.
    std::signal(SIGPIPE, SIG_IGN);
    const Results r = run_probes(s);
    const Classification c = classify(r.observations);
    if (json) {
        std::fputs(render_json(r, c).c_str(), stdout);
    } else {
        std::fputs(render_text(r, c).c_str(), stdout);
    }
    if (!r.error.empty())
        std::fprintf(stderr, "natcheck: %s\n", r.error.c_str());
    else if (c.exit_code == 1)
        std::fprintf(stderr, "natcheck: the server %s did not answer over UDP, TCP or TLS\n",
                     r.server_text.c_str());
    return r.error.empty() ? c.exit_code : 1;
}
