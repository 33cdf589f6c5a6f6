// SPDX-License-Identifier: Apache-2.0
// Cross-field rules: listeners, TLS files, RFC 5780 addresses, auth users, relay addresses.
#include "config/validate.hpp"

#include "config/address.hpp"
#include "config/load.hpp"
#include "config/text.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

namespace traverse::config {

int SourceMap::line_of(std::string_view path) const {
    while (!path.empty()) {
        const auto found = lines.find(path);
        if (found != lines.end()) return found->second;
        const std::size_t cut = path.find_last_of(".[");
        path = path.substr(0, cut == std::string_view::npos ? 0 : cut);
    }
    return 0;
}

namespace {

/// "127.0.0.1:3478" or "[::1]:3478".
std::string endpoint(const Listener& listener, const std::optional<IpLiteral>& ip) {
    const bool v6 = ip && ip->v6;
    return (v6 ? "[" + listener.address + "]" : listener.address) + ":" +
           std::to_string(listener.port);
}

/// Why `path` cannot be read, or nullopt when it can.
std::optional<std::string> unreadable(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return "is a directory";
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{std::fopen(path.c_str(), "rb"),
                                                               &std::fclose};
    if (!file) return std::generic_category().message(errno);
    return std::nullopt;
}

class Validator {
public:
    Validator(const ServerConfig& config, const SourceMap& source)
        : config_(config), source_(source) {
        for (const Listener& listener : config.listeners) {
            addresses_.push_back(parse_ip_literal(listener.address));
        }
    }

    std::vector<Diagnostic> run() {
        if (usable("listen")) check_listeners();
        if (usable("tls")) check_tls_pair();
        if (usable("listen") && usable("tls")) check_tls_listeners();
        if (usable("listen") && usable("rfc5780")) check_rfc5780();
        if (usable("auth")) check_auth();
        if (usable("relay")) check_relay();
        if (usable("peers")) check_peers();
        return std::move(errors_);
    }

private:
    bool usable(std::string_view section) const {
        return !source_.sections_with_errors.contains(section);
    }

    /// Records an error at `path`, with the line of `line_path` (default: `path` itself).
    void add(std::string path, std::string message, std::string_view line_path = {}) {
        const int line = source_.line_of(line_path.empty() ? std::string_view{path} : line_path);
        errors_.push_back({std::move(path), line, std::move(message)});
    }

    static std::string item(std::size_t index) { return "listen[" + std::to_string(index) + "]"; }

    void check_listeners() {
        if (config_.listeners.empty()) return add("listen", "must list at least one listener");
        const auto& listeners = config_.listeners;
        for (std::size_t i = 0; i < listeners.size(); ++i) {
            if (!addresses_[i]) {
                add(item(i) + ".address",
                    "expected an IPv4 or IPv6 address, got " + quote_value(listeners[i].address));
            }
        }
        for (std::size_t j = 0; j < listeners.size(); ++j) {
            for (std::size_t i = 0; i < j; ++i) {
                const Listener& a = listeners[i];
                const Listener& b = listeners[j];
                // Port 0 asks the kernel for a fresh port each time, so repeats never collide.
                if (a.port == 0 || a.port != b.port || !addresses_[i] || !addresses_[j] ||
                    *addresses_[i] != *addresses_[j]) {
                    continue;
                }
                if (a.transport == b.transport) {
                    add(item(j), "duplicates " + item(i) + " (" + to_string(b) + ")");
                    break;
                }
                if (a.transport != Transport::udp && b.transport != Transport::udp) {
                    add(item(j), "tcp and tls listeners cannot share " +
                                     endpoint(b, addresses_[j]) + " (" + item(i) +
                                     "); both are TCP sockets");
                    break;
                }
            }
        }
    }

    void check_tls_pair() {
        const Tls& tls = config_.tls;
        if (!tls.certificate.empty() && tls.private_key.empty()) {
            add("tls.private_key", "must be set when tls.certificate is set", "tls.certificate");
        } else if (tls.certificate.empty() && !tls.private_key.empty()) {
            add("tls.certificate", "must be set when tls.private_key is set", "tls.private_key");
        }
    }

    void check_tls_listeners() {
        std::optional<std::size_t> first;
        for (std::size_t i = 0; i < config_.listeners.size() && !first; ++i) {
            if (config_.listeners[i].transport == Transport::tls) first = i;
        }
        if (!first) return; // certificate files are only read for tls listeners
        const Tls& tls = config_.tls;
        const std::string needed_by = "tls listener " + item(*first);
        if (tls.certificate.empty() && tls.private_key.empty()) {
            return add(item(*first), "a tls listener needs tls.certificate and tls.private_key, "
                                     "which are not set");
        }
        // One of the two missing is reported by check_tls_pair(); check whatever is set.
        for (const auto& [key, path] : {std::pair{"tls.certificate", &tls.certificate},
                                        std::pair{"tls.private_key", &tls.private_key}}) {
            if (path->empty()) continue;
            if (const auto why = unreadable(*path)) {
                add(key, "cannot read '" + *path + "': " + *why + " (needed by " + needed_by + ")");
            }
        }
    }

    void check_rfc5780() {
        const Rfc5780& rfc5780 = config_.rfc5780;
        if (!rfc5780.enabled()) {
            if (rfc5780.alternate_port != 0) {
                add("rfc5780.alternate_port", "is set but rfc5780.alternate_address is not; "
                                              "set both to enable RFC 5780");
            }
            return;
        }
        const auto alternate = parse_ip_literal(rfc5780.alternate_address);
        if (!alternate) {
            return add("rfc5780.alternate_address", "expected an IPv4 or IPv6 address, got " +
                                                        quote_value(rfc5780.alternate_address));
        }
        if (alternate->is_unspecified()) {
            return add("rfc5780.alternate_address",
                       "must be a specific address that clients can reach, got " +
                           quote_value(rfc5780.alternate_address));
        }
        bool same_family = false;
        for (std::size_t i = 0; i < config_.listeners.size(); ++i) {
            const Listener& listener = config_.listeners[i];
            if (listener.transport != Transport::udp || !addresses_[i] ||
                addresses_[i]->v6 != alternate->v6) {
                continue;
            }
            same_family = true;
            if (*addresses_[i] == *alternate) {
                add("rfc5780.alternate_address",
                    "must differ from the address of " + item(i) + " (" + listener.address + ")");
            }
            if (rfc5780.alternate_port != 0 && rfc5780.alternate_port == listener.port) {
                add("rfc5780.alternate_port", "must differ from the port of " + item(i) + " (" +
                                                  std::to_string(listener.port) + ")");
            }
        }
        if (!same_family) {
            add("rfc5780.alternate_address",
                std::string{family_name(*alternate)} + " address " + rfc5780.alternate_address +
                    " has no udp listener of the same family to pair with");
        }
    }

    // Values the loader has already checked are checked again here for configurations built
    // in code; `usable()` keeps the loader's findings from being reported twice.
    void check_auth() {
        const Auth& auth = config_.auth;
        if (const auto realm = parse_realm(auth.realm); !realm) add("auth.realm", realm.error);
        for (std::size_t i = 0; i < auth.users.size(); ++i) {
            const StaticUser& user = auth.users[i];
            const std::string path = "auth.users[" + std::to_string(i) + "]";
            if (const auto name = parse_user_name(user.name); !name) {
                add(path + ".name", name.error);
            } else {
                for (std::size_t j = 0; j < i; ++j) {
                    if (auth.users[j].name != user.name) continue;
                    add(path + ".name", "duplicates auth.users[" + std::to_string(j) + "] (" +
                                            quote_value(user.name) + ")");
                    break;
                }
            }
            // Messages here name keys, never their values: both are secrets.
            if (user.password.empty() && user.key.empty()) {
                add(path, "needs a password or a key");
            } else if (!user.password.empty() && !user.key.empty()) {
                add(path, "has both a password and a key; set one of them", path + ".key");
            } else if (!user.key.empty()) {
                if (const auto key = parse_user_key(user.key); !key) add(path + ".key", key.error);
            }
        }
        for (std::size_t i = 0; i < auth.secrets.size(); ++i) {
            if (auth.secrets[i].empty()) {
                add("auth.secrets[" + std::to_string(i) + "]", "must not be empty");
            }
        }
    }

    void check_relay() {
        const Relay& relay = config_.relay;
        if (relay.addresses.empty()) {
            add("relay.addresses", "must list at least one address");
        }
        // Index of the relay address of each family: [0] IPv4, [1] IPv6.
        std::array<std::optional<std::size_t>, 2> by_family;
        for (std::size_t i = 0; i < relay.addresses.size(); ++i) {
            const RelayAddress& entry = relay.addresses[i];
            const std::string path = "relay.addresses[" + std::to_string(i) + "]";
            if (entry.address.empty()) {
                add(path, "needs an address");
                continue;
            }
            const auto address = parse_ip_literal(entry.address);
            if (!address) {
                add(path + ".address",
                    "expected an IPv4 or IPv6 address, got " + quote_value(entry.address));
                continue;
            }
            if (address->is_unspecified()) {
                add(path + ".address",
                    "must be a specific address, got " + quote_value(entry.address) +
                        "; a relay socket bound to the wildcard cannot tell clients their "
                        "relayed address (XOR-RELAYED-ADDRESS)");
            }
            auto& seen = by_family[address->v6 ? 1 : 0];
            if (seen) {
                add(path, "is a second " + std::string{family_name(*address)} +
                              " relay address (relay.addresses[" + std::to_string(*seen) + "] is " +
                              relay.addresses[*seen].address + "); at most one per family");
            } else {
                seen = i;
            }
            if (entry.external.empty()) continue;
            const auto external = parse_ip_literal(entry.external);
            if (!external) {
                add(path + ".external",
                    "expected an IPv4 or IPv6 address, got " + quote_value(entry.external));
            } else if (external->v6 != address->v6) {
                add(path + ".external",
                    std::string{family_name(*external)} + " address " + entry.external +
                        " must be of the same family as address " + entry.address + " (" +
                        std::string{family_name(*address)} + ")");
            } else if (external->is_unspecified()) {
                add(path + ".external", "must be an address that clients can reach, got " +
                                            quote_value(entry.external));
            }
        }
        if (relay.port_min < bounds::min_relay_port || relay.port_min > relay.port_max) {
            add("relay.port_range", "must be low-high with 1 <= low <= high, got " +
                                        std::to_string(relay.port_min) + "-" +
                                        std::to_string(relay.port_max));
        }
        if (relay.max_lifetime < relay.default_lifetime) {
            const bool max_set = source_.lines.contains("relay.max_allocation_lifetime");
            add("relay.max_allocation_lifetime",
                "must be at least relay.allocation_lifetime (" +
                    format_duration(relay.default_lifetime) + "), got " +
                    format_duration(relay.max_lifetime),
                max_set ? "relay.max_allocation_lifetime" : "relay.allocation_lifetime");
        }
    }

    void check_peers() {
        for (const auto& [key, list] : {std::pair{"peers.allow", &config_.peers.allow},
                                        std::pair{"peers.deny", &config_.peers.deny}}) {
            for (std::size_t i = 0; i < list->size(); ++i) {
                if (const auto cidr = parse_cidr((*list)[i]); !cidr) {
                    add(std::string{key} + "[" + std::to_string(i) + "]", cidr.error);
                }
            }
        }
    }

    const ServerConfig& config_;
    const SourceMap& source_;
    std::vector<std::optional<IpLiteral>> addresses_; ///< parsed listener addresses, by index
    std::vector<Diagnostic> errors_;
};

} // namespace

std::vector<Diagnostic> validate(const ServerConfig& config, const SourceMap& source) {
    return Validator{config, source}.run();
}

} // namespace traverse::config
