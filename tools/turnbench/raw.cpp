// SPDX-License-Identifier: Apache-2.0
#include "tools/turnbench/raw.hpp"

#include "tools/turnbench/load.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace turnbench {
namespace {

constexpr std::size_t batch = 64;

struct Batch {
    std::vector<std::array<std::byte, max_packet>> buffers{batch};
    std::array<sockaddr_storage, batch> names{};
    std::array<iovec, batch> iov{};
    std::array<mmsghdr, batch> msgs{};

    // Prepares receive slots; data lands at offset within each buffer.
    void arm(std::size_t offset) {
        for (std::size_t i = 0; i < batch; ++i) {
            iov[i] = {buffers[i].data() + offset, max_packet - offset};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &names[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        }
    }
};

// Sends msgs[first, first+count) on fd, retrying partial sends once per remaining message.
void send_all(int fd, mmsghdr* msgs, std::size_t count) {
    std::size_t done = 0;
    while (done < count) {
        const int n = sendmmsg(fd, msgs + done, static_cast<unsigned>(count - done), 0);
        if (n <= 0) {
            ++done; // drop the one that failed, as a router would
            continue;
        }
        done += static_cast<std::size_t>(n);
    }
}

} // namespace

void run_echo(int fd, double duration_s, const std::atomic<bool>& stop, EchoCounters& counters) {
    Batch b;
    const auto end = now_ns() + static_cast<std::uint64_t>(duration_s * 1e9);
    pollfd pfd{fd, POLLIN, 0};
    while (!stop.load(std::memory_order_relaxed) && now_ns() < end) {
        if (poll(&pfd, 1, 50) <= 0) continue;
        while (true) {
            b.arm(0);
            const int got = recvmmsg(fd, b.msgs.data(), batch, MSG_DONTWAIT, nullptr);
            if (got <= 0) break;
            std::uint64_t bytes = 0;
            for (int i = 0; i < got; ++i) {
                auto& m = b.msgs[static_cast<std::size_t>(i)];
                m.msg_hdr.msg_iov->iov_len = m.msg_len;
                bytes += m.msg_len;
            }
            send_all(fd, b.msgs.data(), static_cast<std::size_t>(got));
            counters.packets.fetch_add(static_cast<std::uint64_t>(got), std::memory_order_relaxed);
            counters.bytes.fetch_add(bytes, std::memory_order_relaxed);
            if (got < static_cast<int>(batch)) break;
        }
    }
}

void run_forwarder(int listen_fd, const Endpoint& peer, double duration_s) {
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
    std::unordered_map<std::string, int> relay_of;       // client address -> socket
    std::unordered_map<int, sockaddr_storage> client_of; // socket -> client address
    Batch b;
    std::array<epoll_event, 64> events{};
    const auto end = now_ns() + static_cast<std::uint64_t>(duration_s * 1e9);
    while (now_ns() < end) {
        const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 50);
        for (int e = 0; e < n; ++e) {
            const int fd = events[static_cast<std::size_t>(e)].data.fd;
            if (fd == listen_fd) {
                // Client -> peer: strip the ChannelData header, send from the client's socket.
                while (true) {
                    b.arm(0);
                    const int got = recvmmsg(fd, b.msgs.data(), batch, MSG_DONTWAIT, nullptr);
                    if (got <= 0) break;
                    std::array<int, batch> out_fd{};
                    for (std::size_t i = 0; i < static_cast<std::size_t>(got); ++i) {
                        auto& m = b.msgs[i];
                        std::string key(reinterpret_cast<const char*>(&b.names[i]),
                                        m.msg_hdr.msg_namelen);
                        auto it = relay_of.find(key);
                        if (it == relay_of.end()) {
                            const int rfd = udp_socket(peer.family(), 0, &peer);
                            if (rfd < 0) {
                                out_fd[i] = -1;
                                continue;
                            }
                            it = relay_of.emplace(key, rfd).first;
                            client_of[rfd] = b.names[i];
                            epoll_event rev{};
                            rev.events = EPOLLIN;
                            rev.data.fd = rfd;
                            epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &rev);
                        }
                        out_fd[i] = m.msg_len >= 4 ? it->second : -1;
                        m.msg_hdr.msg_iov->iov_base = b.buffers[i].data() + 4;
                        m.msg_hdr.msg_iov->iov_len = m.msg_len >= 4 ? m.msg_len - 4 : 0;
                        m.msg_hdr.msg_name = nullptr;
                        m.msg_hdr.msg_namelen = 0;
                    }
                    // Group consecutive datagrams for the same socket into one sendmmsg.
                    std::size_t i = 0;
                    while (i < static_cast<std::size_t>(got)) {
                        std::size_t j = i + 1;
                        while (j < static_cast<std::size_t>(got) && out_fd[j] == out_fd[i])
                            ++j;
                        if (out_fd[i] >= 0) send_all(out_fd[i], &b.msgs[i], j - i);
                        i = j;
                    }
                    if (got < static_cast<int>(batch)) break;
                }
            } else {
                // Peer -> client: add a ChannelData header in front, send from the listener.
                const auto client = client_of.find(fd);
                if (client == client_of.end()) continue;
                while (true) {
                    b.arm(4);
                    const int got = recvmmsg(fd, b.msgs.data(), batch, MSG_DONTWAIT, nullptr);
                    if (got <= 0) break;
                    for (std::size_t i = 0; i < static_cast<std::size_t>(got); ++i) {
                        auto& m = b.msgs[i];
                        const auto len = static_cast<std::uint16_t>(m.msg_len);
                        const std::uint16_t header[2] = {htons(0x4000), htons(len)};
                        std::memcpy(b.buffers[i].data(), header, 4);
                        m.msg_hdr.msg_iov->iov_base = b.buffers[i].data();
                        m.msg_hdr.msg_iov->iov_len = std::size_t{len} + 4;
                        b.names[i] = client->second;
                        m.msg_hdr.msg_namelen = client->second.ss_family == AF_INET6
                                                    ? sizeof(sockaddr_in6)
                                                    : sizeof(sockaddr_in);
                    }
                    send_all(listen_fd, b.msgs.data(), static_cast<std::size_t>(got));
                    if (got < static_cast<int>(batch)) break;
                }
            }
        }
    }
    for (const auto& [fd, addr] : client_of)
        close(fd);
    close(ep);
}

} // namespace turnbench
