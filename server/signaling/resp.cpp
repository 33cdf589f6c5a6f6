// SPDX-License-Identifier: Apache-2.0
// RESP2 encoder and parser (https://redis.io/docs/reference/protocol-spec/).
#include "server/signaling/resp.hpp"

#include <charconv>

namespace traverse::signaling::resp {

namespace {

constexpr std::int64_t max_bulk = 16 * 1024 * 1024;
constexpr std::int64_t max_elements = 1'000'000;
constexpr int max_depth = 8;

/// The line at `pos` (without CRLF); false when no CRLF yet.
bool line_at(std::string_view in, std::size_t pos, std::string_view& line, std::size_t& next) {
    const std::size_t end = in.find("\r\n", pos);
    if (end == std::string_view::npos) return false;
    line = in.substr(pos, end - pos);
    next = end + 2;
    return true;
}

bool to_int(std::string_view s, std::int64_t& v) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc{} && p == s.data() + s.size();
}

Status parse_at(std::string_view in, std::size_t pos, Value& out, std::size_t& next, int depth) {
    if (depth > max_depth) return Status::bad;
    if (pos >= in.size()) return Status::need_more;
    const char kind = in[pos];
    std::string_view line;
    if (!line_at(in, pos + 1, line, next))
        return in.size() - pos > 64 * 1024 ? Status::bad : Status::need_more;
    switch (kind) {
    case '+':
        out.kind = Value::Kind::simple;
        out.text = std::string(line);
        return Status::complete;
    case '-':
        out.kind = Value::Kind::error;
        out.text = std::string(line);
        return Status::complete;
    case ':':
        out.kind = Value::Kind::integer;
        return to_int(line, out.integer) ? Status::complete : Status::bad;
    case '$': {
        std::int64_t n = 0;
        if (!to_int(line, n) || n < -1 || n > max_bulk) return Status::bad;
        if (n == -1) {
            out.kind = Value::Kind::nil;
            return Status::complete;
        }
        const auto len = static_cast<std::size_t>(n);
        if (in.size() < next + len + 2) return Status::need_more;
        if (in.substr(next + len, 2) != "\r\n") return Status::bad;
        out.kind = Value::Kind::bulk;
        out.text = std::string(in.substr(next, len));
        next += len + 2;
        return Status::complete;
    }
    case '*': {
        std::int64_t n = 0;
        if (!to_int(line, n) || n < -1 || n > max_elements) return Status::bad;
        if (n == -1) {
            out.kind = Value::Kind::nil;
            return Status::complete;
        }
        out.kind = Value::Kind::array;
        out.elements.clear();
        for (std::int64_t i = 0; i < n; ++i) {
            Value element;
            const Status s = parse_at(in, next, element, next, depth + 1);
            if (s != Status::complete) return s;
            out.elements.push_back(std::move(element));
        }
        return Status::complete;
    }
    default:
        return Status::bad;
    }
}

} // namespace

std::string command(const std::vector<std::string>& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args) {
        out += "$" + std::to_string(a.size()) + "\r\n";
        out += a;
        out += "\r\n";
    }
    return out;
}

Status parse(std::string_view in, Value& out, std::size_t& used) {
    std::size_t next = 0;
    Value v;
    const Status s = parse_at(in, 0, v, next, 0);
    if (s == Status::complete) {
        out = std::move(v);
        used = next;
    }
    return s;
}

} // namespace traverse::signaling::resp
