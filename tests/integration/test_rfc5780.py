# SPDX-License-Identifier: Apache-2.0
"""RFC 5780 NAT behaviour discovery support (OTHER-ADDRESS, RESPONSE-ORIGIN, CHANGE-REQUEST,
RESPONSE-PORT, PADDING) and RFC 3489 CHANGED-ADDRESS / SOURCE-ADDRESS, on 127.0.0.1 + 127.0.0.2.
"""

import socket
import struct
import unittest

import harness as h

PRIMARY_IP = "127.0.0.1"
ALT_IP = "127.0.0.2"
HAVE_ALT = h.can_bind(socket.AF_INET, ALT_IP)
ROLES = (None, "change-port", "change-address", "change-both")


def change_request(flags: int):
    return (h.CHANGE_REQUEST, struct.pack("!I", flags))


@unittest.skipUnless(HAVE_ALT, f"cannot bind {ALT_IP} on this host")
class Rfc5780(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cfg = h.base_config(
            listen=[h.listener("udp", PRIMARY_IP), h.listener("tcp", PRIMARY_IP)],
            rfc5780={"alternate_address": ALT_IP, "alternate_port": 0})
        cls.server = h.ServerProcess(cfg)
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise
        cls.sockets = {role: cls.server.addr("udp", role=role) for role in ROLES}
        cls.primary = cls.sockets[None]
        cls.P = cls.primary[1]
        cls.A = cls.sockets["change-both"][1]

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.server.stop()
        finally:
            cls.server.cleanup()
        if rc != 0:
            raise AssertionError(f"server exit status {rc}\n{cls.server.stderr_text()[-4000:]}")

    def client(self):
        s = h.udp_socket(PRIMARY_IP)
        self.addCleanup(s.close)
        return s

    @staticmethod
    def changed(addr, flags):
        ip, port = addr
        if flags & h.CHANGE_IP:
            ip = ALT_IP if ip == PRIMARY_IP else PRIMARY_IP
        if flags & h.CHANGE_PORT:
            port = Rfc5780.A if port == Rfc5780.P else Rfc5780.P
        return (ip, port)

    def transact(self, sock, dest, attrs=(), fingerprint=False):
        tid = h.new_tid()
        resp, src = h.udp_transact(sock, dest, h.binding_request(tid, attrs, fingerprint))
        h.check_binding_success(self, resp, tid, h.sock_addr(sock), fingerprint=fingerprint)
        return resp, src

    # ---------------------------------------------------------------------------------------

    def test_listening_lines(self):
        udp = sorted(((l.host, l.port, l.role or "") for l in self.server.listeners
                      if l.transport == "udp"), key=lambda t: t[2])
        self.assertEqual(udp, sorted([
            (PRIMARY_IP, self.P, ""),
            (PRIMARY_IP, self.A, "change-port"),
            (ALT_IP, self.P, "change-address"),
            (ALT_IP, self.A, "change-both"),
        ], key=lambda t: t[2]))
        self.assertNotEqual(self.P, self.A)
        tcp = [l for l in self.server.listeners if l.transport == "tcp"]
        self.assertEqual([(l.host, l.role) for l in tcp], [(PRIMARY_IP, None)])

    def test_primary_binding_has_other_address_and_response_origin(self):
        s = self.client()
        resp, src = self.transact(s, self.primary)
        self.assertEqual(src, self.primary)
        self.assertEqual(resp.count(h.OTHER_ADDRESS), 1)
        self.assertEqual(resp.address(h.OTHER_ADDRESS), (ALT_IP, self.A))
        self.assertEqual(resp.count(h.RESPONSE_ORIGIN), 1)
        self.assertEqual(resp.address(h.RESPONSE_ORIGIN), self.primary)

    def test_change_request_from_primary(self):
        s = self.client()
        for flags, role in ((0, None), (h.CHANGE_PORT, "change-port"),
                            (h.CHANGE_IP, "change-address"),
                            (h.CHANGE_IP | h.CHANGE_PORT, "change-both")):
            with self.subTest(flags=flags):
                resp, src = self.transact(s, self.primary, [change_request(flags)],
                                          fingerprint=bool(flags & 2))
                self.assertEqual(src, self.sockets[role], "response sent from the wrong socket")
                self.assertEqual(resp.address(h.RESPONSE_ORIGIN), src)
                self.assertEqual(resp.address(h.OTHER_ADDRESS), (ALT_IP, self.A))

    def test_change_request_relative_to_receiving_socket(self):
        s = self.client()
        for role in ROLES:
            dest = self.sockets[role]
            for flags in (0, h.CHANGE_PORT, h.CHANGE_IP, h.CHANGE_IP | h.CHANGE_PORT):
                with self.subTest(to=role, flags=flags):
                    resp, src = self.transact(s, dest, [change_request(flags)])
                    self.assertEqual(src, self.changed(dest, flags))
                    self.assertEqual(resp.address(h.RESPONSE_ORIGIN), src)

    def test_plain_request_to_each_socket(self):
        s = self.client()
        for role in ROLES:
            with self.subTest(to=role):
                resp, src = self.transact(s, self.sockets[role])
                self.assertEqual(src, self.sockets[role])
                self.assertEqual(resp.address(h.RESPONSE_ORIGIN), self.sockets[role])

    def test_response_port(self):
        a, b = self.client(), self.client()
        tid = h.new_tid()
        rp = (h.RESPONSE_PORT, struct.pack("!HH", h.sock_addr(b)[1], 0))
        a.sendto(h.binding_request(tid, [rp]), self.primary)
        data, src = h.udp_recv(b)
        resp = h.parse_message(data)
        # XOR-MAPPED-ADDRESS is where the request came from, not where the response went.
        h.check_binding_success(self, resp, tid, h.sock_addr(a))
        self.assertEqual(src, self.primary)
        self.assertIsNone(h.udp_expect_silence(a), "response also sent to the source port")

    def test_response_port_with_change_request(self):
        a, b = self.client(), self.client()
        tid = h.new_tid()
        rp = (h.RESPONSE_PORT, struct.pack("!HH", h.sock_addr(b)[1], 0))
        a.sendto(h.binding_request(tid, [rp, change_request(h.CHANGE_IP | h.CHANGE_PORT)],
                                   fingerprint=True), self.primary)
        data, src = h.udp_recv(b)
        resp = h.parse_message(data)
        h.check_binding_success(self, resp, tid, h.sock_addr(a), fingerprint=True)
        self.assertEqual(src, (ALT_IP, self.A))
        self.assertEqual(resp.address(h.RESPONSE_ORIGIN), (ALT_IP, self.A))
        self.assertIsNone(h.udp_expect_silence(a))

    def test_padding(self):
        s = self.client()
        for n in (4, 64, 1500):
            with self.subTest(padding=n):
                resp, _ = self.transact(s, self.primary, [(h.PADDING, b"\x00" * n)],
                                        fingerprint=True)
                pad = resp.get(h.PADDING)
                self.assertIsNotNone(pad, "response has no PADDING")
                self.assertEqual(len(pad), n)

    def test_change_request_over_tcp_is_400(self):
        s = h.tcp_connect(self.server.addr("tcp"))
        self.addCleanup(s.close)
        for flags in (h.CHANGE_IP | h.CHANGE_PORT, h.CHANGE_PORT):
            with self.subTest(flags=flags):
                tid = h.new_tid()
                resp = h.stream_transact(s, h.binding_request(tid, [change_request(flags)]))
                h.check_error(self, resp, tid, 400)

    # -- RFC 3489 classic clients ----------------------------------------------------------

    def classic(self, sock, dest, flags=None):
        tid16 = h.new_tid(classic=True)
        attrs = [] if flags is None else [change_request(flags)]
        resp, src = h.udp_transact(sock, dest, h.build_message(h.BINDING_REQUEST, tid16, attrs))
        self.assertEqual(resp.type, h.BINDING_SUCCESS, resp)
        self.assertEqual(resp.tid16, tid16)
        self.assertEqual(resp.address(h.MAPPED_ADDRESS), h.sock_addr(sock))
        self.assertEqual(resp.count(h.CHANGED_ADDRESS), 1, resp)
        # RFC 3489 11.2.3: where the response would come from with "change IP" and "change
        # port" set, i.e. relative to the socket the request arrived on (alt:alt for the
        # primary socket).
        self.assertEqual(resp.address(h.CHANGED_ADDRESS),
                         self.changed(dest, h.CHANGE_IP | h.CHANGE_PORT))
        self.assertEqual(resp.count(h.SOURCE_ADDRESS), 1, resp)
        self.assertEqual(resp.address(h.SOURCE_ADDRESS), src)
        return resp, src

    def test_classic_request(self):
        resp, src = self.classic(self.client(), self.primary)
        self.assertEqual(src, self.primary)
        self.assertEqual(resp.address(h.CHANGED_ADDRESS), (ALT_IP, self.A))

    def test_classic_change_request(self):
        s = self.client()
        for flags in (0, h.CHANGE_IP, h.CHANGE_PORT, h.CHANGE_IP | h.CHANGE_PORT):
            with self.subTest(flags=flags):
                _, src = self.classic(s, self.primary, flags)
                self.assertEqual(src, self.changed(self.primary, flags))

    def test_classic_request_to_change_address_socket(self):
        # The RFC 3489 "test I(2)" request goes to CHANGED-ADDRESS's IP at the primary port.
        _, src = self.classic(self.client(), self.sockets["change-address"])
        self.assertEqual(src, (ALT_IP, self.P))


class WithoutRfc5780(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = h.ServerProcess(h.base_config(listen=[h.listener("udp", PRIMARY_IP)]))
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise
        cls.primary = cls.server.addr("udp")

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.server.stop()
        finally:
            cls.server.cleanup()
        if rc != 0:
            raise AssertionError(f"server exit status {rc}\n{cls.server.stderr_text()[-4000:]}")

    def test_only_one_udp_socket(self):
        self.assertEqual([(l.transport, l.host, l.role) for l in self.server.listeners],
                         [("udp", PRIMARY_IP, None)])

    def test_no_rfc5780_attributes(self):
        s = h.udp_socket()
        self.addCleanup(s.close)
        tid = h.new_tid()
        resp, src = h.udp_transact(s, self.primary, h.binding_request(tid))
        h.check_binding_success(self, resp, tid, h.sock_addr(s))
        self.assertIsNone(resp.get(h.OTHER_ADDRESS))
        self.assertIsNone(resp.get(h.RESPONSE_ORIGIN))

    def test_change_request_refused_as_unknown(self):
        # CHANGE-REQUEST is comprehension-required (0x0003). A server without the second
        # address cannot honour it, so it says so with 420 listing the attribute (RFC 5780
        # section 7.2); that is how RFC 5780 clients learn the server lacks support.
        s = h.udp_socket()
        self.addCleanup(s.close)
        for flags in (h.CHANGE_IP | h.CHANGE_PORT, h.CHANGE_IP, 0):
            with self.subTest(flags=flags):
                tid = h.new_tid()
                resp, src = h.udp_transact(s, self.primary,
                                           h.binding_request(tid, [change_request(flags)]))
                self.assertEqual(src, self.primary)
                h.check_error(self, resp, tid, 420)
                self.assertEqual(resp.unknown_attributes(), [0x0003])
                self.assertIsNone(resp.get(h.OTHER_ADDRESS))
                self.assertIsNone(resp.get(h.RESPONSE_ORIGIN))


if __name__ == "__main__":
    unittest.main()
