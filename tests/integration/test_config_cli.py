# SPDX-License-Identifier: Apache-2.0
"""Command line, config validation and process lifecycle of the traverse binary."""

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness as h

V6 = h.ipv6_available()


def project_version() -> str:
    with open(os.path.join(h.REPO_ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(\s*traverse\s+VERSION\s+([0-9][0-9.]*)", f.read())
    return m.group(1)


class Cli(unittest.TestCase):
    def test_version(self):
        r = h.run_cli(["--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.fullmatch(r"traverse (\S+)\n?", r.stdout)
        self.assertIsNotNone(m, f"--version printed {r.stdout!r}")
        self.assertTrue(m.group(1).startswith(project_version()),
                        f"version {m.group(1)!r} does not match project {project_version()}")

    def test_help(self):
        r = h.run_cli(["--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for opt in ("--config", "--check-config", "--listen", "--workers", "--log-level",
                    "--version", "--help"):
            self.assertIn(opt, r.stdout, f"--help does not mention {opt}")

    def test_unknown_option_is_usage_error(self):
        for args in (["--no-such-option"], ["--frobnicate", "7"]):
            with self.subTest(args=args):
                r = h.run_cli(args)
                self.assertEqual(r.returncode, 2, f"stdout={r.stdout!r} stderr={r.stderr!r}")
                self.assertNotEqual(r.stderr.strip(), "", "usage error printed nothing on stderr")

    def test_option_missing_argument_is_usage_error(self):
        r = h.run_cli(["--config"])
        self.assertEqual(r.returncode, 2, r.stderr)


VALID_TEMPLATE = """\
server: {{ software: "Traverse-test", workers: 2 }}
listen:
  - {{ transport: udp, address: 127.0.0.1, port: 0 }}
  - {{ transport: tcp, address: 127.0.0.1, port: 0 }}
  - {{ transport: tls, address: 127.0.0.1, port: 0 }}
tls: {{ certificate: {cert}, private_key: {key} }}
rfc5780: {{ alternate_address: 127.0.0.2, alternate_port: 0 }}
limits: {{ max_connections: 4096, max_connections_per_ip: 64, idle_timeout: 2s, tls_handshake_timeout: 2s }}
logging: {{ level: info, format: text }}
"""


class CheckConfig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="traverse-it-cfg-")
        cls.cert, cls.key = h.make_cert(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def check(self, text, name="c.yaml"):
        return h.run_cli(["--check-config", self.write(name, text)])

    def assert_invalid(self, text, needle, line):
        r = self.check(text)
        self.assertEqual(r.returncode, 1, f"expected invalid; stdout={r.stdout!r} "
                                          f"stderr={r.stderr!r}")
        pattern = re.compile(re.escape(needle) + r"\S*: .*\(line " + str(line) + r"\)")
        self.assertTrue(any(pattern.search(l) for l in r.stderr.splitlines()),
                        f"no '<path>{needle}: problem (line {line})' on stderr: {r.stderr!r}")

    def test_valid_flow_style_config(self):
        r = self.check(VALID_TEMPLATE.format(cert=self.cert, key=self.key))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_valid_block_style_config(self):
        cfg = h.base_config(
            listen=[h.listener("udp", "127.0.0.1"), h.listener("tls", "127.0.0.1")],
            tls_files=(self.cert, self.key))
        r = self.check(h.to_yaml(cfg) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_unknown_top_level_key(self):
        text = VALID_TEMPLATE.format(cert=self.cert, key=self.key) + "bogus_section: 1\n"
        self.assert_invalid(text, "bogus_section", 10)

    def test_unknown_nested_key(self):
        text = ("server:\n"
                "  software: x\n"
                "  colour: blue\n"
                "listen:\n"
                "  - { transport: udp, address: 127.0.0.1, port: 0 }\n")
        self.assert_invalid(text, "colour", 3)

    def test_unknown_key_in_listener(self):
        text = ("listen:\n"
                "  - transport: udp\n"
                "    address: 127.0.0.1\n"
                "    port: 0\n"
                "  - transport: udp\n"
                "    address: 127.0.0.1\n"
                "    prot: 0\n")
        self.assert_invalid(text, "prot", 7)

    def test_bad_port(self):
        text = ("listen:\n"
                "  - transport: udp\n"
                "    address: 127.0.0.1\n"
                "    port: 70000\n")
        self.assert_invalid(text, "port", 4)

    def test_bad_transport(self):
        text = ("listen:\n"
                "  - transport: sctp\n"
                "    address: 127.0.0.1\n"
                "    port: 0\n")
        self.assert_invalid(text, "transport", 2)

    def test_bad_duration(self):
        text = ("listen:\n"
                "  - { transport: udp, address: 127.0.0.1, port: 0 }\n"
                "limits:\n"
                "  idle_timeout: banana\n")
        self.assert_invalid(text, "idle_timeout", 4)

    def test_yaml_syntax_error(self):
        r = self.check("server: { software: \"unterminated\n  workers: [1, 2\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertNotEqual(r.stderr.strip(), "")

    def test_missing_file(self):
        r = h.run_cli(["--check-config", os.path.join(self.tmp.name, "does-not-exist.yaml")])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertNotEqual(r.stderr.strip(), "")

    def test_start_with_invalid_config_fails_without_listening(self):
        text = VALID_TEMPLATE.format(cert=self.cert, key=self.key) + "bogus_section: 1\n"
        srv = h.ServerProcess(config_text=text)
        self.addCleanup(srv.cleanup)
        srv.spawn()
        try:
            rc = srv.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.fail("server with an invalid config is still running after 5 s")
        self.assertNotEqual(rc, 0)
        self.assertFalse([l for l in srv.stdout_lines if l.startswith("listening") or l == "ready"],
                         srv.stdout_lines)
        self.assertIn("bogus_section", srv.stderr_text())


class Overrides(unittest.TestCase):
    def serve_one(self, srv, transport="udp", family=socket.AF_INET):
        addr = srv.addr(transport, family)
        tid = h.new_tid()
        if transport == "udp":
            s = h.udp_socket(addr[0])
            with s:
                resp, src = h.udp_transact(s, addr, h.binding_request(tid))
                self.assertEqual(src, addr)
                h.check_binding_success(self, resp, tid, h.sock_addr(s))
        else:
            with h.tcp_connect(addr) as s:
                resp = h.stream_transact(s, h.binding_request(tid))
                h.check_binding_success(self, resp, tid, h.sock_addr(s))

    def run_server(self, cfg, args):
        srv = h.ServerProcess(cfg, args=args)
        self.addCleanup(srv.cleanup)
        srv.start()
        return srv

    def stop_ok(self, srv):
        self.assertEqual(srv.stop(), 0, srv.stderr_text())

    def test_listen_replaces_config_listeners(self):
        cfg = h.base_config(listen=[h.listener("udp", "127.0.0.1"), h.listener("tcp", "127.0.0.1")])
        srv = self.run_server(cfg, ["--listen", "udp://127.0.0.1:0"])
        self.assertEqual([(l.transport, l.host, l.role) for l in srv.listeners],
                         [("udp", "127.0.0.1", None)])
        self.serve_one(srv)
        self.stop_ok(srv)

    def test_listen_repeatable(self):
        cfg = h.base_config(listen=[h.listener("udp", "127.0.0.1")])
        srv = self.run_server(cfg, ["--listen", "udp://127.0.0.1:0",
                                    "--listen", "tcp://127.0.0.1:0"])
        self.assertEqual(sorted((l.transport, l.host) for l in srv.listeners),
                         [("tcp", "127.0.0.1"), ("udp", "127.0.0.1")])
        self.serve_one(srv, "udp")
        self.serve_one(srv, "tcp")
        self.stop_ok(srv)

    def test_listen_fixed_port(self):
        # Find a free UDP port, then ask for it explicitly.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        srv = self.run_server(h.base_config(), ["--listen", f"udp://127.0.0.1:{port}"])
        self.assertEqual(srv.addr("udp"), ("127.0.0.1", port))
        self.serve_one(srv)
        self.stop_ok(srv)

    @unittest.skipUnless(V6, "::1 cannot be bound on this host")
    def test_listen_ipv6(self):
        srv = self.run_server(h.base_config(), ["--listen", "udp://[::1]:0"])
        self.assertEqual([(l.transport, l.host) for l in srv.listeners], [("udp", "::1")])
        self.serve_one(srv, "udp", socket.AF_INET6)
        self.stop_ok(srv)

    def test_workers_and_log_level(self):
        srv = self.run_server(h.base_config(workers=1),
                              ["--workers", "4", "--log-level", "debug"])
        socks = [h.udp_socket() for _ in range(10)]
        for s in socks:
            self.addCleanup(s.close)
        dest = srv.addr("udp")
        for _ in range(3):
            for s in socks:
                tid = h.new_tid()
                resp, _ = h.udp_transact(s, dest, h.binding_request(tid))
                h.check_binding_success(self, resp, tid, h.sock_addr(s))
        self.stop_ok(srv)
        self.assertEqual(srv.final_stats().get("binding_requests"), "30")

    def test_port_in_use_fails_to_start(self):
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(blocker.close)
        blocker.bind(("127.0.0.1", 0))
        port = blocker.getsockname()[1]
        srv = h.ServerProcess(h.base_config(listen=[h.listener("udp", "127.0.0.1", port)]))
        self.addCleanup(srv.cleanup)
        srv.spawn()
        try:
            rc = srv.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.fail(f"server started although 127.0.0.1:{port} is in use: {srv.stdout_lines}")
        self.assertNotEqual(rc, 0)
        self.assertNotIn("ready", srv.stdout_lines)


class Shutdown(unittest.TestCase):
    def run_and_signal(self, signum):
        tmp = tempfile.TemporaryDirectory(prefix="traverse-it-cert-")
        self.addCleanup(tmp.cleanup)
        cert, key = h.make_cert(tmp.name)
        cfg = h.base_config(listen=[h.listener("udp", "127.0.0.1"), h.listener("tcp", "127.0.0.1"),
                                    h.listener("tls", "127.0.0.1")],
                            tls_files=(cert, key), workers=2)
        srv = h.ServerProcess(cfg)
        self.addCleanup(srv.cleanup)
        srv.start()
        # One UDP binding, plus connections left open across the shutdown: an idle TCP one,
        # an established TLS one, and a TCP connection to the TLS port that never handshakes.
        with h.udp_socket() as u:
            tid = h.new_tid()
            resp, _ = h.udp_transact(u, srv.addr("udp"), h.binding_request(tid))
            h.check_binding_success(self, resp, tid, h.sock_addr(u))
        held = [h.tcp_connect(srv.addr("tcp")), h.tls_connect(srv.addr("tls"), cert),
                h.tcp_connect(srv.addr("tls"))]
        for s in held:
            self.addCleanup(s.close)
        time.sleep(0.1)
        start = time.monotonic()
        srv.send_signal(signum)
        try:
            rc = srv.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self.fail(f"server still running 2 s after signal {signum}")
        elapsed = time.monotonic() - start
        self.assertEqual(rc, 0, f"exit status {rc} after signal {signum}\n{srv.stderr_text()}")
        self.assertLessEqual(elapsed, 2.0)
        stats = srv.final_stats()
        self.assertEqual(stats.get("binding_requests"), "1", stats)
        self.assertEqual(stats.get("malformed_dropped"), "0", stats)

    def test_sigterm(self):
        self.run_and_signal(signal.SIGTERM)

    def test_sigint(self):
        self.run_and_signal(signal.SIGINT)


if __name__ == "__main__":
    unittest.main()
