// SPDX-License-Identifier: Apache-2.0
// RelayPool with real loopback sockets: a slice fills to its last port, a closed port is reused.
#include "server/net/socket.hpp"
#include "server/worker/relay_pool.hpp"

#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>
#include <random>
#include <set>
#include <unistd.h>
#include <vector>

using namespace traverse;

namespace {

struct NullSink final : net::DatagramSink {
    void on_datagrams(std::uint32_t, std::span<const net::ReceivedDatagram>) override {}
};

/// A run of `count` loopback UDP ports that are free right now (other tests run in parallel,
/// so the range is chosen at random and checked by binding every port once).
std::uint16_t free_range(std::uint16_t count) {
    std::mt19937 random{std::random_device{}()};
    for (int attempt = 0; attempt < 50; ++attempt) {
        const auto base = static_cast<std::uint16_t>(20000 + random() % 10000);
        std::vector<int> fds;
        bool ok = true;
        for (std::uint16_t p = base; p < base + count && ok; ++p) {
            auto opened = net::open_udp(proto::TransportAddress::v4({127, 0, 0, 1}, p), 4096,
                                        /*reuse_port=*/false);
            ok = opened.ok();
            if (ok) fds.push_back(opened.socket.fd);
        }
        for (int fd : fds)
            ::close(fd);
        if (ok) return base;
    }
    FAIL("no free port range on loopback");
    return 0;
}

} // namespace

TEST_SUITE("worker.relay_pool") {

    TEST_CASE("a slice hands out every one of its ports, then 508-exhausted, and reuses closed "
              "ones") {
        constexpr std::uint16_t size = 16;
        const std::uint16_t base = free_range(size);
        boost::asio::io_context io;
        NullSink sink;
        net::ReceiveBatch batch;
        worker::ReservationRegistry reservations;
        worker::RelayPoolOptions options;
        worker::RelayAddress v4;
        v4.bind = proto::TransportAddress::v4({127, 0, 0, 1}, 0);
        v4.external = v4.bind;
        options.ipv4 = v4;
        options.port_min = base;
        options.port_max = static_cast<std::uint16_t>(base + size - 1);
        worker::RelayPool pool(io, options, sink, batch, reservations);

        std::set<std::uint16_t> ports;
        std::vector<turn::RelayId> ids;
        for (int i = 0; i < size; ++i) {
            auto r = pool.open(turn::RelayRequest{});
            REQUIRE_MESSAGE(r.grant, "allocation ", i, " of a ", size, "-port slice failed");
            CHECK(r.grant->relayed.port >= options.port_min);
            CHECK(r.grant->relayed.port <= options.port_max);
            ports.insert(r.grant->relayed.port);
            ids.push_back(r.grant->id);
        }
        CHECK(ports.size() == size); // all distinct: the whole slice, nothing left over
        CHECK(pool.free_ports() == 0);
        auto full = pool.open(turn::RelayRequest{});
        CHECK(!full.grant);
        CHECK(full.error == turn::RelayError::exhausted);

        const auto freed = pool.port(ids[5])->local().port;
        pool.close(ids[5]);
        pool.on_tick(std::chrono::steady_clock::now()); // frees the closed socket
        auto again = pool.open(turn::RelayRequest{});
        REQUIRE(again.grant);
        CHECK(again.grant->relayed.port == freed);

        // Even ports only from the even half of the slice.
        pool.close(again.grant->id);
        pool.on_tick(std::chrono::steady_clock::now());
        turn::RelayRequest even;
        even.even_port = true;
        auto e = pool.open(even);
        if (freed % 2 == 0) {
            REQUIRE(e.grant);
            CHECK(e.grant->relayed.port == freed);
        } else {
            CHECK(!e.grant); // the only free port is odd
        }
    }

} // TEST_SUITE
