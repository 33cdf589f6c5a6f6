# SPDX-License-Identifier: Apache-2.0
"""Third-party STUN clients against traverse over loopback:

* coturn's ``turnutils_stunclient`` (RFC 5389/5780 client: XOR-MAPPED-ADDRESS, and, when the
  server advertises OTHER-ADDRESS, CHANGE-REQUEST + RESPONSE-PORT + PADDING probes);
* the Vovida ``stun`` client from Debian's stun-client (RFC 3489 NAT type detection with
  CHANGE-REQUEST / CHANGED-ADDRESS / SOURCE-ADDRESS);
* the aioice library (Debian python3-aioice) as an independent STUN encoder/decoder.
"""

import asyncio
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness as h  # noqa: E402

STUNCLIENT = shutil.which("turnutils_stunclient")
VOVIDA = shutil.which("stun")
try:
    import aioice.ice as aice
    import aioice.stun as astun
    from aioice.candidate import Candidate
except ImportError:  # pragma: no cover - Debian python3-aioice absent
    aice = None

V6 = h.ipv6_available()
ALT_IP = "127.0.0.2"
HAVE_ALT = h.can_bind(socket.AF_INET, ALT_IP)
TOOL_TIMEOUT = 8.0


def run_tool(args, timeout=TOOL_TIMEOUT):
    try:
        return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{args[0]} did not finish within {timeout}s (no answer?); "
                             f"output so far: {e.stdout!r}") from None


def start_server(cfg):
    srv = h.ServerProcess(cfg)
    try:
        srv.start()
    except BaseException:
        srv.cleanup()
        raise
    return srv


def stop_server(srv):
    try:
        rc = srv.stop()
    finally:
        srv.cleanup()
    if rc != 0:
        raise AssertionError(f"server exit status {rc}\n{srv.stderr_text()[-4000:]}")


def parse_addr(text):
    host, port = text.rsplit(":", 1)
    return (h.canonical_host(host.strip("[]")), int(port))


class UdpRelay:
    """Forwards datagrams from one front socket to ``upstream`` from one back socket, and the
    replies back to the last client. Lets a test know exactly which address the server sees."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.front = h.udp_socket()
        self.back = h.udp_socket()
        self.clients = []
        self.forwarded_replies = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.front, selectors.EVENT_READ)
        sel.register(self.back, selectors.EVENT_READ)
        while not self._stop:
            for key, _ in sel.select(0.1):
                data, src = key.fileobj.recvfrom(65535)
                if key.fileobj is self.front:
                    self.clients.append(src)
                    self.back.sendto(data, self.upstream)
                elif self.clients:
                    self.forwarded_replies += 1  # before sending: the client exits on receipt
                    self.front.sendto(data, self.clients[-1])
        sel.close()

    def close(self):
        self._stop = True
        self._thread.join(timeout=2)
        self.front.close()
        self.back.close()


# ============================================================================================


@unittest.skipUnless(STUNCLIENT, "turnutils_stunclient (coturn) not installed")
class TurnutilsStunclient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        listen = [h.listener("udp", "127.0.0.1")]
        if V6:
            listen.append(h.listener("udp", "::1"))
        cls.server = start_server(h.base_config(listen=listen))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.server)

    @staticmethod
    def reflexive(output):
        return [parse_addr(m) for m in re.findall(r"UDP reflexive addr: (\S+)", output)]

    def run_client(self, host, port, local=None):
        args = [STUNCLIENT, "-p", str(port)]
        if local:
            args += ["-L", local]
        r = run_tool(args + [host])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("error", r.stdout.lower(), r.stdout)
        self.assertNotIn("RFC 5780 response", r.stdout,
                         "client saw OTHER-ADDRESS although rfc5780 is not configured")
        return r.stdout

    def test_mapped_address_ipv4(self):
        host, port = self.server.addr("udp")
        local = "127.0.0.5" if h.can_bind(socket.AF_INET, "127.0.0.5") else "127.0.0.1"
        out = self.run_client(host, port, local)
        addrs = self.reflexive(out)
        self.assertTrue(addrs, f"no reflexive address printed: {out!r}")
        self.assertEqual({a[0] for a in addrs}, {local})
        self.assertEqual(len({a[1] for a in addrs}), 1, out)
        self.assertNotEqual(addrs[0][1], 0)

    def test_exact_mapped_port_through_relay(self):
        relay = UdpRelay(self.server.addr("udp"))
        self.addCleanup(relay.close)
        out = self.run_client("127.0.0.1", h.sock_addr(relay.front)[1])
        addrs = self.reflexive(out)
        self.assertTrue(addrs, out)
        self.assertEqual(set(addrs), {h.sock_addr(relay.back)},
                         "client did not print the exact address the server saw")
        self.assertEqual(len(relay.clients), 1)
        self.assertEqual(relay.forwarded_replies, 1)

    @unittest.skipUnless(V6, "::1 cannot be bound on this host")
    def test_mapped_address_ipv6(self):
        host, port = self.server.addr("udp", socket.AF_INET6)
        out = self.run_client(host, port, "::1")
        addrs = self.reflexive(out)
        self.assertTrue(addrs, out)
        self.assertEqual({a[0] for a in addrs}, {"::1"})
        self.assertEqual(len({a[1] for a in addrs}), 1, out)


@unittest.skipUnless(STUNCLIENT, "turnutils_stunclient (coturn) not installed")
@unittest.skipUnless(HAVE_ALT, f"cannot bind {ALT_IP}")
class TurnutilsStunclientRfc5780(unittest.TestCase):
    """With OTHER-ADDRESS present the client sends three requests: plain; RESPONSE-PORT=local+1
    with change IP+port (answer expected on local+1); change IP+port with PADDING 1500 from the
    new socket."""

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(h.base_config(
            listen=[h.listener("udp", "127.0.0.1")],
            rfc5780={"alternate_address": ALT_IP, "alternate_port": 0}))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.server)

    @staticmethod
    def blocks(output):
        parts = re.split(r"RFC 5780 response (\d+)", output)
        out = {}
        for i in range(1, len(parts) - 1, 2):
            body = parts[i + 1]
            out[int(parts[i])] = {
                "origin": {parse_addr(m) for m in re.findall(r"Response origin: : (\S+)", body)},
                "other": {parse_addr(m) for m in re.findall(r"Other addr: : (\S+)", body)},
                "reflexive": {parse_addr(m) for m in re.findall(r"UDP reflexive addr: (\S+)",
                                                               body)},
            }
        return out

    def test_rfc5780_probes(self):
        primary = self.server.addr("udp")
        both = self.server.addr("udp", role="change-both")
        self.assertEqual(both[0], ALT_IP)
        for attempt in range(3):  # the client binds local_port+1, which may happen to be taken
            r = run_tool([STUNCLIENT, "-p", str(primary[1]), "-L", "127.0.0.1", "127.0.0.1"])
            if "Address already in use" not in r.stderr + r.stdout:
                break
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        b = self.blocks(r.stdout)
        self.assertEqual(sorted(b), [1, 2, 3], r.stdout)
        for n in (1, 2, 3):
            self.assertEqual(b[n]["other"], {both}, f"response {n}: {r.stdout}")
            self.assertEqual(len(b[n]["reflexive"]), 1, r.stdout)
        self.assertEqual(b[1]["origin"], {primary})
        self.assertEqual(b[2]["origin"], {both})
        self.assertEqual(b[3]["origin"], {both})
        (r1,), (r2,), (r3,) = b[1]["reflexive"], b[2]["reflexive"], b[3]["reflexive"]
        self.assertEqual(r1[0], "127.0.0.1")
        # Request 2 still comes from the first socket (the answer went to RESPONSE-PORT);
        # request 3 comes from the socket the client bound at first-port + 1.
        self.assertEqual(r2, r1)
        self.assertEqual(r3, ("127.0.0.1", r1[1] + 1))


# ============================================================================================


def free_port_pair():
    """A port p such that p and p+1 are both free on 127.0.0.1 (UDP)."""
    for _ in range(50):
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            a.bind(("127.0.0.1", 0))
            p = a.getsockname()[1]
            if p >= 65535:
                continue
            try:
                b.bind(("127.0.0.1", p + 1))
            except OSError:
                continue
            return p
        finally:
            a.close()
            b.close()
    raise RuntimeError("no free consecutive UDP port pair")


@unittest.skipUnless(VOVIDA, "stun (Debian stun-client) not installed")
@unittest.skipUnless(HAVE_ALT, f"cannot bind {ALT_IP}")
class VovidaStunClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = start_server(h.base_config(
            listen=[h.listener("udp", "127.0.0.1")],
            rfc5780={"alternate_address": ALT_IP, "alternate_port": 0}))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.server)

    def test_nat_type_open(self):
        primary = self.server.addr("udp")
        P = primary[1]
        A = self.server.addr("udp", role="change-both")[1]
        src = free_port_pair()
        r = run_tool([VOVIDA, f"127.0.0.1:{P}", "-v", "-p", str(src)])
        out = r.stdout + r.stderr  # the verbose trace goes to stderr, the verdict to stdout
        # The client exits with its "return value": 0x00 = Open, |0x01 = preserves port.
        self.assertIn("Primary: Open", r.stdout, out)
        self.assertIn("Return value is 0x000001", r.stdout)
        self.assertEqual(r.returncode, 1, out)
        for line in ("test I = 1", "test II = 1", "test III = 1", "test I(2) = 1",
                     "is nat  = 0", "mapped IP same = 1", "preserver port = 1"):
            self.assertIn(line, out)
        mapped = {parse_addr(m) for m in re.findall(r"MappedAddress = (\S+)", out)}
        self.assertEqual(mapped, {("127.0.0.1", src), ("127.0.0.1", src + 1)}, out)
        changed = {parse_addr(m) for m in re.findall(r"ChangedAddress = (\S+)", out)}
        # CHANGED-ADDRESS is the "change IP + port" of the socket that received the request:
        # 127.0.0.2:A for requests to the primary, 127.0.0.1:A for test I(2) (sent to
        # 127.0.0.2:P).
        self.assertEqual(changed, {(ALT_IP, A), ("127.0.0.1", A)}, out)
        sources = {parse_addr(m) for m in re.findall(r"SourceAddress = (\S+)", out)}
        # test I -> primary, test II (change IP) -> 127.0.0.2:P, test III (change port) ->
        # 127.0.0.1:A, test I(2) (sent to 127.0.0.2:P) -> 127.0.0.2:P.
        self.assertEqual(sources, {primary, (ALT_IP, P), ("127.0.0.1", A)}, out)
        # SOFTWARE (RFC 3489's SERVER) is optional in classic responses; if sent, it is ours.
        names = set(re.findall(r"ServerName = (.*)", out))
        self.assertLessEqual(names, {"Traverse-test"}, out)


# ============================================================================================


class _Receiver:
    def data_received(self, data, component):
        pass

    def request_received(self, message, addr, protocol, raw_data):
        pass


@unittest.skipUnless(aice is not None, "aioice not importable")
class Aioice(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        listen = [h.listener("udp", "127.0.0.1")]
        rfc = None
        if HAVE_ALT:
            rfc = {"alternate_address": ALT_IP, "alternate_port": 0}
        cls.server = start_server(h.base_config(listen=listen, rfc5780=rfc))

    @classmethod
    def tearDownClass(cls):
        stop_server(cls.server)

    def test_server_reflexive_candidate(self):
        async def go():
            loop = asyncio.get_running_loop()
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: aice.StunProtocol(_Receiver()), local_addr=("127.0.0.1", 0))
            try:
                host, port = transport.get_extra_info("sockname")[:2]
                protocol.local_candidate = Candidate(
                    foundation="1", component=1, transport="udp", priority=1, host=host,
                    port=port, type="host")
                cand = await asyncio.wait_for(
                    aice.server_reflexive_candidate(protocol, self.server.addr("udp")), 4)
                return (host, port), cand
            finally:
                transport.close()

        local, cand = asyncio.run(go())
        self.assertEqual(cand.type, "srflx")
        self.assertEqual((cand.host, cand.port), local)

    def test_aioice_parses_responses(self):
        with h.udp_socket() as s:
            dest = self.server.addr("udp")
            req = astun.Message(astun.Method.BINDING, astun.Class.REQUEST,
                                attributes={"SOFTWARE": "aioice"})
            s.sendto(bytes(req), dest)
            data, _ = h.udp_recv(s)
            resp = astun.parse_message(data)
            self.assertEqual(resp.message_class, astun.Class.RESPONSE)
            self.assertEqual(resp.transaction_id, req.transaction_id)
            self.assertEqual(resp.attributes["XOR-MAPPED-ADDRESS"], h.sock_addr(s))
            self.assertEqual(resp.attributes["SOFTWARE"], "Traverse-test")
            if HAVE_ALT:
                self.assertEqual(resp.attributes["RESPONSE-ORIGIN"], dest)
                self.assertEqual(resp.attributes["OTHER-ADDRESS"],
                                 self.server.addr("udp", role="change-both"))

            # FINGERPRINT (requested via our encoder) is verified by aioice's parser.
            tid = h.new_tid()
            s.sendto(h.binding_request(tid, fingerprint=True), dest)
            data, _ = h.udp_recv(s)
            resp = astun.parse_message(data)  # raises ValueError on a bad FINGERPRINT
            self.assertIn("FINGERPRINT", resp.attributes)
            self.assertEqual(resp.transaction_id, tid)

            # 420 for an unknown comprehension-required attribute.
            tid = h.new_tid()
            s.sendto(h.binding_request(tid, [(0x0031, b"abcd")]), dest)
            data, _ = h.udp_recv(s)
            resp = astun.parse_message(data)
            self.assertEqual(resp.message_class, astun.Class.ERROR)
            self.assertEqual(resp.attributes["ERROR-CODE"][0], 420)


if __name__ == "__main__":
    unittest.main()
