// SPDX-License-Identifier: Apache-2.0
// classify(): RFC 5780 §4.3/§4.4 decision rules, server validation and the verdict.
#include "tools/natcheck/classify.hpp"

#include <tuple>
#include <utility>

namespace traverse::natcheck {
namespace {

std::string text(const std::optional<TransportAddress>& a) {
    return a ? a->to_string() : std::string("(none)");
}

bool same_ip(const TransportAddress& a, const TransportAddress& b) noexcept {
    return a.family == b.family && a.ip == b.ip;
}

/// Adds a problem once (several probes may report the same one).
void problem(ServerChecks& s, Check ServerChecks::*field, const std::string& what) {
    s.*field = Check::fail;
    for (const auto& p : s.problems)
        if (p == what) return;
    s.problems.push_back(what);
}

void pass_unless_failed(ServerChecks& s, Check ServerChecks::*field) {
    if (s.*field == Check::not_checked) s.*field = Check::pass;
}

/// RFC 5780 §7.3: every answer carries RESPONSE-ORIGIN, equal to the address it came from; a
/// plain request is answered from where it was sent.
void check_origin(ServerChecks& s, const Probe& p, bool plain) {
    if (!p.answered() || !p.source) return;
    if (!p.response_origin) {
        problem(s, &ServerChecks::response_origin, "the server's answers lack RESPONSE-ORIGIN");
        return;
    }
    if (*p.response_origin != *p.source) {
        problem(s, &ServerChecks::response_origin,
                "RESPONSE-ORIGIN " + p.response_origin->to_string() +
                    " does not match the address the answer came from (" + p.source->to_string() +
                    "): the server is probably behind a NAT itself");
        return;
    }
    if (plain && p.destination && *p.source != *p.destination) {
        problem(s, &ServerChecks::response_origin,
                "a request sent to " + p.destination->to_string() + " was answered from " +
                    p.source->to_string());
        return;
    }
    pass_unless_failed(s, &ServerChecks::response_origin);
}

/// RFC 5780 §4.4: a CHANGE-REQUEST answer must come from the changed address.
void check_change(ServerChecks& s, const Probe& p, const std::optional<TransportAddress>& expected,
                  const char* what) {
    if (p.outcome == Probe::Outcome::error) {
        problem(s, &ServerChecks::change_request,
                std::string("the server refused a ") + what + " request (error " +
                    std::to_string(p.error_code) + ")");
        return;
    }
    if (!p.answered() || !expected) return;
    if (!p.source || *p.source != *expected) {
        problem(s, &ServerChecks::change_request,
                std::string("the answer to a ") + what + " request came from " + text(p.source) +
                    " instead of " + expected->to_string() +
                    ": the server does not really change its address");
        return;
    }
    pass_unless_failed(s, &ServerChecks::change_request);
}

ServerChecks validate(const Observations& o) {
    ServerChecks s;
    const Probe& p = o.primary;
    if (!p.answered() || !p.destination) return s;
    if (!p.other_address) {
        problem(s, &ServerChecks::other_address,
                "the server sends no OTHER-ADDRESS: it does not support RFC 5780 NAT behaviour "
                "discovery (it needs a second IP address)");
    } else if (same_ip(*p.other_address, *p.destination)) {
        problem(s, &ServerChecks::other_address,
                "OTHER-ADDRESS " + p.other_address->to_string() +
                    " has the same IP as the primary address");
    } else if (p.other_address->port == p.destination->port) {
        problem(s, &ServerChecks::other_address,
                "OTHER-ADDRESS " + p.other_address->to_string() +
                    " has the same port as the primary address");
    } else if (p.other_address->family != p.destination->family) {
        problem(s, &ServerChecks::other_address,
                "OTHER-ADDRESS " + p.other_address->to_string() + " is of another address family");
    } else {
        s.other_address = Check::pass;
    }
    if (s.other_address != Check::pass) return s;

    for (const Probe* q : {&o.primary, &o.alt_ip, &o.alt_both, &o.alt_port})
        check_origin(s, *q, true);
    for (const Probe* q : {&o.change_both, &o.change_port})
        check_origin(s, *q, false);

    const TransportAddress other = *p.other_address;
    TransportAddress port_only = *p.destination;
    port_only.port = other.port;
    check_change(s, o.change_both, other, "change-IP-and-port");
    check_change(s, o.change_port, port_only, "change-port");
    s.rfc5780 = s.response_origin != Check::fail;
    return s;
}

struct MappingResult {
    Mapping mapping = Mapping::unknown;
    std::string reason;
    bool not_independent = false; ///< known to depend on the destination (even if unknown how)
};

MappingResult mapping_of(const Observations& o, const ServerChecks& s,
                         std::optional<bool> behind_nat) {
    const Probe& p = o.primary;
    if (!p.answered() || !p.mapped) return {Mapping::unknown, "no answer over UDP", false};
    if (behind_nat == false)
        return {Mapping::endpoint_independent,
                "not behind a NAT: the server sees this computer's own address", false};
    if (s.other_address == Check::pass) {
        if (!o.alt_ip.answered() || !o.alt_ip.mapped)
            return {Mapping::unknown,
                    "the server's alternate address " + text(o.alt_ip.destination) +
                        " did not answer",
                    false};
        if (*o.alt_ip.mapped == *p.mapped)
            return {Mapping::endpoint_independent,
                    "the same public address " + p.mapped->to_string() +
                        " is used towards both server addresses",
                    false};
        if (!o.alt_both.answered() || !o.alt_both.mapped)
            return {Mapping::unknown,
                    "the public address changes with the destination IP (" + p.mapped->to_string() +
                        ", then " + o.alt_ip.mapped->to_string() +
                        "), but the alternate port did not answer",
                    true};
        if (*o.alt_both.mapped == *o.alt_ip.mapped)
            return {Mapping::address_dependent,
                    "a new public address for each destination IP (" + p.mapped->to_string() +
                        ", then " + o.alt_ip.mapped->to_string() + ")",
                    true};
        return {Mapping::address_and_port_dependent,
                "a new public address for each destination IP and port (" + p.mapped->to_string() +
                    ", " + o.alt_ip.mapped->to_string() + ", " + o.alt_both.mapped->to_string() +
                    ")",
                true};
    }
    if (o.alt_server.answered() && o.alt_server.mapped) {
        if (*o.alt_server.mapped == *p.mapped)
            return {Mapping::endpoint_independent,
                    "the same public address " + p.mapped->to_string() +
                        " towards this server and the --alt server",
                    false};
        return {Mapping::unknown,
                "the public address differs towards the --alt server (" + p.mapped->to_string() +
                    ", then " + o.alt_server.mapped->to_string() +
                    "): address-dependent or address-and-port-dependent; an RFC 5780 server "
                    "would tell which",
                true};
    }
    std::string why = s.problems.empty() ? "the server does not support RFC 5780" : s.problems[0];
    if (o.alt_server.outcome != Probe::Outcome::not_run) why += "; the --alt server did not answer";
    return {Mapping::unknown, why, false};
}

std::pair<Filtering, std::string> filtering_of(const Observations& o, const ServerChecks& s) {
    if (!o.primary.answered()) return {Filtering::unknown, "no answer over UDP"};
    if (s.other_address != Check::pass)
        return {Filtering::unknown,
                s.problems.empty() ? "the server does not support RFC 5780" : s.problems[0]};
    for (Check ServerChecks::*c : {&ServerChecks::response_origin, &ServerChecks::change_request})
        if (s.*c == Check::fail)
            return {Filtering::unknown, "the server's answers cannot be trusted: " +
                                            (s.problems.empty() ? std::string() : s.problems[0])};
    const Probe& both = o.change_both;
    switch (both.outcome) {
    case Probe::Outcome::not_run:
        return {Filtering::unknown, "not tested"};
    case Probe::Outcome::error:
        return {Filtering::unknown, "the server refused CHANGE-REQUEST"};
    case Probe::Outcome::answered:
        return {Filtering::endpoint_independent,
                "an answer from the server's other IP address and port got through"};
    case Probe::Outcome::no_answer:
        break;
    }
    // A missing answer only means "filtered" if the alternate address answers when contacted.
    if (!o.alt_both.answered())
        return {Filtering::unknown, "the server's alternate address did not answer even when "
                                    "contacted directly, so a missing answer proves nothing"};
    const Probe& port = o.change_port;
    switch (port.outcome) {
    case Probe::Outcome::not_run:
        return {Filtering::unknown, "the change-port test did not run"};
    case Probe::Outcome::error:
        return {Filtering::unknown, "the server refused CHANGE-REQUEST"};
    case Probe::Outcome::answered:
        return {Filtering::address_dependent,
                "answers from the server's other port got through, from its other IP did not"};
    case Probe::Outcome::no_answer:
        break;
    }
    if (!o.alt_port.answered())
        return {Filtering::unknown, "the server's alternate port did not answer even when "
                                    "contacted directly, so a missing answer proves nothing"};
    return {Filtering::address_and_port_dependent,
            "only answers from the exact address and port contacted got through"};
}

NatType nat_type_of(bool udp, bool any_answer, std::optional<bool> behind_nat,
                    const MappingResult& m, Filtering f) {
    if (!udp) return any_answer ? NatType::udp_blocked : NatType::unknown;
    if (behind_nat == false) {
        if (f == Filtering::endpoint_independent) return NatType::open_internet;
        if (f == Filtering::unknown) return NatType::unknown;
        return NatType::symmetric_udp_firewall;
    }
    if (m.not_independent) return NatType::symmetric;
    if (m.mapping != Mapping::endpoint_independent) return NatType::unknown;
    switch (f) {
    case Filtering::endpoint_independent:
        return NatType::full_cone;
    case Filtering::address_dependent:
        return NatType::restricted_cone;
    case Filtering::address_and_port_dependent:
        return NatType::port_restricted_cone;
    case Filtering::unknown:
        break;
    }
    return NatType::unknown;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
        out += items[i];
    }
    return out;
}

std::string upper(std::string s) {
    for (char& c : s)
        c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    return s;
}

/// One sentence about the TURN check, empty when it did not run.
std::string turn_sentence(const std::vector<TurnResult>& turn) {
    std::vector<std::string> ok, allocated_only, failed;
    for (const auto& t : turn) {
        if (!t.attempted) continue;
        if (t.works())
            ok.push_back(upper(t.transport));
        else if (t.allocated)
            allocated_only.push_back(upper(t.transport));
        else
            failed.push_back(upper(t.transport));
    }
    std::string out;
    if (!ok.empty()) out += " TURN relaying works over " + join(ok) + ".";
    if (!allocated_only.empty())
        out += " TURN over " + join(allocated_only) +
               " gave a relay address, but no data came back through it.";
    if (!failed.empty()) out += " TURN over " + join(failed) + " failed.";
    return out;
}

} // namespace

Classification classify(const Observations& o) {
    Classification c;
    c.udp = o.primary.answered();
    if (o.tcp.outcome != Probe::Outcome::not_run) c.tcp = o.tcp.answered();
    if (o.tls.outcome != Probe::Outcome::not_run) c.tls = o.tls.answered();
    c.hairpinning = c.udp ? o.hairpinning : std::nullopt;

    // Public address: UDP first, then the stream transports.
    if (c.udp && o.primary.mapped) {
        c.public_address = o.primary.mapped;
        c.local_address = o.local_udp;
    } else if (o.tcp.answered() && o.tcp.mapped) {
        c.public_address = o.tcp.mapped;
        c.local_address = o.local_tcp;
    } else if (o.tls.answered() && o.tls.mapped) {
        c.public_address = o.tls.mapped;
        c.local_address = o.local_tcp;
    }
    if (c.public_address && c.local_address) c.behind_nat = *c.public_address != *c.local_address;

    c.server = validate(o);
    const MappingResult m = mapping_of(o, c.server, c.behind_nat);
    c.mapping = m.mapping;
    c.mapping_reason = m.reason;
    std::tie(c.filtering, c.filtering_reason) = filtering_of(o, c.server);

    bool turn_works = false, turn_stream_works = false;
    for (const auto& t : o.turn) {
        turn_works = turn_works || t.works();
        turn_stream_works = turn_stream_works || (t.works() && t.transport != "udp");
    }
    const bool any_answer = c.udp || c.tcp == true || c.tls == true || turn_works;
    c.nat_type = nat_type_of(c.udp, any_answer, c.behind_nat, m, c.filtering);

    switch (c.nat_type) {
    case NatType::open_internet:
    case NatType::full_cone:
    case NatType::restricted_cone:
        c.verdict = Verdict::direct_ok;
        c.verdict_text = "Direct calls will usually work.";
        break;
    case NatType::port_restricted_cone:
    case NatType::symmetric_udp_firewall:
        c.verdict = Verdict::direct_mostly;
        c.verdict_text = "Direct calls will usually work; calls to people behind symmetric NATs "
                         "will need TURN.";
        break;
    case NatType::symmetric:
        c.verdict = Verdict::turn_often;
        c.verdict_text = "Calls to people behind symmetric or port-restricted NATs will need "
                         "TURN; direct calls work only with people on open or cone NATs.";
        break;
    case NatType::udp_blocked:
        if (turn_stream_works) {
            c.verdict = Verdict::turn_tcp_only;
            c.verdict_text =
                "UDP is blocked here: only TURN over TCP/TLS works from here, so every call "
                "will be relayed.";
        } else {
            c.verdict = Verdict::no_udp;
            c.verdict_text = "UDP is blocked here: calls need TURN over TCP or TLS";
            c.verdict_text += o.turn.empty() ? " (give TURN credentials to test it)."
                                             : ", and it did not work from here.";
        }
        break;
    case NatType::unknown:
        if (any_answer) {
            c.verdict = Verdict::unknown;
            c.verdict_text =
                "UDP works, but the NAT's behaviour could not be determined: " +
                (c.filtering == Filtering::unknown ? c.filtering_reason : c.mapping_reason) + ".";
        } else {
            c.verdict = Verdict::unreachable;
            c.verdict_text = "The server did not answer over UDP, TCP or TLS: either it is down "
                             "or this network blocks it.";
        }
        break;
    }
    c.verdict_text += turn_sentence(o.turn);
    if (c.verdict == Verdict::turn_often && !o.turn.empty() && !turn_works)
        c.verdict_text += " Without a working TURN server such calls will fail.";
    c.exit_code = c.verdict == Verdict::unreachable ? 1 : 0;
    return c;
}

const char* to_string(Mapping m) noexcept {
    switch (m) {
    case Mapping::endpoint_independent:
        return "endpoint-independent";
    case Mapping::address_dependent:
        return "address-dependent";
    case Mapping::address_and_port_dependent:
        return "address-and-port-dependent";
    case Mapping::unknown:
        break;
    }
    return "unknown";
}

const char* to_string(Filtering f) noexcept {
    switch (f) {
    case Filtering::endpoint_independent:
        return "endpoint-independent";
    case Filtering::address_dependent:
        return "address-dependent";
    case Filtering::address_and_port_dependent:
        return "address-and-port-dependent";
    case Filtering::unknown:
        break;
    }
    return "unknown";
}

const char* to_string(NatType t) noexcept {
    switch (t) {
    case NatType::open_internet:
        return "open-internet";
    case NatType::full_cone:
        return "full-cone";
    case NatType::restricted_cone:
        return "restricted-cone";
    case NatType::port_restricted_cone:
        return "port-restricted-cone";
    case NatType::symmetric:
        return "symmetric";
    case NatType::symmetric_udp_firewall:
        return "symmetric-udp-firewall";
    case NatType::udp_blocked:
        return "udp-blocked";
    case NatType::unknown:
        break;
    }
    return "unknown";
}

const char* to_string(Verdict v) noexcept {
    switch (v) {
    case Verdict::direct_ok:
        return "direct-ok";
    case Verdict::direct_mostly:
        return "direct-mostly";
    case Verdict::turn_often:
        return "turn-often";
    case Verdict::turn_tcp_only:
        return "turn-tcp-only";
    case Verdict::no_udp:
        return "no-udp";
    case Verdict::unknown:
        break;
    case Verdict::unreachable:
        return "unreachable";
    }
    return "unknown";
}

} // namespace traverse::natcheck
