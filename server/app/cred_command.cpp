// SPDX-License-Identifier: Apache-2.0
// `traverse cred`: time-limited credentials from a shared secret, as WebRTC apps hand them out.
#include "server/app/cred_command.hpp"

#include "config/load.hpp"
#include "server/turn/rest_credentials.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace traverse::app {
namespace {

constexpr const char* cred_usage =
    R"(Usage: traverse cred --user NAME (--secret SECRET | --secret-file FILE)
                      [--ttl DURATION] [--host HOST] [--port PORT] [--tls-port PORT] [--json]

Prints a TURN REST API credential (username "<expiry>:<NAME>", password
base64(HMAC-SHA1(secret, username))) valid for --ttl (default 24h), and an RTCConfiguration
iceServers snippet for HOST (default 127.0.0.1), ports 3478 and 5349 by default.
With --json only the JSON is printed. Prefer --secret-file: arguments show up in `ps`.
)";

std::string json_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

} // namespace

int run_cred_command(int argc, char** argv) {
    std::optional<std::string> user, secret, secret_file;
    std::string ttl_text = "24h", host = "127.0.0.1", port = "3478", tls_port = "5349";
    bool json_only = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= argc) return std::nullopt;
            return std::string(argv[++i]);
        };
        std::optional<std::string> v;
        if (arg == "--help" || arg == "-h") {
            std::fputs(cred_usage, stdout);
            return 0;
        } else if (arg == "--json") {
            json_only = true;
            continue;
        }
        v = value();
        if (!v) {
            std::fprintf(stderr, "traverse cred: %s needs a value (see --help)\n", argv[i]);
            return 2;
        }
        if (arg == "--user")
            user = v;
        else if (arg == "--secret")
            secret = v;
        else if (arg == "--secret-file")
            secret_file = v;
        else if (arg == "--ttl")
            ttl_text = *v;
        else if (arg == "--host")
            host = *v;
        else if (arg == "--port")
            port = *v;
        else if (arg == "--tls-port")
            tls_port = *v;
        else {
            std::fprintf(stderr, "traverse cred: unknown option '%s' (see --help)\n", argv[i - 1]);
            return 2;
        }
    }
    if (!user || user->empty() || user->find(':') != std::string::npos) {
        std::fprintf(stderr, "traverse cred: --user NAME is required (no ':' in it)\n");
        return 2;
    }
    if (secret_file) {
        std::ifstream in(*secret_file);
        if (!in) {
            std::fprintf(stderr, "traverse cred: cannot read --secret-file %s\n",
                         secret_file->c_str());
            return 2;
        }
        std::string line;
        std::getline(in, line);
        secret = line;
    }
    if (!secret || secret->empty()) {
        std::fprintf(stderr, "traverse cred: --secret or --secret-file is required\n");
        return 2;
    }
    auto ttl = config::parse_duration(ttl_text);
    if (!ttl) {
        std::fprintf(stderr, "traverse cred: --ttl: %s\n", ttl.error.c_str());
        return 2;
    }
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    std::int64_t expiry = now + ttl.value->count();
    std::string username = turn::rest_username(expiry, *user);
    std::string password = turn::rest_password(*secret, username);

    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    std::ostringstream json;
    json << "{\"iceServers\":[{\"urls\":[\"stun:" << h << ":" << port << "\"]},"
         << "{\"urls\":[\"turn:" << h << ":" << port << "?transport=udp\",\"turn:" << h << ":"
         << port << "?transport=tcp\",\"turns:" << h << ":" << tls_port << "?transport=tcp\"],"
         << "\"username\":\"" << json_escape(username) << "\",\"credential\":\""
         << json_escape(password) << "\"}],\"ttl\":" << ttl.value->count() << "}";
    if (!json_only) {
        std::printf("username: %s\npassword: %s\nexpires: %lld (in %llds)\n", username.c_str(),
                    password.c_str(), static_cast<long long>(expiry),
                    static_cast<long long>(ttl.value->count()));
    }
    std::printf("%s\n", json.str().c_str());
    return 0;
}

} // namespace traverse::app
