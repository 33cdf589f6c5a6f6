# SPDX-License-Identifier: Apache-2.0
"""One real Prometheus (Debian's package, on loopback) scrapes both servers, traverse and
traverse-signal, with the shipped alert rules, while a call's worth of traffic flows: two users
matched over the signaling relay exchange an offer and an answer and then relay media through
TURN with the credentials the relay minted. Prometheus's values must equal what the traffic
implies, every dashboard query must run, and every rule must load and evaluate."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import harness as h
from test_metrics import assert_queries_run, dashboard_exprs, free_tcp_port, http_get
from test_signaling import SignalServer, hear, say
from turn_client import TurnServerCase

PROMETHEUS = shutil.which("prometheus")
ALERTS = os.path.join(h.REPO_ROOT, "monitoring", "prometheus", "alerts.yaml")


@unittest.skipUnless(PROMETHEUS, "prometheus not installed (apt-get install prometheus)")
class PrometheusScrapesBoth(TurnServerCase):

    @classmethod
    def make_config(cls, tls_files):
        cfg = h.turn_config(relay_addresses=["127.0.0.1"], peers_allow=["127.0.0.1/32"])
        cfg["metrics"] = {"listen": "127.0.0.1:0"}
        return cfg

    def start_prometheus(self, tmp: str, turn_port: int, signal_port: int) -> int:
        config = os.path.join(tmp, "prometheus.yaml")
        with open(config, "w", encoding="utf-8") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    f"rule_files:\n  - '{ALERTS}'\n"
                    "scrape_configs:\n"
                    "  - job_name: traverse\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{turn_port}']\n"
                    "  - job_name: traverse-signal\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{signal_port}']\n")
        web = free_tcp_port()
        self.prom_log = os.path.join(tmp, "prometheus.log")
        with open(self.prom_log, "wb") as log:
            proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}",
                 f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                 f"--web.listen-address=127.0.0.1:{web}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)

        def stop():
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.addCleanup(stop)
        self.prom = proc
        return web

    def query(self, web: int, expr: str) -> dict[str, float]:
        """Instant query: {job: value} (one series per job expected), {} when none yet."""
        q = urllib.parse.urlencode({"query": expr})
        try:
            status, body = http_get("127.0.0.1", web, f"/api/v1/query?{q}")
        except OSError:
            return {}
        if status != 200:
            return {}
        return {r["metric"].get("job", ""): float(r["value"][1])
                for r in json.loads(body)["data"]["result"]}

    def wait_prometheus(self, web: int, expected: dict[str, dict[str, float]], what: str):
        deadline = time.monotonic() + 25
        got: dict = {}
        while time.monotonic() < deadline and self.prom.poll() is None:
            got = {e: self.query(web, e) for e in expected}
            if got == expected:
                return
            time.sleep(0.25)
        with open(self.prom_log, encoding="utf-8") as f:
            self.fail(f"prometheus {what}:\n got {got}\nwant {expected}\n" + f.read()[-2000:])

    def test_one_prometheus_scrapes_turn_and_signaling_during_a_call(self):
        udp = [l for l in self.server.listeners if l.transport == "udp"][0]
        sig = SignalServer("--metrics", "127.0.0.1:0", turn_port=udp.port)
        self.addCleanup(sig.stop)
        tmp = tempfile.TemporaryDirectory(prefix="traverse-prom-both-")
        self.addCleanup(tmp.cleanup)
        web = self.start_prometheus(tmp.name, self.server.metrics_addr[1], sig.metrics_port)
        self.wait_prometheus(web, {'up{job="traverse"}': {"traverse": 1},
                                   'up{job="traverse-signal"}': {"traverse-signal": 1}},
                             "both targets up")

        # Signaling: two strangers are matched and exchange an offer and an answer.
        a, wa = sig.connect()
        b, wb = sig.connect()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        say(a, type="queue")
        hear(a)
        say(b, type="queue")
        room = hear(a)["room"]
        self.assertEqual(hear(b)["room"], room)
        say(a, type="offer", to=wb["id"], sdp="v=0 offer")
        self.assertEqual(hear(b)["type"], "offer")
        say(b, type="answer", to=wa["id"], sdp="v=0 answer")
        self.assertEqual(hear(a)["type"], "answer")
        say(a, type="bogus")
        self.assertEqual(hear(a)["code"], "unknown-type")

        # Media: each user allocates with the TURN credentials from its welcome and relays to
        # the other's relayed address over a channel, continuously.
        clients, allocs = [], []
        for welcome in (wa, wb):
            turn = welcome["iceServers"][1]
            c = self.client(turn["username"], turn["credential"])
            allocs.append(c.allocate_ok())
            clients.append(c)
        for i, c in enumerate(clients):
            c.bind(0x4000, allocs[1 - i].relay)
        stop = threading.Event()

        def media():
            while not stop.is_set():
                for c in clients:
                    c.send_channel(0x4000, b"v" * 160)
                time.sleep(0.02)
        flow = threading.Thread(target=media, daemon=True)
        flow.start()
        self.addCleanup(flow.join)
        self.addCleanup(stop.set)

        # Both targets, seen through Prometheus while the call is up.
        self.wait_prometheus(web, {
            "traverse_signal_users_connected": {"traverse-signal": 2},
            "traverse_signal_rooms_active": {"traverse-signal": 1},
            "traverse_signal_queue_waiting": {"traverse-signal": 0},
            "traverse_signal_matches_total": {"traverse-signal": 2},
            "traverse_signal_frames_relayed_total": {"traverse-signal": 2},
            'traverse_signal_frames_dropped_total{reason="unknown_type"}': {"traverse-signal": 1},
            "traverse_signal_time_to_match_seconds_count": {"traverse-signal": 2},
            "traverse_allocations_active": {"traverse": 2},
            "traverse_channels_active": {"traverse": 2},
            "traverse_permissions_active": {"traverse": 2},
        }, "during the call")
        # Media flows both ways through the relay, and Prometheus sees it grow.
        first = self.query(web, 'traverse_relayed_packets_total{direction="to_client"}')
        time.sleep(2.5)
        later = self.query(web, 'traverse_relayed_packets_total{direction="to_client"}')
        self.assertGreater(later.get("traverse", 0), first.get("traverse", 0) + 20)
        rate = self.query(web, 'sum(rate(traverse_relayed_packets_total{direction="to_peer"}[1m]))')
        self.assertGreater(rate.get("", 0), 0)

        # Every dashboard query runs; the signaling ones see this call.
        exprs = dashboard_exprs()
        signal_exprs = [e for e in exprs if "traverse_signal_" in e]
        self.assertGreaterEqual(len(signal_exprs), 6)
        assert_queries_run(self, web, exprs)
        self.assertEqual(self.query(web, "sum(traverse_signal_users_connected)"), {"": 2})

        # Every rule, TURN and signaling, loads and evaluates; none fires on a healthy call.
        deadline = time.monotonic() + 10
        while True:
            status, body = http_get("127.0.0.1", web, "/api/v1/rules")
            groups = json.loads(body)["data"]["groups"]
            rules = [r for g in groups for r in g["rules"]]
            evaluated = all(not r.get("lastEvaluation", "0001").startswith("0001")
                            for r in rules)
            if (rules and evaluated) or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        self.assertIn("traverse-signal", {g["name"] for g in groups})
        for r in rules:
            self.assertEqual(r["health"], "ok", r)
        firing = {r["name"] for r in rules if r["state"] == "firing"}
        self.assertFalse(firing & {"TraverseDown", "TraverseSignalDown",
                                   "TraverseSignalFramesDropped"}, firing)

        # The call ends: users leave, allocations are released; Prometheus follows.
        stop.set()
        flow.join()
        for c in clients:
            self.assertEqual(c.refresh_ok(0), 0)
        a.close()
        b.close()
        self.wait_prometheus(web, {
            "traverse_signal_users_connected": {"traverse-signal": 0},
            "traverse_signal_rooms_active": {"traverse-signal": 0},
            "traverse_allocations_active": {"traverse": 0},
            "traverse_channels_active": {"traverse": 0},
        }, "after the call")


if __name__ == "__main__":
    unittest.main()
