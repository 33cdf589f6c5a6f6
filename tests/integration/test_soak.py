# SPDX-License-Identifier: Apache-2.0
"""Soak: allocations with churn and traffic for a bounded time, then the server's descriptors
and memory are back to their baseline. Up to 40 clients are live at a time over UDP, TCP and
TLS; each allocates, permits a peer, binds a channel on some, relays both ways a few times and
then ends by Refresh(0), by closing its connection, or by a reset. The CI run lasts
TRAVERSE_SOAK_SECONDS (default 20) and must reach a few hundred allocations; set it to e.g.
3600 for a long soak. Black-box: drives $TRAVERSE_BIN and reads /proc/PID.
"""

import os
import random
import socket
import struct
import time
import unittest

import harness as h
import turn_client as t
from test_abuse import fd_count, rss_kib, sanitized, settle_fds
from turn_client import TurnServerCase

SOAK_SECONDS = float(os.environ.get("TRAVERSE_SOAK_SECONDS", "20"))
MIN_ALLOCATIONS = int(os.environ.get("TRAVERSE_SOAK_MIN_ALLOCATIONS", "300"))
LIVE = 40


class Soak(TurnServerCase):
    tls = True

    @classmethod
    def make_config(cls, tls_files):
        listen = [h.listener(tr, "127.0.0.1") for tr in ("udp", "tcp", "tls")]
        return h.turn_config(listen=listen, tls_files=tls_files, workers=2,
                             relay_addresses=["127.0.0.1"], peers_allow=["127.0.0.1/32"],
                             limits={"max_connections": 4096, "max_connections_per_ip": 512,
                                     "idle_timeout": "30s", "tls_handshake_timeout": "2s"},
                             log_level="warn")

    def start_client(self, rng: random.Random, peer: t.Peer):
        transport = rng.choice(("udp", "udp", "udp", "tcp", "tls"))
        c = t.TurnClient(t.connect(transport, self.server.addr(transport), cafile=self.cert),
                         "alice", h.TEST_USERS["alice"])
        a = c.allocate_ok()
        c.permit(peer.addr)
        channel = None
        if rng.random() < 0.5:
            channel = 0x4000 + rng.randrange(0x1000)
            c.bind(channel, peer.addr)
        return {"client": c, "relay": a.relay, "channel": channel, "transport": transport}

    def exchange(self, rng: random.Random, live: dict, peer: t.Peer) -> int:
        c = live["client"]
        payload = os.urandom(rng.randrange(1, 1200))
        if live["channel"] is not None:
            c.send_channel(live["channel"], payload)
        else:
            c.send_indication(peer.addr, payload)
        got, src = peer.recv()
        self.assertEqual((got, src), (payload, live["relay"]))
        answer = os.urandom(rng.randrange(1, 1200))
        peer.send(answer, live["relay"])
        kind, _, data = c.recv_data()
        self.assertEqual(data, answer)
        self.assertEqual(kind, "channel" if live["channel"] is not None else "data")
        return len(payload) + len(answer)

    def end_client(self, rng: random.Random, live: dict) -> None:
        c = live["client"]
        how = rng.random()
        if live["transport"] == "udp" or how < 0.4:
            self.assertEqual(c.refresh_ok(0), 0)
        elif how < 0.7:  # reset: no FIN, no close_notify
            c.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()

    def run_phase(self, rng: random.Random, peer: t.Peer, seconds: float,
                  max_allocations: int | None = None) -> tuple[int, int]:
        allocations = relayed = 0
        live: list[dict] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and (max_allocations is None
                                               or allocations < max_allocations):
            if len(live) < LIVE:
                live.append(self.start_client(rng, peer))
                allocations += 1
            for item in rng.sample(live, min(len(live), 3)):
                relayed += self.exchange(rng, item, peer)
            if len(live) >= LIVE or rng.random() < 0.3:
                self.end_client(rng, live.pop(rng.randrange(len(live))))
        for item in live:
            self.end_client(rng, item)
        return allocations, relayed

    def test_churn_and_traffic_leave_nothing_behind(self):
        pid = self.server.proc.pid
        rng = random.Random(int(os.environ.get("TRAVERSE_SOAK_SEED", "8")))
        peer = self.peer()
        # Warm-up: buffers, TLS contexts and allocator arenas exist before the baseline.
        self.run_phase(rng, peer, 5, max_allocations=60)
        time.sleep(1)  # let the last closed connections finish
        fds, rss = fd_count(pid), rss_kib(pid)

        start = time.monotonic()
        allocations, relayed = self.run_phase(rng, peer, SOAK_SECONDS)
        elapsed = time.monotonic() - start
        print(f"\nsoak: {allocations} allocations, {relayed} bytes relayed in {elapsed:.1f} s",
              flush=True)
        self.assertGreaterEqual(allocations, MIN_ALLOCATIONS,
                                f"only {allocations} allocations in {elapsed:.1f} s")

        last = settle_fds(pid, fds, 5)
        print(f"soak: descriptors {fds} before, {last} after; RSS {rss} KiB before, "
              f"{rss_kib(pid)} KiB after", flush=True)
        self.assertLessEqual(last, fds, f"{last} descriptors after the soak, {fds} before")
        if not sanitized(pid):
            grown = rss_kib(pid) - rss
            # Allocator arenas may keep a little; a leak per allocation would be far more.
            self.assertLess(grown, 4096, f"RSS grew by {grown} KiB over {allocations} allocations")
        # Still serving.
        c = self.client()
        c.allocate_ok()
        self.assertEqual(c.refresh_ok(0), 0)


if __name__ == "__main__":
    unittest.main()
