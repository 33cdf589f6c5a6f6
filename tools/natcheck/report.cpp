// SPDX-License-Identifier: Apache-2.0
#include "tools/natcheck/report.hpp"

#include <cstdio>
#include <sstream>

namespace traverse::natcheck {
namespace {

std::string fixed(double v, int decimals = 2) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, v);
    return text;
}

std::string json_address(const std::optional<TransportAddress>& a) {
    return a ? json_string(a->to_string()) : "null";
}

std::string json_bool(std::optional<bool> b) {
    return b ? (*b ? "true" : "false") : "null";
}

std::string json_check(Check c) {
    switch (c) {
    case Check::pass:
        return "true";
    case Check::fail:
        return "false";
    case Check::not_checked:
        break;
    }
    return "null";
}

/// Plain-words explanation of each behaviour.
const char* explain(Mapping m) {
    switch (m) {
    case Mapping::endpoint_independent:
        return "your public address stays the same whoever you talk to (good for direct calls)";
    case Mapping::address_dependent:
        return "your public address changes for every computer you talk to";
    case Mapping::address_and_port_dependent:
        return "your public address changes for every computer and port you talk to";
    case Mapping::unknown:
        break;
    }
    return "could not be determined";
}

const char* explain(Filtering f) {
    switch (f) {
    case Filtering::endpoint_independent:
        return "once you have sent something out, anyone can reach you (most open)";
    case Filtering::address_dependent:
        return "only computers you have sent something to can reach you";
    case Filtering::address_and_port_dependent:
        return "only the exact address and port you have sent something to can reach you";
    case Filtering::unknown:
        break;
    }
    return "could not be determined";
}

std::string yes_no(std::optional<bool> b, const char* yes, const char* no, const char* unknown) {
    return b ? (*b ? yes : no) : unknown;
}

std::string turn_line(const TurnResult& t) {
    std::string out;
    if (t.works()) {
        out = "works: relay address " + t.relayed->to_string() + ", " + std::to_string(t.received) +
              " of " + std::to_string(t.sent) + " test packets came back";
        out += ", round trip " + fixed(t.rtt_min_ms) + " / " + fixed(t.rtt_avg_ms) + " / " +
               fixed(t.rtt_max_ms) + " ms (min/avg/max)";
        if (t.echo_method == "relay-loop") out += " (relay to itself)";
    } else if (t.allocated) {
        out = "got relay address " + t.relayed->to_string() + ", but " + t.error;
    } else {
        out = "does not work: " + t.error;
    }
    return out;
}

} // namespace

std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (const char ch : text) {
        const auto u = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (u < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", u);
            out += escaped;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

std::string render_json(const Results& r, const Classification& c) {
    std::ostringstream j;
    j << "{\n";
    j << "  \"server\": " << json_string(r.server_text) << ",\n";
    j << "  \"server_address\": " << json_address(r.server) << ",\n";
    j << "  \"public_address\": " << json_address(c.public_address) << ",\n";
    j << "  \"local_address\": " << json_address(c.local_address) << ",\n";
    j << "  \"behind_nat\": " << json_bool(c.behind_nat) << ",\n";
    j << "  \"udp\": " << (c.udp ? "true" : "false") << ",\n";
    j << "  \"tcp\": " << json_bool(c.tcp) << ",\n";
    j << "  \"tls\": " << json_bool(c.tls) << ",\n";
    for (const auto& [key, probe] :
         {std::pair{"tcp_error", &r.observations.tcp}, std::pair{"tls_error", &r.observations.tls}})
        j << "  \"" << key
          << "\": " << (probe->failure.empty() ? "null" : json_string(probe->failure)) << ",\n";
    j << "  \"mapping\": " << json_string(to_string(c.mapping)) << ",\n";
    j << "  \"mapping_reason\": " << json_string(c.mapping_reason) << ",\n";
    j << "  \"filtering\": " << json_string(to_string(c.filtering)) << ",\n";
    j << "  \"filtering_reason\": " << json_string(c.filtering_reason) << ",\n";
    j << "  \"hairpinning\": " << json_bool(c.hairpinning) << ",\n";
    j << "  \"nat_type\": " << json_string(to_string(c.nat_type)) << ",\n";
    const ServerChecks& s = c.server;
    j << "  \"server_checks\": {\"rfc5780\": " << (s.rfc5780 ? "true" : "false")
      << ", \"other_address\": " << json_address(r.observations.primary.other_address)
      << ", \"other_address_valid\": " << json_check(s.other_address)
      << ", \"response_origin_valid\": " << json_check(s.response_origin)
      << ", \"change_request_valid\": " << json_check(s.change_request) << ", \"problems\": [";
    for (std::size_t i = 0; i < s.problems.size(); ++i)
        j << (i ? ", " : "") << json_string(s.problems[i]);
    j << "]},\n";
    j << "  \"turn\": [";
    for (std::size_t i = 0; i < r.observations.turn.size(); ++i) {
        const TurnResult& t = r.observations.turn[i];
        j << (i ? ",\n    " : "\n    ") << "{\"transport\": " << json_string(t.transport)
          << ", \"allocated\": " << (t.allocated ? "true" : "false")
          << ", \"works\": " << (t.works() ? "true" : "false")
          << ", \"relayed_address\": " << json_address(t.relayed)
          << ", \"mapped_address\": " << json_address(t.mapped)
          << ", \"echo_method\": " << (t.echo_method.empty() ? "null" : json_string(t.echo_method))
          << ", \"sent\": " << t.sent << ", \"received\": " << t.received << ", \"loss_percent\": "
          << (t.sent > 0 ? fixed(100.0 * (t.sent - t.received) / t.sent, 1) : "null")
          << ", \"rtt_ms\": ";
        if (t.received > 0)
            j << "{\"min\": " << fixed(t.rtt_min_ms, 3) << ", \"avg\": " << fixed(t.rtt_avg_ms, 3)
              << ", \"max\": " << fixed(t.rtt_max_ms, 3) << "}";
        else
            j << "null";
        j << ", \"error\": " << (t.error.empty() ? "null" : json_string(t.error)) << "}";
    }
    j << (r.observations.turn.empty() ? "]" : "\n  ]") << ",\n";
    // IPv6: the main results when the server was reached over IPv6, else the extra probe.
    const bool main_v6 = r.server && r.server->family == proto::Family::ipv6;
    const Probe& v6 = main_v6 ? r.observations.primary : r.ipv6;
    const auto& v6_local = main_v6 ? r.observations.local_udp : r.ipv6_local;
    if (v6.outcome == Probe::Outcome::not_run) {
        j << "  \"ipv6\": null,\n";
    } else {
        std::optional<bool> nat;
        if (v6.answered() && v6.mapped && v6_local) nat = *v6.mapped != *v6_local;
        j << "  \"ipv6\": {\"udp\": " << (v6.answered() ? "true" : "false")
          << ", \"public_address\": " << json_address(v6.mapped)
          << ", \"local_address\": " << json_address(v6_local)
          << ", \"behind_nat\": " << json_bool(nat) << "},\n";
    }
    const Lifetime& l = r.lifetime;
    if (!l.tested) {
        j << "  \"binding_lifetime\": null,\n";
    } else {
        j << "  \"binding_lifetime\": {\"alive_s\": "
          << (l.alive_s ? std::to_string(*l.alive_s) : "null")
          << ", \"expired_s\": " << (l.expired_s ? std::to_string(*l.expired_s) : "null")
          << ", \"note\": " << (l.note.empty() ? "null" : json_string(l.note)) << "},\n";
    }
    j << "  \"verdict\": " << json_string(to_string(c.verdict)) << ",\n";
    j << "  \"verdict_text\": " << json_string(c.verdict_text) << ",\n";
    j << "  \"error\": " << (r.error.empty() ? "null" : json_string(r.error)) << "\n";
    j << "}\n";
    return j.str();
}

std::string render_text(const Results& r, const Classification& c) {
    std::ostringstream t;
    const Observations& o = r.observations;
    t << "natcheck: testing against " << r.server_text;
    if (r.server && r.server->to_string() != r.server_text)
        t << " (" << r.server->to_string() << ")";
    t << "\n\n";
    if (!r.error.empty()) t << "  Problem:            " << r.error << "\n";

    t << "  Public address:     ";
    if (c.public_address) {
        t << c.public_address->to_string();
        if (c.behind_nat == true)
            t << "  (you are behind a NAT; this computer's address is "
              << (c.local_address ? c.local_address->to_string() : "?") << ")";
        else if (c.behind_nat == false)
            t << "  (no NAT: that is this computer's own address)";
    } else {
        t << "unknown (the server did not answer)";
    }
    t << "\n";
    t << "  UDP:                "
      << (c.udp ? "works" : "blocked or the server does not answer (calls need UDP or TURN)")
      << "\n";
    auto stream_line = [&](std::optional<bool> works, const Probe& p) {
        if (!works) return std::string("not tested");
        if (*works) return std::string("works");
        if (p.outcome == Probe::Outcome::error)
            return "the server refused (error " + std::to_string(p.error_code) + ")";
        return p.failure.empty() ? std::string("no answer") : p.failure;
    };
    t << "  TCP:                " << stream_line(c.tcp, o.tcp) << "\n";
    t << "  TLS:                " << stream_line(c.tls, o.tls) << "\n";
    t << "  NAT mapping:        " << to_string(c.mapping) << ": " << explain(c.mapping) << "\n"
      << "                      (" << c.mapping_reason << ")\n";
    t << "  NAT filtering:      " << to_string(c.filtering) << ": " << explain(c.filtering) << "\n"
      << "                      (" << c.filtering_reason << ")\n";
    t << "  Hairpinning:        "
      << yes_no(c.hairpinning,
                "yes (you can reach other devices on your network through the public address)",
                "no (devices on your own network cannot reach you through your public address)",
                "not tested")
      << "\n";
    t << "  NAT type (classic): " << to_string(c.nat_type) << "\n";
    if (r.lifetime.tested) {
        t << "  Binding lifetime:   ";
        if (!r.lifetime.note.empty())
            t << "not measured: " << r.lifetime.note;
        else if (r.lifetime.expired_s)
            t << "an idle mapping lasts at least " << r.lifetime.alive_s.value_or(0)
              << " s and is gone after " << *r.lifetime.expired_s << " s";
        else
            t << "an idle mapping lasted the whole test (" << r.lifetime.alive_s.value_or(0)
              << " s)";
        t << "\n";
    }
    if (r.ipv6.outcome != Probe::Outcome::not_run) {
        t << "  IPv6:               ";
        if (r.ipv6.answered() && r.ipv6.mapped)
            t << "works, public address " << r.ipv6.mapped->to_string();
        else
            t << "no answer over IPv6";
        t << "\n";
    }
    t << "  Server checks:      ";
    if (c.server.problems.empty() && c.server.rfc5780)
        t << "the server's NAT-discovery answers are consistent (other address "
          << o.primary.other_address->to_string() << ")";
    else if (c.server.problems.empty())
        t << "not checked";
    for (std::size_t i = 0; i < c.server.problems.size(); ++i)
        t << (i ? "\n                      " : "") << c.server.problems[i];
    t << "\n";
    for (const TurnResult& turn : o.turn) {
        std::string name = turn.transport;
        for (char& ch : name)
            ch = static_cast<char>(ch - 'a' + 'A');
        const std::string label = "  TURN over " + name + ":";
        t << label << std::string(label.size() < 22 ? 22 - label.size() : 1, ' ') << turn_line(turn)
          << "\n";
    }
    t << "\nVerdict: " << c.verdict_text << "\n";
    return t.str();
}

} // namespace traverse::natcheck
