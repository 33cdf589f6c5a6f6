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
};

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
    std::optional<std::string> scalar(const Entry& entry, std::string_view what) {
        if (entry.value.IsScalar()) return entry.value.Scalar();
        error(entry, "expected " + std::string{what} + ", got " + describe(entry.value));
        return std::nullopt;
    }

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

    std::string base_dir_;
    std::vector<Diagnostic> errors_;
    SourceMap source_;
};

/// Every accepted key, in schema order. The loader reads through this table, known_keys()
/// publishes it, and a unit test checks that schema.md documents each entry.
constexpr std::array<Field, 15> fields{{
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
}};

const Field* find_field(std::string_view path) {
    const auto found = std::find_if(fields.begin(), fields.end(),
                                    [&](const Field& field) { return field.path == path; });
    return found == fields.end() ? nullptr : &*found;
}

/// Names directly under `prefix` ("" for top-level sections, "limits", "listen[]"), in table order.
std::vector<std::string_view> names_under(std::string_view prefix) {
    std::vector<std::string_view> names;
    for (const Field& field : fields) {
        std::string_view name;
        if (prefix.empty()) {
            name = section_of(field.path);
        } else if (field.path.size() > prefix.size() + 1 && field.path.starts_with(prefix) &&
                   field.path[prefix.size()] == '.') {
            name = field.path.substr(prefix.size() + 1);
        } else {
            continue;
        }
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
        if (const Field* field = find_field(entry.path)) return field->read(*this, entry, target);
        unknown_key(entry, key, section.path);
    });
}

void Loader::read_listen(const Entry& listen, ServerConfig& config) {
    config.listeners.clear(); // a listen section replaces the defaults
    if (!listen.value.IsSequence()) {
        return error(listen, "expected a list of listeners, got " + describe(listen.value));
    }
    const std::vector<std::string_view> keys = names_under("listen[]");
    for (std::size_t i = 0; i < listen.value.size(); ++i) {
        const YAML::Node item = listen.value[i];
        Entry entry{"listen[" + std::to_string(i) + "]", 0, 0, item};
        entry.key_line = entry.line = item.IsNull() ? listen.line : line_of(item.Mark());
        source_.lines[entry.path] = entry.line;
        Listener listener;
        Target target{config, &listener};
        if (!item.IsMap()) {
            error(entry, "expected a map with " + join_alternatives(keys, "and") + ", got " +
                             describe(item));
        } else {
            for_each_entry(item, entry.path, [&](const std::string& key, const Entry& field_entry) {
                if (const Field* field = find_field("listen[]." + key)) {
                    return field->read(*this, field_entry, target);
                }
                unknown_key(field_entry, key, "listen[]");
            });
        }
        if (!target.port_set && listener.transport == Transport::tls) {
            listener.port = defaults::stuns_port;
        }
        // Kept even when invalid so listen[i] in later messages matches the document.
        config.listeners.push_back(std::move(listener));
    }
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
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{std::fopen(path.c_str(), "rb"),
                                                               &std::fclose};
    if (!file) return unreadable(errno);
    std::string text;
    std::array<char, 4096> buffer{};
    std::size_t count = 0;
    while ((count = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
        text.append(buffer.data(), count);
    }
    if (std::ferror(file.get())) return unreadable(errno); // e.g. EISDIR for a directory
    std::string base_dir = std::filesystem::path{path}.parent_path().string();
    return load_string(text, base_dir.empty() ? "." : base_dir);
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
