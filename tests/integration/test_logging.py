# SPDX-License-Identifier: Apache-2.0
"""Structured logs: key=value or JSON lines, per-module levels, rate-limited per-packet lines with
a suppressed count, and never a password, key, secret or REST password (issue 7)."""

import json
import math
import time
import unittest

import harness as h
import turn_client as t
from turn_client import TurnServerCase


def auth_failure_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "auth failure" in line]


class NoSecretsInLogs(TurnServerCase):
    """Everything at debug, then every kind of authentication failure and success: the logs say
    what failed and for whom, but hold none of the configured or derived secrets."""

    @classmethod
    def make_config(cls, tls_files) -> dict:
        return h.turn_config(workers=2, log_level="debug")

    def wait_lines(self, predicate, count: int, timeout: float = 3.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in list(self.server.stderr_lines) if predicate(line)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def test_logs_never_hold_passwords_keys_or_secrets(self):
        now = int(time.time())
        rest_ok = t.rest_credentials(h.TEST_REST_SECRETS[0], "carol", now + 3600)
        rest_old_secret = t.rest_credentials(h.TEST_REST_SECRETS[1], "dave", now + 3600)
        rest_expired = t.rest_credentials(h.TEST_REST_SECRETS[0], "erin", now - 60)
        peer = self.peer()

        # Successes: static users (plain password and stored key) and REST credentials.
        c, _ = self.allocated("alice")
        c.permit(peer.addr)
        c.bind(0x4001, peer.addr)
        c.refresh_ok(0)
        self.allocated("bob")[0].refresh_ok(0)
        for user, password in (rest_ok, rest_old_secret):
            self.client(user, password).allocate_ok()
        # Failures of every kind.
        t.expect_error(self, self.client("alice", "wonderlanD").allocate(), t.ALLOCATE, 401)
        t.expect_error(self, self.client("bob", "Builder").allocate(), t.ALLOCATE, 401)
        t.expect_error(self, self.client("mallory", "wonderland").allocate(), t.ALLOCATE, 401)
        t.expect_error(self, self.client(*rest_expired).allocate(), t.ALLOCATE, 401)
        t.expect_error(self, self.client(rest_ok[0], rest_expired[1]).allocate(), t.ALLOCATE, 401)
        forged = self.client("alice")
        forged.learn(t.expect_error(self, forged.allocate(retry=False), t.ALLOCATE, 401))
        forged.nonce = forged.nonce[:-1] + bytes([forged.nonce[-1] ^ 1])
        t.expect_error(self, forged.allocate(retry=False), t.ALLOCATE, 438)

        lines = self.wait_lines(lambda line: "auth failure" in line, 6)
        self.assertEqual(len(lines), 6, "\n".join(lines))
        reasons = sorted(h.parse_logfmt(line)["reason"] for line in lines)
        self.assertEqual(reasons, ["bad_integrity", "bad_integrity", "bad_integrity",
                                   "expired_rest_credential", "stale_nonce", "unknown_user"])
        for line in lines:
            fields = h.parse_logfmt(line)
            self.assertEqual(fields["level"], "debug")
            self.assertEqual(fields["module"], "turn")
            self.assertEqual(fields["method"], "Allocate")
            self.assertTrue(fields["client"].startswith("127.0.0.1:"), line)
            self.assertIn("user", fields)  # usernames only because the level is debug
        self.assertIn("mallory", {h.parse_logfmt(line)["user"] for line in lines})

        secrets = {
            "alice's password": h.TEST_USERS["alice"],
            "bob's password": h.TEST_USERS["bob"],
            "bob's stored key": h.md5_key("bob", h.TEST_REALM, h.TEST_USERS["bob"]).hex(),
            "alice's key": h.md5_key("alice", h.TEST_REALM, h.TEST_USERS["alice"]).hex(),
            "REST secret (new)": h.TEST_REST_SECRETS[0],
            "REST secret (old)": h.TEST_REST_SECRETS[1],
            "REST password": rest_ok[1],
            "REST password (old secret)": rest_old_secret[1],
            "expired REST password": rest_expired[1],
        }
        self.server.stop()
        text = self.server.stderr_text() + "\n".join(self.server.stdout_lines)
        self.assertIn('msg="final stats"', text)
        for what, secret in secrets.items():
            self.assertNotIn(secret, text, f"{what} appears in the logs")
            self.assertNotIn(secret.lower(), text.lower(), f"{what} appears in the logs")


class JsonModulesAndRateLimit(TurnServerCase):
    """format: json, the default level at warn but the turn module at info, and at most three
    lines per second from one call site."""

    RATE = 3

    @classmethod
    def make_config(cls, tls_files) -> dict:
        cfg = h.turn_config(workers=2)
        cfg["logging"] = {"level": "warn", "format": "json", "modules": {"turn": "info"},
                          "rate_limit": cls.RATE}
        return cfg

    def records(self) -> list[dict]:
        out = []
        for line in list(self.server.stderr_lines):
            record = json.loads(line)  # every line is one JSON object
            self.assertLessEqual({"ts", "level", "module", "msg"}, set(record), line)
            out.append(record)
        return out

    def test_json_lines_levels_per_module_and_suppressed_counts(self):
        # Burst: 40 failures (unknown user) as fast as the server answers.
        started = time.monotonic()
        for i in range(40):
            t.expect_error(self, self.client(f"nobody{i}", "x").allocate(), t.ALLOCATE, 401)
        burst = time.monotonic() - started
        # A second later the same call site may write again, and says how many it left out.
        time.sleep(1.1)
        t.expect_error(self, self.client("late", "x").allocate(), t.ALLOCATE, 401)

        deadline = time.monotonic() + 3
        while True:
            failures = [r for r in self.records() if r["msg"] == "auth failure"]
            written = len(failures)
            suppressed = sum(int(r.get("suppressed", 0)) for r in failures)
            if written + suppressed == 41 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(written + suppressed, 41, failures)
        self.assertGreater(suppressed, 0)
        self.assertLessEqual(written, self.RATE * (math.ceil(burst) + 1) + 1)
        self.assertIn("suppressed", failures[-1])
        for r in failures:
            self.assertEqual((r["level"], r["module"], r["reason"]),
                             ("info", "turn", "unknown_user"))
            self.assertNotIn("user", r)  # usernames only at debug
        # The app module stays at warn: its info lines ("started") are not written.
        app = [r for r in self.records() if r["module"] == "app"]
        self.assertFalse([r for r in app if r["level"] not in ("warn", "error")], app)
        self.assertNotIn("started", {r["msg"] for r in app})


if __name__ == "__main__":
    unittest.main()
