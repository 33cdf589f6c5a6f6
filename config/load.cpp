// SPDX-License-Identifier: Apache-2.0
// YAML to ServerConfig: walks the document against one table of keys, collecting every error.
#include "config/load.hpp"

#include "config/address.hpp"
#include "config/text.hpp"
#include "config/validate.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <sstream>
#include <system_error>
#include <utility>

namespace traverse::config {

namespace {

constexpr std::array<std::string_view, 3> transport_names{"udp", "tcp", "tls"};
constexpr std::array<std::string_view, 6> log_level_names{"trace", "debug", "info",
                                                          "warn",  "error", "off"};
constexpr std::array<std::string_view, 2> log_format_names{"text", "json"};
/// Modules that log, for logging.modules (kept in step with the TRAVERSE_LOG call sites).
constexpr std::array<std::string_view, 4> log_module_names{"app", "net", "turn", "worker"};

template <typename T> Parsed<T> success(T value) {
    return Parsed<T>{std::move(value), {}};
}
template <typename T> Parsed<T> failure(std::string error) {
    return Parsed<T>{std::nullopt, std::move(error)};
}

bool is_digits(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// Decimal integer (optional '-'); magnitudes beyond int64 saturate, which every range rejects.
std::optional<std::int64_t> parse_integer(std::string_view text) {
    const bool negative = !text.empty() && text.front() == '-';
    if (!is_digits(negative ? text.substr(1) : text)) return std::nullopt;
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) {
        return negative ? std::numeric_limits<std::int64_t>::min()
                        : std::numeric_limits<std::int64_t>::max();
    }
    return value;
}

/// Integer in [min, max]; "expected an integer" for non-numbers, "must be" for out of range.
template <typename T> Parsed<T> parse_bounded(std::string_view text, T min, T max) {
    const std::string range = std::to_string(min) + ".." + std::to_string(max);
    const auto value = parse_integer(text);
    if (!value) return failure<T>("expected an integer " + range + ", got " + quote_value(text));
    if (*value < static_cast<std::int64_t>(min) || *value > static_cast<std::int64_t>(max)) {
        return failure<T>("must be " + range + ", got " + quote_value(text));
    }
    return success(static_cast<T>(*value));
}

/// Index of `text` in `names`, or the "expected a, b or c, got x; did you mean" error.
template <std::size_t N>
Parsed<std::size_t> parse_name(std::string_view text,
                               const std::array<std::string_view, N>& names) {
    const auto found = std::find(names.begin(), names.end(), text);
    if (found != names.end()) return success(static_cast<std::size_t>(found - names.begin()));
    return failure<std::size_t>("expected " + join_alternatives(names) + ", got " +
                                quote_value(text) + did_you_mean(text, names));
}

Parsed<std::string> parse_address(std::string_view text) {
    if (parse_ip_literal(text)) return success(std::string{text});
    const bool bracketed = text.starts_with('[') && text.ends_with(']');
    return failure<std::string>(std::string{"expected an IPv4 or IPv6 address"} +
                                (bracketed ? " without brackets" : "") + ", got " +
                                quote_value(text));
}

/// 0 (unlimited) .. 1000000 allocations.
Parsed<std::uint32_t> parse_allocation_quota(std::string_view text) {
    return parse_bounded<std::uint32_t>(text, 0, bounds::max_allocations);
}

Parsed<std::chrono::seconds> parse_duration_in(std::string_view text, std::chrono::seconds min,
                                               std::chrono::seconds max) {
    auto parsed = parse_duration(text);
    if (parsed && (*parsed.value < min || *parsed.value > max)) {
        return failure<std::chrono::seconds>("must be " + format_duration(min) + ".." +
                                             format_duration(max) + ", got " + quote_value(text));
    }
    return parsed;
}

/// YAML 1.2 core-schema booleans, as written without quotes.
bool is_false(std::string_view text) {
    return text == "false" || text == "False" || text == "FALSE";
}
bool is_true(std::string_view text) {
    return text == "true" || text == "True" || text == "TRUE";
}

Parsed<bool> parse_bool(std::string_view text) {
    if (is_true(text)) return success(true);
    if (is_false(text)) return success(false);
    return failure<bool>("expected true or false, got " + quote_value(text));
}

/// "" (off), "127.0.0.1:9641" or "[::1]:9641": an IP literal and an explicit port 0..65535.
/// "<ip>:<port>" or "[<ipv6>]:<port>", normalised; "" stays "" (not set).
Parsed<std::string> parse_endpoint_like(std::string_view text, std::string_view example) {
    if (text.empty()) return success(std::string{});
    const std::string usage =
        "expected <address>:<port> like " + std::string{example} + ", got " + quote_value(text);
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon + 1 == text.size() ||
        (text.starts_with('[') && text[colon - 1] != ']'))
        return failure<std::string>(usage);
    auto spec = parse_listen_spec("tcp://" + std::string{text});
    if (!spec) return failure<std::string>(usage);
    const bool v6 = spec.value->address.find(':') != std::string::npos;
    return success((v6 ? "[" + spec.value->address + "]" : spec.value->address) + ":" +
                   std::to_string(spec.value->port));
}

Parsed<std::string> parse_metrics_listen(std::string_view text) {
    return parse_endpoint_like(text, "127.0.0.1:9641 or [::1]:9641");
}

/// A Unix user or group name: 1..32 characters, letters, digits, '_', '-', '.', not starting
/// with '-'. Whether it exists is checked when the server starts.
Parsed<std::string> parse_account_name(std::string_view text) {
    const bool ok =
        !text.empty() && text.size() <= 32 && text.front() != '-' &&
        std::all_of(text.begin(), text.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
        });
    if (!ok)
        return failure<std::string>("expected 1..32 letters, digits, '_', '-' or '.', got " +
                                    quote_value(text));
    return success(std::string{text});
}

Parsed<std::string> parse_endpoint(std::string_view text) {
    auto parsed = parse_endpoint_like(text, "192.0.2.10:3478 or [2001:db8::10]:3478");
    if (parsed && parsed.value->ends_with(":0"))
        return failure<std::string>("port must be 1..65535, got " + quote_value(text));
    return parsed;
}

/// Characters of UTF-8 text: every byte that does not continue a sequence.
std::size_t utf8_length(std::string_view text) {
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
    }));
}

int line_of(const YAML::Mark& mark) {
    return (mark.is_null() || mark.line < 0) ? 0 : mark.line + 1;
}

/// What a node is, for "expected X, got Y".
std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
    case YAML::NodeType::Scalar:
        return quote_value(node.Scalar());
    case YAML::NodeType::Sequence:
        return "a list";
    case YAML::NodeType::Map:
        return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
        break;
    }
    return "null";
}

/// Like describe(), but a scalar is only "a string": for nodes that may hold a secret.
std::string describe_secret(const YAML::Node& node) {
    return node.IsScalar() ? "a string" : describe(node);
}

/// Top-level section of a path: "listen[2].port" -> "listen".
std::string_view section_of(std::string_view path) {
    return path.substr(0, path.find_first_of(".["));
}

/// One key/value pair being read.
struct Entry {
    std::string path; ///< "limits.idle_timeout", "listen[1].port"
    int key_line = 0; ///< line of the key, for unknown and duplicate keys
    int line = 0;     ///< line of the value, for value errors
    YAML::Node value; ///< the value node
};

/// What a field reader writes into.
struct Target {
    ServerConfig& config;
    Listener* listener = nullptr; ///< the entry being read, for listen[] fields
    bool port_set = false;        ///< listen[].port was given (tls defaults to 5349 otherwise)
    StaticUser* user = nullptr;   ///< the entry being read, for auth.users[] fields
    RelayAddress* relay_address = nullptr; ///< the entry being read, for relay.addresses[] fields
};

/// Whether a node's text may be repeated in a diagnostic.
enum class Shown { value, redacted };

/// How a list key treats an empty value (`users:` with every item commented out).
enum class NullList { is_empty, is_error };

class Loader;
using FieldReader = void (*)(Loader&, const Entry&, Target&);

/// One accepted key: its schema path and how its value is read.
struct Field {
    std::string_view path;
    FieldReader read;
};

/// Walks one document, filling a ServerConfig and collecting diagnostics.
class Loader {
public:
    explicit Loader(std::string base_dir)
        : base_dir_(base_dir.empty() ? "." : std::move(base_dir)) {}

    LoadResult run(std::string_view yaml);

    /// Records an error about an entry's value.
    void error(const Entry& entry, std::string message) {
        add({entry.path, entry.line, std::move(message)});
    }

    /// The entry's scalar text, or an "expected <what>, got ..." error.
    std::optional<std::string> scalar(const Entry& entry, std::string_view what,
                                      Shown shown = Shown::value) {
        if (entry.value.IsScalar()) return entry.value.Scalar();
        error(entry,
              "expected " + std::string{what} + ", got " +
                  (shown == Shown::value ? describe(entry.value) : describe_secret(entry.value)));
        return std::nullopt;
    }

    /// Calls `visit(item)` for each item of a list entry; items are "path[i]" entries.
    template <typename Visit>
    void for_each_item(const Entry& list, std::string_view what, NullList null, Shown shown,
                       Visit visit);

    /// Reads a list item that must be a map whose keys are the table's `<prefix>.<key>` fields.
    void read_item_map(const Entry& item, std::string_view prefix, Target& target,
                       Shown shown = Shown::value);

    /// Reads a scalar with `parse` into `out`; leaves `out` alone on error.
    template <typename T, typename Parser>
    void read(const Entry& entry, std::string_view what, Parser parse, T& out) {
        const auto text = scalar(entry, what);
        if (!text) return;
        auto parsed = parse(*text);
        if (!parsed) return error(entry, std::move(parsed.error));
        out = std::move(*parsed.value);
    }

    /// A file path from the config, made relative to the config file's directory.
    std::string resolve(std::string_view text) const {
        if (text.empty()) return {};
        const std::filesystem::path path{std::string{text}};
        if (path.is_absolute()) return path.lexically_normal().string();
        return (std::filesystem::path{base_dir_} / path).lexically_normal().string();
    }

private:
    void add(Diagnostic diagnostic);
    template <typename Visit>
    void for_each_entry(const YAML::Node& map, const std::string& parent, Visit visit);
    void unknown_key(const Entry& entry, std::string_view key, std::string_view prefix);
    void read_root(const YAML::Node& root, ServerConfig& config);
    void read_section(const Entry& section, Target& target);
    void read_listen(const Entry& listen, ServerConfig& config);
    void read_secret_file(Auth& auth);

    std::string base_dir_;
    std::vector<Diagnostic> errors_;
    SourceMap source_;
};

/// Reads a list of CIDR prefixes (peers.allow, peers.deny) into `out`.
void read_cidrs(Loader& loader, const Entry& entry, std::vector<std::string>& out) {
    out.clear();
    loader.for_each_item(entry, "a list of CIDR prefixes", NullList::is_empty, Shown::value,
                         [&](const Entry& item) {
                             // Kept even when invalid so that indices match the document.
                             std::string& cidr = out.emplace_back();
                             loader.read(item, "a CIDR prefix like 10.0.0.0/8", parse_cidr, cidr);
                         });
}

/// Every accepted key, in schema order. The loader reads through this table, known_keys()
/// publishes it, and a unit test checks that schema.md documents each entry. A list of maps
/// has an entry for the list ("auth.users") that reads its items through the entries of the
/// item keys ("auth.users[].name").
constexpr std::array<Field, 47> fields{{
    {"server.software",
     [](Loader& loader, const Entry& entry, Target& target) {
         // An unquoted `false` turns SOFTWARE off; a quoted "false" is just a string.
         const bool plain = entry.value.IsScalar() && entry.value.Tag() == "?";
         if (plain && is_false(entry.value.Scalar())) return target.config.server.software.clear();
         const auto text = loader.scalar(entry, "a string or false");
         if (!text) return;
         if (plain && is_true(*text))
             return loader.error(entry, "expected a string or false, got true");
         if (utf8_length(*text) > bounds::max_software_characters) {
             return loader.error(
                 entry, "must be at most " + std::to_string(bounds::max_software_characters) +
                            " characters, got " + std::to_string(utf8_length(*text)));
         }
         target.config.server.software = *text;
     }},
    {"server.workers",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "auto or an integer 1..256", parse_workers,
                     target.config.server.workers);
     }},
    {"server.drain_timeout",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto parse = [](std::string_view text) {
             return parse_duration_in(text, std::chrono::seconds{0}, bounds::max_drain_timeout);
         };
         loader.read(entry, "a duration like 5m", parse, target.config.server.drain_timeout);
     }},
    {"server.control_socket",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto resolve = [&](std::string_view text) {
             if (text.empty()) return failure<std::string>("must not be empty");
             return success(loader.resolve(text));
         };
         loader.read(entry, "a file path", resolve, target.config.server.control_socket);
     }},
    {"server.user",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "a user name", parse_account_name, target.config.server.user);
     }},
    {"server.group",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "a group name", parse_account_name, target.config.server.group);
     }},
    {"server.alternate_server",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "an address like 192.0.2.10:3478", parse_endpoint,
                     target.config.server.alternate_server);
     }},
    {"listen[].transport",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "udp, tcp or tls", parse_transport, target.listener->transport);
     }},
    {"listen[].address",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "an IPv4 or IPv6 address", parse_address, target.listener->address);
     }},
    {"listen[].port",
     [](Loader& loader, const Entry& entry, Target& target) {
         target.port_set = true;
         loader.read(entry, "a port number 0..65535", parse_port, target.listener->port);
     }},
    {"tls.certificate",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto resolve = [&](std::string_view text) { return success(loader.resolve(text)); };
         loader.read(entry, "a file path", resolve, target.config.tls.certificate);
     }},
    {"tls.private_key",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto resolve = [&](std::string_view text) { return success(loader.resolve(text)); };
         loader.read(entry, "a file path", resolve, target.config.tls.private_key);
     }},
    {"rfc5780.alternate_address",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto parse = [](std::string_view text) {
             return text.empty() ? success(std::string{}) : parse_address(text);
         };
         loader.read(entry, "an IPv4 or IPv6 address", parse,
                     target.config.rfc5780.alternate_address);
     }},
    {"rfc5780.alternate_port",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "a port number 0..65535", parse_port,
                     target.config.rfc5780.alternate_port);
     }},
    {"limits.max_connections",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto parse = [](std::string_view text) {
             return parse_bounded<std::uint32_t>(text, 1, bounds::max_connections);
         };
         loader.read(entry, "an integer", parse, target.config.limits.max_connections);
     }},
    {"limits.max_connections_per_ip",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto parse = [](std::string_view text) {
             return parse_bounded<std::uint32_t>(text, 1, bounds::max_connections);
         };
         loader.read(entry, "an integer", parse, target.config.limits.max_connections_per_ip);
     }},
    {"limits.idle_timeout",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto parse = [](std::string_view text) {
             return parse_duration_in(text, bounds::min_idle_timeout, bounds::max_idle_timeout);
         };
         loader.read(entry, "a duration like 60s", parse, target.config.limits.idle_timeout);
     }},
    {"limits.tls_handshake_timeout",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto parse = [](std::string_view text) {
             return parse_duration_in(text, bounds::min_tls_handshake_timeout,
                                      bounds::max_tls_handshake_timeout);
         };
         loader.read(entry, "a duration like 10s", parse,
                     target.config.limits.tls_handshake_timeout);
     }},
    {"logging.level",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "a log level", parse_log_level, target.config.logging.level);
     }},
    {"logging.format",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "text or json", parse_log_format, target.config.logging.format);
     }},
    {"logging.modules",
     [](Loader& loader, const Entry& entry, Target& target) {
         auto& modules = target.config.logging.modules;
         modules.clear();
         if (entry.value.IsNull()) return;
         if (!entry.value.IsMap()) {
             return loader.error(entry, "expected a map of module: level (modules " +
                                            join_alternatives(log_module_names) + "), got " +
                                            describe(entry.value));
         }
         for (auto it = entry.value.begin(); it != entry.value.end(); ++it) {
             const YAML::Node key = it->first;
             Entry item{entry.path + "." + (key.IsScalar() ? key.Scalar() : std::string{"?"}),
                        line_of(key.Mark()), line_of(key.Mark()), it->second};
             if (!key.IsScalar() || std::find(log_module_names.begin(), log_module_names.end(),
                                              key.Scalar()) == log_module_names.end()) {
                 loader.error(item,
                              "unknown module; expected " + join_alternatives(log_module_names));
                 continue;
             }
             if (modules.contains(key.Scalar())) {
                 loader.error(item, "duplicate module");
                 continue;
             }
             std::string level;
             loader.read(item, "a log level", parse_log_level, level);
             if (!level.empty()) modules.emplace(key.Scalar(), level);
         }
     }},
    {"logging.rate_limit",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto parse = [](std::string_view text) {
             return parse_bounded<std::uint32_t>(text, 1, 100000);
         };
         loader.read(entry, "an integer 1..100000", parse, target.config.logging.rate_limit);
     }},
    {"auth.realm",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "a realm string", parse_realm, target.config.auth.realm);
     }},
    {"auth.users",
     [](Loader& loader, const Entry& entry, Target& target) {
         auto& users = target.config.auth.users;
         users.clear();
         loader.for_each_item(entry, "a list of users", NullList::is_empty, Shown::redacted,
                              [&](const Entry& item) {
                                  Target user{target.config};
                                  user.user = &users.emplace_back();
                                  loader.read_item_map(item, "auth.users[]", user, Shown::redacted);
                              });
     }},
    {"auth.users[].name",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "a user name", parse_user_name, target.user->name);
     }},
    {"auth.users[].password",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto text = loader.scalar(entry, "a password string", Shown::redacted);
         if (!text) return;
         if (text->empty()) return loader.error(entry, "must not be empty");
         target.user->password = *text;
     }},
    {"auth.users[].key",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto text = loader.scalar(entry, "32 hex digits", Shown::redacted);
         if (!text) return;
         auto key = parse_user_key(*text);
         if (!key) return loader.error(entry, std::move(key.error));
         target.user->key = std::move(*key.value);
     }},
    {"auth.secret_file",
     [](Loader& loader, const Entry& entry, Target& target) {
         // Read by Loader::read_secret_file() once the whole document is known.
         const auto resolve = [&](std::string_view text) { return success(loader.resolve(text)); };
         loader.read(entry, "a file path", resolve, target.config.auth.secret_file);
     }},
    {"auth.secrets",
     [](Loader& loader, const Entry& entry, Target& target) {
         auto& secrets = target.config.auth.secrets;
         secrets.clear();
         loader.for_each_item(entry, "a list of secrets", NullList::is_empty, Shown::redacted,
                              [&](const Entry& item) {
                                  std::string& secret = secrets.emplace_back();
                                  const auto text =
                                      loader.scalar(item, "a secret string", Shown::redacted);
                                  if (!text) return;
                                  if (text->empty()) return loader.error(item, "must not be empty");
                                  secret = *text;
                              });
     }},
    {"auth.nonce_lifetime",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto parse = [](std::string_view text) {
             return parse_duration_in(text, bounds::min_nonce_lifetime, bounds::max_nonce_lifetime);
         };
         loader.read(entry, "a duration like 10m", parse, target.config.auth.nonce_lifetime);
     }},
    {"relay.addresses",
     [](Loader& loader, const Entry& entry, Target& target) {
         auto& addresses = target.config.relay.addresses;
         addresses.clear(); // the list replaces the default
         loader.for_each_item(entry, "a list of relay addresses", NullList::is_empty, Shown::value,
                              [&](const Entry& item) {
                                  RelayAddress& address = addresses.emplace_back();
                                  if (item.value.IsMap()) {
                                      Target map{target.config};
                                      map.relay_address = &address;
                                      return loader.read_item_map(item, "relay.addresses[]", map);
                                  }
                                  // A plain string is shorthand for {address: <string>}.
                                  loader.read(item,
                                              "an IP address or a map with address and external",
                                              parse_address, address.address);
                              });
     }},
    {"relay.addresses[].address",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "an IPv4 or IPv6 address", parse_address,
                     target.relay_address->address);
     }},
    {"relay.addresses[].external",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto parse = [](std::string_view text) {
             return text.empty() ? success(std::string{}) : parse_address(text);
         };
         loader.read(entry, "an IPv4 or IPv6 address", parse, target.relay_address->external);
     }},
    {"relay.port_range",
     [](Loader& loader, const Entry& entry, Target& target) {
         std::optional<PortRange> range;
         loader.read(entry, "a port range like 49152-65535", parse_port_range, range);
         if (!range) return;
         target.config.relay.port_min = range->min;
         target.config.relay.port_max = range->max;
     }},
    {"relay.allocation_lifetime",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto parse = [](std::string_view text) {
             return parse_duration_in(text, bounds::min_allocation_lifetime,
                                      bounds::max_default_allocation_lifetime);
         };
         loader.read(entry, "a duration like 10m", parse, target.config.relay.default_lifetime);
     }},
    {"relay.max_allocation_lifetime",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto parse = [](std::string_view text) {
             return parse_duration_in(text, bounds::min_allocation_lifetime,
                                      bounds::max_allocation_lifetime);
         };
         loader.read(entry, "a duration like 1h", parse, target.config.relay.max_lifetime);
     }},
    {"relay.rfc5766_channel_numbers",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "true or false", parse_bool,
                     target.config.relay.rfc5766_channel_numbers);
     }},
    {"relay.udp_gso",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "true or false", parse_bool, target.config.relay.udp_gso);
     }},
    {"peers.allow", [](Loader& loader, const Entry& entry,
                       Target& target) { read_cidrs(loader, entry, target.config.peers.allow); }},
    {"peers.deny", [](Loader& loader, const Entry& entry,
                      Target& target) { read_cidrs(loader, entry, target.config.peers.deny); }},
    {"quotas.max_allocations_per_user",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "an integer", parse_allocation_quota,
                     target.config.quotas.max_allocations_per_user);
     }},
    {"quotas.max_allocations_per_ip",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "an integer", parse_allocation_quota,
                     target.config.quotas.max_allocations_per_ip);
     }},
    {"quotas.max_allocations",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "an integer", parse_allocation_quota,
                     target.config.quotas.max_allocations);
     }},
    {"quotas.max_allocation_bytes_per_second",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto parse = [](std::string_view text) {
             return parse_bounded<std::uint64_t>(text, 0, bounds::max_allocation_bytes_per_second);
         };
         loader.read(entry, "an integer", parse,
                     target.config.quotas.max_allocation_bytes_per_second);
     }},
    {"quotas.challenges_per_second",
     [](Loader& loader, const Entry& entry, Target& target) {
         const auto parse = [](std::string_view text) {
             return parse_bounded<std::uint32_t>(text, bounds::min_challenges_per_second,
                                                 bounds::max_challenges_per_second);
         };
         loader.read(entry, "an integer", parse, target.config.quotas.challenges_per_second);
     }},
    {"metrics.listen",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "an address like 127.0.0.1:9641", parse_metrics_listen,
                     target.config.metrics.listen);
     }},
    {"metrics.per_worker",
     [](Loader& loader, const Entry& entry, Target& target) {
         loader.read(entry, "true or false", parse_bool, target.config.metrics.per_worker);
     }},
}};

/// The table entry for `key` directly under `prefix` ("limits", "listen[]", "auth.users[]").
const Field* find_field(std::string_view prefix, std::string_view key) {
    // A key such as "users[].name" must not reach an item reader without its item.
    if (key.find_first_of(".[]") != std::string_view::npos) return nullptr;
    const auto found = std::find_if(fields.begin(), fields.end(), [&](const Field& field) {
        return field.path.size() == prefix.size() + 1 + key.size() &&
               field.path.starts_with(prefix) && field.path[prefix.size()] == '.' &&
               field.path.ends_with(key);
    });
    return found == fields.end() ? nullptr : &*found;
}

/// Names directly under `prefix` ("" for top-level sections, "limits", "listen[]",
/// "auth.users[]"), in table order: "auth" gives realm, users, ...
std::vector<std::string_view> names_under(std::string_view prefix) {
    std::vector<std::string_view> names;
    for (const Field& field : fields) {
        std::string_view rest;
        if (prefix.empty()) {
            rest = field.path;
        } else if (field.path.size() > prefix.size() + 1 && field.path.starts_with(prefix) &&
                   field.path[prefix.size()] == '.') {
            rest = field.path.substr(prefix.size() + 1);
        } else {
            continue;
        }
        const std::string_view name = section_of(rest);
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
    return names;
}

std::string join_path(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string{key} : parent + "." + std::string{key};
}

void Loader::add(Diagnostic diagnostic) {
    const std::string_view section = section_of(diagnostic.path);
    if (!section.empty()) source_.sections_with_errors.emplace(section);
    errors_.push_back(std::move(diagnostic));
}

template <typename Visit>
void Loader::for_each_entry(const YAML::Node& map, const std::string& parent, Visit visit) {
    std::vector<std::pair<std::string, int>> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
        // By value: the iterator yields a temporary pair, so a reference into it would dangle.
        const YAML::Node key = it->first;
        const int key_line = line_of(key.Mark());
        if (!key.IsScalar()) {
            add({parent, key_line, "keys must be plain names, got " + describe(key)});
            continue;
        }
        Entry entry{join_path(parent, key.Scalar()), key_line, key_line, it->second};
        // yaml-cpp keeps repeated keys; a silently ignored repeat is exactly the typo we hunt.
        const auto first = std::find_if(seen.begin(), seen.end(),
                                        [&](const auto& s) { return s.first == key.Scalar(); });
        if (first != seen.end()) {
            add({entry.path, key_line,
                 "duplicate key (first at line " + std::to_string(first->second) + ")"});
            continue;
        }
        seen.emplace_back(key.Scalar(), key_line);
        // An empty value's mark points past the key's line; the key's line reads better.
        if (!entry.value.IsNull() && line_of(entry.value.Mark()) > 0) {
            entry.line = line_of(entry.value.Mark());
        }
        source_.lines[entry.path] = key_line;
        visit(key.Scalar(), entry);
    }
}

void Loader::unknown_key(const Entry& entry, std::string_view key, std::string_view prefix) {
    const std::vector<std::string_view> valid = names_under(prefix);
    std::string message = "unknown key '" + std::string{key} + "'";
    const std::string suggestion = did_you_mean(key, valid);
    message += suggestion.empty() ? "; expected " + join_alternatives(valid) : suggestion;
    add({entry.path, entry.key_line, std::move(message)});
}

void Loader::read_root(const YAML::Node& root, ServerConfig& config) {
    if (root.IsNull()) return;
    if (!root.IsMap()) {
        add({"", line_of(root.Mark()),
             "expected a map of sections (" + join_alternatives(names_under("")) + "), got " +
                 describe(root)});
        return;
    }
    Target target{config};
    for_each_entry(root, "", [&](const std::string& key, const Entry& entry) {
        if (key == "listen") return read_listen(entry, config);
        const auto sections = names_under("");
        if (std::find(sections.begin(), sections.end(), key) != sections.end()) {
            return read_section(entry, target);
        }
        unknown_key(entry, key, "");
    });
}

void Loader::read_section(const Entry& section, Target& target) {
    if (section.value.IsNull()) return; // every key commented out: all defaults
    if (!section.value.IsMap())
        return error(section, "expected a map, got " + describe(section.value));
    for_each_entry(section.value, section.path, [&](const std::string& key, const Entry& entry) {
        if (const Field* field = find_field(section.path, key)) {
            return field->read(*this, entry, target);
        }
        unknown_key(entry, key, section.path);
    });
}

template <typename Visit>
void Loader::for_each_item(const Entry& list, std::string_view what, NullList null, Shown shown,
                           Visit visit) {
    if (list.value.IsNull() && null == NullList::is_empty) return;
    if (!list.value.IsSequence()) {
        return error(
            list, "expected " + std::string{what} + ", got " +
                      (shown == Shown::value ? describe(list.value) : describe_secret(list.value)));
    }
    for (std::size_t i = 0; i < list.value.size(); ++i) {
        const YAML::Node item = list.value[i];
        Entry entry{list.path + "[" + std::to_string(i) + "]", 0, 0, item};
        entry.key_line = entry.line = item.IsNull() ? list.line : line_of(item.Mark());
        source_.lines[entry.path] = entry.line;
        visit(entry);
    }
}

void Loader::read_item_map(const Entry& item, std::string_view prefix, Target& target,
                           Shown shown) {
    if (!item.value.IsMap()) {
        return error(
            item, "expected a map with " + join_alternatives(names_under(prefix), "and") +
                      ", got " +
                      (shown == Shown::value ? describe(item.value) : describe_secret(item.value)));
    }
    for_each_entry(item.value, item.path, [&](const std::string& key, const Entry& entry) {
        if (const Field* field = find_field(prefix, key)) return field->read(*this, entry, target);
        unknown_key(entry, key, prefix);
    });
}

void Loader::read_listen(const Entry& listen, ServerConfig& config) {
    config.listeners.clear(); // a listen section replaces the defaults
    for_each_item(listen, "a list of listeners", NullList::is_error, Shown::value,
                  [&](const Entry& item) {
                      Listener listener;
                      Target target{config, &listener};
                      read_item_map(item, "listen[]", target);
                      if (!target.port_set && listener.transport == Transport::tls) {
                          listener.port = defaults::stuns_port;
                      }
                      // Kept even when invalid so listen[i] in later messages matches the
                      // document.
                      config.listeners.push_back(std::move(listener));
                  });
}

/// A file's whole content, or the errno of the failure.
struct FileText {
    std::string text;
    int error = 0; ///< errno; 0 on success
};

FileText read_whole_file(const std::string& path) {
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{std::fopen(path.c_str(), "rb"),
                                                               &std::fclose};
    if (!file) return {{}, errno};
    FileText result;
    std::array<char, 4096> buffer{};
    std::size_t count = 0;
    while ((count = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
        result.text.append(buffer.data(), count);
    }
    if (std::ferror(file.get())) return {{}, errno}; // e.g. EISDIR for a directory
    return result;
}

/// Secrets of a secret file: one per line, surrounding whitespace dropped, blank lines and
/// lines starting with '#' skipped.
std::vector<std::string> parse_secret_lines(std::string_view text) {
    std::vector<std::string> secrets;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        constexpr std::string_view space = " \t\r\f\v";
        const std::size_t first = line.find_first_not_of(space);
        if (first == std::string_view::npos) continue;
        line = line.substr(first, line.find_last_not_of(space) - first + 1);
        if (line.front() == '#') continue;
        secrets.emplace_back(line);
    }
    return secrets;
}

void Loader::read_secret_file(Auth& auth) {
    if (auth.secret_file.empty()) return;
    const Entry entry{"auth.secret_file",
                      source_.line_of("auth.secret_file"),
                      source_.line_of("auth.secret_file"),
                      {}};
    if (source_.lines.contains("auth.secrets")) {
        return error(entry, "cannot be combined with auth.secrets; use one of them");
    }
    const FileText file = read_whole_file(auth.secret_file);
    if (file.error != 0) {
        return error(entry, "cannot read '" + auth.secret_file +
                                "': " + std::generic_category().message(file.error));
    }
    // The content is never quoted in a diagnostic: it is the secret.
    auth.secrets = parse_secret_lines(file.text);
    if (auth.secrets.empty()) error(entry, "'" + auth.secret_file + "' holds no secret");
}

/// Records where each document's first node starts, without building nodes.
class DocumentStarts : public YAML::EventHandler {
public:
    YAML::Mark first = YAML::Mark::null_mark(); ///< first node of the latest document

    void OnDocumentStart(const YAML::Mark&) override { seen_ = false; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { note(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { note(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  const std::string&) override {
        note(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        note(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        note(mark);
    }
    void OnMapEnd() override {}

private:
    void note(const YAML::Mark& mark) {
        if (!seen_) first = mark;
        seen_ = true;
    }
    bool seen_ = false;
};

/// Checks the stream holds exactly one document. This pass replaces YAML::LoadAll, which in
/// yaml-cpp 0.7 loops forever, allocating, on a stray token such as a leading ',' (upstream
/// issue jbeder/yaml-cpp#1040): the parser then yields the same empty document at the same
/// position again and again, which is what we detect. Throws YAML::ParserException.
std::optional<Diagnostic> check_single_document(const std::string& yaml) {
    std::istringstream stream{yaml};
    YAML::Parser parser{stream};
    DocumentStarts starts;
    std::vector<YAML::Mark> documents;
    while (documents.size() < 3 && parser.HandleNextDocument(starts)) {
        if (!documents.empty() && starts.first.pos == documents.back().pos) {
            const auto pos = static_cast<std::size_t>(std::max(starts.first.pos, 0));
            const std::string token = pos < yaml.size() ? "'" + yaml.substr(pos, 1) + "'" : "input";
            return Diagnostic{"", line_of(starts.first), "invalid YAML: unexpected " + token};
        }
        documents.push_back(starts.first);
    }
    if (documents.size() > 1) {
        return Diagnostic{"", line_of(documents[1]), "expected one YAML document, found another"};
    }
    return std::nullopt;
}

LoadResult Loader::run(std::string_view yaml) {
    ServerConfig config = default_config();
    bool parsed = false;
    // The loader is the one place that catches yaml-cpp exceptions; nothing below throws others.
    try {
        const std::string text{yaml};
        if (auto problem = check_single_document(text)) {
            add(std::move(*problem));
        } else {
            read_root(YAML::Load(text), config);
            read_secret_file(config.auth);
            parsed = true;
        }
    } catch (const YAML::ParserException& e) {
        add({"", line_of(e.mark), "invalid YAML: " + e.msg});
    } catch (const YAML::Exception& e) {
        add({"", line_of(e.mark), e.msg});
    }
    if (parsed) {
        std::vector<Diagnostic> problems = validate(config, source_);
        errors_.insert(errors_.end(), std::make_move_iterator(problems.begin()),
                       std::make_move_iterator(problems.end()));
    }
    LoadResult result;
    if (errors_.empty()) result.config = std::move(config);
    result.errors = std::move(errors_);
    return result;
}

} // namespace

LoadResult load_string(std::string_view yaml, const std::string& base_dir) {
    return Loader{base_dir}.run(yaml);
}

LoadResult load_file(const std::string& path) {
    const auto unreadable = [&](int error) {
        LoadResult result;
        result.errors.push_back(
            {"", 0, "cannot read '" + path + "': " + std::generic_category().message(error)});
        return result;
    };
    const FileText file = read_whole_file(path);
    if (file.error != 0) return unreadable(file.error);
    std::string base_dir = std::filesystem::path{path}.parent_path().string();
    return load_string(file.text, base_dir.empty() ? "." : base_dir);
}

std::vector<std::string_view> known_keys() {
    std::vector<std::string_view> keys;
    for (const Field& field : fields)
        keys.push_back(field.path);
    return keys;
}

Parsed<Transport> parse_transport(std::string_view text) {
    const auto index = parse_name(text, transport_names);
    if (!index) return failure<Transport>(index.error);
    return success(static_cast<Transport>(*index.value));
}

Parsed<LogFormat> parse_log_format(std::string_view text) {
    const auto index = parse_name(text, log_format_names);
    if (!index) return failure<LogFormat>(index.error);
    return success(static_cast<LogFormat>(*index.value));
}

Parsed<std::string> parse_log_level(std::string_view text) {
    const auto index = parse_name(text, log_level_names);
    if (!index) return failure<std::string>(index.error);
    return success(std::string{log_level_names[*index.value]});
}

Parsed<std::uint16_t> parse_port(std::string_view text) {
    return parse_bounded<std::uint16_t>(text, 0, std::numeric_limits<std::uint16_t>::max());
}

Parsed<PortRange> parse_port_range(std::string_view text) {
    const std::string expected = "expected a port range like 49152-65535, got " + quote_value(text);
    const std::size_t dash = text.find('-');
    if (dash == std::string_view::npos) return failure<PortRange>(expected);
    const std::string_view first = text.substr(0, dash);
    const std::string_view last = text.substr(dash + 1);
    const auto min = parse_integer(first);
    const auto max = parse_integer(last);
    // parse_integer takes a sign, so "-5-1" or "5--1" fail here as they should.
    if (!is_digits(first) || !is_digits(last) || !min || !max) {
        return failure<PortRange>(expected);
    }
    constexpr std::int64_t lowest = bounds::min_relay_port;
    constexpr std::int64_t highest = std::numeric_limits<std::uint16_t>::max();
    if (*min < lowest || *min > highest || *max < lowest || *max > highest) {
        return failure<PortRange>("ports must be " + std::to_string(lowest) + ".." +
                                  std::to_string(highest) + ", got " + quote_value(text));
    }
    if (*min > *max) {
        return failure<PortRange>("the first port must not be above the last, got " +
                                  quote_value(text));
    }
    return success(PortRange{static_cast<std::uint16_t>(*min), static_cast<std::uint16_t>(*max)});
}

Parsed<std::string> parse_cidr(std::string_view text) {
    const std::string expected =
        "expected an IP address or a CIDR prefix like 10.0.0.0/8, got " + quote_value(text);
    const std::size_t slash = text.find('/');
    const auto ip = parse_ip_literal(text.substr(0, slash));
    if (!ip) return failure<std::string>(expected);
    if (slash != std::string_view::npos) {
        const std::string_view length = text.substr(slash + 1);
        const int max_length = ip->v6 ? 128 : 32;
        if (!is_digits(length)) return failure<std::string>(expected);
        const auto value = parse_integer(length);
        if (!value || *value > max_length) {
            return failure<std::string>("prefix length must be 0.." + std::to_string(max_length) +
                                        " for an " + std::string{family_name(*ip)} +
                                        " address, got " + quote_value(text));
        }
    }
    return success(std::string{text});
}

Parsed<std::string> parse_realm(std::string_view text) {
    if (text.empty()) return failure<std::string>("must not be empty");
    if (utf8_length(text) > bounds::max_realm_characters) {
        return failure<std::string>("must be at most " +
                                    std::to_string(bounds::max_realm_characters) +
                                    " characters, got " + std::to_string(utf8_length(text)));
    }
    // REALM is sent as a quoted-string (RFC 3261 grammar, RFC 8489 section 14.9).
    const auto bad = std::find_if(text.begin(), text.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return c == '"' || c == '\\' || byte < 0x20 || byte == 0x7F;
    });
    if (bad != text.end()) {
        return failure<std::string>("must not contain '\"', '\\' or control characters");
    }
    return success(std::string{text});
}

Parsed<std::string> parse_user_name(std::string_view text) {
    if (text.empty()) return failure<std::string>("must not be empty");
    if (text.size() > bounds::max_username_bytes) {
        return failure<std::string>("must be at most " +
                                    std::to_string(bounds::max_username_bytes) + " bytes, got " +
                                    std::to_string(text.size()));
    }
    if (text.find(':') != std::string_view::npos) {
        // Not quoted: "name:password" typed here would otherwise end up in a log.
        return failure<std::string>("must not contain ':' (TURN REST API usernames use it)");
    }
    return success(std::string{text});
}

Parsed<std::string> parse_user_key(std::string_view text) {
    // The key is as good as the password for MD5 authentication: describe it, never quote it.
    const std::string expected = "expected " + std::to_string(bounds::user_key_hex_digits) +
                                 " hex digits (MD5 of name:realm:password)";
    if (text.size() != bounds::user_key_hex_digits) {
        return failure<std::string>(expected + ", got " + std::to_string(text.size()) +
                                    (text.size() == 1 ? " character" : " characters"));
    }
    std::string key;
    for (const char c : text) {
        if (c >= '0' && c <= '9') {
            key += c;
        } else if (c >= 'a' && c <= 'f') {
            key += c;
        } else if (c >= 'A' && c <= 'F') {
            key += static_cast<char>(c - 'A' + 'a');
        } else {
            return failure<std::string>(expected + ", got a character that is not a hex digit");
        }
    }
    return success(std::move(key));
}

Parsed<unsigned> parse_workers(std::string_view text) {
    if (text == "auto") return success(0U);
    const auto value = parse_integer(text);
    if (!value || *value < 1 || *value > static_cast<std::int64_t>(bounds::max_workers)) {
        return failure<unsigned>("expected auto or an integer 1.." +
                                 std::to_string(bounds::max_workers) + ", got " +
                                 quote_value(text));
    }
    return success(static_cast<unsigned>(*value));
}

Parsed<std::chrono::seconds> parse_duration(std::string_view text) {
    using std::chrono::seconds;
    const std::string expected =
        "expected a duration like 30s, 10m, 1h or 1d, got " + quote_value(text);
    // Milliseconds up to int64 seconds' range divided by 1000 leaves room for any sane value.
    constexpr std::uint64_t max_ms = std::numeric_limits<std::int64_t>::max() / 1000;
    std::uint64_t total_ms = 0;
    std::size_t pos = 0;
    if (text.empty()) return failure<seconds>(expected);
    while (pos < text.size()) {
        const std::size_t start = pos;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
            ++pos;
        if (pos == start) return failure<seconds>(expected);
        std::uint64_t number = 0;
        const auto [end, ec] = std::from_chars(text.data() + start, text.data() + pos, number);
        if (ec != std::errc{}) return failure<seconds>("is too long, got " + quote_value(text));
        std::uint64_t unit_ms = 0;
        const std::string_view rest = text.substr(pos);
        if (rest.empty() && start == 0) {
            unit_ms = 1000; // a bare number is seconds
        } else if (rest.starts_with("ms")) {
            unit_ms = 1;
            pos += 2;
        } else if (!rest.empty()) {
            switch (rest.front()) {
            case 's':
                unit_ms = 1000;
                break;
            case 'm':
                unit_ms = 60'000;
                break;
            case 'h':
                unit_ms = 3'600'000;
                break;
            case 'd':
                unit_ms = 86'400'000;
                break;
            default:
                return failure<seconds>(expected);
            }
            ++pos;
        } else {
            return failure<seconds>(expected); // "1h30": a number without a unit after a unit
        }
        if (number > (max_ms - total_ms) / unit_ms) {
            return failure<seconds>("is too long, got " + quote_value(text));
        }
        total_ms += number * unit_ms;
    }
    if (total_ms % 1000 != 0) {
        return failure<seconds>("must be a whole number of seconds, got " + quote_value(text));
    }
    return success(seconds{static_cast<seconds::rep>(total_ms / 1000)});
}

Parsed<Listener> parse_listen_spec(std::string_view spec) {
    const std::string usage = "expected <transport>://<address>[:<port>] like "
                              "udp://127.0.0.1:3478 or tcp://[::1]:3478, got " +
                              quote_value(spec);
    const std::size_t scheme_end = spec.find("://");
    if (scheme_end == std::string_view::npos) return failure<Listener>(usage);
    const auto transport = parse_transport(spec.substr(0, scheme_end));
    if (!transport) return failure<Listener>(transport.error);

    std::string_view rest = spec.substr(scheme_end + 3);
    std::string_view address;
    std::optional<std::string_view> port_text;
    const bool bracketed = rest.starts_with('[');
    if (bracketed) {
        const std::size_t close = rest.find(']');
        if (close == std::string_view::npos) return failure<Listener>(usage);
        address = rest.substr(1, close - 1);
        const std::string_view after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return failure<Listener>(usage);
            port_text = after.substr(1);
        }
    } else if (std::count(rest.begin(), rest.end(), ':') > 1) {
        return failure<Listener>("IPv6 addresses need brackets, like tcp://[::1]:3478, got " +
                                 quote_value(spec));
    } else {
        const std::size_t colon = rest.find(':');
        address = rest.substr(0, colon);
        if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
    }

    const auto ip = parse_ip_literal(address);
    if (!ip) {
        return failure<Listener>("expected an IPv4 or IPv6 address, got " + quote_value(address));
    }
    if (bracketed != ip->v6)
        return failure<Listener>(usage); // [127.0.0.1] or a bare ::1 slipped by

    Listener listener{.transport = *transport.value, .address = std::string{address}};
    if (port_text) {
        const auto port = parse_port(*port_text);
        if (!port) return failure<Listener>(port.error);
        listener.port = *port.value;
    } else {
        listener.port =
            listener.transport == Transport::tls ? defaults::stuns_port : defaults::stun_port;
    }
    return success(std::move(listener));
}

} // namespace traverse::config
