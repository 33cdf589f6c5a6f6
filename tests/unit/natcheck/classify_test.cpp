// SPDX-License-Identifier: Apache-2.0
// classify(), table-tested: every mapping x filtering combination as a simulated NAT would
// answer, UDP blocked / unreachable, broken servers, the --alt fallback and the TURN sentences.
#include "tools/natcheck/classify.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace traverse;
using namespace traverse::natcheck;

namespace {

TransportAddress addr(const char* text) {
    auto a = TransportAddress::parse(text);
    REQUIRE_MESSAGE(a, text);
    return *a;
}

// Documentation addresses (RFC 5737): client, server primary and alternate.
const TransportAddress local = TransportAddress::v4({192, 0, 2, 2}, 40000);
const TransportAddress primary = TransportAddress::v4({203, 0, 113, 10}, 3478);
const TransportAddress other = TransportAddress::v4({198, 51, 100, 10}, 3479);
const TransportAddress primary_alt_port = TransportAddress::v4({203, 0, 113, 10}, 3479);
const TransportAddress other_primary_port = TransportAddress::v4({198, 51, 100, 10}, 3478);

enum class Nat { none, eim, adm, apdm };
enum class Filter { eif, adf, apdf };

/// The public address a simulated NAT uses towards destination d.
TransportAddress mapped_for(Nat nat, const TransportAddress& d) {
    TransportAddress m = TransportAddress::v4({203, 0, 113, 1}, 50000);
    switch (nat) {
    case Nat::none:
        return local;
    case Nat::eim:
        return m;
    case Nat::adm:
        m.port = static_cast<std::uint16_t>(50000 + d.ip[0]);
        return m;
    case Nat::apdm:
        m.port = static_cast<std::uint16_t>(50000 + d.ip[0] + d.port);
        return m;
    }
    return m;
}

/// A correct RFC 5780 server's answer to a request to d, answered from source.
Probe answer(Nat nat, const TransportAddress& d, const TransportAddress& source) {
    Probe p;
    p.outcome = Probe::Outcome::answered;
    p.destination = d;
    p.source = source;
    p.mapped = mapped_for(nat, d);
    p.response_origin = source;
    p.other_address = source.ip == primary.ip ? other : primary;
    return p;
}

Probe silent(const TransportAddress& d) {
    Probe p;
    p.outcome = Probe::Outcome::no_answer;
    p.destination = d;
    return p;
}

/// What natcheck observes behind a NAT with this behaviour, talking to a correct server.
Observations simulate(Nat nat, Filter filter) {
    Observations o;
    o.local_udp = local;
    o.primary = answer(nat, primary, primary);
    o.alt_ip = answer(nat, other_primary_port, other_primary_port);
    o.alt_both = answer(nat, other, other);
    o.alt_port = answer(nat, primary_alt_port, primary_alt_port);
    o.change_both = filter == Filter::eif ? answer(nat, primary, other) : silent(primary);
    o.change_port =
        filter != Filter::apdf ? answer(nat, primary, primary_alt_port) : silent(primary);
    o.hairpinning = false;
    return o;
}

TurnResult turn(const char* transport, bool allocated, int received) {
    TurnResult t;
    t.transport = transport;
    t.attempted = true;
    t.allocated = allocated;
    t.sent = 10;
    t.received = received;
    if (!allocated) t.error = "401 Unauthorized";
    return t;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

} // namespace

TEST_SUITE("natcheck.classify") {

    TEST_CASE("every mapping and filtering combination gets its classic name and verdict") {
        struct Row {
            Nat nat;
            Filter filter;
            bool behind_nat;
            const char* mapping;
            const char* filtering;
            const char* nat_type;
            const char* verdict;
        };
        const Row rows[] = {
            {Nat::none, Filter::eif, false, "endpoint-independent", "endpoint-independent",
             "open-internet", "direct-ok"},
            {Nat::none, Filter::adf, false, "endpoint-independent", "address-dependent",
             "symmetric-udp-firewall", "direct-mostly"},
            {Nat::none, Filter::apdf, false, "endpoint-independent", "address-and-port-dependent",
             "symmetric-udp-firewall", "direct-mostly"},
            {Nat::eim, Filter::eif, true, "endpoint-independent", "endpoint-independent",
             "full-cone", "direct-ok"},
            {Nat::eim, Filter::adf, true, "endpoint-independent", "address-dependent",
             "restricted-cone", "direct-ok"},
            {Nat::eim, Filter::apdf, true, "endpoint-independent", "address-and-port-dependent",
             "port-restricted-cone", "direct-mostly"},
            {Nat::adm, Filter::eif, true, "address-dependent", "endpoint-independent", "symmetric",
             "turn-often"},
            {Nat::adm, Filter::adf, true, "address-dependent", "address-dependent", "symmetric",
             "turn-often"},
            {Nat::adm, Filter::apdf, true, "address-dependent", "address-and-port-dependent",
             "symmetric", "turn-often"},
            {Nat::apdm, Filter::eif, true, "address-and-port-dependent", "endpoint-independent",
             "symmetric", "turn-often"},
            {Nat::apdm, Filter::adf, true, "address-and-port-dependent", "address-dependent",
             "symmetric", "turn-often"},
            {Nat::apdm, Filter::apdf, true, "address-and-port-dependent",
             "address-and-port-dependent", "symmetric", "turn-often"},
        };
        for (const Row& row : rows) {
            CAPTURE(row.nat_type);
            CAPTURE(row.mapping);
            CAPTURE(row.filtering);
            const Classification c = classify(simulate(row.nat, row.filter));
            CHECK(c.udp);
            REQUIRE(c.behind_nat.has_value());
            CHECK(*c.behind_nat == row.behind_nat);
            CHECK(std::string(to_string(c.mapping)) == row.mapping);
            CHECK(std::string(to_string(c.filtering)) == row.filtering);
            CHECK(std::string(to_string(c.nat_type)) == row.nat_type);
            CHECK(std::string(to_string(c.verdict)) == row.verdict);
            CHECK(c.exit_code == 0);
            CHECK(c.public_address == mapped_for(row.nat, primary));
            CHECK(c.local_address == local);
            CHECK(c.server.rfc5780);
            CHECK(c.server.other_address == Check::pass);
            CHECK(c.server.response_origin == Check::pass);
            CHECK(c.server.problems.empty());
            CHECK(c.hairpinning == false);
            CHECK(!c.mapping_reason.empty());
            CHECK(!c.filtering_reason.empty());
            CHECK(!c.verdict_text.empty());
        }
    }

    TEST_CASE("change answers from the changed address pass the change-request check") {
        const Classification c = classify(simulate(Nat::eim, Filter::eif));
        CHECK(c.server.change_request == Check::pass);
        const Classification d = classify(simulate(Nat::eim, Filter::apdf));
        CHECK(d.server.change_request == Check::not_checked); // nothing came back to check
    }

    TEST_CASE("UDP blocked: TCP answer gives the public address, TURN over TCP decides") {
        Observations o;
        o.primary = silent(primary);
        o.local_tcp = addr("192.0.2.2:41000");
        o.tcp = answer(Nat::eim, primary, primary);
        o.tls = silent(addr("203.0.113.10:5349"));

        SUBCASE("no TURN credentials") {
            const Classification c = classify(o);
            CHECK(!c.udp);
            CHECK(c.tcp == true);
            CHECK(c.tls == false);
            CHECK(c.nat_type == NatType::udp_blocked);
            CHECK(c.verdict == Verdict::no_udp);
            CHECK(c.public_address == mapped_for(Nat::eim, primary));
            CHECK(c.behind_nat == true);
            CHECK(c.mapping == Mapping::unknown);
            CHECK(c.filtering == Filtering::unknown);
            CHECK(c.exit_code == 0);
            CHECK(contains(c.verdict_text, "credentials"));
        }
        SUBCASE("TURN over TCP works") {
            o.turn = {turn("udp", false, 0), turn("tcp", true, 10), turn("tls", true, 9)};
            o.turn[0].error = "no answer";
            const Classification c = classify(o);
            CHECK(c.verdict == Verdict::turn_tcp_only);
            CHECK(std::string(to_string(c.verdict)) == "turn-tcp-only");
            CHECK(contains(c.verdict_text, "only TURN over TCP/TLS works from here"));
            CHECK(contains(c.verdict_text, "TURN relaying works over TCP and TLS."));
            CHECK(contains(c.verdict_text, "TURN over UDP failed."));
        }
        SUBCASE("TURN over TCP allocates but no data comes back") {
            o.turn = {turn("tcp", true, 0)};
            const Classification c = classify(o);
            CHECK(c.verdict == Verdict::no_udp);
            CHECK(contains(c.verdict_text, "did not work from here"));
            CHECK(contains(c.verdict_text, "no data came back"));
        }
    }

    TEST_CASE("nothing answers: unreachable, exit code 1") {
        Observations o;
        o.primary = silent(primary);
        o.tcp = silent(primary);
        o.tls = silent(addr("203.0.113.10:5349"));
        o.turn = {turn("udp", false, 0), turn("tcp", false, 0)};
        const Classification c = classify(o);
        CHECK(!c.udp);
        CHECK(c.verdict == Verdict::unreachable);
        CHECK(c.nat_type == NatType::unknown);
        CHECK(c.exit_code == 1);
        CHECK(!c.public_address);
        CHECK(!c.behind_nat);
        CHECK(!c.hairpinning);
    }

    TEST_CASE("only TURN over TLS works: still reachable") {
        Observations o;
        o.primary = silent(primary);
        o.tcp = silent(primary);
        o.turn = {turn("tls", true, 10)};
        const Classification c = classify(o);
        CHECK(c.nat_type == NatType::udp_blocked);
        CHECK(c.verdict == Verdict::turn_tcp_only);
        CHECK(c.exit_code == 0);
    }

    TEST_CASE("a server without RFC 5780 gives unknown with the reason") {
        Observations o = simulate(Nat::eim, Filter::apdf);
        o.primary.other_address.reset();
        o.primary.response_origin.reset();
        for (Probe* p : {&o.alt_ip, &o.alt_both, &o.alt_port, &o.change_both, &o.change_port})
            *p = Probe{};

        SUBCASE("alone") {
            const Classification c = classify(o);
            CHECK(!c.server.rfc5780);
            CHECK(c.server.other_address == Check::fail);
            CHECK(c.mapping == Mapping::unknown);
            CHECK(c.filtering == Filtering::unknown);
            CHECK(contains(c.filtering_reason, "does not support RFC 5780"));
            CHECK(contains(c.mapping_reason, "does not support RFC 5780"));
            CHECK(c.nat_type == NatType::unknown);
            CHECK(c.verdict == Verdict::unknown);
            CHECK(contains(c.verdict_text, "could not be determined"));
            CHECK(c.exit_code == 0);
            CHECK(c.behind_nat == true);
        }
        SUBCASE("with an --alt server that sees the same address") {
            o.alt_server = answer(Nat::eim, addr("192.0.2.200:3478"), addr("192.0.2.200:3478"));
            const Classification c = classify(o);
            CHECK(c.mapping == Mapping::endpoint_independent);
            CHECK(c.filtering == Filtering::unknown);
            CHECK(c.nat_type == NatType::unknown);
        }
        SUBCASE("with an --alt server that sees another address") {
            o.alt_server = answer(Nat::adm, addr("192.0.2.200:3478"), addr("192.0.2.200:3478"));
            const Classification c = classify(o);
            CHECK(c.mapping == Mapping::unknown);
            CHECK(contains(c.mapping_reason, "address-dependent or address-and-port-dependent"));
            CHECK(c.nat_type == NatType::symmetric);
            CHECK(c.verdict == Verdict::turn_often);
        }
        SUBCASE("with an --alt server that does not answer") {
            o.alt_server = silent(addr("192.0.2.200:3478"));
            const Classification c = classify(o);
            CHECK(c.mapping == Mapping::unknown);
            CHECK(contains(c.mapping_reason, "--alt server did not answer"));
        }
    }

    TEST_CASE("OTHER-ADDRESS on the same IP or port is refused") {
        Observations o = simulate(Nat::eim, Filter::eif);
        SUBCASE("same IP") {
            o.primary.other_address = primary_alt_port;
            const Classification c = classify(o);
            CHECK(c.server.other_address == Check::fail);
            CHECK(contains(c.filtering_reason, "same IP"));
        }
        SUBCASE("same port") {
            o.primary.other_address = other_primary_port;
            const Classification c = classify(o);
            CHECK(c.server.other_address == Check::fail);
            CHECK(contains(c.filtering_reason, "same port"));
        }
        SUBCASE("other family") {
            o.primary.other_address = addr("[2001:db8::1]:3479");
            const Classification c = classify(o);
            CHECK(c.server.other_address == Check::fail);
        }
        const Classification c = classify(o);
        CHECK(c.filtering == Filtering::unknown);
        CHECK(c.nat_type == NatType::unknown);
        CHECK(!c.server.rfc5780);
    }

    TEST_CASE("a server that ignores CHANGE-REQUEST never yields a wrong filtering verdict") {
        // Port-restricted NAT, but the server answers change requests from the primary
        // address: naively that looks like endpoint-independent filtering (full cone).
        Observations o = simulate(Nat::eim, Filter::apdf);
        o.change_both = answer(Nat::eim, primary, primary);
        o.change_port = answer(Nat::eim, primary, primary);
        const Classification c = classify(o);
        CHECK(c.filtering == Filtering::unknown);
        CHECK(c.server.change_request == Check::fail);
        CHECK(contains(c.filtering_reason, "does not really change its address"));
        CHECK(c.nat_type == NatType::unknown);
        CHECK(c.mapping == Mapping::endpoint_independent); // mapping tests are still valid
    }

    TEST_CASE("a server behind NAT (RESPONSE-ORIGIN mismatch) makes filtering unknown") {
        Observations o = simulate(Nat::eim, Filter::eif);
        o.primary.response_origin = addr("10.0.0.5:3478");
        const Classification c = classify(o);
        CHECK(c.server.response_origin == Check::fail);
        CHECK(!c.server.rfc5780);
        CHECK(c.filtering == Filtering::unknown);
        CHECK(contains(c.filtering_reason, "RESPONSE-ORIGIN"));
    }

    TEST_CASE("missing RESPONSE-ORIGIN is a failed check") {
        Observations o = simulate(Nat::eim, Filter::eif);
        o.change_both.response_origin.reset();
        const Classification c = classify(o);
        CHECK(c.server.response_origin == Check::fail);
        CHECK(c.filtering == Filtering::unknown);
    }

    TEST_CASE("a plain request answered from elsewhere is a failed check") {
        Observations o = simulate(Nat::eim, Filter::apdf);
        o.alt_port.source = primary;
        o.alt_port.response_origin = primary;
        const Classification c = classify(o);
        CHECK(c.server.response_origin == Check::fail);
        CHECK(contains(c.server.problems.at(0), "was answered from"));
    }

    TEST_CASE("CHANGE-REQUEST refused with an error response") {
        Observations o = simulate(Nat::eim, Filter::eif);
        o.change_both = Probe{};
        o.change_both.outcome = Probe::Outcome::error;
        o.change_both.error_code = 420;
        const Classification c = classify(o);
        CHECK(c.filtering == Filtering::unknown);
        CHECK(c.server.change_request == Check::fail);
        CHECK(contains(c.server.problems.at(0), "error 420"));
    }

    TEST_CASE("silence proves nothing when the alternate address is unreachable") {
        Observations o = simulate(Nat::eim, Filter::apdf);
        SUBCASE("alternate IP and port") {
            o.alt_both = silent(other);
            o.alt_ip = silent(other_primary_port);
            const Classification c = classify(o);
            CHECK(c.filtering == Filtering::unknown);
            CHECK(contains(c.filtering_reason, "proves nothing"));
            CHECK(c.mapping == Mapping::unknown);
            CHECK(contains(c.mapping_reason, "did not answer"));
        }
        SUBCASE("alternate port") {
            o.alt_port = silent(primary_alt_port);
            const Classification c = classify(o);
            CHECK(c.filtering == Filtering::unknown);
            CHECK(c.mapping == Mapping::endpoint_independent);
        }
    }

    TEST_CASE("mapping changes with the IP but the alternate port is silent: still symmetric") {
        Observations o = simulate(Nat::adm, Filter::apdf);
        o.alt_both = silent(other);
        const Classification c = classify(o);
        CHECK(c.mapping == Mapping::unknown);
        CHECK(c.nat_type == NatType::symmetric);
        CHECK(c.filtering == Filtering::unknown);
    }

    TEST_CASE("not behind NAT: mapping is independent even without RFC 5780") {
        Observations o = simulate(Nat::none, Filter::eif);
        o.primary.other_address.reset();
        const Classification c = classify(o);
        CHECK(c.behind_nat == false);
        CHECK(c.mapping == Mapping::endpoint_independent);
        CHECK(c.filtering == Filtering::unknown);
        CHECK(c.nat_type == NatType::unknown);
    }

    TEST_CASE("TURN sentences: symmetric without working TURN warns that calls will fail") {
        Observations o = simulate(Nat::apdm, Filter::apdf);
        o.turn = {turn("udp", false, 0), turn("tcp", false, 0), turn("tls", false, 0)};
        Classification c = classify(o);
        CHECK(contains(c.verdict_text, "TURN over UDP, TCP and TLS failed."));
        CHECK(contains(c.verdict_text, "will fail"));
        o.turn = {turn("udp", true, 10)};
        c = classify(o);
        CHECK(contains(c.verdict_text, "TURN relaying works over UDP."));
        CHECK(!contains(c.verdict_text, "will fail"));
    }

    TEST_CASE("hairpinning is reported only when UDP works") {
        Observations o = simulate(Nat::eim, Filter::apdf);
        o.hairpinning = true;
        CHECK(classify(o).hairpinning == true);
        o.hairpinning.reset();
        CHECK(!classify(o).hairpinning);
    }

    TEST_CASE("names are stable") {
        CHECK(std::string(to_string(Mapping::unknown)) == "unknown");
        CHECK(std::string(to_string(Filtering::unknown)) == "unknown");
        CHECK(std::string(to_string(NatType::udp_blocked)) == "udp-blocked");
        CHECK(std::string(to_string(NatType::unknown)) == "unknown");
        CHECK(std::string(to_string(Verdict::unknown)) == "unknown");
        CHECK(std::string(to_string(Verdict::no_udp)) == "no-udp");
        CHECK(std::string(to_string(Verdict::unreachable)) == "unreachable");
    }
}
