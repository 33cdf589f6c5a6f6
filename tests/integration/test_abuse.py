# SPDX-License-Identifier: Apache-2.0
"""Abuse and fault tests on loopback, each bounded to seconds: a flood of unauthenticated
Allocates from many source ports (answers rate-limited and smaller in total than the flood,
memory and descriptors flat, a valid client served throughout), every spelling of a denied peer
refused on every relay path (CreatePermission, ChannelBind, Send), silent, half-sent and slow
TCP/TLS connections and clients that vanish mid-allocation cleaned up with the server's
descriptors back to baseline, a slow WebSocket reader cut off by traverse-signal, and the file
descriptor limit checked at start. Black-box: drives $TRAVERSE_BIN and $TRAVERSE_SIGNAL_BIN and
reads /proc/PID for descriptors and memory.
"""

import json
import os
import resource
import select
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import harness as h
import turn_client as t
from turn_client import TurnServerCase

V6 = h.ipv6_available()


# --------------------------------------------------------------------------------------------
# /proc helpers


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/PID/status")


def sanitized(pid: int) -> bool:
    """True when the process runs under ASan/TSan: their allocators hold freed memory back
    (quarantine), so RSS says nothing about leaks there; descriptors still do."""
    with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as f:
        maps = f.read()
    return any(lib in maps for lib in ("libasan", "libtsan", "libubsan"))


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def settle_fds(pid: int, baseline: int, timeout: float) -> int:
    """Waits until the server holds at most `baseline` descriptors; returns the last count."""
    last = fd_count(pid)
    deadline = time.monotonic() + timeout
    while last > baseline and time.monotonic() < deadline:
        time.sleep(0.05)
        last = fd_count(pid)
    return last


# --------------------------------------------------------------------------------------------


class UnauthenticatedFlood(TurnServerCase):
    """Allocates without credentials from 200 source ports for three seconds."""

    RATE = 10  # quotas.challenges_per_second
    WORKERS = 2
    SOURCES = 200
    SECONDS = 3.0

    @classmethod
    def make_config(cls, tls_files):
        return h.turn_config(workers=cls.WORKERS, peers_allow=["127.0.0.1/32"],
                             quotas={"challenges_per_second": cls.RATE})

    def test_flood_is_rate_limited_small_and_stateless_and_valid_clients_are_served(self):
        pid = self.server.proc.pid
        server = self.server.addr("udp")
        # A valid client learns its nonce before the flood; a peer to relay to.
        valid = self.client()
        valid.allocate_ok()
        valid.refresh_ok(0)
        peer = self.peer()
        # Warm-up round so that lazily created buffers exist before the baseline.
        socks = []
        for _ in range(self.SOURCES):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            self.addCleanup(s.close)
            socks.append(s)
        request = h.build_message(t.msg_type(t.ALLOCATE, t.REQUEST), None,
                                  [t.requested_transport_attr()])
        for s in socks:
            s.sendto(request, server)
        time.sleep(1.1)  # the next second: a fresh rate-limit window
        self.drain(socks)
        fds_before, rss_before = fd_count(pid), rss_kib(pid)

        sent = sent_bytes = 0
        answers: list[bytes] = []
        tids: dict[socket.socket, set] = {s: set() for s in socks}
        served = 0
        start = time.monotonic()
        while time.monotonic() - start < self.SECONDS:
            for s in socks:
                tid = h.new_tid()
                raw = h.build_message(t.msg_type(t.ALLOCATE, t.REQUEST), tid,
                                      [t.requested_transport_attr()])
                try:
                    s.sendto(raw, server)
                except BlockingIOError:
                    continue
                tids[s].add(tid)
                sent += 1
                sent_bytes += len(raw)
            answers += self.drain(socks, tids)
            # The valid client: allocate, permit, relay both ways, free; during the flood.
            a = valid.allocate_ok()
            valid.permit(peer.addr)
            valid.send_indication(peer.addr, b"during the flood")
            self.assertEqual(peer.recv(), (b"during the flood", a.relay))
            peer.send(b"answer", a.relay)
            self.assertEqual(valid.recv_data(), ("data", peer.addr, b"answer"))
            self.assertEqual(valid.refresh_ok(0), 0)
            served += 1
        elapsed = time.monotonic() - start
        time.sleep(0.3)
        answers += self.drain(socks, tids)

        self.assertGreater(sent, 5000, "the flood was too small to mean anything")
        self.assertGreater(served, 3, "the valid client was not served during the flood")
        # Each worker answers at most RATE challenges per source IP and second.
        windows = int(elapsed) + 2
        limit = self.RATE * self.WORKERS * windows
        self.assertGreater(len(answers), 0, "no challenge at all")
        self.assertLessEqual(len(answers), limit,
                             f"{len(answers)} answers to {sent} requests in {elapsed:.1f} s")
        answer_bytes = sum(len(a) for a in answers)
        self.assertLess(answer_bytes, sent_bytes // 5,
                        f"{answer_bytes} bytes answered to {sent_bytes} bytes of requests")
        # No state per source: descriptors unchanged, memory flat.
        self.assertEqual(fd_count(pid), fds_before)
        if not sanitized(pid):
            grown = rss_kib(pid) - rss_before
            self.assertLess(grown, 2048, f"RSS grew by {grown} KiB during the flood")

    @staticmethod
    def drain(socks, tids=None) -> list[bytes]:
        got = []
        while True:
            ready, _, _ = select.select(socks, [], [], 0)
            if not ready:
                return got
            for s in ready:
                while True:
                    try:
                        data = s.recv(2048)
                    except BlockingIOError:
                        break
                    m = h.parse_message(data)
                    assert m.error_code()[0] == 401, m
                    assert m.get(h.SOFTWARE) is None, m
                    if tids is not None:
                        assert m.tid in tids[s], "answer to a transaction this source never sent"
                    got.append(data)


# --------------------------------------------------------------------------------------------


DENIED_V4 = ["0.0.0.0", "127.0.0.1", "169.254.169.254", "10.0.0.1", "192.168.0.1", "224.0.0.1"]
DENIED_V6 = ["::", "::1", "::ffff:127.0.0.1", "::127.0.0.1", "2002:7f00:1::", "2002:7f00:1::1",
             "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
             "fe80::1", "fc00::1", "ff02::1"]


@unittest.skipUnless(V6, "no IPv6 loopback")
class DeniedPeerSpellings(TurnServerCase):
    """A dual-stack allocation (relays on 127.0.0.1 and ::1) under the default peer filter
    with nothing allowed: every spelling of loopback, "this host", link-local metadata,
    private and multicast addresses is refused by CreatePermission and ChannelBind (403) and
    silently dropped by Send, and nothing reaches a real peer listening on loopback."""

    @classmethod
    def make_config(cls, tls_files):
        return h.turn_config(relay_addresses=["127.0.0.1", "::1"], peers_allow=[])

    def test_every_spelling_refused_on_every_path(self):
        c = self.client()
        resp = t.expect_success(c.allocate(additional_family=h.FAMILY_V6), t.ALLOCATE)
        self.assertEqual(resp.count(t.XOR_RELAYED_ADDRESS), 2, resp)
        # Real listeners on the addresses most spellings point at.
        victim4 = self.peer("127.0.0.1")
        victim6 = self.peer("::1")
        port = victim4.addr[1]
        for host in DENIED_V4 + DENIED_V6:
            for p in (port, victim6.addr[1]):
                peer = (host, p)
                with self.subTest(peer=peer):
                    t.expect_error(self, c.create_permission(peer), t.CREATE_PERMISSION, 403)
                    t.expect_error(self, c.channel_bind(0x4000, peer), t.CHANNEL_BIND, 403)
                    c.send_indication(peer, b"ssrf " + host.encode())
        # Nothing was relayed anywhere, and the client heard nothing back.
        self.assertIsNone(victim4.expect_nothing(0.3))
        self.assertIsNone(victim6.expect_nothing(0.1))
        self.assertIsNone(c.expect_no_data(0.1))
        # The same allocation still relays to a public peer spelling it may use: the refusals
        # above are the filter's, not a broken allocation (CreatePermission sends nothing).
        c.permit(("8.8.8.8", 53))
        c.permit(("2001:4860:4860::8888", 53))
        self.assertEqual(c.refresh_ok(0), 0)


# --------------------------------------------------------------------------------------------


class StreamCleanup(TurnServerCase):
    """TCP and TLS clients that go silent, stop mid-frame, never finish the TLS handshake, or
    vanish with an allocation: the server closes or frees all of them and its descriptors
    return to the baseline."""

    tls = True
    IDLE = 1  # limits.idle_timeout and tls_handshake_timeout, seconds

    @classmethod
    def make_config(cls, tls_files):
        listen = [h.listener(tr, "127.0.0.1") for tr in ("udp", "tcp", "tls")]
        return h.turn_config(listen=listen, tls_files=tls_files, workers=2,
                             limits={"max_connections": 4096, "max_connections_per_ip": 512,
                                     "idle_timeout": f"{cls.IDLE}s",
                                     "tls_handshake_timeout": f"{cls.IDLE}s"})

    def raw_connect(self, transport: str) -> socket.socket:
        s = socket.create_connection(self.server.addr(transport), timeout=2)
        self.addCleanup(s.close)
        return s

    def assert_back_to(self, baseline: int, timeout: float) -> None:
        pid = self.server.proc.pid
        last = settle_fds(pid, baseline, timeout)
        self.assertLessEqual(last, baseline,
                             f"server holds {last} descriptors, baseline {baseline}")

    def test_silent_half_sent_and_slow_handshake_connections_are_closed(self):
        pid = self.server.proc.pid
        baseline = fd_count(pid)
        held = []
        for _ in range(30):
            held.append(self.raw_connect("tcp"))                      # silent
        for _ in range(30):
            s = self.raw_connect("tcp")
            s.sendall(b"\x00\x03\x00\x10\x21\x12")                  # half a STUN header
            held.append(s)
        for _ in range(30):
            held.append(self.raw_connect("tls"))                      # no ClientHello
        for _ in range(10):
            s = self.raw_connect("tls")
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello's start
            held.append(s)
        # The server accepted them all (otherwise this test would observe nothing).
        self.assertTrue(wait_until(lambda: fd_count(pid) >= baseline + 90, 3),
                        f"only {fd_count(pid) - baseline} connections accepted")
        # Timeouts close every one of them while the clients still hold their ends open.
        self.assert_back_to(baseline, 3 * self.IDLE + 3)
        for s in held:
            s.settimeout(1)
            try:
                self.assertEqual(s.recv(16), b"", "connection not closed by the server")
            except ConnectionResetError:
                pass

    def test_clients_vanishing_mid_allocation_leave_nothing_behind(self):
        pid = self.server.proc.pid
        baseline = fd_count(pid)
        peer = self.peer()
        clients = []
        for transport in ("tcp", "tls") * 10:
            c = self.client(transport=transport)
            a = c.allocate_ok()
            c.permit(peer.addr)
            peer.send(b"x", a.relay)
            clients.append(c)
        # Every allocation holds a relay socket and a connection.
        self.assertGreaterEqual(fd_count(pid), baseline + 40)
        for i, c in enumerate(clients):
            if i % 2 == 0:  # vanish with RST, no TLS close_notify, no Refresh
                c.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            c.conn.sock.close()
        # UDP clients that got their 401 and never came back: no state, no descriptor.
        for _ in range(50):
            u = self.client()
            self.challenge_only(u)
            u.close()
        # Mid-request: an Allocate cut off after half its bytes.
        for _ in range(10):
            s = self.raw_connect("tcp")
            tid, raw = t.TurnClient(None, "alice", "x").build(
                t.ALLOCATE, [t.requested_transport_attr()], auth=False)
            s.sendall(raw[: len(raw) // 2])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        self.assert_back_to(baseline, 3 * self.IDLE + 3)
        # And the server still works.
        c = self.client(transport="tcp")
        c.allocate_ok()
        self.assertEqual(c.refresh_ok(0), 0)

    @staticmethod
    def challenge_only(c: t.TurnClient) -> None:
        tid, raw = c.build(t.ALLOCATE, [t.requested_transport_attr()], auth=False)
        resp = c.transact_raw(raw, tid)
        assert resp.error_code()[0] == 401, resp


# --------------------------------------------------------------------------------------------


def signal_binary_built() -> bool:
    """tools/tsan.sh builds traverse only (traverse-signal is single-threaded)."""
    path = os.environ.get("TRAVERSE_SIGNAL_BIN")
    if path:
        return os.path.exists(path)
    return os.path.exists(os.path.join(os.path.dirname(h.traverse_binary()), "traverse-signal"))


@unittest.skipUnless(signal_binary_built(), "traverse-signal not built")
class SlowWebSocketReader(unittest.TestCase):
    """A traverse-signal client that never reads while its room peer keeps sending: the server
    cuts it off once its bounded send queue fills, tells the sender the peer left, and its
    descriptors return to the baseline."""

    def test_slow_reader_is_disconnected(self):
        import websocket  # python3-websocket; imported here so the TURN tests run without it
        from test_signaling import SignalServer

        sig = SignalServer()
        try:
            pid = sig.proc.pid
            baseline = fd_count(pid)
            url = f"ws://127.0.0.1:{sig.port}/ws"
            sender = websocket.create_connection(url, timeout=5)
            reader = websocket.create_connection(
                url, timeout=5, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
            json.loads(sender.recv())
            reader_id = json.loads(reader.recv())["id"]
            sender.send(json.dumps({"type": "join", "room": "slow"}))
            self.assertEqual(json.loads(sender.recv())["type"], "joined")
            reader.send(json.dumps({"type": "join", "room": "slow"}))
            self.assertEqual(json.loads(sender.recv())["type"], "peer-joined")
            # The reader stops reading now. 60 KB candidates at 15 per second (the per-connection
            # limit is 20/s with a burst of 40) fill socket buffers and then the 1 MiB queue.
            blob = "x" * 60000
            left = False
            start = time.monotonic()
            sent = 0
            while time.monotonic() - start < 20 and not left:
                if sent < 40 or sent < 40 + 15 * (time.monotonic() - start):
                    sender.send(json.dumps({"type": "candidate", "to": reader_id,
                                            "candidate": {"c": blob}}))
                    sent += 1
                sender.settimeout(0.02)
                try:
                    m = json.loads(sender.recv())
                    if m.get("type") == "peer-left" and m.get("peer") == reader_id:
                        left = True
                    elif m.get("type") == "error":
                        self.fail(f"sender got an error: {m}")
                except websocket.WebSocketTimeoutException:
                    pass
            self.assertTrue(left, f"slow reader not disconnected after {sent} frames "
                                  f"in {time.monotonic() - start:.1f} s")
            sender.close()
            reader.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            reader.sock.close()
            last = settle_fds(pid, baseline, 5)
            self.assertLessEqual(last, baseline)
        finally:
            self.assertEqual(sig.stop(), 0)


# --------------------------------------------------------------------------------------------


class DescriptorLimit(unittest.TestCase):
    """RLIMIT_NOFILE is checked at start: far too low refuses to start with a clear message
    (exit 1), below what the limits allow starts with a warning."""

    def run_with_nofile(self, nofile: int, seconds: float):
        cfg = h.turn_config(listen=[h.listener("udp", "127.0.0.1"), h.listener("tcp", "127.0.0.1")],
                            workers=2)
        with tempfile.TemporaryDirectory(prefix="traverse-nofile-") as tmp:
            path = os.path.join(tmp, "traverse.yaml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(h.to_yaml(cfg) + "\n")

            def limit():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

            proc = subprocess.Popen([h.traverse_binary(), "--config", path],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    preexec_fn=limit)
            try:
                out, err = proc.communicate(timeout=seconds)
            except subprocess.TimeoutExpired:
                proc.terminate()
                out, err = proc.communicate(timeout=5)
            return proc.returncode, out, err

    def test_tiny_limit_refuses_to_start(self):
        rc, out, err = self.run_with_nofile(24, 5)
        self.assertEqual(rc, 1, f"stdout: {out}\nstderr: {err}")
        self.assertIn("file descriptor limit too low to start", err)
        self.assertIn("nofile=24", err)
        self.assertIn("ulimit -n", err)
        self.assertNotIn("ready", out)

    def test_small_limit_warns_and_serves(self):
        rc, out, err = self.run_with_nofile(256, 1.5)
        self.assertIn("ready", out.splitlines(), f"stderr: {err}")
        self.assertIn("file descriptor limit is below what the limits allow", err)
        self.assertIn("nofile=256", err)
        self.assertEqual(rc, 0, err)  # SIGTERM after the timeout: clean exit


if __name__ == "__main__":
    unittest.main()
