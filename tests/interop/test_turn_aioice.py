# SPDX-License-Identifier: Apache-2.0
"""Interop: Debian's aioice TURN client (``aioice.turn.create_turn_endpoint``) against traverse.

aioice allocates with a static long-term user (MD5, 401 then retry, LIFETIME 600), binds a
channel to the peer on its first ``sendto`` and sends ChannelData; the peer's answer comes back
as ChannelData. Over UDP, TCP and TLS. Each test runs its own server and checks the exit
statistics: aioice's ``close()`` deletes the allocation with Refresh LIFETIME 0.
"""

import asyncio
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness as h  # noqa: E402

try:
    from aioice import turn as aturn
except ImportError:  # pragma: no cover - python3-aioice absent
    aturn = None

STEP_TIMEOUT = 5.0


class Receiver(asyncio.DatagramProtocol):
    """The application protocol on top of the TURN transport (and the peer's protocol)."""

    def __init__(self):
        self.queue: asyncio.Queue = asyncio.Queue()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.queue.put_nowait((data, (h.canonical_host(addr[0]), addr[1])))


@unittest.skipUnless(aturn, "python3-aioice not installed")
class AioiceTurnClient(unittest.TestCase):
    def start_server(self, tls_files=None):
        listen = [h.listener("udp", "127.0.0.1"), h.listener("tcp", "127.0.0.1")]
        if tls_files:
            listen.append(h.listener("tls", "127.0.0.1"))
        cfg = h.turn_config(listen=listen, tls_files=tls_files)
        srv = h.ServerProcess(cfg)
        self.addCleanup(srv.cleanup)
        srv.start()
        first, last = str(cfg["relay"]["port_range"]).split("-")
        return srv, (int(first), int(last))

    async def scenario(self, server_addr, transport, port_range, ssl_ctx=None):
        loop = asyncio.get_running_loop()
        kw = {"transport": "tcp" if transport in ("tcp", "tls") else "udp"}
        if ssl_ctx is not None:
            kw["ssl"] = ssl_ctx
        turn, app = await asyncio.wait_for(
            aturn.create_turn_endpoint(Receiver, server_addr, "alice", "wonderland", **kw),
            STEP_TIMEOUT)
        try:
            relayed = turn.get_extra_info("sockname")
            relayed = (h.canonical_host(relayed[0]), relayed[1])
            self.assertEqual(relayed[0], "127.0.0.1")
            self.assertTrue(port_range[0] <= relayed[1] <= port_range[1], relayed)

            peer_tr, peer = await loop.create_datagram_endpoint(
                Receiver, local_addr=("127.0.0.1", 0))
            try:
                peer_addr = h.canonical_host("127.0.0.1"), peer_tr.get_extra_info("sockname")[1]
                payloads = [b"hello from aioice", b"x", b"\x00\x01\x02\x03\x04"]
                for i, payload in enumerate(payloads):
                    turn.sendto(payload, peer_addr)  # first one binds channel 0x4000
                    got = await asyncio.wait_for(peer.queue.get(), STEP_TIMEOUT)
                    self.assertEqual(got, (payload, relayed))
                    answer = b"answer %d " % i + payload[::-1]
                    peer_tr.sendto(answer, relayed)
                    got = await asyncio.wait_for(app.queue.get(), STEP_TIMEOUT)
                    self.assertEqual(got, (answer, peer_addr))
                # The inner client bound exactly one channel, 0x4000, to the peer.
                inner = turn._TurnTransport__inner_protocol
                self.assertEqual(inner.peer_to_channel, {peer_addr: 0x4000})
            finally:
                peer_tr.close()
        finally:
            turn.close()  # Refresh LIFETIME 0, then the inner transport closes
            await asyncio.sleep(0.3)
        return len(payloads)

    def run_transport(self, transport):
        tmp = None
        tls_files = None
        ssl_ctx = None
        if transport == "tls":
            tmp = tempfile.TemporaryDirectory(prefix="traverse-aioice-")
            self.addCleanup(tmp.cleanup)
            tls_files = h.make_cert(tmp.name)
            ssl_ctx = h.client_tls_context(tls_files[0])
        srv, port_range = self.start_server(tls_files)
        n = asyncio.run(asyncio.wait_for(
            self.scenario(srv.addr(transport), transport, port_range, ssl_ctx), 30))
        self.assertEqual(srv.stop(), 0, srv.stderr_text()[-3000:])
        stats = srv.final_stats()
        want = {"allocations_created": 1, "allocations_deleted": 1,
                "relayed_to_peer_packets": n, "relayed_to_client_packets": n,
                "challenges_sent": 1}
        got = {k: int(stats[k]) if k in stats else None for k in want}
        self.assertEqual(got, want, stats)

    def test_udp(self):
        self.run_transport("udp")

    def test_tcp(self):
        self.run_transport("tcp")

    def test_tls(self):
        self.run_transport("tls")


if __name__ == "__main__":
    unittest.main()
