// SPDX-License-Identifier: Apache-2.0
#include "tools/natcheck/stun.hpp"

#include "proto/attributes.hpp"
#include "proto/message_builder.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <random>

namespace traverse::natcheck {

namespace p = proto;

Schedule schedule(const Retransmit& policy) {
    Schedule s;
    milliseconds at{0};
    milliseconds gap = policy.rto;
    for (int i = 0; i < policy.max_sends; ++i) {
        if (at >= policy.limit) break;
        s.sends.push_back(at);
        if (i + 1 < policy.max_sends) {
            at += gap;
            gap *= 2;
        }
    }
    s.give_up = std::min(at + policy.rto * policy.last_factor, policy.limit);
    if (s.sends.empty()) s.sends.push_back(milliseconds(0));
    return s;
}

p::TransactionId new_transaction_id() {
    static std::mt19937_64 engine{std::random_device{}()};
    p::TransactionId id{};
    for (auto& b : id)
        b = static_cast<std::byte>(engine() & 0xFF);
    return id;
}

std::vector<std::byte> binding_request(const p::TransactionId& id, bool change_ip, bool change_port,
                                       std::optional<std::uint16_t> response_port) {
    std::array<std::byte, 128> buffer{};
    p::MessageBuilder b(buffer);
    b.start(p::make_type(p::Method::binding, p::MessageClass::request), id);
    if (change_ip || change_port) b.add_change_request(change_ip, change_port);
    if (response_port) b.add_response_port(*response_port);
    b.add_string(p::AttrType::software, "natcheck");
    b.add_fingerprint();
    const auto wire = b.finish();
    if (!wire) return {};
    return {wire->begin(), wire->end()};
}

void read_answer(const p::MessageView& m, Probe& probe) {
    if (m.message_class() == p::MessageClass::error_response) {
        probe.outcome = Probe::Outcome::error;
        if (auto a = m.find(p::AttrType::error_code))
            if (auto e = p::decode_error_code(*a)) probe.error_code = e->code;
        return;
    }
    probe.outcome = Probe::Outcome::answered;
    if (auto a = m.find(p::AttrType::xor_mapped_address)) {
        if (auto v = p::decode_xor_address(*a, m.transaction_id())) probe.mapped = *v;
    } else if (auto b = m.find(p::AttrType::mapped_address)) {
        if (auto v = p::decode_address(*b)) probe.mapped = *v;
    }
    if (auto a = m.find(p::AttrType::response_origin))
        if (auto v = p::decode_address(*a)) probe.response_origin = *v;
    if (auto a = m.find(p::AttrType::other_address))
        if (auto v = p::decode_address(*a)) probe.other_address = *v;
}

void UdpRunner::add(int send_fd, int recv_fd, const TransportAddress& destination,
                    std::vector<std::byte> request, Probe* result, milliseconds start_after) {
    Pending pending{send_fd, recv_fd, destination, std::move(request), {}, result, start_after};
    if (pending.request.size() >= p::header_size)
        std::copy_n(pending.request.begin() + 8, 12, pending.id.begin());
    result->destination = destination;
    result->outcome = Probe::Outcome::no_answer;
    pending_.push_back(std::move(pending));
}

void UdpRunner::receive_on(int fd) {
    std::array<std::byte, 2048> buffer{};
    for (;;) {
        sockaddr_storage from{};
        socklen_t length = sizeof from;
        const ssize_t n = recvfrom(fd, buffer.data(), buffer.size(), 0,
                                   reinterpret_cast<sockaddr*>(&from), &length);
        if (n < 0) return;
        const auto view = p::MessageView::parse({buffer.data(), static_cast<std::size_t>(n)});
        if (!view) continue; // not STUN: ignore (and keep reading)
        for (auto& q : pending_) {
            if (q.done || q.recv_fd != fd || q.sent == 0 || view->transaction_id() != q.id)
                continue;
            q.done = true;
            read_answer(*view, *q.result);
            q.result->source = from_sockaddr(from);
            q.result->rtt_ms =
                std::chrono::duration<double, std::milli>(Clock::now() - q.first_send).count();
            break;
        }
    }
}

void UdpRunner::run(Clock::time_point deadline) {
    const auto start = Clock::now();
    for (;;) {
        const auto now = Clock::now();
        auto wake = deadline;
        bool open = false;
        for (auto& q : pending_) {
            if (q.done) continue;
            const auto base = start + q.start_after;
            // Send everything that is due.
            while (q.sent < schedule_.sends.size() && base + schedule_.sends[q.sent] <= now) {
                if (q.sent == 0) q.first_send = now;
                const SockAddr to = to_sockaddr(q.destination);
                sendto(q.send_fd, q.request.data(), q.request.size(), 0, to.sa(), to.length);
                ++q.sent;
            }
            if (base + schedule_.give_up <= now) {
                q.done = true; // outcome stays no_answer
                continue;
            }
            open = true;
            wake = std::min(wake, q.sent < schedule_.sends.size() ? base + schedule_.sends[q.sent]
                                                                  : base + schedule_.give_up);
        }
        if (!open || now >= deadline) break;

        std::vector<pollfd> fds;
        for (const auto& q : pending_) {
            if (q.done) continue;
            if (std::none_of(fds.begin(), fds.end(),
                             [&](const pollfd& f) { return f.fd == q.recv_fd; }))
                fds.push_back({q.recv_fd, POLLIN, 0});
        }
        const int rc = poll(fds.data(), fds.size(), millis_until(wake));
        if (rc <= 0) continue;
        for (const auto& f : fds)
            if (f.revents & POLLIN) receive_on(f.fd);
    }
    for (auto& q : pending_)
        if (q.sent == 0) q.result->outcome = Probe::Outcome::not_run;
}

} // namespace traverse::natcheck
