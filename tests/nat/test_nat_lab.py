# SPDX-License-Identifier: Apache-2.0
"""NAT lab: natcheck (and, for comparison, coturn's turnutils_natdiscovery) behind real Linux NAT.

Needs root, iproute2 and nftables; skips with a message otherwise. Every run builds its own
network namespaces (unique names) and removes them afterwards, also on failure:

    client ns                router ns (nftables)              "public" ns
    eth0 192.0.2.2/24 ---- lan 192.0.2.1/24                     br0 203.0.113.10/24 (primary)
                           wan 203.0.113.1/24 ---- upN (br0)        198.51.100.10/24 (alternate)

traverse runs once in the public ns (RFC 5780 on 203.0.113.10 + 198.51.100.10, TURN with a
static user, UDP/TCP/TLS). For every topology a fresh client and router namespace pair is built
(so no conntrack state survives from one tool run to the next), the router gets that topology's
nftables ruleset, and the tool runs in the client ns. Only documentation ranges (RFC 5737) are
used, and only inside these namespaces.

Set NAT_LAB_TURNUTILS=0 to skip the turnutils_natdiscovery comparison; its per-topology results
are printed (and docs/natcheck.md discusses them).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness as h  # noqa: E402

CLIENT_IP = "192.0.2.2"
LAN_GW = "192.0.2.1"
WAN_IP = "203.0.113.1"
PRIMARY = "203.0.113.10"
ALTERNATE = "198.51.100.10"
STUN_PORT = 3478
ALT_PORT = 3479
TLS_PORT = 5349

MASQUERADE = """
table ip nat {
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade
  }
}
"""

# One nftables ruleset per behaviour. Linux masquerade keeps the source port when it can, so
# the mapping is endpoint-independent; conntrack only lets answers from the exact address and
# port contacted back in (address-and-port-dependent filtering): a port-restricted cone.
TOPOLOGIES = {
    "no-nat": "",
    "symmetric-udp-firewall": """
table ip filter {
  chain forward { type filter hook forward priority filter; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }
}
""",
    "port-restricted-cone": MASQUERADE,
    # fully-random: a random public port for every new conntrack entry, i.e. for every
    # destination address and port (address-and-port-dependent mapping).
    "symmetric": """
table ip nat {
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade fully-random
  }
}
""",
    # Full cone emulated: masquerade (port kept) plus a static DNAT of every inbound UDP
    # packet to the client, same port: anyone can reach a mapping.
    "full-cone": f"""
table ip nat {{
  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept;
    iifname "wan" meta l4proto udp dnat ip to {CLIENT_IP}
  }}
  chain postrouting {{ type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade
  }}
}}
""",
    # Restricted cone emulated: remember (destination IP, mapped port) for every outbound UDP
    # flow; inbound UDP from a remembered IP to that port is let in, whatever its source port.
    "restricted-cone": f"""
table ip nat {{
  set contacted {{ type ipv4_addr . inet_service; flags dynamic, timeout; timeout 5m; }}
  chain prerouting {{ type nat hook prerouting priority dstnat; policy accept;
    iifname "wan" ip saddr . udp dport @contacted dnat ip to {CLIENT_IP}
  }}
  chain postrouting {{ type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" meta l4proto udp add @contacted {{ ip daddr . udp sport }}
    oifname "wan" masquerade
  }}
}}
""",
    # UDP blocked at the router, TCP (and so TLS) masqueraded.
    "udp-blocked": """
table ip filter {
  chain forward { type filter hook forward priority filter; policy accept;
    iifname "lan" meta l4proto udp drop
  }
}
""" + MASQUERADE,
}

# What natcheck must say for each topology.
EXPECTED = {
    "no-nat": dict(behind_nat=False, udp=True, mapping="endpoint-independent",
                   filtering="endpoint-independent", nat_type="open-internet",
                   verdict="direct-ok"),
    "symmetric-udp-firewall": dict(behind_nat=False, udp=True, mapping="endpoint-independent",
                                   filtering="address-and-port-dependent",
                                   nat_type="symmetric-udp-firewall", verdict="direct-mostly"),
    "port-restricted-cone": dict(behind_nat=True, udp=True, mapping="endpoint-independent",
                                 filtering="address-and-port-dependent",
                                 nat_type="port-restricted-cone", verdict="direct-mostly"),
    "symmetric": dict(behind_nat=True, udp=True, mapping="address-and-port-dependent",
                      filtering="address-and-port-dependent", nat_type="symmetric",
                      verdict="turn-often"),
    "full-cone": dict(behind_nat=True, udp=True, mapping="endpoint-independent",
                      filtering="endpoint-independent", nat_type="full-cone",
                      verdict="direct-ok"),
    "restricted-cone": dict(behind_nat=True, udp=True, mapping="endpoint-independent",
                            filtering="address-dependent", nat_type="restricted-cone",
                            verdict="direct-ok"),
    "udp-blocked": dict(behind_nat=True, udp=False, mapping="unknown", filtering="unknown",
                        nat_type="udp-blocked", verdict="turn-tcp-only"),
}

TURN_USER, TURN_PASS = "alice", h.TEST_USERS["alice"]


def sh(*args, input_text=None, check=True, timeout=20):
    return subprocess.run(list(args), input=input_text, capture_output=True, text=True,
                          check=check, timeout=timeout)


def lab_unavailable() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the NAT lab needs root (network namespaces, nftables)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed (tools/setup/install-deps.sh test)"
    probe = f"ncprobe{os.getpid()}"
    try:
        sh("ip", "netns", "add", probe)
    except (subprocess.CalledProcessError, OSError) as e:
        return f"cannot create network namespaces here: {getattr(e, 'stderr', e)}"
    try:
        r = sh("ip", "netns", "exec", probe, "nft", "list", "ruleset", check=False)
        if r.returncode != 0:
            return f"nftables does not work in a namespace here: {r.stderr.strip()}"
    finally:
        sh("ip", "netns", "del", probe, check=False)
    return None


def natcheck_binary() -> str:
    path = os.environ.get("NATCHECK_BIN") or os.path.join(h.REPO_ROOT, "build", "tools",
                                                            "natcheck")
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"natcheck binary not found ({path})")
    return path


class NsServer(h.ServerProcess):
    """traverse started inside a network namespace (ip netns exec execs it: same PID)."""

    def __init__(self, netns: str, config: dict):
        super().__init__(config)
        self.netns = netns

    def command(self):
        return ["ip", "netns", "exec", self.netns] + super().command()


UNAVAILABLE = lab_unavailable()


@unittest.skipIf(UNAVAILABLE is not None, UNAVAILABLE or "")
class NatLab(unittest.TestCase):
    results: dict = {}

    @classmethod
    def setUpClass(cls):
        cls.natcheck = natcheck_binary()
        cls.prefix = f"nl{os.getpid() % 100000}"
        cls.namespaces = []
        cls.counter = 0
        cls.tmp = tempfile.TemporaryDirectory(prefix="natlab-")
        cls.server = None
        try:
            cls.public = cls.add_ns("s")
            pub = cls.public
            sh("ip", "-n", pub, "link", "add", "br0", "type", "bridge")
            for addr in (f"{PRIMARY}/24", f"{ALTERNATE}/24"):
                sh("ip", "-n", pub, "addr", "add", addr, "dev", "br0")
            sh("ip", "-n", pub, "link", "set", "br0", "up")
            sh("ip", "-n", pub, "route", "add", "default", "via", WAN_IP)
            cert = os.path.join(cls.tmp.name, "cert.pem")
            key = os.path.join(cls.tmp.name, "key.pem")
            sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
               "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=lab",
               "-addext", f"subjectAltName=IP:{PRIMARY}", "-keyout", key, "-out", cert)
            cls.cert = cert
            cfg = h.turn_config(
                listen=[h.listener("udp", PRIMARY, STUN_PORT), h.listener("tcp", PRIMARY, STUN_PORT),
                        h.listener("tls", PRIMARY, TLS_PORT)],
                tls_files=(cert, key), workers=1, relay_addresses=[PRIMARY],
                port_range=(49152, 49999),
                peers_allow=["192.0.2.0/24", "203.0.113.0/24", "198.51.100.0/24"])
            cfg["rfc5780"] = {"alternate_address": ALTERNATE, "alternate_port": ALT_PORT}
            cls.server = NsServer(pub, cfg)
            cls.server.start()
        except BaseException:
            cls.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cleanup()
        if cls.results:
            print("\nNAT lab summary (topology: natcheck | turnutils_natdiscovery):",
                  file=sys.stderr)
            for name, (ours, theirs) in cls.results.items():
                print(f"  {name}:\n    natcheck:  {ours}\n    turnutils: {theirs}",
                      file=sys.stderr)

    @classmethod
    def cleanup(cls):
        if cls.server is not None:
            cls.server.stop()
            cls.server.cleanup()
            cls.server = None
        for ns in reversed(cls.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        cls.namespaces = []
        cls.tmp.cleanup()

    @classmethod
    def add_ns(cls, role: str) -> str:
        cls.counter += 1
        name = f"{cls.prefix}{role}{cls.counter}"
        sh("ip", "netns", "add", name)
        cls.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    @classmethod
    def del_ns(cls, name: str):
        sh("ip", "netns", "del", name, check=False)
        if name in cls.namespaces:
            cls.namespaces.remove(name)

    def build(self, topology: str) -> tuple[str, str]:
        """A fresh client + router pair wired to the public bridge; returns (client, router)."""
        client, router = self.add_ns("c"), self.add_ns("r")
        self.addCleanup(self.del_ns, client)
        self.addCleanup(self.del_ns, router)
        uplink = f"up{self.counter}"
        sh("ip", "link", "add", "eth0", "netns", client, "type", "veth", "peer", "name", "lan",
           "netns", router)
        sh("ip", "link", "add", "wan", "netns", router, "type", "veth", "peer", "name", uplink,
           "netns", self.public)
        sh("ip", "-n", self.public, "link", "set", uplink, "master", "br0", "up")
        sh("ip", "-n", client, "addr", "add", f"{CLIENT_IP}/24", "dev", "eth0")
        sh("ip", "-n", client, "link", "set", "eth0", "up")
        sh("ip", "-n", client, "route", "add", "default", "via", LAN_GW)
        sh("ip", "-n", router, "addr", "add", f"{LAN_GW}/24", "dev", "lan")
        sh("ip", "-n", router, "addr", "add", f"{WAN_IP}/24", "dev", "wan")
        sh("ip", "-n", router, "link", "set", "lan", "up")
        sh("ip", "-n", router, "link", "set", "wan", "up")
        sh("ip", "-n", router, "route", "add", "198.51.100.0/24", "via", PRIMARY)
        sh("ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        rules = TOPOLOGIES[topology]
        if rules:
            sh("ip", "netns", "exec", router, "nft", "-f", "-", input_text=rules)
        return client, router

    def run_natcheck(self, client: str, server: str = PRIMARY, turn: bool = True,
                     extra=()) -> dict:
        args = ["--server", server, "--tls-port", str(TLS_PORT), "--ca", self.cert,
                "--rto", "250", "--probe-timeout", "1200", "--timeout", "20", "--json", *extra]
        if turn:
            args += ["--turn-user", TURN_USER, "--turn-pass", TURN_PASS]
        proc = sh("ip", "netns", "exec", client, self.natcheck, *args, check=False, timeout=40)
        self.assertEqual(proc.returncode, 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return json.loads(proc.stdout)

    def run_turnutils(self, client: str, port: int = STUN_PORT) -> str:
        """turnutils_natdiscovery's conclusions, one line (its own words)."""
        if shutil.which("turnutils_natdiscovery") is None:
            return "(turnutils_natdiscovery not installed)"
        proc = sh("ip", "netns", "exec", client, "turnutils_natdiscovery", "-m", "-f",
                  "-p", str(port), PRIMARY, check=False, timeout=40)
        found = re.findall(r"^(No NAT!.*|NAT with .*!)$", proc.stdout, re.M)
        if not found:
            timeouts = proc.stdout.count("STUN receive timeout")
            return f"no conclusion ({timeouts} receive timeouts)"
        return "; ".join(found)

    def check(self, topology: str):
        client, _ = self.build(topology)
        r = self.run_natcheck(client)
        want = EXPECTED[topology]
        got = {k: r[k] for k in want}
        self.assertEqual(got, want, json.dumps(r, indent=2))

        # Addresses: the public address is the router's (NAT) or the client's own (no NAT).
        self.assertEqual(r["local_address"].rsplit(":", 1)[0], CLIENT_IP)
        public_ip = r["public_address"].rsplit(":", 1)[0]
        self.assertEqual(public_ip, WAN_IP if want["behind_nat"] else CLIENT_IP)
        self.assertIs(r["tcp"], True)
        self.assertIs(r["tls"], True)
        # Hairpinning: trivially yes without NAT; Linux masquerade (and our DNAT rules, which
        # only match on the wan side) does not loop packets from the LAN back to the LAN.
        self.assertIs(r["hairpinning"], None if not want["udp"] else not want["behind_nat"])
        if want["udp"]:
            self.assertEqual(r["server_checks"]["other_address"], f"{ALTERNATE}:{ALT_PORT}")
            self.assertIs(r["server_checks"]["rfc5780"], True)
            self.assertEqual(r["server_checks"]["problems"], [])
        # TURN over every transport relays data both ways; with UDP blocked, UDP fails and
        # TCP/TLS fall back to relaying to the relay's own address.
        turn = {t["transport"]: t for t in r["turn"]}
        self.assertEqual(set(turn), {"udp", "tcp", "tls"})
        for name, t in turn.items():
            with self.subTest(turn=name):
                if name == "udp" and not want["udp"]:
                    self.assertFalse(t["allocated"])
                    self.assertIn("no answer", t["error"])
                    continue
                self.assertTrue(t["works"], t)
                self.assertEqual(t["relayed_address"].rsplit(":", 1)[0], PRIMARY)
                self.assertEqual(t["echo_method"], "peer" if want["udp"] else "relay-loop")
                self.assertGreaterEqual(t["received"], 8, t)

        theirs = "(skipped)"
        if os.environ.get("NAT_LAB_TURNUTILS", "1") != "0":
            # A fresh router again: no conntrack state left over from natcheck's run.
            client2, _ = self.build(topology)
            theirs = self.run_turnutils(client2)
        type(self).results[topology] = (
            f"{r['nat_type']} ({r['mapping']} mapping, {r['filtering']} filtering)", theirs)

    def test_no_nat(self):
        self.check("no-nat")

    def test_symmetric_udp_firewall(self):
        self.check("symmetric-udp-firewall")

    def test_port_restricted_cone(self):
        self.check("port-restricted-cone")

    def test_symmetric(self):
        self.check("symmetric")

    def test_full_cone(self):
        self.check("full-cone")

    def test_restricted_cone(self):
        self.check("restricted-cone")

    def test_udp_blocked(self):
        self.check("udp-blocked")

    def test_broken_server_behind_port_restricted_nat(self):
        # A server that ignores CHANGE-REQUEST answers the filtering test from its primary
        # address, which a port-restricted NAT lets through: without checking the source a
        # client would call this NAT endpoint-independent filtering (full cone).
        port = 3490
        server = subprocess.Popen(
            ["ip", "netns", "exec", self.public, sys.executable, "broken_stun_server.py",
             PRIMARY, ALTERNATE, str(port)],
            cwd=os.path.join(HERE, "..", "integration"), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def stop():
            server.stdin.close()  # the server exits when its stdin closes
            try:
                server.wait(5)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)
            server.stdout.close()
            server.stderr.close()
        self.addCleanup(stop)
        ready = server.stdout.readline().split()
        self.assertEqual(ready[:2], ["ready", str(port)], server.stderr.read() if not ready else "")
        client, _ = self.build("port-restricted-cone")
        r = self.run_natcheck(client, f"{PRIMARY}:{port}", turn=False)
        self.assertEqual(r["mapping"], "endpoint-independent")
        self.assertEqual(r["filtering"], "unknown")
        self.assertIn("does not really change its address", r["filtering_reason"])
        self.assertEqual(r["nat_type"], "unknown")
        self.assertEqual(r["verdict"], "unknown")
        self.assertIs(r["server_checks"]["change_request_valid"], False)
        theirs = "(skipped)"
        if os.environ.get("NAT_LAB_TURNUTILS", "1") != "0":
            client2, _ = self.build("port-restricted-cone")
            theirs = self.run_turnutils(client2, port)
        type(self).results["port-restricted-cone, broken server"] = (
            f"{r['nat_type']} ({r['mapping']} mapping, {r['filtering']} filtering)", theirs)

    def test_alt_server_when_the_server_lacks_rfc5780(self):
        # Two plain STUN servers (no RFC 5780) on the two public addresses: --alt still tells
        # endpoint-independent mapping from a symmetric NAT; filtering stays unknown.
        port = 3590
        cfg = h.base_config(listen=[h.listener("udp", PRIMARY, port),
                                    h.listener("udp", ALTERNATE, port)], workers=1)
        with NsServer(self.public, cfg):
            for topology, mapping, nat_type in (
                    ("port-restricted-cone", "endpoint-independent", "unknown"),
                    ("symmetric", "unknown", "symmetric")):
                with self.subTest(topology=topology):
                    client, _ = self.build(topology)
                    r = self.run_natcheck(client, f"{PRIMARY}:{port}", turn=False,
                                          extra=["--alt", f"{ALTERNATE}:{port}"])
                    self.assertEqual(r["mapping"], mapping, r["mapping_reason"])
                    self.assertIn("--alt server", r["mapping_reason"])
                    self.assertEqual(r["filtering"], "unknown")
                    self.assertIn("does not support RFC 5780", r["filtering_reason"])
                    self.assertEqual(r["nat_type"], nat_type)
                    self.assertIs(r["server_checks"]["rfc5780"], False)

    def test_namespaces_are_ours_only(self):
        # Every namespace this run created carries its unique prefix.
        listed = sh("ip", "netns", "list").stdout
        ours = [line.split()[0] for line in listed.splitlines()
                if line.startswith(self.prefix)]
        self.assertEqual(sorted(ours), sorted(self.namespaces))


if __name__ == "__main__":
    unittest.main()
