# SPDX-License-Identifier: Apache-2.0
"""STUN Binding over UDP / TCP / TLS, IPv4 / IPv6, malformed input, RFC 3489 classic requests,
connection limits and timeouts, multi-worker load. Black-box: drives $TRAVERSE_BIN over loopback.
"""

import socket
import struct
import time
import unittest

import harness as h

V6 = h.ipv6_available()
SOFTWARE = "Traverse-test"


class ServerCase(h.ServerClassCase):
    """One server per test class from ``make_config``; a TLS cert is always generated."""

    tls = True
    tmp_prefix = "traverse-it-cert-"

    # convenience -------------------------------------------------------------------------

    def udp_addr(self, family=socket.AF_INET):
        return self.server.addr("udp", family)

    def udp_client(self, host="127.0.0.1"):
        s = h.udp_socket(host)
        self.addCleanup(s.close)
        return s

    def tcp_client(self, transport="tcp", family=socket.AF_INET, **kw):
        addr = self.server.addr(transport, family)
        if transport == "tls":
            s = h.tls_connect(addr, self.cert)
        else:
            s = h.tcp_connect(addr, **kw)
        self.addCleanup(s.close)
        return s

    def udp_binding_ok(self, sock, dest, *, attrs=(), fingerprint=False, software=SOFTWARE):
        tid = h.new_tid()
        resp, src = h.udp_transact(sock, dest, h.binding_request(tid, attrs, fingerprint))
        self.assertEqual(src, (h.canonical_host(dest[0]), dest[1]),
                         "response not sent from the socket the request was sent to")
        h.check_binding_success(self, resp, tid, h.sock_addr(sock), software=software,
                                fingerprint=fingerprint)
        return resp

    def assert_only_followup_answered(self, sock, dest, window=h.NO_ANSWER_WAIT):
        """Send a valid request; it must be the only datagram we get back."""
        tid = h.new_tid()
        sock.sendto(h.binding_request(tid), dest)
        data, src = h.udp_recv(sock)
        msg = h.parse_message(data)
        self.assertEqual(msg.tid, tid, f"unexpected datagram (answer to an earlier message?): {msg}")
        h.check_binding_success(self, msg, tid, h.sock_addr(sock))
        extra = h.udp_expect_silence(sock, window)
        self.assertIsNone(extra, f"unexpected extra datagram: {extra!r}")


def full_listen(v6: bool):
    lst = [h.listener("udp", "127.0.0.1"), h.listener("tcp", "127.0.0.1"),
           h.listener("tls", "127.0.0.1")]
    if v6:
        lst += [h.listener("udp", "::1"), h.listener("tcp", "::1")]
    return lst


def malformed_datagrams() -> dict:
    good = h.binding_request(h.new_tid(), [(h.SOFTWARE, b"client")])
    body_len = len(good) - h.HEADER_LEN
    bad_fp = bytearray(h.binding_request(h.new_tid(), fingerprint=True))
    bad_fp[-1] ^= 0x5A
    overrun = (struct.pack("!HH", h.BINDING_REQUEST, 8) + h.COOKIE_BYTES + h.new_tid()
               + struct.pack("!HH", 0x8022, 40) + b"abcd")
    return {
        "garbage_ff": b"\xff" * 40,
        "truncated_header": good[:12],
        "length_field_too_long": good[:2] + struct.pack("!H", body_len + 4) + good[4:],
        "length_field_too_short": good[:2] + struct.pack("!H", body_len - 4) + good[4:],
        "length_not_multiple_of_4": good[:2] + struct.pack("!H", 2) + good[4:20] + b"\x00\x00",
        "attribute_overruns_message": overrun,
        "bad_fingerprint": bytes(bad_fp),
    }


# ============================================================================================


class UdpBinding(ServerCase):
    @classmethod
    def make_config(cls, tls_files):
        return h.base_config(listen=full_listen(V6), tls_files=tls_files, workers=2)

    def test_listening_lines(self):
        got = sorted((l.transport, l.host, l.role) for l in self.server.listeners)
        want = [("tcp", "127.0.0.1", None), ("tls", "127.0.0.1", None),
                ("udp", "127.0.0.1", None)]
        if V6:
            want += [("tcp", "::1", None), ("udp", "::1", None)]
        self.assertEqual(got, sorted(want))
        for lst in self.server.listeners:
            self.assertTrue(1 <= lst.port <= 65535, lst)

    def test_basic_binding(self):
        self.udp_binding_ok(self.udp_client(), self.udp_addr())

    def test_binding_with_fingerprint(self):
        self.udp_binding_ok(self.udp_client(), self.udp_addr(), fingerprint=True)

    def test_binding_with_known_optional_attribute(self):
        self.udp_binding_ok(self.udp_client(), self.udp_addr(),
                            attrs=[(h.SOFTWARE, b"it-client 1.0")], fingerprint=True)

    def test_unknown_optional_attribute_ignored(self):
        s = self.udp_client()
        self.udp_binding_ok(s, self.udp_addr(), attrs=[(0xC001, b"\x01\x02\x03")])
        self.udp_binding_ok(s, self.udp_addr(), attrs=[(0xC001, b"x" * 1000)], fingerprint=True)

    def test_unknown_required_attribute_gives_420(self):
        s = self.udp_client()
        tid = h.new_tid()
        resp, src = h.udp_transact(s, self.udp_addr(),
                                   h.binding_request(tid, [(0x0031, b"\x00\x00\x00\x01")]))
        self.assertEqual(src, self.udp_addr())
        h.check_error(self, resp, tid, 420)
        self.assertEqual(resp.unknown_attributes(), [0x0031])

    def test_several_unknown_required_attributes_all_listed(self):
        s = self.udp_client()
        tid = h.new_tid()
        req = h.binding_request(tid, [(0x0031, b"abcd"), (0xC001, b"opt!"), (0x0032, b"")])
        resp, _ = h.udp_transact(s, self.udp_addr(), req)
        h.check_error(self, resp, tid, 420)
        self.assertEqual(sorted(resp.unknown_attributes()), [0x0031, 0x0032])

    def test_same_transaction_retransmitted_is_answered_twice(self):
        s = self.udp_client()
        tid = h.new_tid()
        req = h.binding_request(tid)
        for _ in range(2):
            resp, _ = h.udp_transact(s, self.udp_addr(), req)
            h.check_binding_success(self, resp, tid, h.sock_addr(s))

    def test_many_sequential_requests_one_socket(self):
        s = self.udp_client()
        for _ in range(30):
            self.udp_binding_ok(s, self.udp_addr())

    def test_distinct_clients_get_their_own_address(self):
        a, b = self.udp_client(), self.udp_client()
        self.assertNotEqual(h.sock_addr(a), h.sock_addr(b))
        self.udp_binding_ok(a, self.udp_addr())
        self.udp_binding_ok(b, self.udp_addr())

    def test_client_on_other_loopback_address(self):
        if not h.can_bind(socket.AF_INET, "127.0.0.9"):
            self.skipTest("cannot bind 127.0.0.9")
        s = self.udp_client("127.0.0.9")
        resp = self.udp_binding_ok(s, self.udp_addr())
        self.assertEqual(resp.xor_mapped()[0], "127.0.0.9")

    def test_indication_gets_no_answer(self):
        s = self.udp_client()
        s.sendto(h.build_message(h.BINDING_INDICATION, h.new_tid()), self.udp_addr())
        s.sendto(h.build_message(h.BINDING_INDICATION, h.new_tid(), fingerprint=True),
                 self.udp_addr())
        self.assert_only_followup_answered(s, self.udp_addr())

    def test_responses_sent_to_server_get_no_answer(self):
        s = self.udp_client()
        tid = h.new_tid()
        success = h.build_message(h.BINDING_SUCCESS, tid, [
            (h.XOR_MAPPED_ADDRESS, h.encode_xor_address("127.0.0.1", 1234, tid))])
        err = h.build_message(h.BINDING_ERROR, h.new_tid(), [
            (h.ERROR_CODE, struct.pack("!HBB", 0, 4, 0) + b"Bad Request")], fingerprint=True)
        s.sendto(success, self.udp_addr())
        s.sendto(err, self.udp_addr())
        self.assert_only_followup_answered(s, self.udp_addr())

    def test_malformed_datagrams_dropped_and_server_keeps_serving(self):
        s = self.udp_client()
        for name, data in malformed_datagrams().items():
            s.sendto(data, self.udp_addr())
        s.sendto(b"", self.udp_addr())  # empty datagram
        s.sendto(b"\x00", self.udp_addr())
        self.assert_only_followup_answered(s, self.udp_addr())

    def test_classic_rfc3489_request(self):
        s = self.udp_client()
        tid16 = h.new_tid(classic=True)
        resp, src = h.udp_transact(s, self.udp_addr(), h.build_message(h.BINDING_REQUEST, tid16))
        self.assertEqual(src, self.udp_addr())
        self.assertEqual(resp.type, h.BINDING_SUCCESS)
        self.assertEqual(resp.tid16, tid16, "16-byte RFC 3489 transaction id not echoed")
        self.assertEqual(resp.count(h.MAPPED_ADDRESS), 1, resp)
        self.assertEqual(resp.address(h.MAPPED_ADDRESS), h.sock_addr(s))
        # Without rfc5780 configured there is no alternate address to advertise.
        self.assertIsNone(resp.get(h.CHANGED_ADDRESS), resp)
        self.assertIsNone(resp.get(h.SOURCE_ADDRESS), resp)

    def test_many_clients_multi_worker(self):
        """200 requests from 20 sockets (10 rounds), all answered with the right mapping."""
        socks = [self.udp_client() for _ in range(20)]
        pool = h.SelectorPool(socks)
        self.addCleanup(pool.close)
        dest = self.udp_addr()
        answered = 0
        for _ in range(10):
            expect = {}
            for s in socks:
                tid = h.new_tid()
                expect[tid] = s
                s.sendto(h.binding_request(tid, fingerprint=True), dest)
            got = pool.collect(len(socks))
            self.assertEqual(len(got), len(socks), "some requests were not answered")
            for sock, data, src in got:
                msg = h.parse_message(data)
                self.assertIn(msg.tid, expect)
                self.assertIs(sock, expect.pop(msg.tid), "response delivered to the wrong socket")
                self.assertEqual(src, dest)
                h.check_binding_success(self, msg, msg.tid, h.sock_addr(sock), fingerprint=True)
                answered += 1
        self.assertEqual(answered, 200)

    # -- IPv6 -----------------------------------------------------------------------------

    @unittest.skipUnless(V6, "::1 cannot be bound on this host")
    def test_ipv6_binding(self):
        s = self.udp_client("::1")
        dest = self.udp_addr(socket.AF_INET6)
        resp = self.udp_binding_ok(s, dest)
        self.assertEqual(resp.xor_mapped(), ("::1", h.sock_addr(s)[1]))
        self.udp_binding_ok(s, dest, fingerprint=True)

    @unittest.skipUnless(V6, "::1 cannot be bound on this host")
    def test_ipv6_unknown_required_attribute(self):
        s = self.udp_client("::1")
        tid = h.new_tid()
        resp, _ = h.udp_transact(s, self.udp_addr(socket.AF_INET6),
                                 h.binding_request(tid, [(0x0031, b"zz")]))
        h.check_error(self, resp, tid, 420)
        self.assertEqual(resp.unknown_attributes(), [0x0031])


# ============================================================================================


class StreamBinding(ServerCase):
    """TCP and TLS framing, garbage, timeouts."""

    @classmethod
    def make_config(cls, tls_files):
        return h.base_config(listen=full_listen(V6), tls_files=tls_files, workers=2)

    def stream_binding_ok(self, sock, *, fingerprint=False, attrs=()):
        tid = h.new_tid()
        resp = h.stream_transact(sock, h.binding_request(tid, attrs, fingerprint))
        h.check_binding_success(self, resp, tid, h.sock_addr(sock), fingerprint=fingerprint)
        return resp

    def pipelined(self, sock, n=3):
        tids = [h.new_tid() for _ in range(n)]
        sock.sendall(b"".join(h.binding_request(t, fingerprint=bool(i % 2))
                              for i, t in enumerate(tids)))
        for i, tid in enumerate(tids):
            msg = h.parse_message(h.read_stun_frame(sock))
            h.check_binding_success(self, msg, tid, h.sock_addr(sock), fingerprint=bool(i % 2))

    def byte_by_byte(self, sock):
        tid = h.new_tid()
        for b in h.binding_request(tid, [(h.SOFTWARE, b"slow client")], fingerprint=True):
            sock.sendall(bytes([b]))
            time.sleep(0.002)
        msg = h.parse_message(h.read_stun_frame(sock))
        h.check_binding_success(self, msg, tid, h.sock_addr(sock), fingerprint=True)

    def straddling(self, sock):
        t1, t2 = h.new_tid(), h.new_tid()
        data = h.binding_request(t1) + h.binding_request(t2, fingerprint=True)
        cut = 20 + 7  # the second message starts at 20; cut inside its header
        sock.sendall(data[:cut])
        time.sleep(0.05)
        sock.sendall(data[cut:])
        h.check_binding_success(self, h.parse_message(h.read_stun_frame(sock)), t1,
                                h.sock_addr(sock))
        h.check_binding_success(self, h.parse_message(h.read_stun_frame(sock)), t2,
                                h.sock_addr(sock), fingerprint=True)

    def assert_closed_without_reply(self, sock, within=h.SOCKET_TIMEOUT):
        closed, got, elapsed = h.wait_for_close(sock, within)
        self.assertTrue(closed, f"connection still open after {elapsed:.1f}s")
        self.assertEqual(got, b"", "server sent data before closing")

    # -- TCP ------------------------------------------------------------------------------

    def test_tcp_binding(self):
        s = self.tcp_client()
        self.stream_binding_ok(s)
        self.stream_binding_ok(s, fingerprint=True)
        self.stream_binding_ok(s, attrs=[(0xC001, b"ignored")])

    def test_tcp_pipelined_requests_in_one_segment(self):
        self.pipelined(self.tcp_client(), 5)

    def test_tcp_request_split_byte_by_byte(self):
        self.byte_by_byte(self.tcp_client())

    def test_tcp_requests_straddling_segments(self):
        self.straddling(self.tcp_client())

    def test_tcp_unknown_required_attribute_gives_420(self):
        s = self.tcp_client()
        tid = h.new_tid()
        resp = h.stream_transact(s, h.binding_request(tid, [(0x0031, b"abcd")]))
        h.check_error(self, resp, tid, 420)
        self.assertEqual(resp.unknown_attributes(), [0x0031])
        self.stream_binding_ok(s)  # connection still usable

    def test_tcp_indication_gets_no_answer(self):
        s = self.tcp_client()
        s.sendall(h.build_message(h.BINDING_INDICATION, h.new_tid()))
        # The next frame on the stream must be the answer to this request.
        self.stream_binding_ok(s)

    def test_tcp_garbage_closes_connection(self):
        for garbage in (b"\xff" * 20, b"\x80" + b"\x00" * 19, b"\xc0\x01" * 10):
            with self.subTest(first_byte=hex(garbage[0])):
                s = self.tcp_client()
                s.sendall(garbage)
                self.assert_closed_without_reply(s)

    def test_tcp_garbage_after_valid_request_closes(self):
        s = self.tcp_client()
        self.stream_binding_ok(s)
        s.sendall(b"\xff" * 20)
        self.assert_closed_without_reply(s)

    def test_tcp_many_connections(self):
        conns = [self.tcp_client() for _ in range(20)]
        for c in conns:
            self.pipelined(c, 3)
        for c in conns:
            self.stream_binding_ok(c)

    def test_tcp_idle_connections_closed(self):
        # Three idle connections opened together: one served a request, one never sent a byte,
        # one stopped in the middle of a request header. All closed after idle_timeout (2s).
        served, silent, partial = self.tcp_client(), self.tcp_client(), self.tcp_client()
        self.stream_binding_ok(served)
        partial.sendall(h.binding_request(h.new_tid())[:10])
        start = time.monotonic()
        for name, s in (("served", served), ("silent", silent), ("partial", partial)):
            remaining = 5.0 - (time.monotonic() - start)
            closed, got, _ = h.wait_for_close(s, max(remaining, 0.1))
            elapsed = time.monotonic() - start
            self.assertTrue(closed, f"idle TCP connection ({name}) not closed within 5 s "
                                    "(idle_timeout 2s)")
            self.assertEqual(got, b"", name)
            self.assertGreaterEqual(elapsed, 1.0, f"{name} closed too early ({elapsed:.2f}s)")

    def test_tcp_active_connection_not_closed(self):
        s = self.tcp_client()
        start = time.monotonic()
        while time.monotonic() - start < 3.0:  # longer than idle_timeout (2s)
            self.stream_binding_ok(s)
            time.sleep(0.5)
        self.stream_binding_ok(s)

    @unittest.skipUnless(V6, "::1 cannot be bound on this host")
    def test_tcp_ipv6(self):
        s = self.tcp_client(family=socket.AF_INET6)
        resp = self.stream_binding_ok(s, fingerprint=True)
        self.assertEqual(resp.xor_mapped()[0], "::1")
        self.pipelined(s, 3)

    # -- TLS ------------------------------------------------------------------------------

    def test_tls_binding(self):
        s = self.tcp_client("tls")
        peer = s.getpeercert()
        self.assertIn(("IP Address", "127.0.0.1"), peer.get("subjectAltName", ()))
        self.stream_binding_ok(s)
        self.stream_binding_ok(s, fingerprint=True)

    def test_tls_pipelined_requests(self):
        self.pipelined(self.tcp_client("tls"), 4)

    def test_tls_request_split_byte_by_byte(self):
        self.byte_by_byte(self.tcp_client("tls"))

    def test_tls_requests_straddling_records(self):
        self.straddling(self.tcp_client("tls"))

    def test_tls_unknown_required_attribute_gives_420(self):
        s = self.tcp_client("tls")
        tid = h.new_tid()
        resp = h.stream_transact(s, h.binding_request(tid, [(0x0031, b"abcd")]))
        h.check_error(self, resp, tid, 420)
        self.assertEqual(resp.unknown_attributes(), [0x0031])

    def test_tls_garbage_closes_connection(self):
        s = self.tcp_client("tls")
        s.sendall(b"\xff" * 20)
        self.assert_closed_without_reply(s)

    def test_tls_handshake_never_completed_is_closed(self):
        s = h.tcp_connect(self.server.addr("tls"))
        self.addCleanup(s.close)
        closed, got, elapsed = h.wait_for_close(s, 5.0)
        self.assertTrue(closed, "silent pre-handshake TLS connection not closed within 5 s "
                                "(tls_handshake_timeout 2s)")
        self.assertEqual(got, b"")
        self.assertGreaterEqual(elapsed, 1.0, f"closed too early ({elapsed:.2f}s)")

    def test_tls_plaintext_stun_is_rejected(self):
        # A plain STUN request is not a TLS ClientHello: the server must not answer it in clear.
        s = h.tcp_connect(self.server.addr("tls"))
        self.addCleanup(s.close)
        s.sendall(h.binding_request(h.new_tid()))
        closed, got, _ = h.wait_for_close(s, 5.0)
        self.assertTrue(closed, "TLS port kept a plaintext-STUN connection open")
        self.assertFalse(got[:2] in (b"\x01\x01", b"\x01\x11"),
                         f"TLS port answered STUN in clear: {got[:40].hex()}")

    def test_tls_idle_connection_closed(self):
        s = self.tcp_client("tls")
        self.stream_binding_ok(s)
        closed, got, elapsed = h.wait_for_close(s, 5.0)
        self.assertTrue(closed, "idle TLS connection not closed within 5 s (idle_timeout 2s)")
        self.assertEqual(got, b"")
        self.assertGreaterEqual(elapsed, 1.0)


# ============================================================================================


class EmptySoftware(ServerCase):
    @classmethod
    def make_config(cls, tls_files):
        return h.base_config(software="", listen=[h.listener("udp", "127.0.0.1"),
                                                  h.listener("tcp", "127.0.0.1")])

    def test_udp_success_has_no_software(self):
        self.udp_binding_ok(self.udp_client(), self.udp_addr(), software=None)
        self.udp_binding_ok(self.udp_client(), self.udp_addr(), software=None, fingerprint=True)

    def test_tcp_success_has_no_software(self):
        s = self.tcp_client()
        tid = h.new_tid()
        resp = h.stream_transact(s, h.binding_request(tid))
        h.check_binding_success(self, resp, tid, h.sock_addr(s), software=None)

    def test_error_response_has_no_software(self):
        s = self.udp_client()
        tid = h.new_tid()
        resp, _ = h.udp_transact(s, self.udp_addr(), h.binding_request(tid, [(0x0031, b"")]))
        h.check_error(self, resp, tid, 420)
        self.assertIsNone(resp.get(h.SOFTWARE))


# ============================================================================================


class FinalStats(unittest.TestCase):
    """malformed_dropped / binding_requests counters, summed over workers, logged at exit."""

    def test_counters(self):
        cfg = h.base_config(workers=2, listen=[h.listener("udp", "127.0.0.1")])
        srv = h.ServerProcess(cfg)
        self.addCleanup(srv.cleanup)
        srv.start()
        dest = srv.addr("udp")
        malformed = malformed_datagrams()
        clients = [h.udp_socket() for _ in range(4)]
        for c in clients:
            self.addCleanup(c.close)
        # Spread malformed datagrams over several source ports (so over both workers).
        for i, data in enumerate(malformed.values()):
            clients[i % len(clients)].sendto(data, dest)
        valid = 0
        for c in clients[:3]:
            tid = h.new_tid()
            resp, _ = h.udp_transact(c, dest, h.binding_request(tid))
            h.check_binding_success(self, resp, tid, h.sock_addr(c))
            valid += 1
        time.sleep(0.2)
        rc = srv.stop()
        self.assertEqual(rc, 0, srv.stderr_text())
        stats = srv.final_stats()
        self.assertEqual(int(stats.get("malformed_dropped", -1)), len(malformed), stats)
        self.assertEqual(int(stats.get("binding_requests", -1)), valid, stats)


# ============================================================================================


class ConnectionLimits(ServerCase):
    @classmethod
    def make_config(cls, tls_files):
        return h.base_config(
            listen=[h.listener("tcp", "127.0.0.1")], workers=2,
            limits={"max_connections": 4096, "max_connections_per_ip": 3,
                    "idle_timeout": "30s", "tls_handshake_timeout": "2s"})

    def binding(self, s):
        tid = h.new_tid()
        h.check_binding_success(self, h.stream_transact(s, h.binding_request(tid)), tid,
                                h.sock_addr(s))

    def served_connection(self, bind_host=None):
        """A connection that got an answer; retries for up to 2 s because connections closed
        by a previous test may not have been released by the server yet."""
        deadline = time.monotonic() + 2.0
        while True:
            s = self.tcp_client(bind_host=bind_host)
            try:
                self.binding(s)
                return s
            except (ConnectionError, OSError, h.StunError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def test_per_ip_limit(self):
        first = [self.served_connection() for _ in range(3)]
        for i in range(3):
            extra = self.tcp_client()
            try:
                extra.sendall(h.binding_request(h.new_tid()))
            except OSError:
                pass  # already reset: fine
            closed, got, _ = h.wait_for_close(extra, h.SOCKET_TIMEOUT)
            self.assertTrue(closed, f"connection #{4 + i} from 127.0.0.1 was not closed")
            self.assertEqual(got, b"", f"connection #{4 + i} over the limit was answered")
        for s in first:
            self.binding(s)
        # Free a slot: a new connection must be served again (allow the close to propagate).
        first.pop().close()
        self.served_connection()

    def test_limit_is_per_source_ip(self):
        if not h.can_bind(socket.AF_INET, "127.0.0.2"):
            self.skipTest("cannot bind 127.0.0.2")
        held = [self.served_connection() for _ in range(3)]
        self.assertEqual(len(held), 3)
        other = self.tcp_client(bind_host="127.0.0.2")
        tid = h.new_tid()
        resp = h.stream_transact(other, h.binding_request(tid))
        h.check_binding_success(self, resp, tid, h.sock_addr(other))
        self.assertEqual(resp.xor_mapped()[0], "127.0.0.2")


class GlobalConnectionLimit(ServerCase):
    @classmethod
    def make_config(cls, tls_files):
        return h.base_config(
            listen=[h.listener("tcp", "127.0.0.1")], workers=2,
            limits={"max_connections": 2, "max_connections_per_ip": 64,
                    "idle_timeout": "30s", "tls_handshake_timeout": "2s"})

    def test_max_connections(self):
        held = []
        for _ in range(2):
            s = self.tcp_client()
            tid = h.new_tid()
            h.check_binding_success(self, h.stream_transact(s, h.binding_request(tid)), tid,
                                    h.sock_addr(s))
            held.append(s)
        bind = "127.0.0.2" if h.can_bind(socket.AF_INET, "127.0.0.2") else None
        extra = self.tcp_client(bind_host=bind)  # another IP: only the global limit applies
        try:
            extra.sendall(h.binding_request(h.new_tid()))
        except OSError:
            pass
        closed, got, _ = h.wait_for_close(extra, h.SOCKET_TIMEOUT)
        self.assertTrue(closed, "third connection accepted although max_connections is 2")
        self.assertEqual(got, b"")
        for s in held:
            tid = h.new_tid()
            h.check_binding_success(self, h.stream_transact(s, h.binding_request(tid)), tid,
                                    h.sock_addr(s))


if __name__ == "__main__":
    unittest.main()
