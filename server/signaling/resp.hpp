// SPDX-License-Identifier: Apache-2.0
// RESP2, the Redis wire protocol, sans-IO: command encoding and an incremental reply parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace traverse::signaling::resp {

/// One reply: simple string (+), error (-), integer (:), bulk string ($), nil ($-1 / *-1) or
/// array (*).
struct Value {
    enum class Kind { simple, error, integer, bulk, nil, array };
    Kind kind = Kind::nil;
    std::string text;            ///< simple, error and bulk
    std::int64_t integer = 0;    ///< integer
    std::vector<Value> elements; ///< array
};

/// A command as a RESP array of bulk strings (binary-safe).
std::string command(const std::vector<std::string>& args);

enum class Status { complete, need_more, bad };

/// Parses one value from the front of `in`. On `complete` sets `out` and `used` (bytes
/// consumed). Bulk strings above 16 MiB, arrays above 1M elements, nesting deeper than 8 or
/// malformed framing are `bad`.
Status parse(std::string_view in, Value& out, std::size_t& used);

} // namespace traverse::signaling::resp
