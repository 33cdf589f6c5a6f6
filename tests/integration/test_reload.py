# SPDX-License-Identifier: Apache-2.0
"""Operations: configuration reload on SIGHUP and graceful drain on SIGTERM, against the real
binary. Every test starts its own server because each one changes its configuration file."""

import copy
import http.client
import os
import pwd
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
import unittest

import harness as h
import turn_client as t

LOG_WAIT = 5.0


def http_get(addr: tuple[str, int], path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection(addr[0], addr[1], timeout=3)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def http_status(addr: tuple[str, int], path: str) -> int:
    return http_get(addr, path)[0]


def draining_gauge(addr: tuple[str, int]) -> str:
    lines = [line for line in http_get(addr, "/metrics")[1].splitlines()
             if line.startswith("traverse_process_draining ")]
    return lines[0].split()[1] if len(lines) == 1 else f"missing: {lines}"


class OpsCase(unittest.TestCase):
    """Helpers: start a server from a config dict, rewrite its file, signal it, read its log."""

    def start(self, cfg: dict) -> h.ServerProcess:
        server = h.ServerProcess(cfg)
        self.addCleanup(server.cleanup)
        self.addCleanup(self.stop_if_running, server)
        server.start()
        self.server = server
        self.cfg = cfg
        return server

    @staticmethod
    def stop_if_running(server: h.ServerProcess) -> None:
        if server.proc is not None and server.proc.poll() is None:
            server.stop(signal.SIGINT)

    def rewrite(self, cfg: dict | None = None, text: str | None = None) -> None:
        with open(self.server.config_path, "w", encoding="utf-8") as f:
            f.write(text if text is not None else h.to_yaml(cfg) + "\n")

    def log_count(self, needle: str) -> int:
        return self.server.stderr_text().count(needle)

    def wait_log(self, needle: str, at_least: int = 1) -> str:
        deadline = time.monotonic() + LOG_WAIT
        while time.monotonic() < deadline:
            text = self.server.stderr_text()
            if text.count(needle) >= at_least:
                return text
            time.sleep(0.02)
        self.fail(f"no {needle!r} in the server log:\n" + self.server.stderr_text()[-3000:])

    def reload(self, cfg: dict | None = None, text: str | None = None,
               expect: str = "msg=\"reloaded\"") -> str:
        """Rewrites the file, sends SIGHUP, waits for the next `expect` log line."""
        seen = self.log_count(expect)
        self.rewrite(cfg, text)
        self.server.send_signal(signal.SIGHUP)
        text_out = self.wait_log(expect, seen + 1)
        time.sleep(0.1)  # the workers apply the change on their own threads
        return text_out

    def client(self, user="alice", password=None, transport="udp", cafile=None):
        if password is None:
            password = h.TEST_USERS.get(user)
        conn = t.connect(transport, self.server.addr(transport, socket.AF_INET), cafile=cafile)
        self.addCleanup(conn.close)
        return t.TurnClient(conn, user, password)

    def peer(self) -> t.Peer:
        p = t.Peer()
        self.addCleanup(p.close)
        return p

    def assert_relays(self, c: t.TurnClient, alloc: t.Allocation, peer: t.Peer,
                      payload: bytes) -> None:
        c.send_indication(peer.addr, payload)
        self.assertEqual(peer.recv(), (payload, alloc.relay))
        peer.send(payload[::-1], alloc.relay)
        self.assertEqual(c.recv_data(), ("data", peer.addr, payload[::-1]))


class Reload(OpsCase):

    def test_new_credentials_apply_and_live_allocations_keep_relaying(self):
        cfg = h.turn_config(users=[{"name": "alice", "password": "wonderland"}],
                            listen=[h.listener("udp", "127.0.0.1"), h.listener("tcp", "127.0.0.1")])
        self.start(cfg)
        peer = self.peer()
        udp = self.client()
        udp_alloc = udp.allocate_ok()
        udp.permit(peer.addr)
        tcp = self.client(transport="tcp")
        tcp_alloc = tcp.allocate_ok()
        tcp.permit(peer.addr)
        carol = self.client("carol", "new-password")
        t.expect_error(self, carol.allocate(), t.ALLOCATE, 401)

        cfg["auth"]["users"].append({"name": "carol", "password": "new-password"})
        cfg["auth"]["secrets"] = ["rotated-secret"] + cfg["auth"]["secrets"]
        log = self.reload(cfg)
        self.assertRegex(log, r"msg=\"reloaded\" applied=auth\.users,auth\.secrets restart_needed=none")

        carol.allocate_ok()
        user, password = t.rest_credentials("rotated-secret", "dave", int(time.time()) + 600)
        self.client(user, password).allocate_ok()
        # Allocations made before the reload: same relay, same permissions, refreshable.
        self.assert_relays(udp, udp_alloc, peer, b"udp after reload")
        self.assert_relays(tcp, tcp_alloc, peer, b"tcp after reload")
        self.assertGreater(udp.refresh_ok(300), 0)
        self.assertGreater(tcp.refresh_ok(300), 0)
        self.assertEqual(self.server.stop(), 0)

    def test_peer_filter_and_quotas_change_live(self):
        cfg = h.turn_config(quotas={"max_allocations_per_user": 1})
        self.start(cfg)
        peer = self.peer()
        first = self.client()
        first.allocate_ok()
        second = self.client()
        t.expect_error(self, second.allocate(), t.ALLOCATE, 486)

        cfg["quotas"]["max_allocations_per_user"] = 3
        cfg["peers"] = {"allow": [], "deny": []}  # back to the defaults: loopback denied
        log = self.reload(cfg)
        self.assertIn("applied=peers,quotas", log)
        second.allocate_ok()
        t.expect_error(self, second.create_permission(peer.addr), t.CREATE_PERMISSION, 403)

    def test_invalid_file_is_refused_and_the_running_one_stays(self):
        cfg = h.turn_config()
        self.start(cfg)
        bad = copy.deepcopy(cfg)
        bad["quotas"]["max_allocations"] = -5
        bad["auth"]["users"].append({"name": "mallory", "password": "x"})
        log = self.reload(bad, expect="reload refused")
        self.assertIn("quotas.max_allocations: ", log)
        t.expect_error(self, self.client("mallory", "x").allocate(), t.ALLOCATE, 401)
        # Still serving with the old configuration.
        c = self.client()
        c.allocate_ok()
        # A broken YAML file and a missing one are refused as well.
        self.reload(text="auth: [unclosed\n", expect="reload refused")
        os.unlink(self.server.config_path)
        self.server.send_signal(signal.SIGHUP)
        self.wait_log("reload refused", self.log_count("reload refused") + 1)
        self.client("bob").allocate_ok()
        # A valid file afterwards applies again.
        cfg["quotas"]["challenges_per_second"] = 500
        self.reload(cfg)
        self.assertEqual(self.server.stop(), 0)

    def test_restart_only_changes_are_named_and_not_applied(self):
        cfg = h.turn_config()
        self.start(cfg)
        old_addr = self.server.addr("udp", socket.AF_INET)
        changed = dict(cfg)
        changed["listen"] = [{"transport": "udp", "address": "127.0.0.1", "port": 1}]
        changed["server"] = dict(cfg["server"], workers=1)
        changed["quotas"] = dict(cfg["quotas"], max_allocations=10)
        log = self.reload(changed)
        self.assertIn("reload: this change needs a restart; the running value stays", log)
        self.assertIn("key=listen", log)
        self.assertIn("key=server.workers", log)
        self.assertIn("applied=quotas restart_needed=server.workers,listen", log)
        # Still on the old port.
        s = h.udp_socket("127.0.0.1")
        self.addCleanup(s.close)
        resp, _ = h.udp_transact(s, old_addr, h.binding_request(h.new_tid()))
        self.assertEqual(resp.type, 0x0101)

    def test_tls_certificate_is_read_again(self):
        holder = tempfile.TemporaryDirectory(prefix="traverse-reload-")
        self.addCleanup(holder.cleanup)
        tmp = holder.name
        os.makedirs(os.path.join(tmp, "a"))
        os.makedirs(os.path.join(tmp, "b"))
        cert_a, key_a = h.make_cert(os.path.join(tmp, "a"))
        cert_b, key_b = h.make_cert(os.path.join(tmp, "b"))
        listen = [{"transport": "udp", "address": "127.0.0.1", "port": 0},
                  {"transport": "tls", "address": "127.0.0.1", "port": 0}]
        cfg = h.turn_config(listen=listen, tls_files=(cert_a, key_a))
        self.start(cfg)
        addr = self.server.addr("tls", socket.AF_INET)

        def peer_cert(cafile):
            s = h.tls_connect(addr, cafile)
            self.addCleanup(s.close)
            return s, s.getpeercert(binary_form=True)

        before, der_a = peer_cert(cert_a)
        cfg["tls"] = {"certificate": cert_b, "private_key": key_b}
        self.reload(cfg)
        after, der_b = peer_cert(cert_b)
        self.assertNotEqual(der_a, der_b)
        with self.assertRaises(ssl.SSLError):
            h.tls_connect(addr, cert_a).close()
        # The connection opened before the reload still works.
        for sock in (before, after):
            tid = h.new_tid()
            msg = h.stream_transact(sock, h.binding_request(tid))
            self.assertEqual(msg.tid, tid)
        # A certificate that cannot be loaded refuses the reload.
        cfg["tls"] = {"certificate": os.path.join(tmp, "missing.pem"), "private_key": key_b}
        self.reload(cfg, expect="reload refused")
        peer_cert(cert_b)


class Drain(OpsCase):

    def drain_config(self, **server) -> dict:
        cfg = h.turn_config(listen=[{"transport": "udp", "address": "127.0.0.1", "port": 0},
                                    {"transport": "tcp", "address": "127.0.0.1", "port": 0}])
        cfg["server"].update(server)
        cfg["metrics"] = {"listen": "127.0.0.1:0"}
        return cfg

    def wait_stdout(self, line: str, timeout: float = LOG_WAIT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if line in self.server.stdout_lines:
                return
            time.sleep(0.02)
        self.fail(f"no {line!r} on stdout: {self.server.stdout_lines}")

    def test_sigterm_drains_then_exits_when_the_last_allocation_ends(self):
        self.start(self.drain_config(drain_timeout="30s"))
        metrics = self.server.metrics_addr
        self.assertEqual(http_status(metrics, "/readyz"), 200)
        self.assertEqual(draining_gauge(metrics), "0")
        peer = self.peer()
        clients = []
        for transport in ("udp", "tcp"):
            c = self.client(transport=transport)
            a = c.allocate_ok()
            c.permit(peer.addr)
            clients.append((c, a))

        self.server.send_signal(signal.SIGTERM)
        self.wait_stdout("draining")
        self.assertEqual(http_status(metrics, "/readyz"), 503)
        self.assertEqual(http_status(metrics, "/healthz"), 200)
        self.assertEqual(draining_gauge(metrics), "1")
        newcomer = self.client("bob")
        t.expect_error(self, newcomer.allocate(), t.ALLOCATE, 508)
        for c, a in clients:
            self.assert_relays(c, a, peer, b"relayed while draining")
            self.assertGreater(c.refresh_ok(600), 0)
        self.assertIsNone(self.server.proc.poll(), "exited while allocations remain")

        started = time.monotonic()
        for c, _ in clients:
            self.assertEqual(c.refresh_ok(0), 0)
        self.assertEqual(self.server.wait(timeout=5), 0)
        self.assertLess(time.monotonic() - started, 3.0)
        self.assertIn("reason=drained", self.server.stderr_text())
        self.assertRegex(self.server.stderr_text(), r"allocations_refused_draining=1\b")

    def test_alternate_server_redirects_new_allocations(self):
        self.start(self.drain_config(drain_timeout="30s", alternate_server="192.0.2.10:3478"))
        holder = self.client()
        holder.allocate_ok()
        self.server.send_signal(signal.SIGTERM)
        self.wait_stdout("draining")
        bob = self.client("bob")
        resp = bob.allocate()
        t.expect_error(self, resp, t.ALLOCATE, 300)
        self.assertTrue(bob.response_integrity_ok(resp))
        self.assertEqual(h.decode_address(resp.get(h.ALTERNATE_SERVER)), ("192.0.2.10", 3478))
        # The redirect comes after the request was authenticated, and is signed.
        self.assertIsNotNone(resp.get(h.MESSAGE_INTEGRITY))
        # A second SIGTERM exits at once, allocation or not.
        self.server.send_signal(signal.SIGTERM)
        self.assertEqual(self.server.wait(timeout=5), 0)
        self.assertIn("reason=\"second SIGTERM while draining\"", self.server.stderr_text())

    def test_drain_timeout_ends_remaining_allocations(self):
        self.start(self.drain_config(drain_timeout="1s"))
        self.client().allocate_ok()
        started = time.monotonic()
        self.server.send_signal(signal.SIGTERM)
        self.assertEqual(self.server.wait(timeout=6), 0)
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 4.0)
        self.assertIn("drain timeout: ending the remaining allocations", self.server.stderr_text())

    def test_without_drain_timeout_sigterm_exits_at_once(self):
        self.start(self.drain_config())
        self.client().allocate_ok()
        started = time.monotonic()
        self.server.send_signal(signal.SIGTERM)
        self.assertEqual(self.server.wait(timeout=5), 0)
        self.assertLess(time.monotonic() - started, 4.0)  # the metrics endpoint takes ~2 s to stop
        self.assertNotIn("draining", self.server.stdout_lines)


def ctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([h.traverse_binary(), "ctl", *args], capture_output=True, text=True,
                          timeout=10, stdin=subprocess.DEVNULL)


class Control(OpsCase):
    """`traverse ctl` over server.control_socket."""

    def start_with_socket(self, **server) -> str:
        holder = tempfile.TemporaryDirectory(prefix="traverse-ctl-")
        self.addCleanup(holder.cleanup)
        path = os.path.join(holder.name, "control.sock")
        cfg = h.turn_config()
        cfg["server"].update(control_socket=path, **server)
        self.start(cfg)
        return path

    def test_status_reload_and_drain(self):
        path = self.start_with_socket()
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        c = self.client()
        c.allocate_ok()
        time.sleep(1.2)  # allocation counts are refreshed by the workers' 1 s tick
        r = ctl("--socket", path, "status")
        self.assertEqual((r.returncode, r.stdout), (0, "ok serving allocations=1\n"), r.stderr)

        self.cfg["quotas"]["challenges_per_second"] = 77
        self.rewrite(self.cfg)
        r = ctl("--socket", path, "reload")
        self.assertEqual((r.returncode, r.stdout), (0, "ok applied=quotas restart_needed=none\n"))

        bad = copy.deepcopy(self.cfg)
        bad["relay"]["allocation_lifetime"] = "1y"
        self.rewrite(bad)
        r = ctl("--socket", path, "reload")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stdout.startswith("refused: relay.allocation_lifetime: "), r.stdout)

        r = ctl("--socket", path, "drain")
        self.assertEqual((r.returncode, r.stdout), (0, "ok draining\n"))
        t.expect_error(self, self.client("bob").allocate(), t.ALLOCATE, 508)
        r = ctl("--socket", path, "status")
        self.assertEqual(r.stdout, "ok draining allocations=1\n")
        self.assertEqual(c.refresh_ok(0), 0)
        self.assertEqual(self.server.wait(timeout=5), 0)
        self.assertFalse(os.path.exists(path), "control socket left behind")

    def test_bad_commands_and_unreachable_server(self):
        path = self.start_with_socket()
        r = ctl("--socket", path, "explode")
        self.assertEqual(r.returncode, 2)
        self.assertIn("expected a command", r.stderr)
        # A raw client sending garbage gets an error line, and the server keeps serving.
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(3)
            s.connect(path)
            s.sendall(b"x" * 1000)
            self.assertEqual(s.recv(100), b"error: command too long\n")
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(3)
            s.connect(path)
            s.sendall(b"restart\n")
            self.assertTrue(s.recv(100).startswith(b"error: unknown command"))
        self.assertEqual(ctl("--socket", path, "status").returncode, 0)
        self.assertEqual(self.server.stop(), 0)
        r = ctl("--socket", path, "status")
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot reach the server", r.stderr)

    def test_a_stale_socket_file_is_replaced_and_other_files_refused(self):
        holder = tempfile.TemporaryDirectory(prefix="traverse-ctl-")
        self.addCleanup(holder.cleanup)
        stale = os.path.join(holder.name, "stale.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(stale)
        s.close()  # the file stays, as after a crash
        cfg = h.turn_config()
        cfg["server"]["control_socket"] = stale
        self.start(cfg)
        self.assertEqual(ctl("--socket", stale, "status").returncode, 0)
        self.assertEqual(self.server.stop(), 0)

        regular = os.path.join(holder.name, "not-a-socket")
        with open(regular, "w") as f:
            f.write("keep me")
        cfg["server"]["control_socket"] = regular
        server = h.ServerProcess(cfg)
        self.addCleanup(server.cleanup)
        with self.assertRaises(h.StartupError) as caught:
            server.start()
        self.assertIn("exists and is not a socket", str(caught.exception) + server.stderr_text())
        with open(regular) as f:
            self.assertEqual(f.read(), "keep me")


@unittest.skipUnless(os.geteuid() == 0, "dropping privileges needs root")
class PrivilegeDrop(OpsCase):

    def test_switches_to_the_configured_user_after_binding(self):
        cfg = h.turn_config(listen=[h.listener("udp", "127.0.0.1"),
                                    h.listener("tcp", "127.0.0.1")])
        cfg["server"]["user"] = "nobody"
        self.start(cfg)
        with open(f"/proc/{self.server.proc.pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        nobody = pwd.getpwnam("nobody")
        self.assertEqual(status["Uid"].split(), [str(nobody.pw_uid)] * 4)
        self.assertEqual(status["Gid"].split(), [str(nobody.pw_gid)] * 4)
        self.assertEqual(status["Groups"].strip(), "")
        # Still relays: relay sockets are opened after the switch.
        peer = self.peer()
        for transport in ("udp", "tcp"):
            c = self.client(transport=transport)
            a = c.allocate_ok()
            c.permit(peer.addr)
            self.assert_relays(c, a, peer, transport.encode() + b" as nobody")
        self.assertEqual(self.server.stop(), 0)

    def test_unknown_user_is_refused_at_start(self):
        cfg = h.turn_config()
        cfg["server"]["user"] = "no-such-user-here"
        server = h.ServerProcess(cfg)
        self.addCleanup(server.cleanup)
        with self.assertRaises(h.StartupError):
            server.start()
        self.assertIn("server.user: no such user 'no-such-user-here'", server.stderr_text())


class TrafficThroughout(OpsCase):
    """Reloads and a drain while an allocation carries a steady stream of packets: nothing of
    it is lost and it never pauses."""

    RATE = 200  # packets per second, each a ChannelData round trip through the relay

    def test_reloads_then_drain_with_live_traffic(self):
        holder = tempfile.TemporaryDirectory(prefix="traverse-live-")
        self.addCleanup(holder.cleanup)
        certs = []
        for name in ("a", "b"):
            os.makedirs(os.path.join(holder.name, name))
            certs.append(h.make_cert(os.path.join(holder.name, name)))
        cfg = h.turn_config(listen=[h.listener("udp", "127.0.0.1"),
                                    h.listener("tls", "127.0.0.1")], tls_files=certs[0])
        cfg["server"]["drain_timeout"] = "30s"
        self.start(cfg)

        peer = self.peer()
        c = self.client()
        c.allocate_ok()
        c.bind(0x4001, peer.addr)
        stop = threading.Event()
        rtts: list[tuple[float, float]] = []  # (send time, round trip)
        lost: list[int] = []

        def echo():
            peer.sock.settimeout(0.2)
            while not stop.is_set():
                try:
                    data, src = peer.sock.recvfrom(2048)
                except socket.timeout:
                    continue
                peer.sock.sendto(data, src)

        def traffic():
            seq = 0
            while not stop.is_set():
                payload = seq.to_bytes(4, "big") + b"m" * 196
                sent = time.monotonic()
                c.send_channel(0x4001, payload)
                try:
                    kind, channel, data = c.recv_data(timeout=1.0)
                    if (kind, channel, data) == ("channel", 0x4001, payload):
                        rtts.append((sent, time.monotonic() - sent))
                    else:
                        lost.append(seq)
                except (socket.timeout, TimeoutError):
                    lost.append(seq)
                seq += 1
                time.sleep(max(0.0, 1.0 / self.RATE - (time.monotonic() - sent)))

        threads = [threading.Thread(target=echo, daemon=True),
                   threading.Thread(target=traffic, daemon=True)]
        for th in threads:
            th.start()
        try:
            time.sleep(0.5)
            # Reloads of every live kind, one after the other, traffic flowing.
            for n in range(4):
                cfg["auth"]["users"].append({"name": f"user{n}", "password": f"pw{n}"})
                cfg["quotas"]["challenges_per_second"] = 100 + n
                cfg["tls"] = {"certificate": certs[(n + 1) % 2][0],
                              "private_key": certs[(n + 1) % 2][1]}
                self.reload(cfg)
                time.sleep(0.2)
            newcomer = self.client("user3", "pw3")  # a user added by the reloads
            newcomer.allocate_ok()
            # Drain: the allocation keeps relaying; the server waits for it.
            self.server.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            self.assertIsNone(self.server.proc.poll(), "exited while the allocation lives")
        finally:
            stop.set()
            for th in threads:
                th.join(timeout=3)
        self.assertEqual(newcomer.refresh_ok(0), 0)
        self.assertEqual(c.refresh_ok(0), 0)
        self.assertEqual(self.server.wait(timeout=5), 0)

        self.assertGreater(len(rtts), self.RATE)  # about 2.5 s of traffic
        self.assertEqual(lost, [], f"lost {len(lost)} of {len(rtts) + len(lost)} round trips")
        gaps = [b[0] - a[0] for a, b in zip(rtts, rtts[1:])]
        self.assertLess(max(gaps), 0.5, "the relay paused")


class SystemdUnit(unittest.TestCase):
    """config/systemd/traverse.service is a valid unit that reloads with SIGHUP and leaves a
    drain time to finish."""

    UNIT = os.path.join(os.path.dirname(__file__), "..", "..", "config", "systemd",
                        "traverse.service")

    def test_unit_verifies_and_matches_the_server(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze not installed (Debian package systemd)")
        with open(self.UNIT, encoding="utf-8") as f:
            text = f.read()
        settings = dict(line.split("=", 1) for line in text.splitlines()
                        if "=" in line and not line.startswith("#"))
        self.assertEqual(settings["ExecReload"], "/bin/kill -HUP $MAINPID")
        self.assertEqual(settings["KillSignal"], "SIGTERM")
        self.assertGreater(int(settings["TimeoutStopSec"]), 300)  # production drain_timeout 5m
        self.assertGreaterEqual(int(settings["LimitNOFILE"]), 16384)
        with tempfile.TemporaryDirectory(prefix="traverse-unit-") as tmp:
            unit = os.path.join(tmp, "traverse.service")
            with open(unit, "w", encoding="utf-8") as f:
                f.write(text.replace("/usr/local/bin/traverse", h.traverse_binary()))
            r = subprocess.run([analyze, "verify", unit], capture_output=True, text=True,
                               timeout=60)
        problems = [line for line in (r.stdout + r.stderr).splitlines() if "traverse" in line]
        self.assertEqual((r.returncode, problems), (0, []))
        # The server accepts the same command line the unit runs.
        r = subprocess.run([h.traverse_binary(), "--help"], capture_output=True, text=True,
                           timeout=10)
        self.assertIn("--config FILE", r.stdout)
        self.assertIn("SIGHUP", r.stdout)


if __name__ == "__main__":
    unittest.main()
