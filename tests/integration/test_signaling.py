# SPDX-License-Identifier: Apache-2.0
"""traverse-signal end to end over real WebSockets (Debian's python3-websocket client): welcome
with TURN credentials the real traverse accepts, random matching, named rooms, relaying with a
server-set sender, errors that keep the connection up, GET /ice and /healthz, Origin checks,
disconnects, and a clean SIGTERM. Black-box: drives $TRAVERSE_SIGNAL_BIN and $TRAVERSE_BIN."""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
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
        self.metrics_port = None
        line = self.proc.stdout.readline().strip()
        if line.startswith("listening metrics "):
            self.metrics_port = int(line.rsplit(":", 1)[1])
            line = self.proc.stdout.readline().strip()
        assert line == "ready", line

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


def python_token(secret: str, user: str, expires: int) -> str:
    """The bearer token format of docs/signaling.md, computed independently of the server."""
    signed = f"{expires}:{user}"
    mac = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return signed + ":" + base64.urlsafe_b64encode(mac).decode().rstrip("=")


class BearerTokens(unittest.TestCase):
    """--token-secret-file: /ws needs a valid, unexpired token; 401 with a reason otherwise."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.secret_file = os.path.join(self.tmp.name, "token-secret")
        with open(self.secret_file, "w", encoding="utf-8") as f:
            f.write("token-secret-1\n")
        self.sig = SignalServer("--token-secret-file", self.secret_file)
        self.addCleanup(lambda: self.assertEqual(self.sig.stop(), 0))

    def refused(self, path: str = "/ws", header=()) -> tuple[int, str]:
        """Status and body of an upgrade request (websocket-client hides the body)."""
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.sig.port, timeout=2)
        headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                   "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}
        for h_line in header:
            name, value = h_line.split(": ", 1)
            headers[name] = value
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        if r.status == 401:
            self.assertTrue(r.getheader("WWW-Authenticate", "").startswith("Bearer "))
        body = r.read().decode()
        conn.close()
        return r.status, body

    def test_minted_token_connects_by_query_and_header(self):
        r = subprocess.run([signal_binary(), "token", "--secret-file", self.secret_file,
                            "--user", "alice", "--ttl", "10m"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        token = r.stdout.strip()
        expires = int(token.split(":")[0])
        self.assertAlmostEqual(expires, time.time() + 600, delta=5)
        self.assertEqual(token, python_token("token-secret-1", "alice", expires))
        ws = websocket.create_connection(f"ws://127.0.0.1:{self.sig.port}/ws?token={token}",
                                         timeout=2)
        self.assertEqual(json.loads(ws.recv())["type"], "welcome")
        ws.close()
        mine = python_token("token-secret-1", "bob", int(time.time()) + 60)
        ws = websocket.create_connection(f"ws://127.0.0.1:{self.sig.port}/ws", timeout=2,
                                         header=[f"Authorization: Bearer {mine}"])
        self.assertEqual(json.loads(ws.recv())["type"], "welcome")
        ws.close()

    def test_missing_expired_and_forged_tokens_get_401_with_a_reason(self):
        status, body = self.refused()
        self.assertEqual(status, 401)
        self.assertIn("a bearer token is required", body)
        expired = python_token("token-secret-1", "alice", int(time.time()) - 1)
        status, body = self.refused(f"/ws?token={expired}")
        self.assertEqual((status, body), (401, "WebSocket upgrade refused: token expired\n"))
        forged = python_token("wrong-secret", "alice", int(time.time()) + 60)
        status, body = self.refused(header=[f"Authorization: Bearer {forged}"])
        self.assertEqual(status, 401)
        self.assertIn("signature does not verify", body)
        status, body = self.refused("/ws?token=garbage")
        self.assertIn("malformed token", body)
        # Plain HTTP endpoints stay open.
        with urllib.request.urlopen(self.sig.url("/healthz"), timeout=2) as r:
            self.assertEqual(r.read(), b"ok\n")

    def test_token_command_usage_errors(self):
        r = subprocess.run([signal_binary(), "token", "--user", "a"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--secret-file", r.stderr)
        r = subprocess.run([signal_binary(), "token", "--secret-file", self.secret_file,
                            "--user", "a:b"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([signal_binary(), "--token-secret-file", "/nonexistent"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)


class IdleTimeout(unittest.TestCase):
    """The server pings a silent WebSocket after half of --idle-timeout and closes it at the
    timeout unless something (a pong) comes back."""

    def test_silent_connection_is_pinged_then_closed_and_a_ponging_one_stays(self):
        sig = SignalServer("--idle-timeout", "2s")
        try:
            # A raw client that completes the handshake and then never reads or answers.
            raw = socket.create_connection(("127.0.0.1", sig.port), timeout=5)
            key = base64.b64encode(os.urandom(16)).decode()
            raw.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                         f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                         f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
            started = time.monotonic()
            data = b""
            while True:
                chunk = raw.recv(4096)
                if not chunk:
                    break
                data += chunk
            elapsed = time.monotonic() - started
            raw.close()
            self.assertIn(b"101 Switching Protocols", data)
            frames = data.split(b"\r\n\r\n", 1)[1]
            opcodes = []
            while len(frames) >= 2:  # server frames are unmasked, lengths < 126 here
                opcodes.append(frames[0] & 0x0F)
                length = frames[1] & 0x7F
                if length == 126:
                    length = int.from_bytes(frames[2:4], "big")
                    frames = frames[4 + length:]
                else:
                    frames = frames[2 + length:]
            self.assertEqual(opcodes[0], 0x1)  # the welcome text frame
            self.assertIn(0x9, opcodes)  # a ping
            self.assertGreater(elapsed, 1.5)
            self.assertLess(elapsed, 4.5)
            # websocket-client answers each ping with a pong: it outlives the timeout.
            ws, welcome = sig.connect()
            pings = 0
            deadline = time.monotonic() + 3.5
            while time.monotonic() < deadline:
                opcode, _ = ws.recv_data(control_frame=True)  # pongs, then returns the ping
                self.assertEqual(opcode, websocket.ABNF.OPCODE_PING)
                pings += 1
            self.assertGreaterEqual(pings, 2)
            say(ws, type="queue")
            ws.settimeout(2)
            self.assertEqual(hear(ws)["type"], "queued")
            ws.close()
        finally:
            self.assertEqual(sig.stop(), 0)


def scrape(port: int) -> dict:
    """Prometheus text exposition -> {'name{labels}': value} (labels as written)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


class SignalMetrics(unittest.TestCase):
    """--metrics: the traverse_signal_* families move by the right amounts under real traffic."""

    def test_counters_follow_websocket_traffic(self):
        with tempfile.TemporaryDirectory() as tmp:
            secret = os.path.join(tmp, "token-secret")
            with open(secret, "w", encoding="utf-8") as f:
                f.write("metrics-secret\n")
            sig = SignalServer("--metrics", "127.0.0.1:0", "--token-secret-file", secret,
                               "--origin", "https://app.example")
            try:
                self.run_traffic(sig)
            finally:
                self.assertEqual(sig.stop(), 0)

    def run_traffic(self, sig):
        self.assertIsNotNone(sig.metrics_port)
        m0 = scrape(sig.metrics_port)
        for name in ("traverse_signal_users_connected", "traverse_signal_queue_waiting",
                     "traverse_signal_rooms_active", "traverse_signal_frames_relayed_total",
                     "traverse_signal_matches_total"):
            self.assertEqual(m0[name], 0, name)
        self.assertEqual(m0['traverse_signal_frames_dropped_total{reason="bad_json"}'], 0)
        token = python_token("metrics-secret", "u", int(time.time()) + 60)
        origin = "https://app.example"

        def connect():
            ws = websocket.create_connection(f"ws://127.0.0.1:{sig.port}/ws?token={token}",
                                             timeout=2, origin=origin)
            self.addCleanup(ws.close)
            return ws, json.loads(ws.recv())["id"]

        a, aid = connect()
        b, bid = connect()
        say(a, type="queue")
        hear(a)
        m = scrape(sig.metrics_port)
        self.assertEqual(m["traverse_signal_users_connected"], 2)
        self.assertEqual(m["traverse_signal_queue_waiting"], 1)
        time.sleep(0.6)  # a waits > 0.5 s: its time to match lands in the (0.5, 1] bucket
        say(b, type="queue")
        hear(a), hear(b)
        for _ in range(3):
            say(a, type="candidate", to=bid, candidate={"candidate": "c"})
            hear(b)
        say(b, type="answer", to=aid, sdp="v=0")
        hear(a)
        a.send("{oops")
        say(a, type="nope")
        say(a, type="offer", to="p-nobody", sdp="x")
        c, cid = connect()
        say(c, type="offer", to=aid, sdp="x")
        say(c, type="join", room="bad room")
        say(c, type="join", room="r1")
        errors = [hear(a)["code"] for _ in range(3)] + [hear(c)["code"] for _ in range(2)]
        self.assertEqual(hear(c)["type"], "joined")
        self.assertEqual(errors, ["bad-json", "unknown-type", "unknown-peer", "not-in-room",
                                  "bad-room"])
        d, did = connect()
        say(d, type="join", room="r1")
        hear(d)
        e, eid = connect()
        say(e, type="join", room="r1")
        self.assertEqual(hear(e)["code"], "room-full")
        # Refused upgrades: no token, and a foreign Origin.
        with self.assertRaises(websocket.WebSocketBadStatusException):
            websocket.create_connection(f"ws://127.0.0.1:{sig.port}/ws", timeout=2, origin=origin)
        with self.assertRaises(websocket.WebSocketBadStatusException):
            websocket.create_connection(f"ws://127.0.0.1:{sig.port}/ws?token={token}",
                                        timeout=2, origin="https://evil.example")
        m = scrape(sig.metrics_port)
        self.assertEqual(m["traverse_signal_users_connected"], 5)
        self.assertEqual(m["traverse_signal_queue_waiting"], 0)
        self.assertEqual(m["traverse_signal_rooms_active"], 2)
        self.assertEqual(m["traverse_signal_matches_total"], 2)
        self.assertEqual(m["traverse_signal_frames_relayed_total"], 4)
        self.assertEqual(m['traverse_signal_time_to_match_seconds_bucket{le="0.1"}'], 1)
        self.assertEqual(m['traverse_signal_time_to_match_seconds_bucket{le="0.5"}'], 1)
        self.assertEqual(m['traverse_signal_time_to_match_seconds_bucket{le="1"}'], 2)
        self.assertEqual(m['traverse_signal_time_to_match_seconds_bucket{le="+Inf"}'], 2)
        self.assertEqual(m["traverse_signal_time_to_match_seconds_count"], 2)
        self.assertGreater(m["traverse_signal_time_to_match_seconds_sum"], 0.55)
        self.assertLess(m["traverse_signal_time_to_match_seconds_sum"], 1.0)
        dropped = {r: m[f'traverse_signal_frames_dropped_total{{reason="{r}"}}']
                   for r in ("bad_json", "unknown_type", "unknown_peer", "not_in_room",
                             "bad_room", "room_full", "too_large", "rate_limited",
                             "slow_reader")}
        self.assertEqual(dropped, {"bad_json": 1, "unknown_type": 1, "unknown_peer": 1,
                                   "not_in_room": 1, "bad_room": 1, "room_full": 1,
                                   "too_large": 0, "rate_limited": 0, "slow_reader": 0})
        self.assertEqual(m['traverse_signal_connections_refused_total{reason="unauthorized"}'], 1)
        self.assertEqual(m['traverse_signal_connections_refused_total{reason="origin"}'], 1)
        # too large and rate limited
        e.send(json.dumps({"type": "offer", "to": "x", "sdp": "y" * (70 * 1024)}))
        self.assertEqual(hear(e)["code"], "too-large")
        codes = []
        for _ in range(45):  # the bucket holds 40; e has used 2
            say(e, type="leave")
        for _ in range(45):
            codes.append(hear(e).get("code"))
        limited = codes.count("rate-limited")
        self.assertGreater(limited, 0)
        m = scrape(sig.metrics_port)
        self.assertEqual(m['traverse_signal_frames_dropped_total{reason="too_large"}'], 1)
        self.assertEqual(m['traverse_signal_frames_dropped_total{reason="rate_limited"}'],
                         limited)
        self.assertEqual(m['traverse_signal_frames_dropped_total{reason="not_in_room"}'],
                         1 + codes.count("not-in-room"))
        # Disconnects bring the gauges down.
        for ws in (a, b, c, d, e):
            ws.close()
        deadline = time.monotonic() + 3
        while scrape(sig.metrics_port)["traverse_signal_users_connected"] and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        m = scrape(sig.metrics_port)
        self.assertEqual(m["traverse_signal_users_connected"], 0)
        self.assertEqual(m["traverse_signal_rooms_active"], 0)
        promtool = shutil.which("promtool")
        if promtool:  # Prometheus' own linter accepts the exposition
            with urllib.request.urlopen(f"http://127.0.0.1:{sig.metrics_port}/metrics",
                                        timeout=2) as r:
                text = r.read()
            check = subprocess.run([promtool, "check", "metrics"], input=text,
                                   capture_output=True, timeout=20)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)


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
