# SPDX-License-Identifier: Apache-2.0
"""natcheck (the real binary, $NATCHECK_BIN) against the real traverse server on loopback:
RFC 5780 on 127.0.0.1 + 127.0.0.2, TURN over UDP/TCP/TLS with static and REST credentials, a
server without RFC 5780, a deliberately broken RFC 5780 server (Python, ignores CHANGE-REQUEST),
an unreachable server, the binding-lifetime test, IPv6, and usage errors (exit codes 0/1/2).
"""

import contextlib
import json
import os
import socket
import subprocess
import unittest

import harness as h
from broken_stun_server import BrokenRfc5780Server

PRIMARY_IP = "127.0.0.1"
ALT_IP = "127.0.0.2"
HAVE_ALT = h.can_bind(socket.AF_INET, ALT_IP)
V6 = h.ipv6_available()

STABLE_KEYS = {"public_address", "local_address", "behind_nat", "udp", "tcp", "mapping",
               "filtering", "hairpinning", "nat_type", "server_checks", "turn", "verdict"}


def natcheck_binary() -> str:
    path = os.environ.get("NATCHECK_BIN")
    if path:
        return path
    candidate = os.path.join(h.REPO_ROOT, "build", "tools", "natcheck")
    if os.access(candidate, os.X_OK):
        return candidate
    raise unittest.SkipTest("NATCHECK_BIN is not set and build/tools/natcheck does not exist")


def run_natcheck(args, timeout=60.0) -> subprocess.CompletedProcess:
    return subprocess.run([natcheck_binary()] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def run_json(tc, args, expect_rc=0):
    proc = run_natcheck(list(args) + ["--json"])
    tc.assertEqual(proc.returncode, expect_rc, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"natcheck --json printed invalid JSON ({e}):\n{proc.stdout}")


@contextlib.contextmanager
def closed_port():
    """A port on 127.0.0.1 where nothing answers, held for the block: a bound UDP socket that
    never reads (no answer) and a bound TCP socket that never listens (connection refused).
    Holding both keeps servers of tests running in parallel from taking the port meanwhile."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((PRIMARY_IP, 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind((PRIMARY_IP, port))
        except OSError:
            u.close()
            t.close()
            continue
        try:
            yield port
        finally:
            u.close()
            t.close()
        return
    raise RuntimeError("no free port")


def server_args(server, tls=True):
    udp = server.find("udp", role=None, host=PRIMARY_IP)
    args = ["--server", f"{udp.host}:{udp.port}",
            "--tcp-port", str(server.find("tcp").port)]
    if tls:
        args += ["--tls-port", str(server.find("tls").port)]
    return args


@unittest.skipUnless(HAVE_ALT, f"cannot bind {ALT_IP} on this host")
class AgainstRfc5780Server(h.ServerClassCase):
    """traverse with an rfc5780 section, auth (static users and REST secrets) and TLS."""

    tls = True
    tmp_prefix = "natcheck-it-"

    @classmethod
    def make_config(cls, tls_files) -> dict:
        listen = [h.listener("udp", PRIMARY_IP), h.listener("tcp", PRIMARY_IP),
                  h.listener("tls", PRIMARY_IP)]
        if V6:
            listen.append(h.listener("udp", "::1"))
        cfg = h.turn_config(listen=listen, tls_files=tls_files, peers_allow=["127.0.0.1/32"])
        cfg["rfc5780"] = {"alternate_address": ALT_IP, "alternate_port": 0}
        return cfg

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.args = server_args(cls.server) + ["--ca", cls.cert]
        cls.alt = cls.server.find("udp", role="change-both")

    def test_json_no_nat(self):
        r = run_json(self, self.args)
        self.assertLessEqual(STABLE_KEYS, set(r), f"missing keys: {STABLE_KEYS - set(r)}")
        self.assertTrue(r["udp"])
        self.assertIs(r["tcp"], True)
        self.assertIs(r["tls"], True)
        self.assertIs(r["behind_nat"], False)
        self.assertEqual(r["public_address"], r["local_address"])
        self.assertTrue(r["public_address"].startswith(PRIMARY_IP + ":"))
        self.assertEqual(r["mapping"], "endpoint-independent")
        self.assertEqual(r["filtering"], "endpoint-independent")
        self.assertEqual(r["nat_type"], "open-internet")
        self.assertEqual(r["verdict"], "direct-ok")
        self.assertIn("Direct calls will usually work", r["verdict_text"])
        self.assertIs(r["hairpinning"], True)  # no NAT: our own address is just reachable
        checks = r["server_checks"]
        self.assertEqual(checks, {"rfc5780": True,
                                  "other_address": f"{ALT_IP}:{self.alt.port}",
                                  "other_address_valid": True, "response_origin_valid": True,
                                  "change_request_valid": True, "problems": []})
        self.assertEqual(r["turn"], [])
        self.assertIsNone(r["binding_lifetime"])
        self.assertIsNone(r["error"])

    def check_turn(self, r, transports=("udp", "tcp", "tls")):
        self.assertEqual([t["transport"] for t in r["turn"]], list(transports))
        for t in r["turn"]:
            with self.subTest(transport=t["transport"]):
                self.assertTrue(t["allocated"], t)
                self.assertTrue(t["works"], t)
                self.assertIsNone(t["error"])
                host, port = t["relayed_address"].rsplit(":", 1)
                self.assertEqual(host, PRIMARY_IP)
                self.assertTrue(h.RELAY_PORT_LOW <= int(port) <= h.RELAY_PORT_HIGH, t)
                self.assertEqual(t["mapped_address"].rsplit(":", 1)[0], PRIMARY_IP)
                self.assertEqual(t["echo_method"], "peer")
                self.assertEqual(t["sent"], 10)
                self.assertEqual(t["received"], 10)
                self.assertEqual(t["loss_percent"], 0.0)
                rtt = t["rtt_ms"]
                self.assertTrue(0 < rtt["min"] <= rtt["avg"] <= rtt["max"] < 1000, rtt)

    def test_turn_static_credentials_all_transports(self):
        r = run_json(self, self.args + ["--turn-user", "alice", "--turn-pass",
                                        h.TEST_USERS["alice"]])
        self.check_turn(r)
        self.assertIn("TURN relaying works over UDP, TCP and TLS.", r["verdict_text"])

    def test_turn_rest_secret(self):
        r = run_json(self, self.args + ["--turn-secret", h.TEST_REST_SECRETS[1],
                                        "--turn-user", "carol", "--turn-transports", "udp,tls"])
        self.check_turn(r, ("udp", "tls"))

    def test_turn_wrong_password(self):
        r = run_json(self, self.args + ["--turn-user", "alice", "--turn-pass", "nope",
                                        "--turn-transports", "udp,tcp"])
        for t in r["turn"]:
            self.assertFalse(t["allocated"])
            self.assertFalse(t["works"])
            self.assertIn("401", t["error"])
        self.assertIn("TURN over UDP and TCP failed.", r["verdict_text"])
        self.assertEqual(r["verdict"], "direct-ok")  # UDP still works directly

    def test_human_report(self):
        proc = run_natcheck(self.args + ["--turn-user", "alice", "--turn-pass",
                                         h.TEST_USERS["alice"], "--turn-transports", "tcp"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = proc.stdout
        for needle in ("Public address:", "no NAT", "NAT type (classic): open-internet",
                       "NAT filtering:      endpoint-independent", "TURN over TCP:",
                       "10 of 10 test packets came back",
                       "TCP:                works", "TLS:                works",
                       "Verdict: Direct calls will usually work."):
            self.assertIn(needle, out)
        self.assertEqual(proc.stderr, "")

    def test_binding_lifetime(self):
        r = run_json(self, self.args + ["--lifetime", "2"])
        self.assertEqual(r["binding_lifetime"], {"alive_s": 2, "expired_s": None, "note": None})

    def test_host_name_and_tls_verification(self):
        # A name (resolved locally) is used for SNI and certificate verification (DNS:localhost).
        udp = self.server.find("udp", role=None, host=PRIMARY_IP)
        args = ["--server", f"localhost:{udp.port}", "--tcp-port", str(self.server.find("tcp").port),
                "--tls-port", str(self.server.find("tls").port), "--turn-user", "alice",
                "--turn-pass", h.TEST_USERS["alice"], "--turn-transports", "tls"]
        r = run_json(self, args + ["--ca", self.cert])
        self.assertEqual(r["server"], f"localhost:{udp.port}")
        self.assertEqual(r["server_address"], f"{PRIMARY_IP}:{udp.port}")
        self.assertIs(r["tls"], True)
        self.assertTrue(r["turn"][0]["works"], r["turn"])
        # Without the test CA the self-signed certificate is refused, with a clear reason...
        r = run_json(self, args)
        self.assertIs(r["tls"], False)
        self.assertIn("TLS certificate not accepted", r["tls_error"])
        self.assertIsNone(r["tcp_error"])
        self.assertIn("TLS certificate not accepted", r["turn"][0]["error"])
        self.assertIn("--ca FILE", r["turn"][0]["error"])
        # ... unless verification is switched off.
        r = run_json(self, args + ["--insecure"])
        self.assertIs(r["tls"], True)
        self.assertTrue(r["turn"][0]["works"], r["turn"])

    @unittest.skipUnless(V6, "no IPv6 loopback")
    def test_ipv6_server(self):
        v6 = self.server.find("udp", family=socket.AF_INET6)
        r = run_json(self, ["--server", f"[::1]:{v6.port}", "--probe-timeout", "500"])
        self.assertTrue(r["udp"])
        self.assertTrue(r["public_address"].startswith("[::1]:"))
        self.assertIs(r["behind_nat"], False)
        self.assertEqual(r["ipv6"]["public_address"], r["public_address"])
        self.assertIs(r["ipv6"]["udp"], True)
        # The ::1 listener has no RFC 5780 group (the alternate address is IPv4).
        self.assertEqual(r["filtering"], "unknown")
        self.assertFalse(r["server_checks"]["rfc5780"])


class AgainstPlainServer(unittest.TestCase):
    """traverse without RFC 5780: behaviour unknown, with the reason."""

    def test_no_rfc5780(self):
        cfg = h.base_config(listen=[h.listener("udp", PRIMARY_IP), h.listener("tcp", PRIMARY_IP)])
        with h.ServerProcess(cfg) as server, closed_port() as closed:
            r = run_json(self, server_args(server, tls=False) + ["--tls-port", str(closed),
                                                                 "--probe-timeout", "500"])
        self.assertTrue(r["udp"])
        self.assertIs(r["tcp"], True)
        self.assertIs(r["tls"], False)
        self.assertEqual(r["filtering"], "unknown")
        self.assertIn("does not support RFC 5780", r["filtering_reason"])
        self.assertEqual(r["nat_type"], "unknown")
        self.assertEqual(r["verdict"], "unknown")
        self.assertIn("could not be determined", r["verdict_text"])
        self.assertFalse(r["server_checks"]["rfc5780"])
        self.assertIs(r["server_checks"]["other_address_valid"], False)
        self.assertIsNone(r["server_checks"]["other_address"])
        self.assertIn("OTHER-ADDRESS", r["server_checks"]["problems"][0])


class UdpUnanswered(unittest.TestCase):
    """No UDP answer (nothing listens on the UDP port), TCP answers: the public address comes
    from STUN over TCP and TURN over TCP carries the calls."""

    def test_tcp_fallback_and_turn_over_tcp(self):
        cfg = h.turn_config(listen=[h.listener("tcp", PRIMARY_IP)], peers_allow=["127.0.0.1/32"])
        with h.ServerProcess(cfg) as server, closed_port() as closed:
            r = run_json(self, ["--server", f"{PRIMARY_IP}:{closed}",
                                "--tcp-port", str(server.find("tcp").port),
                                "--tls-port", str(closed), "--probe-timeout", "500",
                                "--turn-user", "alice", "--turn-pass", h.TEST_USERS["alice"],
                                "--turn-transports", "udp,tcp"])
        self.assertFalse(r["udp"])
        self.assertIs(r["tcp"], True)
        self.assertIs(r["tls"], False)
        self.assertEqual(r["nat_type"], "udp-blocked")
        self.assertTrue(r["public_address"].startswith(PRIMARY_IP + ":"))
        self.assertEqual(r["public_address"], r["local_address"])
        self.assertIs(r["behind_nat"], False)
        self.assertIsNone(r["hairpinning"])
        self.assertEqual(r["mapping"], "unknown")
        self.assertEqual(r["filtering"], "unknown")
        udp, tcp = r["turn"]
        self.assertFalse(udp["allocated"])
        self.assertTrue(udp["error"])
        self.assertTrue(tcp["works"], tcp)
        self.assertEqual(tcp["received"], 10)
        self.assertEqual(r["verdict"], "turn-tcp-only")
        self.assertIn("only TURN over TCP/TLS works from here", r["verdict_text"])


@unittest.skipUnless(HAVE_ALT, f"cannot bind {ALT_IP} on this host")
class AgainstBrokenServer(unittest.TestCase):
    def test_ignored_change_request_gives_unknown_not_full_cone(self):
        server = BrokenRfc5780Server(PRIMARY_IP, ALT_IP)
        self.addCleanup(server.close)
        with closed_port() as closed:
            r = run_json(self, ["--server", f"{server.primary[0]}:{server.primary[1]}",
                                "--tcp-port", str(closed), "--tls-port", str(closed),
                                "--probe-timeout", "500"])
        self.assertTrue(r["udp"])
        self.assertEqual(r["filtering"], "unknown")
        self.assertIn("does not really change its address", r["filtering_reason"])
        self.assertNotEqual(r["nat_type"], "full-cone")
        self.assertNotEqual(r["nat_type"], "open-internet")
        self.assertIs(r["server_checks"]["change_request_valid"], False)
        self.assertIs(r["server_checks"]["other_address_valid"], True)
        self.assertEqual(r["verdict"], "unknown")


class Failures(unittest.TestCase):
    def test_unreachable_server_exit_1(self):
        with closed_port() as port:
            proc = run_natcheck(["--server", f"{PRIMARY_IP}:{port}", "--tls-port", str(port),
                                 "--probe-timeout", "400", "--json"])
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        r = json.loads(proc.stdout)
        self.assertFalse(r["udp"])
        self.assertIs(r["tcp"], False)
        self.assertIn("Connection refused", r["tcp_error"])
        self.assertIsNone(r["public_address"])
        self.assertEqual(r["verdict"], "unreachable")
        self.assertIn(f"{PRIMARY_IP}:{port} did not answer over UDP, TCP or TLS", proc.stderr)

    def test_usage_errors_exit_2(self):
        cases = [
            ([], "--server is required"),
            (["--server", "127.0.0.1", "--frobnicate"], "unknown option '--frobnicate'"),
            (["--server", "127.0.0.1:99999"], "--server needs a number from 1 to 65535"),
            (["--server", "127.0.0.1", "--rto", "abc"], "--rto needs a number"),
            (["--server", "127.0.0.1", "--turn-pass", "x"], "--turn-pass needs --turn-user"),
            (["--server", "127.0.0.1", "--turn-user", "u"], "--turn-user needs --turn-pass"),
            (["--server", "127.0.0.1", "--turn-user", "u", "--turn-pass", "p",
              "--turn-secret", "s"], "not both"),
            (["--server", "127.0.0.1", "--turn-transports", "udp,sctp"], "unknown transport"),
            (["--server", "127.0.0.1", "--ca", "/nonexistent/ca.pem"], "cannot read"),
            (["--server"], "--server needs a value"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                proc = run_natcheck(args)
                self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
                self.assertIn(message, proc.stderr)
                self.assertEqual(proc.stdout, "")

    def test_help(self):
        proc = run_natcheck(["--help"])
        self.assertEqual(proc.returncode, 0)
        self.assertIn("usage: natcheck --server", proc.stdout)


if __name__ == "__main__":
    unittest.main()
