// SPDX-License-Identifier: Apache-2.0
#include "tools/natcheck/probes.hpp"

#include "proto/message_view.hpp"

#include <algorithm>
#include <memory>

namespace traverse::natcheck {
namespace {

namespace p = proto;

/// Idle times tried by the binding-lifetime test (RFC 5780 §4.6), up to --lifetime.
constexpr int lifetime_steps_s[] = {0, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600};

/// STUN Binding over TCP or TLS (RFC 8489 §6.2.2: no retransmission on reliable transports).
Probe stream_binding(const TransportAddress& to, const TlsOptions* tls, Clock::time_point deadline,
                     std::optional<TransportAddress>& local) {
    Probe probe;
    probe.destination = to;
    probe.outcome = Probe::Outcome::no_answer;
    StreamConn conn;
    std::string error;
    const auto start = Clock::now();
    if (!conn.open(to, tls, deadline, error)) {
        probe.failure = error;
        return probe;
    }
    if (!local) local = conn.local();
    const auto request = binding_request(new_transaction_id());
    if (!conn.send(request, error)) {
        probe.failure = error;
        return probe;
    }
    while (auto frame = conn.receive(deadline, error)) {
        auto view = p::MessageView::parse(*frame);
        if (!view || !std::equal(view->transaction_id().begin(), view->transaction_id().end(),
                                 request.begin() + 8))
            continue;
        read_answer(*view, probe);
        probe.source = to;
        probe.rtt_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        break;
    }
    if (!probe.answered() && probe.outcome != Probe::Outcome::error)
        probe.failure = error.empty() ? "no answer" : error;
    return probe;
}

void run_lifetime(const Settings& s, const TransportAddress& server, const TransportAddress& local,
                  Clock::time_point deadline, Lifetime& out) {
    out.tested = true;
    std::vector<int> steps;
    for (int step : lifetime_steps_s)
        if (step <= s.lifetime_max_s) steps.push_back(step);
    // 1. One socket per idle time, each with a fresh mapping towards the primary address.
    std::vector<UdpSocket> sockets;
    std::vector<Probe> first(steps.size());
    UdpRunner open(s.retransmit);
    for (std::size_t i = 0; i < steps.size(); ++i) {
        sockets.emplace_back(local);
        open.add(sockets[i].fd(), sockets[i].fd(), server, binding_request(new_transaction_id()),
                 &first[i]);
    }
    open.run(deadline);
    // 2. After each idle time, another socket asks the server to answer to that mapping
    //    (RESPONSE-PORT, RFC 5780 §7.5); the answer arrives only if the mapping still exists.
    UdpSocket asker(local);
    std::vector<Probe> later(steps.size());
    UdpRunner probe(s.retransmit);
    for (std::size_t i = 0; i < steps.size(); ++i) {
        if (!first[i].answered() || !first[i].mapped) continue;
        probe.add(asker.fd(), sockets[i].fd(), server,
                  binding_request(new_transaction_id(), false, false, first[i].mapped->port),
                  &later[i], std::chrono::seconds(steps[i]));
    }
    probe.run(deadline);
    if (steps.empty() || !later[0].answered()) {
        out.note = "the server does not support RESPONSE-PORT (RFC 5780), or the test failed";
        return;
    }
    for (std::size_t i = 0; i < steps.size(); ++i) {
        if (later[i].outcome == Probe::Outcome::not_run) break; // not measured
        if (later[i].answered()) {
            out.alive_s = steps[i];
            continue;
        }
        out.expired_s = steps[i];
        break;
    }
}

} // namespace

Results run_probes(const Settings& s) {
    Results r;
    const auto deadline = Clock::now() + s.total;
    r.server_text = s.host + ":" + std::to_string(s.port);
    std::string error;
    const auto addresses = resolve(s.host, s.port, error);
    if (addresses.empty()) {
        r.error = error;
        return r;
    }
    // Prefer an address this host can route to, IPv4 first.
    std::optional<TransportAddress> local;
    for (const auto& a : addresses) {
        if ((local = route_source(a))) {
            r.server = a;
            break;
        }
    }
    if (!r.server) {
        r.error = "no route to " + addresses.front().to_string();
        return r;
    }
    const TransportAddress server = *r.server;
    Observations& o = r.observations;

    // Phase A: test I from the mapping socket; the filtering tests (RFC 5780 §4.4) from a
    // socket that never sends anywhere but the primary address.
    UdpSocket mapping_socket(*local);
    UdpSocket filtering_socket(*local);
    UdpSocket hairpin_socket(*local);
    if (!mapping_socket.ok() || !filtering_socket.ok() || !hairpin_socket.ok()) {
        r.error = "cannot open UDP sockets";
        return r;
    }
    o.local_udp = mapping_socket.local();
    std::optional<TransportAddress> alt_server;
    if (!s.alt_host.empty()) {
        const auto alt = resolve(s.alt_host, s.alt_port, error);
        for (const auto& a : alt)
            if (a.family == server.family) {
                alt_server = a;
                break;
            }
    }
    {
        UdpRunner a(s.retransmit);
        a.add(mapping_socket.fd(), mapping_socket.fd(), server,
              binding_request(new_transaction_id()), &o.primary);
        a.add(filtering_socket.fd(), filtering_socket.fd(), server,
              binding_request(new_transaction_id(), true, true), &o.change_both);
        a.add(filtering_socket.fd(), filtering_socket.fd(), server,
              binding_request(new_transaction_id(), false, true), &o.change_port);
        if (alt_server)
            a.add(mapping_socket.fd(), mapping_socket.fd(), *alt_server,
                  binding_request(new_transaction_id()), &o.alt_server);
        a.run(deadline);
    }

    // Phase B: the mapping tests towards the alternate address (§4.3) and hairpinning (§4.5).
    if (o.primary.answered() && o.primary.other_address &&
        o.primary.other_address->family == server.family) {
        const TransportAddress other = *o.primary.other_address;
        TransportAddress alt_ip = other;
        alt_ip.port = server.port;
        TransportAddress alt_port = server;
        alt_port.port = other.port;
        UdpRunner b(s.retransmit);
        b.add(mapping_socket.fd(), mapping_socket.fd(), alt_ip,
              binding_request(new_transaction_id()), &o.alt_ip);
        b.add(mapping_socket.fd(), mapping_socket.fd(), other,
              binding_request(new_transaction_id()), &o.alt_both);
        b.add(mapping_socket.fd(), mapping_socket.fd(), alt_port,
              binding_request(new_transaction_id()), &o.alt_port);
        Probe hairpin;
        if (o.primary.mapped)
            b.add(hairpin_socket.fd(), mapping_socket.fd(), *o.primary.mapped,
                  binding_request(new_transaction_id()), &hairpin);
        b.run(deadline);
        if (o.primary.mapped) o.hairpinning = hairpin.answered();
    } else if (o.primary.answered() && o.primary.mapped) {
        UdpRunner b(s.retransmit);
        Probe hairpin;
        b.add(hairpin_socket.fd(), mapping_socket.fd(), *o.primary.mapped,
              binding_request(new_transaction_id()), &hairpin);
        b.run(deadline);
        o.hairpinning = hairpin.answered();
    }

    // STUN over TCP and TLS: the public address even when UDP is blocked.
    TlsOptions tls = s.tls;
    TransportAddress tcp_server = server;
    if (s.tcp_port != 0) tcp_server.port = s.tcp_port;
    o.tcp = stream_binding(tcp_server, nullptr,
                           std::min(deadline, Clock::now() + s.retransmit.limit), o.local_tcp);
    TransportAddress tls_server = server;
    tls_server.port = s.tls_port;
    std::optional<TransportAddress> tls_local;
    o.tls = stream_binding(tls_server, &tls, std::min(deadline, Clock::now() + s.retransmit.limit),
                           tls_local);
    if (!o.local_tcp) o.local_tcp = tls_local;

    // TURN over each transport.
    if (s.turn) {
        std::vector<TransportAddress> own;
        for (const Probe* q : {&o.primary, &o.tcp, &o.tls})
            if (q->answered() && q->mapped) own.push_back(*q->mapped);
        for (const auto& transport : s.turn_transports) {
            TransportAddress to = server;
            if (transport == "tls") to.port = s.tls_port;
            if (transport == "tcp") to = tcp_server;
            o.turn.push_back(check_turn(transport, to, s.turn_options, own, *local, deadline));
        }
    }

    // The other address family: a plain binding, when both ends have it.
    for (const auto& a : addresses) {
        if (a.family == server.family) continue;
        auto other_local = route_source(a);
        if (!other_local) break;
        UdpSocket socket6(*other_local);
        if (!socket6.ok()) break;
        r.ipv6_local = socket6.local();
        UdpRunner v6(s.retransmit);
        v6.add(socket6.fd(), socket6.fd(), a, binding_request(new_transaction_id()), &r.ipv6);
        v6.run(deadline);
        break;
    }

    // The lifetime test waits by design: it gets its own time budget beyond --timeout.
    if (s.lifetime_max_s > 0 && o.primary.answered())
        run_lifetime(s, server, *local,
                     Clock::now() + std::chrono::seconds(s.lifetime_max_s + 1) +
                         2 * s.retransmit.limit,
                     r.lifetime);
    return r;
}

} // namespace traverse::natcheck
