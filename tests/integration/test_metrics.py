# SPDX-License-Identifier: Apache-2.0
"""The Prometheus endpoint: /metrics values follow the traffic exactly, /healthz and /readyz
answer, promtool accepts the exposition, and a real Prometheus scrapes the server."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import harness as h
import turn_client as t
from turn_client import TurnServerCase

PROMTOOL = shutil.which("promtool")
DASHBOARD = os.path.join(h.REPO_ROOT, "monitoring", "grafana", "traverse.json")
ALERTS = os.path.join(h.REPO_ROOT, "monitoring", "prometheus", "alerts.yaml")
PROMETHEUS = shutil.which("prometheus")

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> dict[tuple[str, tuple], float]:
    """{(name, ((label, value), ...)): value} for every sample line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise AssertionError(f"unparseable sample line: {line!r}")
        labels = tuple(sorted(_LABEL.findall(m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def http_get(host: str, port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=h.SOCKET_TIMEOUT) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def dashboard_exprs() -> list[str]:
    """Every query of the Grafana dashboard's panels."""
    with open(DASHBOARD, encoding="utf-8") as fh:
        dashboard = json.load(fh)
    return [target["expr"] for panel in dashboard["panels"]
            for target in panel.get("targets", [])]


def assert_queries_run(tc: unittest.TestCase, web: int, exprs: list[str]) -> None:
    """Each dashboard query, its Grafana variables filled in, runs on the Prometheus at
    127.0.0.1:``web`` without error."""
    for expr in exprs:
        expr = expr.replace("$instance", ".*").replace("$__rate_interval", "1m")
        q = urllib.parse.urlencode({"query": expr})
        status, body = http_get("127.0.0.1", web, f"/api/v1/query?{q}")
        tc.assertEqual((status, json.loads(body)["status"]), (200, "success"), f"{expr}: {body}")


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MetricsCase(TurnServerCase):
    """A TURN server with the metrics endpoint on; helpers to scrape and compare."""

    def scrape_text(self) -> str:
        self.assertIsNotNone(self.server.metrics_addr, "no 'listening metrics' line")
        status, text = http_get(*self.server.metrics_addr, "/metrics")
        self.assertEqual(status, 200)
        return text

    def scrape(self) -> dict:
        return parse_exposition(self.scrape_text())

    @staticmethod
    def value(samples: dict, name: str, **labels) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def wait_for(self, expected: dict, timeout: float = 3.0) -> dict:
        """Scrapes until every {(name, labels): value} in `expected` holds; returns the scrape."""
        deadline = time.monotonic() + timeout
        while True:
            samples = self.scrape()
            got = {k: self.value(samples, k[0], **dict(k[1])) for k in expected}
            if got == expected or time.monotonic() > deadline:
                self.assertEqual(got, expected)
                return samples
            time.sleep(0.05)

    @staticmethod
    def key(name: str, **labels) -> tuple:
        return (name, tuple(sorted(labels.items())))

    def expect_deltas(self, before: dict, deltas: dict, timeout: float = 3.0) -> dict:
        """Waits until every {key: delta} holds relative to the scrape ``before``."""
        return self.wait_for({k: self.value(before, k[0], **dict(k[1])) + d
                              for k, d in deltas.items()}, timeout)

    def responses(self, method: str, code: str) -> tuple:
        return self.key("traverse_stun_responses_total", method=method, code=code)

    def http(self, path: str) -> tuple[int, str]:
        return http_get(*self.server.metrics_addr, path)


class MetricsEndpoint(MetricsCase):
    @classmethod
    def make_config(cls, tls_files) -> dict:
        cfg = h.turn_config(workers=2)
        cfg["metrics"] = {"listen": "127.0.0.1:0", "per_worker": False}
        return cfg

    def test_health_and_readiness(self):
        host, port = self.server.metrics_addr
        self.assertEqual(host, "127.0.0.1")
        self.assertEqual(http_get(host, port, "/healthz"), (200, "ok\n"))
        self.assertEqual(http_get(host, port, "/readyz"), (200, "ready\n"))
        self.assertEqual(http_get(host, port, "/nothing-here")[0], 404)

    def test_counters_follow_turn_traffic_exactly(self):
        before = self.scrape()
        v = lambda name, **labels: self.value(before, name, **labels)
        c, alloc = self.allocated()
        relay = alloc.relay
        peer = self.peer()
        c.permit(peer.addr)
        for payload in (b"a" * 10, b"b" * 20, b"c" * 30):
            c.send_indication(peer.addr, payload)
            self.assertEqual(peer.recv(), (payload, relay))
        for payload in (b"x" * 5, b"y" * 7):
            peer.send(payload, relay)
            self.assertEqual(c.recv_data(), ("data", peer.addr, payload))
        bad = self.client("mallory", "wonderland")
        t.expect_error(self, bad.allocate(), t.ALLOCATE, 401)

        k = self.key
        after = self.wait_for({
            k("traverse_allocations_created_total"): v("traverse_allocations_created_total") + 1,
            k("traverse_allocations_active"): v("traverse_allocations_active") + 1,
            k("traverse_relayed_packets_total", direction="to_peer"):
                v("traverse_relayed_packets_total", direction="to_peer") + 3,
            k("traverse_relayed_bytes_total", direction="to_peer"):
                v("traverse_relayed_bytes_total", direction="to_peer") + 60,
            k("traverse_relayed_packets_total", direction="to_client"):
                v("traverse_relayed_packets_total", direction="to_client") + 2,
            k("traverse_relayed_bytes_total", direction="to_client"):
                v("traverse_relayed_bytes_total", direction="to_client") + 12,
            k("traverse_auth_failures_total", reason="unknown_user"):
                v("traverse_auth_failures_total", reason="unknown_user") + 1,
            k("traverse_relay_dropped_total", reason="no_permission"):
                v("traverse_relay_dropped_total", reason="no_permission"),
        })
        # Only low-cardinality labels, and no per-worker label unless asked for.
        for (name, labels) in after:
            if name.startswith("traverse_"):
                self.assertLessEqual({n for n, _ in labels},
                                     {"direction", "reason", "method", "code", "transport",
                                      "socket", "le"})
        self.assertGreater(self.value(after, "traverse_process_resident_memory_bytes"), 0)
        self.assertGreater(self.value(after, "traverse_process_open_fds"), 0)
        self.assertIn(self.key("traverse_process_cpu_seconds_total"), after)

    @unittest.skipUnless(PROMTOOL, "promtool not installed (apt-get install prometheus)")
    def test_promtool_accepts_the_exposition(self):
        text = self.scrape_text()
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    @unittest.skipUnless(PROMETHEUS, "prometheus not installed (apt-get install prometheus)")
    def test_real_prometheus_scrapes_the_server(self):
        """Prometheus scrapes while allocations are held and data flows; its view of the new
        families matches the endpoint exactly once the traffic stops."""
        host, port = self.server.metrics_addr
        before = self.scrape()
        with tempfile.TemporaryDirectory(prefix="traverse-prom-") as tmp:
            config = os.path.join(tmp, "prometheus.yaml")
            with open(config, "w", encoding="utf-8") as f:
                f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                        f"rule_files:\n  - '{ALERTS}'\n"
                        "scrape_configs:\n  - job_name: traverse\n"
                        f"    static_configs:\n      - targets: ['{host}:{port}']\n")
            web = free_tcp_port()
            log_path = os.path.join(tmp, "prometheus.log")
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    [PROMETHEUS, f"--config.file={config}",
                     f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                     f"--web.listen-address=127.0.0.1:{web}"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
            stop = threading.Event()
            flow = None
            try:
                def query(expr: str) -> float | None:
                    q = urllib.parse.urlencode({"query": expr})
                    try:
                        status, body = http_get("127.0.0.1", web, f"/api/v1/query?{q}")
                    except OSError:
                        return None
                    if status != 200:
                        return None
                    result = json.loads(body)["data"]["result"]
                    if not result:
                        return None
                    self.assertEqual(result[0]["metric"].get("job", "traverse"), "traverse")
                    return float(result[0]["value"][1])

                def wait_prometheus(expected: dict[str, float], what: str) -> None:
                    deadline = time.monotonic() + 20
                    got = {}
                    while time.monotonic() < deadline and proc.poll() is None:
                        got = {e: query(e) for e in expected}
                        if got == expected:
                            return
                        time.sleep(0.25)
                    with open(log_path, encoding="utf-8") as f:
                        self.fail(f"prometheus {what}: {got} != {expected}\n"
                                  + f.read()[-3000:])

                # Five allocations, each with a channel to the peer, held while data flows.
                peer = self.peer()
                clients = []
                for i in range(5):
                    c, _ = self.allocated()
                    c.bind(0x4000 + i, peer.addr)
                    clients.append(c)
                anon = self.client(None, None)
                t.expect_error(self, anon.allocate(), t.ALLOCATE, 401)

                def send_data():
                    while not stop.is_set():
                        for i, c in enumerate(clients):
                            c.send_channel(0x4000 + i, b"m" * 100)
                        time.sleep(0.05)
                flow = threading.Thread(target=send_data, daemon=True)
                flow.start()

                v = lambda name, **labels: self.value(before, name, **labels)
                resp = 'traverse_stun_responses_total{method="%s",code="%s"}'
                # Scraped while traffic flows: the held allocations and channels are visible.
                wait_prometheus({
                    "traverse_allocations_active": v("traverse_allocations_active") + 5,
                    "traverse_channels_active": v("traverse_channels_active") + 5,
                    "traverse_relay_ports_free": v("traverse_relay_ports_free") - 5,
                }, "while traffic flows")
                self.assertGreater(query('traverse_relayed_packets_total{direction="to_peer"}'),
                                   v("traverse_relayed_packets_total", direction="to_peer"))

                stop.set()
                flow.join()
                for c in clients:
                    c.refresh_ok(0)
                final = self.wait_for({
                    self.key("traverse_allocations_active"): v("traverse_allocations_active"),
                    self.responses("allocate", "success"):
                        v("traverse_stun_responses_total", method="allocate", code="success") + 5,
                    self.responses("allocate", "401"):
                        v("traverse_stun_responses_total", method="allocate", code="401") + 6,
                    self.responses("channel_bind", "success"):
                        v("traverse_stun_responses_total", method="channel_bind",
                          code="success") + 5,
                    self.key("traverse_allocation_lifetime_seconds_count"):
                        v("traverse_allocation_lifetime_seconds_count") + 5,
                })
                f = lambda name, **labels: self.value(final, name, **labels)
                # After the traffic, Prometheus holds exactly what the endpoint says.
                wait_prometheus({
                    resp % ("allocate", "success"):
                        f("traverse_stun_responses_total", method="allocate", code="success"),
                    resp % ("allocate", "401"):
                        f("traverse_stun_responses_total", method="allocate", code="401"),
                    resp % ("channel_bind", "success"):
                        f("traverse_stun_responses_total", method="channel_bind", code="success"),
                    "traverse_allocations_active": f("traverse_allocations_active"),
                    "traverse_channels_active": f("traverse_channels_active"),
                    "traverse_permissions_active": f("traverse_permissions_active"),
                    "traverse_relay_ports_free": f("traverse_relay_ports_free"),
                    'traverse_relayed_packets_total{direction="to_peer"}':
                        f("traverse_relayed_packets_total", direction="to_peer"),
                    "traverse_allocation_lifetime_seconds_count":
                        f("traverse_allocation_lifetime_seconds_count"),
                    'traverse_kernel_receive_drops_total{socket="listener"}':
                        f("traverse_kernel_receive_drops_total", socket="listener"),
                    "traverse_listeners_bound": f("traverse_listeners_bound"),
                }, "after the traffic")
                # The histogram is usable as one: every allocation here lived under 60 s.
                self.assertGreater(query("histogram_quantile(0.5, sum by (le) "
                                         "(traverse_allocation_lifetime_seconds_bucket))"), 0)
                self.assertEqual(query("max_over_time(traverse_channels_active[1m])"),
                                 v("traverse_channels_active") + 5)

                # Every dashboard query runs against the live data without error ...
                exprs = dashboard_exprs()
                self.assertGreaterEqual(len(exprs), 20)
                assert_queries_run(self, web, exprs)
                # ... the headroom panel shows the pool, and the alert rules load and evaluate.
                first, last = self.port_range()
                headroom = query("sum(traverse_relay_ports_free) / sum(traverse_relay_ports)")
                self.assertAlmostEqual(headroom, f("traverse_relay_ports_free")
                                       / (last - first + 1))
                deadline = time.monotonic() + 10
                while True:
                    status, body = http_get("127.0.0.1", web, "/api/v1/rules")
                    rules = [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]]
                    evaluated = all(not r.get("lastEvaluation", "0001").startswith("0001")
                                    for r in rules)
                    if (rules and evaluated) or time.monotonic() > deadline:
                        break
                    time.sleep(0.25)
                self.assertGreaterEqual(len(rules), 10)
                for r in rules:
                    self.assertEqual(r["health"], "ok", r)
                firing = {r["name"] for r in rules if r["state"] == "firing"}
                self.assertNotIn("TraverseRelayPortPoolExhausted", firing)
            finally:
                stop.set()
                if flow is not None:
                    flow.join()
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


class TurnMetricsExact(MetricsCase):
    """Every TURN counter the issue names moves by exactly what the traffic caused: answers by
    method and code, auth failures and refusals by reason, gauges up and back down."""

    tls = True
    DENIED_PEER = ("127.0.0.9", 9)  # loopback outside peers.allow: refused by the peer filter

    @classmethod
    def make_config(cls, tls_files) -> dict:
        listen = [h.listener("udp", "127.0.0.1"), h.listener("tcp", "127.0.0.1"),
                  h.listener("tls", "127.0.0.1")]
        cfg = h.turn_config(workers=2, listen=listen, tls_files=tls_files)
        cfg["metrics"] = {"listen": "127.0.0.1:0", "per_worker": False}
        return cfg

    def test_allocates_without_credentials_are_counted_as_401(self):
        before = self.scrape()
        for _ in range(3):
            anon = self.client(None, None)
            t.expect_error(self, anon.allocate(), t.ALLOCATE, 401)
        k = self.key
        self.expect_deltas(before, {
            self.responses("allocate", "401"): 3,
            self.responses("allocate", "success"): 0,
            k("traverse_challenges_total"): 3,
            k("traverse_stun_requests_total", method="turn"): 3,
            k("traverse_allocations_created_total"): 0,
            # A missing credential is the normal first step, not a failure.
            k("traverse_auth_failures_total", reason="unknown_user"): 0,
            k("traverse_auth_failures_total", reason="bad_integrity"): 0,
        })

    def test_auth_failures_by_reason(self):
        before = self.scrape()
        # Wrong password: a challenge, then 401 for the integrity.
        t.expect_error(self, self.client("alice", "not-the-password").allocate(), t.ALLOCATE, 401)
        # No such user.
        t.expect_error(self, self.client("mallory", "x").allocate(), t.ALLOCATE, 401)
        # A REST credential whose expiry has passed (correctly signed).
        user, password = t.rest_credentials(h.TEST_REST_SECRETS[0], "late",
                                            int(time.time()) - 60)
        t.expect_error(self, self.client(user, password).allocate(), t.ALLOCATE, 401)
        # A forged nonce: 438.
        c = self.client("alice")
        c.learn(t.expect_error(self, c.allocate(retry=False), t.ALLOCATE, 401))
        c.nonce = c.nonce[:-1] + bytes([c.nonce[-1] ^ 1])
        t.expect_error(self, c.allocate(retry=False), t.ALLOCATE, 438)
        # Another user on alice's allocation: 441 (after bob's own challenge).
        owner, _ = self.allocated("alice")
        intruder = t.TurnClient(owner.conn, "bob", h.TEST_USERS["bob"])
        t.expect_error(self, intruder.refresh(), t.REFRESH, 441)

        k = self.key
        self.expect_deltas(before, {
            k("traverse_auth_failures_total", reason="bad_integrity"): 1,
            k("traverse_auth_failures_total", reason="unknown_user"): 1,
            k("traverse_auth_failures_total", reason="expired_rest"): 1,
            k("traverse_auth_failures_total", reason="stale_nonce"): 1,
            k("traverse_auth_failures_total", reason="wrong_credentials"): 1,
            k("traverse_auth_failures_total", reason="bad_request"): 0,
            # 3 failed clients x (challenge + failure), the forged-nonce client's challenge,
            # the owner's challenge.
            self.responses("allocate", "401"): 3 * 2 + 1 + 1,
            self.responses("allocate", "438"): 1,
            self.responses("allocate", "success"): 1,
            self.responses("refresh", "401"): 1,
            self.responses("refresh", "441"): 1,
            # Every 401/438 carries a fresh nonce: 3 x 2, the forged-nonce client's 401 and
            # 438, the owner's and the intruder's challenges.
            k("traverse_challenges_total"): 3 * 2 + 2 + 1 + 1,
        })

    def test_permissions_channels_and_lifetime_follow_one_allocation(self):
        before = self.scrape()
        started = time.monotonic()
        c, alloc = self.allocated("alice")
        peer_a, peer_b = self.peer(), self.peer()
        c.permit(peer_a.addr)                     # permission for 127.0.0.1 (new)
        c.permit(peer_a.addr)                     # refreshed, not a second one
        c.bind(0x4001, peer_b.addr)               # same IP: the permission is only refreshed
        t.expect_error(self, c.create_permission(self.DENIED_PEER), t.CREATE_PERMISSION, 403)
        t.expect_error(self, c.channel_bind(0x4002, self.DENIED_PEER), t.CHANNEL_BIND, 403)
        k = self.key
        self.expect_deltas(before, {
            k("traverse_allocations_created_total"): 1,
            k("traverse_allocations_active"): 1,
            k("traverse_permissions_active"): 1,
            k("traverse_channels_active"): 1,
            k("traverse_relay_ports_free"): -1,
            k("traverse_allocations_refused_total", reason="peer_filter"): 2,
            self.responses("allocate", "success"): 1,
            self.responses("create_permission", "success"): 2,
            self.responses("create_permission", "403"): 1,
            self.responses("channel_bind", "success"): 1,
            self.responses("channel_bind", "403"): 1,
        })
        c.refresh_ok(0)
        lived = time.monotonic() - started
        after = self.expect_deltas(before, {
            k("traverse_allocations_created_total"): 1,
            k("traverse_allocations_active"): 0,
            k("traverse_allocations_ended_total", reason="deleted"): 1,
            k("traverse_permissions_active"): 0,
            k("traverse_channels_active"): 0,
            k("traverse_relay_ports_free"): 0,
            k("traverse_allocation_lifetime_seconds_count"): 1,
            k("traverse_allocation_lifetime_seconds_bucket", le="+Inf"): 1,
            self.responses("refresh", "success"): 1,
        })
        # The one observation is this allocation's lifetime: below the elapsed time, and in
        # the first bucket (1 s) unless this machine is very slow.
        observed = (self.value(after, "traverse_allocation_lifetime_seconds_sum")
                    - self.value(before, "traverse_allocation_lifetime_seconds_sum"))
        self.assertGreaterEqual(observed, 0.0)
        self.assertLessEqual(observed, lived + 0.01)
        if lived < 1.0:
            self.assertEqual(self.value(after, "traverse_allocation_lifetime_seconds_bucket",
                                        le="1")
                             - self.value(before, "traverse_allocation_lifetime_seconds_bucket",
                                          le="1"), 1)

    def test_binding_answers_by_code(self):
        before = self.scrape()
        c = self.client(None, None)
        for _ in range(2):
            self.assertEqual(c.request(h.BINDING_REQUEST, auth=False).cls, t.SUCCESS)
        # An unknown comprehension-required attribute: 420.
        resp = c.request(h.BINDING_REQUEST, [(0x0030, b"abcd")], auth=False)
        self.assertEqual(resp.error_code()[0], 420)
        self.expect_deltas(before, {
            self.responses("binding", "success"): 2,
            self.responses("binding", "420"): 1,
            self.key("traverse_stun_requests_total", method="binding"): 3,
        })

    def test_stream_connections_active_by_transport(self):
        k = self.key
        before = self.scrape()
        conns = [t.StreamConn.tcp(self.server.addr("tcp")) for _ in range(2)]
        conns.append(t.StreamConn.tls(self.server.addr("tls"), self.cert))
        try:
            for conn in conns:  # an answer proves the server holds the connection
                c = t.TurnClient(conn)
                self.assertEqual(c.request(h.BINDING_REQUEST, auth=False).cls, t.SUCCESS)
            self.expect_deltas(before, {
                k("traverse_stream_connections_active", transport="tcp"): 2,
                k("traverse_stream_connections_active", transport="tls"): 1,
                k("traverse_stream_connections_total"): 3,
            })
        finally:
            for conn in conns:
                conn.close()
        # Plain bytes to the TLS port: a failed handshake, and the connection goes.
        with socket.create_connection(self.server.addr("tls"), timeout=h.SOCKET_TIMEOUT) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n" + b"\x00" * 64)
            s.settimeout(h.SOCKET_TIMEOUT)
            while s.recv(4096):
                pass
        self.expect_deltas(before, {
            k("traverse_stream_connections_active", transport="tcp"): 0,
            k("traverse_stream_connections_active", transport="tls"): 0,
            k("traverse_stream_connections_total"): 4,
            k("traverse_tls_handshake_failures_total"): 1,
        })

    def test_port_pool_and_listener_gauges(self):
        first, last = self.port_range()
        samples = self.wait_for({self.key("traverse_listeners_bound"): 3 * 2,
                                 self.key("traverse_relay_ports"): last - first + 1})
        # Every allocation here has one relay (IPv4), so free = ports - allocations held.
        self.assertEqual(self.value(samples, "traverse_relay_ports_free"),
                         last - first + 1 - self.value(samples, "traverse_allocations_active"))
        self.assertEqual(self.http("/readyz"), (200, "ready\n"))


class QuotaMetrics(MetricsCase):
    """Refusals by quota: per user, per client IP, server total, each counted once."""

    @classmethod
    def make_config(cls, tls_files) -> dict:
        cfg = h.turn_config(workers=2, quotas={"max_allocations_per_user": 1,
                                               "max_allocations_per_ip": 2,
                                               "max_allocations": 3})
        cfg["metrics"] = {"listen": "127.0.0.1:0", "per_worker": False}
        return cfg

    def rest_client(self, name: str, ip: str) -> t.TurnClient:
        user, password = t.rest_credentials(h.TEST_REST_SECRETS[0], name,
                                            int(time.time()) + 3600)
        return self.client(user, password, local_host=ip)

    def test_refusals_by_quota_reason(self):
        before = self.scrape()
        self.rest_client("ann", "127.0.0.11").allocate_ok()
        t.expect_error(self, self.rest_client("ann", "127.0.0.11").allocate(), t.ALLOCATE, 486)
        self.rest_client("ben", "127.0.0.11").allocate_ok()
        t.expect_error(self, self.rest_client("cat", "127.0.0.11").allocate(), t.ALLOCATE, 486)
        self.rest_client("cat", "127.0.0.12").allocate_ok()
        t.expect_error(self, self.rest_client("dan", "127.0.0.13").allocate(), t.ALLOCATE, 508)
        k = self.key
        self.expect_deltas(before, {
            k("traverse_allocations_refused_total", reason="quota_user"): 1,
            k("traverse_allocations_refused_total", reason="quota_ip"): 1,
            k("traverse_allocations_refused_total", reason="quota_total"): 1,
            k("traverse_allocations_refused_total", reason="port_exhaustion"): 0,
            k("traverse_allocations_active"): 3,
            self.responses("allocate", "success"): 3,
            self.responses("allocate", "486"): 2,
            self.responses("allocate", "508"): 1,
            self.responses("allocate", "401"): 6,
        })


def proc_udp_drops(port: int) -> int:
    """The kernel's drop count summed over the IPv4 UDP sockets bound to ``port``."""
    total = 0
    with open("/proc/net/udp", encoding="ascii") as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port:
                total += int(fields[-1])
    return total


class PortPoolMetrics(MetricsCase):
    """One worker with two relay ports: exhaustion is counted and flips /readyz; kernel
    receive drops (polled with SO_MEMINFO) match what the kernel reports for the listener."""

    @classmethod
    def make_config(cls, tls_files) -> dict:
        cfg = h.turn_config(workers=1, port_range=h.relay_port_window(2))
        cfg["metrics"] = {"listen": "127.0.0.1:0", "per_worker": False}
        return cfg

    def test_port_exhaustion_is_counted_and_fails_readiness(self):
        k = self.key
        before = self.scrape()
        self.assertEqual(self.value(before, "traverse_relay_ports"), 2)
        self.assertEqual(self.http("/readyz"), (200, "ready\n"))
        first, _ = self.allocated("alice")
        self.allocated("bob")
        t.expect_error(self, self.client("alice").allocate(), t.ALLOCATE, 508)
        self.expect_deltas(before, {
            k("traverse_allocations_refused_total", reason="port_exhaustion"): 1,
            k("traverse_allocations_refused_total", reason="quota_total"): 0,
            self.responses("allocate", "508"): 1,
        })
        self.wait_for({k("traverse_relay_ports_free"): 0})
        self.assertEqual(self.http("/readyz"), (503, "not ready\n"))
        self.assertEqual(self.http("/healthz"), (200, "ok\n"))  # alive, just full
        first.refresh_ok(0)
        self.wait_for({k("traverse_relay_ports_free"): 1})
        self.assertEqual(self.http("/readyz"), (200, "ready\n"))

    def test_kernel_receive_drops_match_the_kernel(self):
        port = self.server.addr("udp")[1]
        with open("/proc/sys/net/core/rmem_max", encoding="ascii") as f:
            rmem_max = int(f.read())
        # The listener asked for 8 MiB, capped at rmem_max (doubled by the kernel); a
        # 1200-byte datagram costs more than 1200 bytes of buffer, so this overflows it.
        count = min(2 * min(rmem_max, 8 << 20) // 1200 + 2000, 40000)
        k = self.key
        before = self.scrape()
        kernel_before = proc_udp_drops(port)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            self.server.send_signal(signal.SIGSTOP)  # nobody reads: the queue fills up
            try:
                for _ in range(count):
                    s.sendto(b"\x00" * 1200, ("127.0.0.1", port))
            finally:
                self.server.send_signal(signal.SIGCONT)
            dropped = proc_udp_drops(port) - kernel_before
            self.assertGreater(dropped, 0, "the kernel dropped nothing; rmem_max too large?")
            # Everything queued is read (and dropped as malformed) ...
            self.expect_deltas(before, {
                k("traverse_udp_datagrams_total", direction="received"): count - dropped,
                k("traverse_malformed_dropped_total"): count - dropped,
            }, timeout=10)
            # ... and the once-a-second poll finds the kernel's drop total.
            self.expect_deltas(before, {
                k("traverse_kernel_receive_drops_total", socket="listener"): dropped,
                k("traverse_kernel_receive_drops_total", socket="relay"): 0,
            }, timeout=10)


    def test_kernel_receive_drops_on_a_relay_socket(self):
        # A relay socket's drops are found by the rotating poll (and counted as "relay").
        first, alloc = self.allocated("alice")
        relay_port = alloc.relay[1]
        k = self.key
        before = self.scrape()
        kernel_before = proc_udp_drops(relay_port)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            self.server.send_signal(signal.SIGSTOP)
            try:
                # Relay sockets have a 256 KiB receive buffer: 20,000 datagrams overflow it.
                for _ in range(20000):
                    s.sendto(b"\x00" * 1200, alloc.relay)
            finally:
                self.server.send_signal(signal.SIGCONT)
        dropped = proc_udp_drops(relay_port) - kernel_before
        self.assertGreater(dropped, 0)
        self.expect_deltas(before, {
            k("traverse_kernel_receive_drops_total", socket="relay"): dropped,
            k("traverse_kernel_receive_drops_total", socket="listener"): 0,
        }, timeout=10)
        first.refresh_ok(0)


class MetricsOff(unittest.TestCase):
    def test_no_metrics_line_without_the_section(self):
        with h.ServerProcess(h.base_config()) as server:
            self.assertIsNone(server.metrics_addr)
            self.assertFalse(any("metrics" in line for line in server.stdout_lines))


class MetricsPerWorker(TurnServerCase):
    @classmethod
    def make_config(cls, tls_files) -> dict:
        cfg = h.turn_config(workers=2)
        cfg["metrics"] = {"listen": "127.0.0.1:0", "per_worker": True}
        return cfg

    def test_series_carry_a_worker_label(self):
        status, text = http_get(*self.server.metrics_addr, "/metrics")
        self.assertEqual(status, 200)
        samples = parse_exposition(text)
        for family in ("traverse_allocations_created_total", "traverse_stun_responses_total",
                       "traverse_allocation_lifetime_seconds_bucket",
                       "traverse_relay_ports_free", "traverse_listeners_bound"):
            workers = {dict(labels).get("worker") for (name, labels) in samples
                       if name == family}
            self.assertEqual(workers, {"0", "1"}, family)
        # Each worker owns its slice of the relay port range and its own listener sockets.
        first, last = self.port_range()
        slices = [self.value_of(samples, "traverse_relay_ports", worker=w) for w in "01"]
        self.assertEqual(sum(slices), last - first + 1)
        self.assertLessEqual(abs(slices[0] - slices[1]), 1)
        for w in "01":
            self.assertEqual(self.value_of(samples, "traverse_listeners_bound", worker=w), 1)

    @staticmethod
    def value_of(samples: dict, name: str, **labels) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    def test_clients_are_spread_over_both_workers(self):
        # The kernel spreads UDP clients over the SO_REUSEPORT group by a hash of the 4-tuple.
        # The listeners' send-only twins are members too (connected, so never chosen): they
        # must not skew that spread (a twin after both listeners would send it 3:1).
        def per_worker() -> list[float]:
            _, text = http_get(*self.server.metrics_addr, "/metrics")
            samples = parse_exposition(text)
            return [self.value_of(samples, "traverse_stun_requests_total", method="binding",
                                  worker=w) for w in "01"]

        before = per_worker()
        clients = 200
        socks = []
        try:
            for _ in range(clients):
                s = h.udp_socket("127.0.0.1")
                socks.append(s)
                s.sendto(h.binding_request(), self.server.addr("udp"))
            for s in socks:
                s.settimeout(5)
                s.recvfrom(2048)  # every client is answered
        finally:
            for s in socks:
                s.close()
        after = per_worker()
        shares = [a - b for a, b in zip(after, before)]
        self.assertEqual(sum(shares), clients)
        # Expected 100 each (standard deviation about 7); a 3:1 skew gives about 50.
        self.assertGreater(min(shares), 70, shares)

    @unittest.skipUnless(PROMTOOL, "promtool not installed (apt-get install prometheus)")
    def test_promtool_accepts_the_per_worker_exposition(self):
        _, text = http_get(*self.server.metrics_addr, "/metrics")
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
