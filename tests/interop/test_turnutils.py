# SPDX-License-Identifier: Apache-2.0
"""Interop: coturn's ``turnutils_uclient`` against traverse, with ``turnutils_peer`` (a UDP echo
peer listening on PORT and PORT+1) on 127.0.0.1.

uclient allocates with the long-term user alice (first a "probe" allocation, then the real
ones), installs permissions or binds channels for the peer, sends ``-n`` messages of ``-l``
bytes per session through the relay and counts the echoes that come back. Every run must be
complete: exit 0, 0 lost, sent == received == messages x clients x sessions. Runs:

* Send/Data indications (``-s``) over UDP and TCP (``-t``), two clients (``-m 2``), no RTCP
  session (``-c``).
* ``-s`` without ``-c``: each client opens an RTP and an RTCP session; the probe allocation
  asks for EVEN-PORT with the R bit, and the next allocation (from another client socket) uses
  the RESERVATION-TOKEN from that answer.
* Channels over UDP and TCP. turnutils_uclient 4.6 draws ChannelBind numbers uniformly from
  0x4000-0x7FFF (the RFC 5766 range; coturn's stun_set_channel_bind_request_str), while RFC 8656
  section 12 allows only 0x4000-0x4FFF and traverse answers 400 above that, so about 15 runs in
  16 stop at "channel bind: error 400". The channel runs therefore go through
  ChannelRemapProxy, which maps the numbers into 0x4000-0x4FFF (re-signing the ChannelBind
  request with alice's key) and rewrites the ChannelData headers both ways. One direct run
  (``udp_channels_direct``) documents the unproxied behaviour: it either completes or stops at
  exactly that 400, with every channel the server accepted within 0x4000-0x4FFF.

No extra flags (-X, -y, -D) are needed. The runs start concurrently in setUpClass (each takes
about 3-5 s, mostly uclient's own sleeps); each test waits for its own run, bounded.
"""

import os
import re
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness as h  # noqa: E402

UCLIENT = shutil.which("turnutils_uclient")
PEER = shutil.which("turnutils_peer")
RUN_TIMEOUT = 30.0
MSG_LEN = 121  # odd: DATA attributes and ChannelData over TCP need padding

RUNS = {
    # name: (extra args, messages per session, clients, sessions per client, via the proxy)
    "udp_send": (["-s", "-c"], 20, 2, 1, False),
    "tcp_send": (["-t", "-s", "-c"], 20, 2, 1, False),
    "udp_send_rtcp_even_port": (["-s", "-v"], 10, 1, 2, False),
    "udp_channels": (["-c", "-v"], 20, 2, 1, True),
    "tcp_channels": (["-t", "-c", "-v"], 20, 2, 1, True),
    "udp_channels_direct": (["-c", "-v"], 5, 1, 1, False),
}


def free_udp_port_pair() -> int:
    """A port P with P and P+1 both free on 127.0.0.1 (turnutils_peer binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port >= 65535:
                continue
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                    b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free UDP port pair")


def wait_for_echo(port: int, deadline_s: float = 5.0) -> None:
    s = h.udp_socket()
    try:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            s.sendto(b"ping", ("127.0.0.1", port))
            if h.udp_expect_silence(s, 0.2) == b"ping":
                return
        raise AssertionError(f"turnutils_peer on port {port} does not echo")
    finally:
        s.close()


# --------------------------------------------------------------------------------------------
# Channel number remapping proxy


def remap_channel(channel: int) -> int:
    """0x4000-0x7FFF (what uclient draws) onto 0x4000-0x4FFF (what RFC 8656 allows)."""
    return 0x4000 | (channel & 0x0FFF)


class ChannelRemapProxy:
    """Sits between turnutils_uclient and traverse and moves uclient's ChannelBind numbers into
    the RFC 8656 range: CHANNEL-NUMBER in ChannelBind requests (MESSAGE-INTEGRITY and
    FINGERPRINT recomputed with alice's key) and the channel field of ChannelData, mapped back
    on the way to the client. Everything else passes unchanged. UDP: one upstream socket per
    client socket, so the server still sees one 5-tuple per uclient socket. TCP: one upstream
    connection per client connection, frames delimited by the STUN / ChannelData length
    (uclient pads ChannelData to 4 over TCP)."""

    def __init__(self, transport: str, upstream: tuple[str, int], key: bytes):
        self.transport = transport
        self.upstream = upstream
        self.key = key
        self.remapped: list[tuple[int, int]] = []  # (uclient's number, number sent upstream)
        self.channel_data_frames = 0
        self.sel = selectors.DefaultSelector()
        self.stop = False
        if transport == "udp":
            self.front = h.udp_socket()
            self.front.setblocking(False)
            self.sel.register(self.front, selectors.EVENT_READ, ("front", None))
            self.back: dict = {}  # client addr -> upstream socket
        else:
            self.front = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.front.bind(("127.0.0.1", 0))
            self.front.listen(16)
            self.front.setblocking(False)
            self.sel.register(self.front, selectors.EVENT_READ, ("accept", None))
        self.addr = h.sock_addr(self.front)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    # -- rewriting ---------------------------------------------------------------------------

    def to_server(self, frame: bytes, reverse: dict) -> bytes:
        if frame[0] & 0xC0 == 0x40:
            channel = struct.unpack_from("!H", frame, 0)[0]
            mapped = remap_channel(channel)
            reverse[mapped] = channel
            self.channel_data_frames += 1
            return struct.pack("!H", mapped) + frame[2:]
        msg = h.parse_message(frame)
        if msg.type != 0x0009 or msg.get(0x000C) is None:  # ChannelBind request
            return frame
        channel = struct.unpack("!H", msg.get(0x000C)[:2])[0]
        mapped = remap_channel(channel)
        reverse[mapped] = channel
        self.remapped.append((channel, mapped))
        chunks = []
        for a in msg.attrs:
            if a.type in (h.MESSAGE_INTEGRITY, h.FINGERPRINT):
                break
            value = struct.pack("!HH", mapped, 0) if a.type == 0x000C else a.value
            chunks.append(h.encode_attr(a.type, value))
        return h.build_message(msg.type, msg.tid, chunks,
                               integrity_key=self.key if msg.get(h.MESSAGE_INTEGRITY) else None,
                               fingerprint=msg.get(h.FINGERPRINT) is not None)

    @staticmethod
    def to_client(frame: bytes, reverse: dict) -> bytes:
        if frame[0] & 0xC0 == 0x40:
            channel = struct.unpack_from("!H", frame, 0)[0]
            return struct.pack("!H", reverse.get(channel, channel)) + frame[2:]
        return frame

    @staticmethod
    def split_frames(buf: bytearray) -> list[bytes]:
        out = []
        while len(buf) >= 4:
            (length,) = struct.unpack_from("!H", buf, 2)
            total = 4 + length + h.pad4(length) if buf[0] & 0xC0 == 0x40 else 20 + length
            if len(buf) < total:
                break
            out.append(bytes(buf[:total]))
            del buf[:total]
        return out

    # -- loop ----------------------------------------------------------------------------------

    def run(self) -> None:
        while not self.stop:
            for key, _ in self.sel.select(0.05):
                kind, state = key.data
                try:
                    getattr(self, "on_" + kind)(key.fileobj, state)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    self.drop(key.fileobj, state)

    def on_front(self, sock, _):
        data, src = sock.recvfrom(65535)
        back = self.back.get(src)
        if back is None:
            back = h.udp_socket()
            back.setblocking(False)
            state = {"client": src, "reverse": {}}
            self.back[src] = back
            self.sel.register(back, selectors.EVENT_READ, ("back", state))
        state = self.sel.get_key(back).data[1]
        back.sendto(self.to_server(data, state["reverse"]), self.upstream)

    def on_back(self, sock, state):
        data, _ = sock.recvfrom(65535)
        self.front.sendto(self.to_client(data, state["reverse"]), state["client"])

    def on_accept(self, sock, _):
        client, _ = sock.accept()
        server = socket.create_connection(self.upstream, timeout=h.SOCKET_TIMEOUT)
        for s in (client, server):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state = {"client": client, "server": server, "reverse": {},
                 "from_client": bytearray(), "from_server": bytearray()}
        self.sel.register(client, selectors.EVENT_READ, ("client", state))
        self.sel.register(server, selectors.EVENT_READ, ("server", state))

    def on_client(self, sock, state):
        data = sock.recv(65535)
        if not data:
            return self.drop(sock, state)
        state["from_client"] += data
        out = b"".join(self.to_server(f, state["reverse"])
                       for f in self.split_frames(state["from_client"]))
        state["server"].setblocking(True)
        state["server"].sendall(out)
        state["server"].setblocking(False)

    def on_server(self, sock, state):
        data = sock.recv(65535)
        if not data:
            return self.drop(sock, state)
        state["from_server"] += data
        out = b"".join(self.to_client(f, state["reverse"])
                       for f in self.split_frames(state["from_server"]))
        state["client"].setblocking(True)
        state["client"].sendall(out)
        state["client"].setblocking(False)

    def drop(self, sock, state):
        socks = [state["client"], state["server"]] if isinstance(state, dict) and \
            "server" in state else [sock]
        for s in socks:
            try:
                self.sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()

    def close(self) -> None:
        self.stop = True
        self.thread.join(timeout=2)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()


# --------------------------------------------------------------------------------------------


def summary(output: str) -> dict:
    """Totals from uclient's final lines."""
    out = {}
    m = re.findall(r"start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*$", output, re.M)
    if m:
        out["sent"], out["received"] = int(m[-1][0]), int(m[-1][1])
    m = re.search(r"Total lost packets (\d+) \(", output)
    if m:
        out["lost"] = int(m.group(1))
    m = re.search(r"total send dropped (\d+) \(", output)
    if m:
        out["send_dropped"] = int(m.group(1))
    m = re.search(r"Total transmit time is (\d+)", output)
    if m:
        out["transmit_time"] = int(m.group(1))
    return out


@unittest.skipUnless(UCLIENT and PEER, "coturn's turnutils_uclient / turnutils_peer not installed")
class TurnutilsUclient(unittest.TestCase):
    procs: dict

    @classmethod
    def setUpClass(cls):
        cls.procs = {}
        cls.results = {}
        cls.proxies = {}
        cls.peer = None
        cls.server = h.ServerProcess(h.turn_config(
            listen=[h.listener("udp", "127.0.0.1"), h.listener("tcp", "127.0.0.1")]))
        try:
            cls.server.start()
            cls.peer_port = free_udp_port_pair()
            cls.peer = subprocess.Popen([PEER, "-L", "127.0.0.1", "-p", str(cls.peer_port)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
            wait_for_echo(cls.peer_port)
            udp, tcp = cls.server.addr("udp"), cls.server.addr("tcp")
            key = h.md5_key("alice", h.TEST_REALM, "wonderland")
            for name, (extra, n, m, _, via_proxy) in RUNS.items():
                transport = "tcp" if "-t" in extra else "udp"
                target = tcp if transport == "tcp" else udp
                if via_proxy:
                    cls.proxies[name] = ChannelRemapProxy(transport, target, key)
                    target = cls.proxies[name].addr
                port = target[1]
                args = [UCLIENT, *extra, "-n", str(n), "-m", str(m), "-l", str(MSG_LEN),
                        "-z", "5", "-u", "alice", "-w", "wonderland",
                        "-e", "127.0.0.1", "-r", str(cls.peer_port), "-p", str(port),
                        "127.0.0.1"]
                cls.procs[name] = (args, subprocess.Popen(
                    args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, text=True))
        except BaseException:
            cls._cleanup()
            raise

    @classmethod
    def _cleanup(cls):
        for _, proc in cls.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
        for proxy in cls.proxies.values():
            proxy.close()
        if cls.peer is not None and cls.peer.poll() is None:
            cls.peer.terminate()
            try:
                cls.peer.wait(timeout=5)
            except subprocess.TimeoutExpired:
                cls.peer.kill()
                cls.peer.wait(timeout=5)
        rc = cls.server.stop()
        cls.server.cleanup()
        return rc

    @classmethod
    def tearDownClass(cls):
        rc = cls._cleanup()
        if rc != 0:
            raise AssertionError(f"server exit status {rc}\n{cls.server.stderr_text()[-3000:]}")

    def finish(self, name: str) -> tuple[int, str]:
        """Wait for run ``name`` (bounded); its exit status and output."""
        if name in self.results:
            return self.results[name]
        args, proc = self.procs[name]
        try:
            out, _ = proc.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate(timeout=5)
            self.fail(f"{' '.join(args)} did not finish within {RUN_TIMEOUT}s:\n{out[-3000:]}")
        self.results[name] = (proc.returncode, out)
        return self.results[name]

    def assert_complete(self, name: str, out: str) -> None:
        _, n, m, sessions, _ = RUNS[name]
        s = summary(out)
        expected = n * m * sessions
        self.assertEqual(s.get("lost"), 0, f"{name}: {s}\n{out[-3000:]}")
        self.assertEqual(s.get("send_dropped"), 0, f"{name}: {s}")
        self.assertEqual((s.get("sent"), s.get("received")), (expected, expected),
                         f"{name}: {s}\n{out[-3000:]}")
        self.assertIn("transmit_time", s)

    def check_send_run(self, name: str) -> None:
        rc, out = self.finish(name)
        self.assertEqual(rc, 0, f"{name} exit {rc}:\n{out[-3000:]}")
        self.assertNotIn("error", out.lower().replace("errors", ""), out[-3000:])
        self.assert_complete(name, out)

    def check_direct_channel_run(self, name: str) -> None:
        """uclient's own channel numbers (0x4000-0x7FFF): a complete run, or the 400 for the
        first number above 0x4FFF after every earlier bind (all <= 0x4FFF) succeeded."""
        rc, out = self.finish(name)
        bound = [int(x, 16) for x in re.findall(r"^\d+: : success: 0x([0-9a-f]+)\s*$", out, re.M)]
        self.assertTrue(all(0x4000 <= c <= 0x4FFF for c in bound),
                        f"{name}: server accepted channel numbers {list(map(hex, bound))}")
        if "channel bind: error" in out:
            self.assertRegex(out, r"channel bind: error 400 ", out[-3000:])
            self.assertNotEqual(rc, 0)
            self.assertEqual(out.count("error"), 1, out[-3000:])
            return
        self.assertEqual(rc, 0, f"{name} exit {rc}:\n{out[-3000:]}")
        self.assertGreaterEqual(len(bound), 2, out[-3000:])
        self.assert_complete(name, out)

    def check_proxied_channel_run(self, name: str) -> None:
        rc, out = self.finish(name)
        self.assertEqual(rc, 0, f"{name} exit {rc}:\n{out[-3000:]}")
        self.assertNotIn("error", out, out[-3000:])
        self.assert_complete(name, out)
        _, n, m, sessions, _ = RUNS[name]
        proxy = self.proxies[name]
        # uclient binds two channels per client (one for PORT+1, one for PORT), each twice.
        bound = [int(x, 16) for x in re.findall(r"^\d+: : success: 0x([0-9a-f]+)\s*$", out, re.M)]
        # (uclient also re-binds during the run without printing it, so compare sets.)
        self.assertEqual(len(bound), 4 * m, out[-3000:])
        self.assertEqual(len(set(bound)), 2 * m, out[-3000:])
        self.assertEqual({orig for orig, _ in proxy.remapped}, set(bound))
        self.assertTrue(all(0x4000 <= mapped <= 0x4FFF for _, mapped in proxy.remapped))
        # Every message went out as ChannelData (none as Send indications).
        self.assertEqual(proxy.channel_data_frames, n * m * sessions)

    def test_udp_send_indications(self):
        self.check_send_run("udp_send")

    def test_tcp_send_indications(self):
        self.check_send_run("tcp_send")

    def test_udp_rtp_rtcp_even_port_reservation(self):
        self.check_send_run("udp_send_rtcp_even_port")
        _, out = self.finish("udp_send_rtcp_even_port")
        # Allocations in order: probe (EVEN-PORT R=1 -> token), RTP (with that token), RTCP
        # (EVEN-PORT R=1 again).
        relays = [int(p) for p in re.findall(r"Received relay addr: 127\.0\.0\.1:(\d+)", out)]
        tokens = [int(v) for v in re.findall(r"clnet_allocate: rtv=(\d+)", out)]
        self.assertEqual(len(relays), 3, out[-3000:])
        self.assertEqual(len(tokens), 3, out[-3000:])
        self.assertEqual(relays[0] % 2, 0, relays)
        self.assertNotEqual(tokens[0], 0, "no RESERVATION-TOKEN for EVEN-PORT R=1")
        self.assertEqual(relays[1], relays[0] + 1, "token did not give the reserved port")
        self.assertEqual(tokens[1], 0)
        self.assertEqual(relays[2] % 2, 0, relays)
        self.assertNotEqual(tokens[2], 0)

    def test_udp_channels(self):
        self.check_proxied_channel_run("udp_channels")

    def test_tcp_channels(self):
        self.check_proxied_channel_run("tcp_channels")

    def test_udp_channels_uclient_numbers(self):
        self.check_direct_channel_run("udp_channels_direct")


if __name__ == "__main__":
    unittest.main()
