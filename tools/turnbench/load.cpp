// SPDX-License-Identifier: Apache-2.0
#include "tools/turnbench/load.hpp"

#include "tools/turnbench/common.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <thread>

namespace turnbench {
namespace {

constexpr std::size_t recv_batch = 64;

struct Shared {
    std::atomic<std::uint64_t> sent{0};
    std::atomic<std::uint64_t> received{0};
    std::atomic<bool> sending_done{false};
};

void receiver(const LoadSpec& spec, Shared& shared, LoadResult& result) {
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    for (std::size_t i = 0; i < spec.fds.size(); ++i) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        epoll_ctl(ep, EPOLL_CTL_ADD, spec.fds[i], &ev);
    }
    std::vector<std::array<std::byte, max_packet>> buffers(recv_batch);
    std::array<iovec, recv_batch> iov{};
    std::array<mmsghdr, recv_batch> msgs{};
    std::vector<epoll_event> events(std::min<std::size_t>(spec.fds.size(), 256));
    result.rtt_ns.reserve(1 << 20);
    std::uint64_t drain_deadline = 0;
    while (true) {
        const std::uint64_t now = now_ns();
        if (shared.sending_done.load(std::memory_order_acquire)) {
            if (drain_deadline == 0)
                drain_deadline = now + static_cast<std::uint64_t>(spec.drain_s * 1e9);
            if (now >= drain_deadline || shared.received.load(std::memory_order_relaxed) >=
                                             shared.sent.load(std::memory_order_acquire))
                break;
        }
        const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10);
        for (int e = 0; e < n; ++e) {
            const int fd = spec.fds[events[static_cast<std::size_t>(e)].data.u64];
            while (true) {
                for (std::size_t i = 0; i < recv_batch; ++i) {
                    iov[i] = {buffers[i].data(), max_packet};
                    msgs[i] = {};
                    msgs[i].msg_hdr.msg_iov = &iov[i];
                    msgs[i].msg_hdr.msg_iovlen = 1;
                }
                const int got = recvmmsg(fd, msgs.data(), recv_batch, MSG_DONTWAIT, nullptr);
                if (got <= 0) break;
                const std::uint64_t at = now_ns();
                std::uint64_t answers = 0;
                for (int i = 0; i < got; ++i) {
                    const auto k = static_cast<std::size_t>(i);
                    const std::size_t len = msgs[k].msg_len;
                    const std::uint64_t sent_at = spec.parse({buffers[k].data(), len});
                    if (sent_at == 0 || sent_at > at) {
                        ++result.foreign;
                        continue;
                    }
                    ++answers;
                    result.bytes_received += len;
                    result.rtt_ns.push_back(
                        static_cast<std::uint32_t>(std::min<std::uint64_t>(at - sent_at, ~0u)));
                }
                shared.received.fetch_add(answers, std::memory_order_relaxed);
                if (got < static_cast<int>(recv_batch)) break;
            }
        }
    }
    result.received = shared.received.load();
    close(ep);
}

} // namespace

LoadResult run_load(const LoadSpec& spec) {
    LoadResult result;
    Shared shared;
    std::thread rx([&] { receiver(spec, shared, result); });

    std::vector<std::array<std::byte, max_packet>> buffers(spec.batch);
    std::vector<iovec> iov(spec.batch);
    std::vector<mmsghdr> msgs(spec.batch);
    const std::uint64_t start = now_ns();
    const auto end = start + static_cast<std::uint64_t>(spec.duration_s * 1e9);
    const std::size_t window = spec.window ? spec.window : 256;
    std::uint64_t sent = 0;
    std::uint64_t written_off = 0; // presumed lost, so that a windowed sender never stalls
    std::uint64_t last_progress = start;
    std::uint64_t last_received = 0;
    std::size_t next_socket = 0;
    std::uint64_t now = start;
    while ((now = now_ns()) < end) {
        std::uint64_t allowed = 0;
        if (spec.rate > 0) {
            const auto target =
                static_cast<std::uint64_t>(static_cast<double>(now - start) * 1e-9 * spec.rate);
            allowed = target > sent ? target - sent : 0;
        } else {
            const std::uint64_t received = shared.received.load(std::memory_order_relaxed);
            if (received != last_received) {
                last_received = received;
                last_progress = now;
            } else if (now - last_progress > 50'000'000) {
                written_off = sent - received; // nothing came back for 50 ms: reopen the window
                last_progress = now;
            }
            const std::uint64_t in_flight = sent - received - written_off;
            allowed = in_flight < window ? window - in_flight : 0;
        }
        if (allowed == 0) {
            if (spec.rate > 0) {
                const std::uint64_t gap = static_cast<std::uint64_t>(1e9 / spec.rate);
                if (gap > 20'000) std::this_thread::sleep_for(std::chrono::nanoseconds(gap / 2));
            } else {
                std::this_thread::yield();
            }
            continue;
        }
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(allowed, spec.batch));
        const std::size_t socket_index = next_socket;
        next_socket = (next_socket + 1) % spec.fds.size();
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t len = spec.make(socket_index, sent + i, now, buffers[i].data());
            iov[i] = {buffers[i].data(), len};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int done = sendmmsg(spec.fds[socket_index], msgs.data(), static_cast<unsigned>(n), 0);
        if (done <= 0) {
            ++result.send_errors;
            continue;
        }
        for (int i = 0; i < done; ++i)
            result.bytes_sent += msgs[static_cast<std::size_t>(i)].msg_len;
        sent += static_cast<std::uint64_t>(done);
        shared.sent.store(sent, std::memory_order_release);
    }
    result.send_seconds = static_cast<double>(now_ns() - start) * 1e-9;
    result.sent = sent;
    shared.sending_done.store(true, std::memory_order_release);
    rx.join();
    return result;
}

} // namespace turnbench
