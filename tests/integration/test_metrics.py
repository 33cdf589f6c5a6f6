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
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import harness as h
import turn_client as t
from turn_client import TurnServerCase

PROMTOOL = shutil.which("promtool")
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


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MetricsEndpoint(TurnServerCase):
    @classmethod
    def make_config(cls, tls_files) -> dict:
        cfg = h.turn_config(workers=2)
        cfg["metrics"] = {"listen": "127.0.0.1:0", "per_worker": False}
        return cfg

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
        created = self.value(self.scrape(), "traverse_allocations_created_total")
        self.allocated()
        expected = created + 1
        self.wait_for({self.key("traverse_allocations_created_total"): expected})

        host, port = self.server.metrics_addr
        with tempfile.TemporaryDirectory(prefix="traverse-prom-") as tmp:
            config = os.path.join(tmp, "prometheus.yaml")
            with open(config, "w", encoding="utf-8") as f:
                f.write("global:\n  scrape_interval: 1s\n"
                        "scrape_configs:\n  - job_name: traverse\n"
                        f"    static_configs:\n      - targets: ['{host}:{port}']\n")
            web = free_tcp_port()
            with open(os.path.join(tmp, "prometheus.log"), "wb") as log:
                proc = subprocess.Popen(
                    [PROMETHEUS, f"--config.file={config}",
                     f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                     f"--web.listen-address=127.0.0.1:{web}"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
            try:
                query = urllib.parse.urlencode({"query": "traverse_allocations_created_total"})
                deadline = time.monotonic() + 20
                result = None
                while time.monotonic() < deadline and proc.poll() is None:
                    try:
                        status, body = http_get("127.0.0.1", web, f"/api/v1/query?{query}")
                        if status == 200:
                            result = json.loads(body)["data"]["result"]
                            if result:
                                break
                    except OSError:
                        pass
                    time.sleep(0.25)
                if not result:
                    with open(os.path.join(tmp, "prometheus.log"), encoding="utf-8") as f:
                        self.fail("prometheus did not scrape the server within 20 s:\n"
                                  + f.read()[-3000:])
                self.assertEqual(result[0]["metric"]["job"], "traverse")
                self.assertEqual(float(result[0]["value"][1]), expected)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


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
        workers = {dict(labels).get("worker") for (name, labels) in parse_exposition(text)
                   if name == "traverse_allocations_created_total"}
        self.assertEqual(workers, {"0", "1"})


if __name__ == "__main__":
    unittest.main()
