# SPDX-License-Identifier: Apache-2.0
"""Smoke test for tools/turnbench: Binding, ChannelData and Send-indication relay and allocation
runs of about 2 s each at a modest paced rate against a real traverse on loopback. Asserts that
the tool works, its --json output parses with the documented keys, and nothing is lost. Never a
pass/fail on speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness as h  # noqa: E402

RATE = 2000
DURATION = 2


def turnbench_binary() -> str:
    path = os.environ.get("TURNBENCH_BIN")
    if path:
        return path
    return os.path.join(h.REPO_ROOT, "build", "tools", "turnbench")


class TurnbenchSmoke(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cfg = h.turn_config(workers=1, realm="bench",
                            users=[{"name": "alice", "password": "wonderland"}],
                            quotas={"challenges_per_second": 10000,
                                    "max_allocations_per_user": 1000,
                                    "max_allocations_per_ip": 1000})
        cfg["relay"]["rfc5766_channel_numbers"] = True
        cls.server = h.ServerProcess(cfg)
        cls.server.start()
        host, port = cls.server.addr("udp")
        cls.target = f"{host}:{port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def turnbench(self, *args: str) -> dict:
        cmd = [turnbench_binary(), *args, "--server", self.target,
               "--pid", str(self.server.proc.pid), "--json"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0,
                         f"{cmd} failed:\nstdout: {done.stdout}\nstderr: {done.stderr}")
        result = json.loads(done.stdout)
        self.assertIn("server_cpu_s", result)
        return result

    def check_lossless(self, r: dict) -> None:
        self.assertGreater(r["sent"], RATE * DURATION * 0.8, r)
        self.assertEqual(r["lost"], 0, r)
        self.assertEqual(r["received"], r["sent"], r)
        for key in ("rtt_p50_us", "rtt_p90_us", "rtt_p99_us", "loss_pct"):
            self.assertIn(key, r)

    def test_binding(self):
        r = self.turnbench("binding", "--rate", str(RATE), "--duration", str(DURATION))
        self.assertEqual(r["mode"], "binding")
        self.check_lossless(r)
        self.assertGreater(r["answered_per_s"], 0)

    def relay(self, framing: str) -> dict:
        r = self.turnbench("relay", "--user", "alice", "--password", "wonderland",
                           "--allocations", "4", "--size", "200", "--rate", str(RATE),
                           "--duration", str(DURATION), framing)
        self.assertEqual(r["mode"], "relay")
        self.check_lossless(r)
        # Every packet reached the echo peer through the relay and came back.
        self.assertEqual(round(r["to_peer_per_s"]), round(r["to_client_per_s"]), r)
        return r

    def test_relay_channels(self):
        self.assertEqual(self.relay("--channels")["framing"], "channeldata")

    def test_relay_send_indications(self):
        self.assertEqual(self.relay("--send-indications")["framing"], "send-indication")

    def test_allocs(self):
        r = self.turnbench("allocs", "--user", "alice", "--password", "wonderland",
                           "--count", "50")
        self.assertEqual(r["allocated"], 50, r)
        self.assertEqual(r["failed"], 0, r)
        self.assertIn("rss_per_alloc_bytes", r)


if __name__ == "__main__":
    unittest.main()
