// SPDX-License-Identifier: Apache-2.0
#include "tools/turnbench/turn.hpp"

#include "proto/attributes.hpp"
#include "proto/integrity.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "tools/turnbench/common.hpp"
#include "tools/turnbench/load.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <random>

namespace turnbench {
namespace {

namespace p = traverse::proto;

constexpr std::uint64_t rto_ns = 500'000'000;
constexpr int max_retransmits = 4;

p::Method method_of(Step s) {
    switch (s) {
    case Step::allocate:
        return p::Method::allocate;
    case Step::permission:
        return p::Method::create_permission;
    case Step::channel_bind:
        return p::Method::channel_bind;
    case Step::release:
        return p::Method::refresh;
    }
    return p::Method::refresh;
}

std::mt19937_64& rng() {
    static std::mt19937_64 engine{std::random_device{}()};
    return engine;
}

// Builds (with a fresh transaction id) and sends the request for the session's current step.
void send_request(Session& s, const ControlSpec& spec) {
    for (std::size_t i = 0; i < s.tid.size(); i += 4) {
        const auto r = static_cast<std::uint32_t>(rng()());
        std::memcpy(s.tid.data() + i, &r, 4);
    }
    const Step step = s.plan[s.next];
    p::MessageBuilder b(s.request);
    b.start(p::make_type(method_of(step), p::MessageClass::request), s.tid);
    switch (step) {
    case Step::allocate:
        b.add_requested_transport(p::transport_udp);
        break;
    case Step::permission:
        b.add_xor_address(p::AttrType::xor_peer_address, spec.peer);
        break;
    case Step::channel_bind:
        b.add_channel_number(spec.channel);
        b.add_xor_address(p::AttrType::xor_peer_address, spec.peer);
        break;
    case Step::release:
        b.add_u32(p::AttrType::lifetime, 0);
        break;
    }
    if (s.have_key) {
        b.add_string(p::AttrType::username, spec.credentials.user);
        b.add_string(p::AttrType::realm, s.realm);
        b.add_string(p::AttrType::nonce, s.nonce);
        b.add_message_integrity(s.key);
    }
    const auto wire = b.finish();
    if (!wire) {
        s.failed = true;
        s.error = "cannot encode request";
        return;
    }
    s.request_size = wire->size();
    s.retransmits = 0;
    s.sent_at = now_ns();
    if (send(s.fd, s.request.data(), s.request_size, 0) < 0) {
        s.failed = true;
        s.error = std::string("send: ") + std::strerror(errno);
    }
}

void handle_answer(Session& s, const ControlSpec& spec, std::span<const std::byte> wire) {
    const auto parsed = p::MessageView::parse(wire);
    if (!parsed || parsed->transaction_id() != s.tid)
        return; // stale retransmission answer or noise
    const auto& m = *parsed;
    const Step step = s.plan[s.next];
    if (m.method() != static_cast<std::uint16_t>(method_of(step))) return;
    if (m.message_class() == p::MessageClass::success_response) {
        if (step == Step::allocate) {
            if (const auto a = m.find(p::AttrType::xor_relayed_address)) {
                if (auto addr = p::decode_xor_address(*a, m.transaction_id())) s.relayed = *addr;
            }
        }
        ++s.next;
        if (!s.done())
            send_request(s, spec);
        else
            s.finished_at = now_ns();
        return;
    }
    if (m.message_class() != p::MessageClass::error_response) return;
    int code = 0;
    if (const auto a = m.find(p::AttrType::error_code)) {
        if (const auto e = p::decode_error_code(*a)) code = e->code;
    }
    const auto nonce = m.find(p::AttrType::nonce);
    if ((code == 401 && !s.have_key) || (code == 438 && s.stale_retries < 3)) {
        const auto realm = m.find(p::AttrType::realm);
        if (nonce) s.nonce = std::string(p::decode_string(*nonce));
        if (realm) s.realm = std::string(p::decode_string(*realm));
        if (code == 438) ++s.stale_retries;
        if (!s.have_key || realm) {
            s.key = p::long_term_key_md5(spec.credentials.user, s.realm, spec.credentials.password);
            s.have_key = true;
        }
        send_request(s, spec);
        return;
    }
    if (step == Step::release && code == 437) { // already gone counts as released
        ++s.next;
        s.finished_at = now_ns();
        return;
    }
    s.failed = true;
    s.error =
        "error " + std::to_string(code) + " on step " + std::to_string(static_cast<int>(step));
}

} // namespace

double run_control(std::vector<Session>& sessions, const ControlSpec& spec) {
    const std::uint64_t start = now_ns();
    const auto deadline = start + static_cast<std::uint64_t>(spec.timeout_s * 1e9);
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    std::size_t started = 0;
    std::size_t active = 0;
    std::size_t finished = 0;
    std::vector<Session*> running;
    std::array<std::byte, max_packet> buffer{};
    std::vector<epoll_event> events(256);
    auto launch = [&] {
        while (started < sessions.size() && active < spec.concurrency) {
            Session& s = sessions[started];
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = started;
            ++started;
            if (s.done()) {
                ++finished;
                continue;
            }
            epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
            s.started_at = now_ns();
            ++active;
            send_request(s, spec);
            if (s.done()) {
                epoll_ctl(ep, EPOLL_CTL_DEL, s.fd, nullptr);
                --active;
                ++finished;
            }
        }
    };
    auto retire = [&](Session& s) {
        epoll_ctl(ep, EPOLL_CTL_DEL, s.fd, nullptr);
        --active;
        ++finished;
    };
    launch();
    std::uint64_t last_scan = start;
    while (finished < sessions.size()) {
        const std::uint64_t now = now_ns();
        if (now >= deadline) {
            for (auto& s : sessions) {
                if (!s.done()) {
                    s.failed = true;
                    s.error = "phase timed out";
                }
            }
            break;
        }
        const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10);
        for (int e = 0; e < n; ++e) {
            Session& s = sessions[events[static_cast<std::size_t>(e)].data.u64];
            while (!s.done()) {
                const ssize_t got = recv(s.fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
                if (got <= 0) break;
                handle_answer(s, spec, {buffer.data(), static_cast<std::size_t>(got)});
            }
            if (s.done()) retire(s);
        }
        if (now - last_scan > 20'000'000) { // retransmit at a fixed RTO, bounded
            last_scan = now;
            for (std::size_t i = 0; i < started; ++i) {
                Session& s = sessions[i];
                if (s.done() || now - s.sent_at < rto_ns) continue;
                if (++s.retransmits > max_retransmits) {
                    s.failed = true;
                    s.error = "no answer";
                    retire(s);
                    continue;
                }
                s.sent_at = now;
                send(s.fd, s.request.data(), s.request_size, 0);
            }
        }
        launch();
    }
    close(ep);
    return static_cast<double>(now_ns() - start) * 1e-9;
}

} // namespace turnbench
