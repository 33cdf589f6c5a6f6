# SPDX-License-Identifier: Apache-2.0
"""traverse-signal end to end over real WebSockets (Debian's python3-websocket client): welcome
with TURN credentials the real traverse accepts, random matching, named rooms, relaying with a
server-set sender, errors that keep the connection up, GET /ice and /healthz, Origin checks,
disconnects, and a clean SIGTERM. Black-box: drives $TRAVERSE_SIGNAL_BIN and $TRAVERSE_BIN."""

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.request

import websocket  # python3-websocket (websocket-client)

import harness as h
from turn_client import TurnServerCase

SECRET = h.TEST_REST_SECRETS[0]


def signal_binary() -> str:
    path = os.environ.get("TRAVERSE_SIGNAL_BIN")
    if path:
        return path
    return os.path.join(os.path.dirname(h.traverse_binary()), "traverse-signal")


class SignalServer:
    """One traverse-signal process on 127.0.0.1, port 0."""

    def __init__(self, *args: str, turn_port: int = 3478):
        self.tmp = tempfile.TemporaryDirectory(prefix="traverse-signal-")
        secret_file = os.path.join(self.tmp.name, "secret")
        with open(secret_file, "w", encoding="utf-8") as f:
            f.write(SECRET + "\n")
        self.proc = subprocess.Popen(
            [signal_binary(), "--listen", "127.0.0.1:0", "--turn-secret-file", secret_file,
             "--turn-port", str(turn_port), "--turns-port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening wss? 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.proc.kill()
            raise AssertionError(f"unexpected first line from traverse-signal: {line!r}")
        self.port = int(m.group(1))
        self.tls = line.startswith("listening wss ")
        assert self.proc.stdout.readline().strip() == "ready"

    def url(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def connect(self, **kw) -> tuple[websocket.WebSocket, dict]:
        scheme = "wss" if self.tls else "ws"
        ws = websocket.create_connection(f"{scheme}://127.0.0.1:{self.port}/ws", timeout=2, **kw)
        welcome = json.loads(ws.recv())
        return ws, welcome

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=3)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()
            self.tmp.cleanup()


def say(ws, **message) -> None:
    ws.send(json.dumps(message))


def hear(ws) -> dict:
    return json.loads(ws.recv())


class Signaling(TurnServerCase):
    """A traverse (TURN, REST secrets) and a traverse-signal minting for it."""

    @classmethod
    def make_config(cls, tls_files):
        return h.turn_config(relay_addresses=["127.0.0.1"], peers_allow=["127.0.0.1/32"])

    def setUp(self):
        udp = [l for l in self.server.listeners if l.transport == "udp"][0]
        self.sig = SignalServer(turn_port=udp.port)

    def tearDown(self):
        self.assertEqual(self.sig.stop(), 0, "traverse-signal did not exit 0 on SIGTERM")

    def test_welcome_credentials_work_on_the_turn_server(self):
        ws, welcome = self.sig.connect()
        self.addCleanup(ws.close)
        self.assertEqual(welcome["type"], "welcome")
        self.assertTrue(welcome["id"])
        stun, turn = welcome["iceServers"]
        port = self.sig_turn_port()
        self.assertEqual(stun["urls"], [f"stun:127.0.0.1:{port}"])
        self.assertEqual(turn["urls"], [f"turn:127.0.0.1:{port}?transport=udp",
                                        f"turn:127.0.0.1:{port}?transport=tcp"])
        self.assertTrue(turn["username"].endswith(":" + welcome["id"]))
        # The credential the relay minted allocates on the real TURN server.
        c = self.client(turn["username"], turn["credential"])
        a = c.allocate_ok()
        self.assertEqual(a.relay[0], "127.0.0.1")
        self.assertEqual(c.refresh_ok(0), 0)

    def sig_turn_port(self) -> int:
        return [l for l in self.server.listeners if l.transport == "udp"][0].port

    def test_ice_and_healthz_over_http(self):
        with urllib.request.urlopen(self.sig.url("/healthz"), timeout=2) as r:
            self.assertEqual(r.read(), b"ok\n")
        with urllib.request.urlopen(self.sig.url("/ice"), timeout=2) as r:
            ice = json.loads(r.read())
        self.assertEqual(ice["ttl"], 3600)
        turn = ice["iceServers"][1]
        c = self.client(turn["username"], turn["credential"])
        c.allocate_ok()
        c.refresh_ok(0)
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(self.sig.url("/nope"), timeout=2)
        self.assertEqual(e.exception.code, 404)

    def test_random_match_and_relay_with_server_set_sender(self):
        a, wa = self.sig.connect()
        b, wb = self.sig.connect()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        say(a, type="queue")
        self.assertEqual(hear(a), {"type": "queued", "position": 1})
        say(b, type="queue")
        ma, mb = hear(a), hear(b)
        self.assertEqual((ma["type"], ma["peer"], ma["initiator"]), ("matched", wb["id"], True))
        self.assertEqual((mb["type"], mb["peer"], mb["initiator"]), ("matched", wa["id"], False))
        self.assertEqual(ma["room"], mb["room"])
        say(a, type="offer", to=wb["id"], sdp="v=0 offer", **{"from": "mallory"})
        self.assertEqual(hear(b), {"type": "offer", "from": wa["id"], "sdp": "v=0 offer"})
        cand = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}
        say(b, type="candidate", to=wa["id"], candidate=cand)
        self.assertEqual(hear(a), {"type": "candidate", "from": wb["id"], "candidate": cand})
        b.close()
        self.assertEqual(hear(a), {"type": "peer-left", "room": ma["room"], "peer": wb["id"]})

    def test_named_rooms_and_errors_keep_the_connection(self):
        a, wa = self.sig.connect()
        b, wb = self.sig.connect()
        c, wc = self.sig.connect()
        for ws in (a, b, c):
            self.addCleanup(ws.close)
        say(a, type="join", room="standup")
        self.assertEqual(hear(a), {"type": "joined", "room": "standup", "peers": []})
        say(b, type="join", room="standup")
        self.assertEqual(hear(a), {"type": "peer-joined", "room": "standup", "peer": wb["id"]})
        self.assertEqual(hear(b)["peers"], [wa["id"]])
        say(c, type="join", room="standup")
        self.assertEqual(hear(c)["code"], "room-full")
        c.send("{not json")
        self.assertEqual(hear(c)["code"], "bad-json")
        say(c, type="offer", to=wa["id"], sdp="x")
        self.assertEqual(hear(c)["code"], "not-in-room")
        say(c, type="dance")
        self.assertEqual(hear(c)["code"], "unknown-type")
        c.send(json.dumps({"type": "offer", "to": "x", "sdp": "y" * (70 * 1024)}))
        self.assertEqual(hear(c)["code"], "too-large")
        say(c, type="join", room="other")  # still usable after every error
        self.assertEqual(hear(c)["type"], "joined")

    def test_origin_allow_list(self):
        self.sig.stop()
        self.sig = SignalServer("--origin", "https://app.example", turn_port=self.sig_turn_port())
        ws, welcome = self.sig.connect(origin="https://app.example")
        self.assertEqual(welcome["type"], "welcome")
        ws.close()
        with self.assertRaises(websocket.WebSocketBadStatusException) as e:
            self.sig.connect(origin="https://evil.example")
        self.assertEqual(e.exception.status_code, 403)


class ConnectionLimits(unittest.TestCase):
    def test_connections_per_ip_are_capped_and_slots_come_back(self):
        sig = SignalServer("--max-connections-per-ip", "3")
        try:
            held = [sig.connect()[0] for _ in range(3)]
            with self.assertRaises(Exception):  # closed at accept: no handshake answer
                sig.connect()
            # Another loopback address is another client IP.
            raw = socket.create_connection(("127.0.0.1", sig.port), timeout=2,
                                           source_address=("127.0.0.2", 0))
            other = websocket.create_connection(f"ws://127.0.0.1:{sig.port}/ws", timeout=2,
                                                socket=raw)
            self.assertEqual(json.loads(other.recv())["type"], "welcome")
            other.close()
            held.pop().close()
            deadline = time.monotonic() + 2
            while True:  # the slot returns once the server has seen the close
                try:
                    ws, welcome = sig.connect()
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            self.assertEqual(welcome["type"], "welcome")
            ws.close()
            for ws in held:
                ws.close()
        finally:
            self.assertEqual(sig.stop(), 0)


class SignalingOverTls(unittest.TestCase):
    """--tls-cert/--tls-key: https:// and wss:// with the certificate verified by the client."""

    def test_wss_and_https(self):
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = h.make_cert(tmp)
            sig = SignalServer("--tls-cert", cert, "--tls-key", key)
            try:
                self.assertTrue(sig.tls)
                ctx = ssl.create_default_context(cafile=cert)
                with urllib.request.urlopen(sig.url("/healthz"), timeout=2, context=ctx) as r:
                    self.assertEqual(r.read(), b"ok\n")
                a, wa = sig.connect(sslopt={"ca_certs": cert})
                b, wb = sig.connect(sslopt={"ca_certs": cert})
                say(a, type="join", room="secure")
                self.assertEqual(hear(a)["type"], "joined")
                say(b, type="join", room="secure")
                self.assertEqual(hear(a)["peer"], wb["id"])
                hear(b)
                say(b, type="offer", to=wa["id"], sdp="v=0 over tls")
                self.assertEqual(hear(a), {"type": "offer", "from": wb["id"], "sdp": "v=0 over tls"})
                a.close()
                b.close()
                # Plain HTTP to the TLS port gets nothing useful.
                with self.assertRaises(Exception):
                    urllib.request.urlopen(f"http://127.0.0.1:{sig.port}/healthz", timeout=2)
            finally:
                self.assertEqual(sig.stop(), 0)


class SignalCommandLine(unittest.TestCase):
    def run_signal(self, *args):
        return subprocess.run([signal_binary(), *args], capture_output=True, text=True, timeout=10)

    def test_version_help_and_usage_errors(self):
        r = self.run_signal("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^traverse-signal \d+\.\d+\.\d+\n$")
        self.assertIn("--turn-secret-file", self.run_signal("--help").stdout)
        r = self.run_signal("--room-capacity", "9")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--room-capacity", r.stderr)
        self.assertEqual(self.run_signal("--bogus", "x").returncode, 2)
        self.assertEqual(self.run_signal("--turn-secret-file", "/nonexistent").returncode, 2)
        r = self.run_signal("--tls-cert", "/nonexistent")
        self.assertEqual(r.returncode, 2)
        self.assertIn("go together", r.stderr)


if __name__ == "__main__":
    unittest.main()
