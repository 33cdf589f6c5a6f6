# SPDX-License-Identifier: Apache-2.0
"""TURN relay round trips over every client transport (UDP, TCP, TLS) and address family
(IPv4, IPv6, cross-family, dual-stack allocations), stream framing of ChannelData (padding
both ways, frames split across and packed into segments), and allocations freed when their
TCP/TLS connection closes. Black-box: drives $TRAVERSE_BIN over loopback.
"""

import socket
import struct
import time
import unittest

import harness as h
import turn_client as t
from turn_client import TurnServerCase

V6 = h.ipv6_available()
V4, V6F = socket.AF_INET, socket.AF_INET6


def listeners(v6: bool):
    out = [h.listener(tr, "127.0.0.1") for tr in ("udp", "tcp", "tls")]
    if v6:
        out += [h.listener(tr, "::1") for tr in ("udp", "tcp", "tls")]
    return out


class RoundTrips(TurnServerCase):
    tls = True

    @classmethod
    def make_config(cls, tls_files):
        return h.turn_config(
            listen=listeners(V6), tls_files=tls_files,
            relay_addresses=["127.0.0.1", "::1"] if V6 else ["127.0.0.1"],
            peers_allow=["127.0.0.1/32", "::1/128"])

    def scenario(self, transport: str, family: int, relay_family: int | None = None):
        """Allocate, then Send/Data indications and ChannelData both ways with odd payload
        sizes, then delete. ``relay_family``: REQUESTED-ADDRESS-FAMILY (None: absent)."""
        c = self.client(transport=transport, family=family)
        a = c.allocate_ok(family=relay_family)
        relay_host = "::1" if relay_family == h.FAMILY_V6 else "127.0.0.1"
        self.assertEqual(len(a.relayed), 1, a.msg)
        self.assertEqual(a.relay[0], relay_host)
        self.assert_relay_port(a.relay[1])
        self.assertEqual(a.lifetime, 600)
        self.assertEqual(a.mapped, c.conn.local)
        self.assertTrue(a.msg.integrity_ok(c.key))
        peer = self.peer(relay_host)
        c.permit(peer.addr)

        # Send / Data indications (odd sizes: attribute padding inside the STUN message).
        c.send_indication(peer.addr, b"12345")
        self.assertEqual(peer.recv(), (b"12345", a.relay))
        peer.send(b"abcdefg", a.relay)
        self.assertEqual(c.recv_data(), ("data", peer.addr, b"abcdefg"))

        # ChannelData both ways.
        c.bind(0x4321, peer.addr)
        c.send_channel(0x4321, b"xyzzy")  # 5 bytes, padded to 8 on streams
        self.assertEqual(peer.recv(), (b"xyzzy", a.relay))
        for payload in (b"a", b"bb", b"ccc", b"dddd", b"\x00" * 9):
            peer.send(payload, a.relay)
            self.assertEqual(c.recv_data(), ("channel", 0x4321, payload))
            if c.conn.stream:
                self.assertEqual(len(c.conn.last_padding), h.pad4(len(payload)),
                                 "ChannelData over a stream not padded to 4")

        # Several frames in one write: padded ChannelData, ChannelData, Send indication.
        _, ind = c.build(t.SEND, [t.xor_peer_attr(*peer.addr), (t.DATA_ATTR, b"three")],
                         auth=False, cls=t.INDICATION)
        if c.conn.stream:
            c.conn.send(t.channel_data(0x4321, b"one", True)
                        + t.channel_data(0x4321, b"two!!", True) + ind)
            got = [peer.recv() for _ in range(3)]
            self.assertEqual(got, [(b"one", a.relay), (b"two!!", a.relay),
                                   (b"three", a.relay)])

        # The stream is still in sync: a transaction after all that works, then delete.
        self.assertEqual(c.refresh_ok(0), 0)
        self.assertEqual(c.stray, [])
        return c, a

    def test_udp_ipv4(self):
        self.scenario("udp", V4)

    def test_tcp_ipv4(self):
        self.scenario("tcp", V4)

    def test_tls_ipv4(self):
        self.scenario("tls", V4)

    @unittest.skipUnless(V6, "no IPv6 loopback")
    def test_udp_ipv6(self):
        self.scenario("udp", V6F, h.FAMILY_V6)

    @unittest.skipUnless(V6, "no IPv6 loopback")
    def test_tcp_ipv6(self):
        self.scenario("tcp", V6F, h.FAMILY_V6)

    @unittest.skipUnless(V6, "no IPv6 loopback")
    def test_tls_ipv6(self):
        self.scenario("tls", V6F, h.FAMILY_V6)

    @unittest.skipUnless(V6, "no IPv6 loopback")
    def test_ipv4_client_ipv6_relay(self):
        self.scenario("udp", V4, h.FAMILY_V6)

    @unittest.skipUnless(V6, "no IPv6 loopback")
    def test_ipv6_client_ipv4_relay(self):
        self.scenario("tcp", V6F, h.FAMILY_V4)

    @unittest.skipUnless(V6, "no IPv6 loopback")
    def test_ipv6_client_default_relay_family_is_ipv4(self):
        # RFC 8656 section 7.2: without REQUESTED-ADDRESS-FAMILY the relayed address is IPv4.
        self.scenario("udp", V6F, None)

    @unittest.skipUnless(V6, "no IPv6 loopback")
    def test_dual_stack_allocation(self):
        for transport in ("udp", "tcp"):
            with self.subTest(transport=transport):
                c = self.client(transport=transport)
                a = c.allocate_ok(additional_family=h.FAMILY_V6)
                self.assertIsNone(a.msg.get(t.ADDRESS_ERROR_CODE), a.msg)
                self.assertEqual(sorted(r[0] for r in a.relayed), ["127.0.0.1", "::1"], a.msg)
                for r in a.relayed:
                    self.assert_relay_port(r[1])
                relay4 = next(r for r in a.relayed if r[0] == "127.0.0.1")
                relay6 = next(r for r in a.relayed if r[0] == "::1")
                p4, p6 = self.peer("127.0.0.1"), self.peer("::1")
                c.permit(p4.addr, p6.addr)  # both families in one CreatePermission
                c.send_indication(p4.addr, b"to v4")
                c.send_indication(p6.addr, b"to v6")
                self.assertEqual(p4.recv(), (b"to v4", relay4))
                self.assertEqual(p6.recv(), (b"to v6", relay6))
                p6.send(b"from v6", relay6)
                self.assertEqual(c.recv_data(), ("data", p6.addr, b"from v6"))
                p4.send(b"from v4", relay4)
                self.assertEqual(c.recv_data(), ("data", p4.addr, b"from v4"))
                c.bind(0x4000, p4.addr)
                c.bind(0x4001, p6.addr)
                c.send_channel(0x4001, b"chan v6")
                self.assertEqual(p6.recv(), (b"chan v6", relay6))
                p6.send(b"chan v6 back", relay6)
                self.assertEqual(c.recv_data(), ("channel", 0x4001, b"chan v6 back"))
                self.assertEqual(c.refresh_ok(0), 0)

    def test_errors_over_streams(self):
        for transport in ("tcp", "tls"):
            with self.subTest(transport=transport):
                c = self.client(transport=transport, fingerprint=True)
                tid, raw = c.build(t.ALLOCATE, [t.requested_transport_attr()], auth=False)
                resp = c.transact_raw(raw, tid)
                t.expect_error(self, resp, t.ALLOCATE, 401)
                self.assertTrue(resp.get(h.NONCE).startswith(t.NONCE_COOKIE))
                self.assertTrue(resp.fingerprint_ok())
                c.learn(resp)
                t.expect_error(self, c.allocate(transport=t.PROTO_TCP), t.ALLOCATE, 442)
                a = c.allocate_ok()
                self.assertTrue(a.msg.fingerprint_ok())
                t.expect_error(self, c.allocate(), t.ALLOCATE, 437)
                t.expect_error(self, c.create_permission(("10.0.0.1", 9)),
                               t.CREATE_PERMISSION, 403)
                t.expect_error(self, c.channel_bind(0x5000, ("127.0.0.1", 9)),
                               t.CHANNEL_BIND, 400)
                c.nonce = c.nonce[:-1] + (b"A" if c.nonce[-1:] != b"A" else b"B")
                t.expect_error(self, c.refresh(retry=False), t.REFRESH, 438)
                self.assertEqual(c.refresh_ok(0), 0)  # request() follows the 438
                t.expect_error(self, c.refresh(), t.REFRESH, 437)
                self.assertEqual(c.stray, [])
                self.assertEqual(c.inbox, [])

    def split_writes(self, transport: str):
        """A request and a ChannelData frame split byte by byte / across writes."""
        c = self.client(transport=transport)
        a = c.allocate_ok()
        peer = self.peer()
        tid, raw = c.build(t.CHANNEL_BIND, [t.channel_number_attr(0x4100),
                                            t.xor_peer_attr(*peer.addr)])
        for i in range(0, len(raw), 7):
            c.conn.send(raw[i:i + 7])
            time.sleep(0.002)
        resp = c.wait_response(tid)
        t.expect_success(resp, t.CHANNEL_BIND)
        frame = t.channel_data(0x4100, b"split frame", True)
        for i in range(len(frame)):
            c.conn.send(frame[i:i + 1])
            time.sleep(0.002)
        self.assertEqual(peer.recv(), (b"split frame", a.relay))
        self.assertEqual(c.refresh_ok(0), 0)

    def test_tcp_split_writes(self):
        self.split_writes("tcp")

    def test_tls_split_writes(self):
        self.split_writes("tls")

    def test_all_transports_to_one_peer(self):
        peer = self.peer()
        clients = []
        for transport in ("udp", "tcp", "tls"):
            c = self.client(transport=transport)
            a = c.allocate_ok()
            c.permit(peer.addr)
            clients.append((transport, c, a))
        for transport, c, a in clients:
            c.send_indication(peer.addr, transport.encode())
        got = sorted(peer.recv() for _ in clients)
        self.assertEqual(got, sorted((tr.encode(), a.relay) for tr, c, a in clients))
        for transport, c, a in reversed(clients):
            peer.send(b"reply " + transport.encode(), a.relay)
        for transport, c, a in clients:
            self.assertEqual(c.recv_data(), ("data", peer.addr, b"reply " + transport.encode()))
            self.assertEqual(c.refresh_ok(0), 0)


class ConnectionCloseFreesAllocation(TurnServerCase):
    """Two relay ports, one worker: closing a TCP/TLS connection must free its port."""

    tls = True

    @classmethod
    def make_config(cls, tls_files):
        first, _ = h.relay_port_window(2)
        return h.turn_config(listen=listeners(False), tls_files=tls_files, workers=1,
                             port_range=(first, first + 1))

    def wait_for_allocation(self, c: t.TurnClient, deadline_s: float = 2.0) -> t.Allocation:
        end = time.monotonic() + deadline_s
        while True:
            resp = c.allocate()
            if resp.cls == t.SUCCESS:
                return t.Allocation(resp)
            t.expect_error(self, resp, t.ALLOCATE, 508)
            if time.monotonic() > end:
                self.fail("relayed port not freed within 2 s of closing the connection")
            time.sleep(0.05)

    def close_frees(self, transport: str):
        first, last = self.port_range()
        stream = self.client(transport=transport)
        a_stream = stream.allocate_ok()
        holder = self.client(transport="udp")
        a_holder = holder.allocate_ok()
        self.assertEqual(sorted([a_stream.relay[1], a_holder.relay[1]]), [first, last])
        waiting = self.client(transport="udp")
        t.expect_error(self, waiting.allocate(), t.ALLOCATE, 508)
        # The stream allocation is alive until its connection goes away.
        peer = self.peer()
        stream.permit(peer.addr)
        peer.send(b"alive", a_stream.relay)
        self.assertEqual(stream.recv_data(), ("data", peer.addr, b"alive"))
        stream.close()
        a = self.wait_for_allocation(waiting)
        self.assertEqual(a.relay, a_stream.relay)
        self.assertEqual(waiting.refresh_ok(0), 0)
        self.assertEqual(holder.refresh_ok(0), 0)

    def test_tcp_close_frees_allocation(self):
        self.close_frees("tcp")

    def test_tls_close_frees_allocation(self):
        self.close_frees("tls")

    def test_tcp_reset_frees_allocation(self):
        first, last = self.port_range()
        c = self.client(transport="tcp")
        self.assertIn(c.allocate_ok().relay[1], (first, last))
        # RST instead of FIN.
        c.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        others = [self.client(transport="udp") for _ in range(2)]
        got = []
        for o in others:
            got.append(self.wait_for_allocation(o).relay[1])
        self.assertEqual(sorted(got), [first, last])
        for o in others:
            self.assertEqual(o.refresh_ok(0), 0)


class IdleTimeoutSparesAllocations(TurnServerCase):
    """limits.idle_timeout closes quiet connections, but not one that carries an allocation:
    over TCP/TLS the allocation lives exactly as long as its connection (RFC 8656 section 3.1),
    and a WebRTC data channel may stay silent for minutes between Refreshes."""

    tls = True

    @classmethod
    def make_config(cls, tls_files):
        return h.turn_config(listen=listeners(False), tls_files=tls_files,
                             limits={"max_connections": 64, "max_connections_per_ip": 64,
                                     "idle_timeout": "1s", "tls_handshake_timeout": "2s"})

    def quiet_allocation_survives(self, transport: str):
        with_allocation = self.client(transport=transport)
        a = with_allocation.allocate_ok()
        peer = self.peer()
        with_allocation.permit(peer.addr)
        without = self.client(transport=transport)
        # Idle checks run every idle_timeout (1 s): after 3.5 s both had at least two chances.
        time.sleep(3.5)
        self.assertTrue(without.conn.closed_by_server(),
                        "a quiet connection without an allocation stayed open")
        peer.send(b"still here", a.relay)
        self.assertEqual(with_allocation.recv_data(), ("data", peer.addr, b"still here"))
        self.assertEqual(with_allocation.refresh_ok(0), 0)

    def test_tcp(self):
        self.quiet_allocation_survives("tcp")

    def test_tls(self):
        self.quiet_allocation_survives("tls")


if __name__ == "__main__":
    unittest.main()
