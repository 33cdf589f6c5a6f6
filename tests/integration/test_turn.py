# SPDX-License-Identifier: Apache-2.0
"""TURN (RFC 8656 / RFC 5766) over UDP on loopback: long-term authentication (RFC 8489 MD5 and
SHA-256, USERHASH, stored keys, REST API credentials and the ``traverse cred`` command), every
error code of Allocate / Refresh / CreatePermission / ChannelBind, retransmissions, permissions,
Send/Data indications, channels, EVEN-PORT reservations, address families, quotas, port
exhaustion, the challenge rate limit and the exit statistics. Black-box: drives $TRAVERSE_BIN.
"""

import base64
import hashlib
import hmac
import json
import re
import signal
import socket
import struct
import time
import unittest

import harness as h
import turn_client as t
from turn_client import TurnServerCase

REALM = h.TEST_REALM
HAVE_ALT = h.can_bind(socket.AF_INET, "127.0.0.2")
V6 = h.ipv6_available()
B64_CHARS = re.compile(rb"^[A-Za-z0-9+/]{4}$")


def turn_cfg(**kw) -> dict:
    kw.setdefault("relay_addresses", ["127.0.0.1"])
    kw.setdefault("peers_allow", ["127.0.0.1/32", "::1/128"])
    kw.setdefault("allocation_lifetime", "10m")
    kw.setdefault("max_allocation_lifetime", "1h")
    return h.turn_config(**kw)


def lifetime_of(msg: h.Message) -> int:
    v = msg.get(t.LIFETIME)
    assert v is not None and len(v) == 4, f"LIFETIME missing/bad in {msg}"
    return struct.unpack("!I", v)[0]


class TurnCase(TurnServerCase):
    # -- assertions --------------------------------------------------------------------------

    def check_challenge(self, resp: h.Message, tid: bytes, method: int = t.ALLOCATE,
                        code: int = 401) -> None:
        """A 401 (or 438) challenge: REALM, NONCE with the RFC 8489 cookie,
        PASSWORD-ALGORITHMS {MD5, SHA-256}, no SOFTWARE, no MESSAGE-INTEGRITY."""
        t.expect_error(self, resp, method, code)
        self.assertEqual(resp.tid, tid)
        self.assertEqual(resp.get(h.REALM), REALM.encode())
        nonce = resp.get(h.NONCE)
        self.assertIsNotNone(nonce, f"no NONCE in {resp}")
        self.assertTrue(nonce.startswith(t.NONCE_COOKIE), f"nonce {nonce!r} lacks the cookie")
        self.assertGreater(len(nonce), 13, nonce)
        self.assertLess(len(nonce), 128, nonce)  # RFC 8489 section 14.10 (ASCII nonce)
        self.assertRegex(nonce[9:13], B64_CHARS, f"security feature set of {nonce!r}")
        algs = resp.get(h.PASSWORD_ALGORITHMS)
        self.assertIsNotNone(algs, f"no PASSWORD-ALGORITHMS in {resp}")
        self.assertEqual(sorted(t.decode_password_algorithms(algs)),
                         [(t.ALG_MD5, b""), (t.ALG_SHA256, b"")])
        self.assertIsNone(resp.get(h.SOFTWARE), "SOFTWARE in a 401/438")
        self.assertIsNone(resp.get(h.MESSAGE_INTEGRITY), "MESSAGE-INTEGRITY in a challenge")
        self.assertIsNone(resp.get(h.MESSAGE_INTEGRITY_SHA256))

    def check_allocate_success(self, c: t.TurnClient, resp: h.Message, *, lifetime: int = 600,
                               relay_host: str = "127.0.0.1",
                               fingerprint: bool = False) -> t.Allocation:
        t.expect_success(resp, t.ALLOCATE)
        self.assertEqual(resp.cookie, h.MAGIC_COOKIE)
        a = t.Allocation(resp)
        self.assertEqual(len(a.relayed), 1, f"XOR-RELAYED-ADDRESS count in {resp}")
        self.assertEqual(a.relay[0], relay_host)
        self.assert_relay_port(a.relay[1])
        self.assertEqual(a.lifetime, lifetime)
        self.assertEqual(resp.count(h.XOR_MAPPED_ADDRESS), 1)
        self.assertEqual(a.mapped, c.conn.local, "XOR-MAPPED-ADDRESS is not the client address")
        self.assertIsNone(resp.get(h.ERROR_CODE))
        if c.algorithm == t.ALG_SHA256:
            self.assertTrue(resp.integrity_sha256_ok(c.key),
                            f"MESSAGE-INTEGRITY-SHA256 missing or wrong in {resp}")
        else:
            self.assertTrue(resp.integrity_ok(c.key), f"MESSAGE-INTEGRITY missing/wrong: {resp}")
        if fingerprint:
            self.assertEqual(resp.attrs[-1].type, h.FINGERPRINT, resp)
            self.assertTrue(resp.fingerprint_ok())
        else:
            self.assertIsNone(resp.get(h.FINGERPRINT), "FINGERPRINT although the request had none")
        return a

    def challenge(self, c: t.TurnClient, method: int = t.ALLOCATE, attrs=None) -> h.Message:
        """Send an unauthenticated request; assert the 401 and learn REALM/NONCE from it."""
        if attrs is None:
            attrs = [t.requested_transport_attr()] if method == t.ALLOCATE else []
        tid, raw = c.build(method, attrs, auth=False)
        resp = c.transact_raw(raw, tid)
        self.check_challenge(resp, tid, method)
        c.learn(resp)
        return resp

    def round_trip_indication(self, c: t.TurnClient, relay, peer: t.Peer, payload: bytes,
                              answer: bytes) -> None:
        c.send_indication(peer.addr, payload)
        self.assertEqual(peer.recv(), (payload, relay))
        peer.send(answer, relay)
        self.assertEqual(c.recv_data(), ("data", peer.addr, answer))


# ============================================================================================


class Authentication(TurnCase):
    @classmethod
    def make_config(cls, tls_files):
        return turn_cfg()

    def test_allocate_without_integrity_gets_401(self):
        c = self.client()
        tid, raw = c.build(t.ALLOCATE, [t.requested_transport_attr()], auth=False)
        resp = c.transact_raw(raw, tid)
        self.check_challenge(resp, tid)
        self.assertEqual(c.conn.last_src, c.conn.server)
        # The 401 is not an allocation: the same 5-tuple can still allocate.
        self.check_allocate_success(c, c.allocate())

    def test_401_for_every_method_without_credentials(self):
        c = self.client()
        for method, attrs in ((t.REFRESH, []),
                              (t.CREATE_PERMISSION, [t.xor_peer_attr("127.0.0.1", 9)]),
                              (t.CHANNEL_BIND, [t.channel_number_attr(0x4000),
                                                t.xor_peer_attr("127.0.0.1", 9)])):
            with self.subTest(method=t.method_name(method)):
                self.challenge(c, method, attrs)

    def test_md5_allocate(self):
        c = self.client()
        resp = c.allocate()
        self.assertEqual(c.challenges, 1)
        a = self.check_allocate_success(c, resp)
        self.assertEqual(c.conn.last_src, c.conn.server)
        self.assertEqual(resp.types()[-1], h.MESSAGE_INTEGRITY)
        self.assertIsNone(a.token)

    def test_allocate_with_fingerprint(self):
        c = self.client(fingerprint=True)
        self.check_allocate_success(c, c.allocate(), fingerprint=True)

    def test_lifetime_negotiation(self):
        # min(max_allocation_lifetime, max(allocation_lifetime, requested)); absent: default.
        for requested, granted in ((None, 600), (30, 600), (600, 600), (1200, 1200),
                                   (3600, 3600), (7200, 3600), (0xFFFFFFFF, 3600)):
            with self.subTest(requested=requested):
                c = self.client()
                self.check_allocate_success(c, c.allocate(lifetime=requested), lifetime=granted)
                self.assertEqual(c.refresh_ok(0), 0)

    def test_sha256_allocate(self):
        c = self.client(algorithm=t.ALG_SHA256)
        resp = c.allocate()
        self.assertEqual(c.challenges, 1)
        self.check_allocate_success(c, resp)
        self.assertIsNone(resp.get(h.MESSAGE_INTEGRITY), "SHA-256 request answered with SHA-1 MI")
        # Subsequent requests stay on SHA-256.
        self.assertEqual(c.refresh_ok(900), 900)
        c.permit(("127.0.0.1", 9))

    def test_sha256_with_fingerprint(self):
        c = self.client(algorithm=t.ALG_SHA256, fingerprint=True)
        self.check_allocate_success(c, c.allocate(), fingerprint=True)

    def test_sha256_wrong_password_401(self):
        c = self.client("alice", "not-wonderland", algorithm=t.ALG_SHA256)
        resp = c.allocate()
        t.expect_error(self, resp, t.ALLOCATE, 401)
        self.assertIsNone(resp.get(h.MESSAGE_INTEGRITY_SHA256))

    def test_sha256_password_algorithms_not_echoed_400(self):
        # RFC 8489 section 9.2.4: PASSWORD-ALGORITHMS must match the list sent with the nonce.
        c = self.client(algorithm=t.ALG_SHA256)
        self.challenge(c)
        c.password_algorithms = t.password_algorithms_value([t.ALG_SHA256])
        t.expect_error(self, c.allocate(retry=False), t.ALLOCATE, 400)

    def test_password_algorithm_not_offered_400(self):
        c = self.client(algorithm=t.ALG_SHA256)
        self.challenge(c)
        tid = h.new_tid()
        raw = h.build_message(
            t.msg_type(t.ALLOCATE, t.REQUEST), tid,
            [t.requested_transport_attr(), (h.USERNAME, b"alice"), (h.REALM, REALM.encode()),
             (h.NONCE, c.nonce), (h.PASSWORD_ALGORITHM, struct.pack("!HH", 0x0003, 0)),
             (h.PASSWORD_ALGORITHMS, c.password_algorithms)],
            integrity_sha256_key=c.key)
        t.expect_error(self, c.transact_raw(raw, tid), t.ALLOCATE, 400)

    def test_userhash_md5(self):
        c = self.client(use_userhash=True)
        resp = c.allocate()
        self.check_allocate_success(c, resp)
        c.permit(("127.0.0.1", 9))

    def test_userhash_sha256(self):
        c = self.client(use_userhash=True, algorithm=t.ALG_SHA256)
        self.check_allocate_success(c, c.allocate())

    def test_unknown_userhash_401(self):
        c = self.client("mallory", "wonderland", use_userhash=True)
        t.expect_error(self, c.allocate(), t.ALLOCATE, 401)

    def test_stored_key_user(self):
        c = self.client("bob")  # configured as key = MD5("bob:example.test:builder")
        self.check_allocate_success(c, c.allocate())

    def test_stored_key_user_given_key_directly(self):
        c = self.client("bob", key=h.md5_key("bob", REALM, "builder"))
        self.check_allocate_success(c, c.allocate())

    def test_wrong_password_401(self):
        c = self.client("alice", "not-wonderland")
        resp = c.allocate()
        self.assertEqual(c.challenges, 1)
        t.expect_error(self, resp, t.ALLOCATE, 401)
        self.assertIsNone(resp.get(h.MESSAGE_INTEGRITY))
        self.assertIsNone(resp.get(t.XOR_RELAYED_ADDRESS))
        # Still a usable challenge (fresh REALM + NONCE), and the right password then works.
        self.assertEqual(resp.get(h.REALM), REALM.encode())
        c.password = "wonderland"
        c.learn(resp)
        self.check_allocate_success(c, c.allocate())

    def test_unknown_user_401(self):
        c = self.client("mallory", "wonderland")
        t.expect_error(self, c.allocate(), t.ALLOCATE, 401)

    def test_wrong_realm_401(self):
        c = self.client()
        self.challenge(c)
        c.realm = "other.test"
        t.expect_error(self, c.allocate(retry=False), t.ALLOCATE, 401)

    def test_corrupted_integrity_401(self):
        c = self.client()
        self.challenge(c)
        tid, raw = c.build(t.ALLOCATE, [t.requested_transport_attr()])
        raw = raw[:-1] + bytes([raw[-1] ^ 0x01])  # last byte of the HMAC
        t.expect_error(self, c.transact_raw(raw, tid), t.ALLOCATE, 401)
        self.check_allocate_success(c, c.allocate())

    def test_integrity_without_username_400(self):
        c = self.client()
        self.challenge(c)
        tid = h.new_tid()
        raw = h.build_message(t.msg_type(t.ALLOCATE, t.REQUEST), tid,
                              [t.requested_transport_attr(), (h.REALM, REALM.encode()),
                               (h.NONCE, c.nonce)], integrity_key=c.key)
        t.expect_error(self, c.transact_raw(raw, tid), t.ALLOCATE, 400)

    def test_tampered_nonce_438(self):
        c, a = self.allocated()
        good = c.nonce
        last = good[-1:]
        c.nonce = good[:-1] + (b"A" if last != b"A" else b"B")
        tid, raw = c.build(t.REFRESH, [t.lifetime_attr(700)])
        resp = c.transact_raw(raw, tid)
        t.expect_error(self, resp, t.REFRESH, 438)
        fresh = resp.get(h.NONCE)
        self.assertIsNotNone(fresh)
        self.assertTrue(fresh.startswith(t.NONCE_COOKIE), fresh)
        self.assertNotEqual(fresh, c.nonce)
        self.assertEqual(resp.get(h.REALM), REALM.encode())
        self.assertIsNone(resp.get(h.SOFTWARE))
        # The retry with the new nonce succeeds (request() follows the 438 itself).
        self.assertEqual(c.refresh_ok(700), 700)
        self.assertEqual(c.nonce, fresh)

    def test_nonce_cookie_absent_gets_438(self):
        c, a = self.allocated()
        c.nonce = b"not-a-server-nonce-0123456789"
        resp = c.refresh(700, retry=False)
        t.expect_error(self, resp, t.REFRESH, 438)


class RestCredentials(TurnCase):
    @classmethod
    def make_config(cls, tls_files):
        return turn_cfg()

    def rest_client(self, secret, name="carol", expiry=None):
        if expiry is None:
            expiry = int(time.time()) + 3600
        user, password = t.rest_credentials(secret, name, expiry)
        return self.client(user, password)

    def test_current_secret(self):
        c = self.rest_client("rest-secret-new")
        self.check_allocate_success(c, c.allocate())

    def test_previous_secret_still_accepted(self):
        c = self.rest_client("rest-secret-old")
        self.check_allocate_success(c, c.allocate())

    def test_rest_sha256(self):
        user, password = t.rest_credentials("rest-secret-new", "carol", int(time.time()) + 600)
        c = self.client(user, password, algorithm=t.ALG_SHA256)
        self.check_allocate_success(c, c.allocate())

    def test_expired_credential_401(self):
        c = self.rest_client("rest-secret-new", expiry=int(time.time()) - 60)
        resp = c.allocate()
        self.assertEqual(c.challenges, 1)
        t.expect_error(self, resp, t.ALLOCATE, 401)

    def test_unknown_secret_401(self):
        c = self.rest_client("some-other-secret")
        t.expect_error(self, c.allocate(), t.ALLOCATE, 401)

    def test_tampered_name_401(self):
        user, password = t.rest_credentials("rest-secret-new", "carol", int(time.time()) + 600)
        c = self.client(user.replace("carol", "carl"), password)
        t.expect_error(self, c.allocate(), t.ALLOCATE, 401)

    def test_cli_minted_credential(self):
        before = int(time.time())
        res = h.run_cli(["cred", "--user", "dave", "--secret", "rest-secret-new",
                         "--ttl", "1h", "--json"])
        self.assertEqual(res.returncode, 0, res.stderr)
        doc = json.loads(res.stdout)
        self.assertEqual(doc["ttl"], 3600)
        servers = doc["iceServers"]
        self.assertEqual(len(servers), 2, doc)
        self.assertEqual(len(servers[0]["urls"]), 1)
        self.assertTrue(servers[0]["urls"][0].startswith("stun:"), servers[0])
        self.assertNotIn("username", servers[0])
        urls = servers[1]["urls"]
        self.assertEqual(len(urls), 3, urls)
        self.assertRegex(urls[0], r"^turn:[^?]+\?transport=udp$")
        self.assertRegex(urls[1], r"^turn:[^?]+\?transport=tcp$")
        self.assertRegex(urls[2], r"^turns:[^?]+\?transport=tcp$")
        username = servers[1]["username"]
        m = re.fullmatch(r"(\d+):dave", username)
        self.assertIsNotNone(m, username)
        self.assertTrue(before + 3600 <= int(m.group(1)) <= int(time.time()) + 3601, username)
        expected = base64.b64encode(hmac.new(b"rest-secret-new", username.encode(),
                                             hashlib.sha1).digest()).decode()
        self.assertEqual(servers[1]["credential"], expected)
        c = self.client(username, servers[1]["credential"])
        self.check_allocate_success(c, c.allocate())

    def test_cli_host_ports_and_secret_file(self):
        udp = self.server.addr("udp")
        path = f"{self.tmp.name}/cli-secret"
        with open(path, "w", encoding="ascii") as f:
            f.write("rest-secret-old\n")
        res = h.run_cli(["cred", "--user", "erin", "--secret-file", path, "--ttl", "10m",
                         "--host", "127.0.0.1", "--port", str(udp[1]), "--tls-port", "5350",
                         "--json"])
        self.assertEqual(res.returncode, 0, res.stderr)
        doc = json.loads(res.stdout)
        self.assertEqual(doc["ttl"], 600)
        stun, turn = doc["iceServers"]
        self.assertEqual(stun["urls"], [f"stun:127.0.0.1:{udp[1]}"])
        self.assertEqual(turn["urls"], [f"turn:127.0.0.1:{udp[1]}?transport=udp",
                                        f"turn:127.0.0.1:{udp[1]}?transport=tcp",
                                        "turns:127.0.0.1:5350?transport=tcp"])
        expiry = int(turn["username"].split(":")[0])
        self.assertTrue(abs(expiry - (time.time() + 600)) <= 5, turn["username"])
        self.assertEqual(turn["credential"], t.rest_credentials("rest-secret-old", "erin",
                                                                expiry)[1])
        c = t.TurnClient(t.UdpConn(udp), turn["username"], turn["credential"])
        self.addCleanup(c.close)
        self.check_allocate_success(c, c.allocate())

    def test_cli_without_user_exits_2(self):
        res = h.run_cli(["cred", "--secret", "rest-secret-new", "--ttl", "1h", "--json"])
        self.assertEqual(res.returncode, 2, res)
        self.assertEqual(res.stdout, "")
        self.assertIn("--user", res.stderr)


class RestSecretFile(TurnCase):
    @classmethod
    def make_config(cls, tls_files):
        path = f"{cls.tmp.name}/rest-secrets"
        with open(path, "w", encoding="ascii") as f:
            f.write("# newest first\nfile-secret-new\n\nfile-secret-old\n")
        return turn_cfg(secret_file=path)

    def test_secrets_from_file(self):
        for secret, ok in (("file-secret-new", True), ("file-secret-old", True),
                           ("rest-secret-new", False), ("# newest first", False)):
            with self.subTest(secret=secret):
                user, password = t.rest_credentials(secret, "frank", int(time.time()) + 60)
                c = self.client(user, password)
                if ok:
                    self.check_allocate_success(c, c.allocate())
                else:
                    t.expect_error(self, c.allocate(), t.ALLOCATE, 401)


class NoAuthSection(TurnCase):
    """Without an auth section the server is STUN-only: TURN requests are answered 400."""

    @classmethod
    def make_config(cls, tls_files):
        return h.base_config()

    def test_allocate_gets_400(self):
        c = self.client()
        tid, raw = c.build(t.ALLOCATE, [t.requested_transport_attr()], auth=False)
        resp = c.transact_raw(raw, tid)
        t.expect_error(self, resp, t.ALLOCATE, 400)
        self.assertIsNone(resp.get(h.NONCE))
        self.assertIsNone(resp.get(h.REALM))

    def test_other_methods_get_400(self):
        c = self.client()
        for method, attrs in ((t.REFRESH, []),
                              (t.CREATE_PERMISSION, [t.xor_peer_attr("127.0.0.1", 9)]),
                              (t.CHANNEL_BIND, [t.channel_number_attr(0x4000),
                                                t.xor_peer_attr("127.0.0.1", 9)])):
            with self.subTest(method=t.method_name(method)):
                tid, raw = c.build(method, attrs, auth=False)
                t.expect_error(self, c.transact_raw(raw, tid), method, 400)

    def test_binding_still_served(self):
        s = h.udp_socket()
        self.addCleanup(s.close)
        tid = h.new_tid()
        resp, _ = h.udp_transact(s, self.server.addr("udp"), h.binding_request(tid))
        h.check_binding_success(self, resp, tid, h.sock_addr(s))


# ============================================================================================


class AllocationLifecycle(TurnCase):
    @classmethod
    def make_config(cls, tls_files):
        return turn_cfg()

    def test_missing_requested_transport_400(self):
        c = self.client()
        t.expect_error(self, c.allocate(transport=None), t.ALLOCATE, 400)
        self.assertEqual(c.challenges, 1)

    def test_requested_transport_tcp_442(self):
        c = self.client()
        t.expect_error(self, c.allocate(transport=t.PROTO_TCP), t.ALLOCATE, 442)

    def test_requested_transport_unknown_protocol_442(self):
        c = self.client()
        t.expect_error(self, c.allocate(transport=132), t.ALLOCATE, 442)

    def test_unknown_comprehension_required_attribute_420(self):
        c, a = self.allocated()
        for method, attrs in ((t.REFRESH, []),
                              (t.CREATE_PERMISSION, [t.xor_peer_attr("127.0.0.1", 9)])):
            with self.subTest(method=t.method_name(method)):
                resp = c.request(method, attrs + [(0x0042, b"\x00\x00\x00\x00")])
                t.expect_error(self, resp, method, 420)
                self.assertEqual(resp.unknown_attributes(), [0x0042])
        # On an Allocate too (a second client, already holding a nonce).
        c2 = self.client()
        self.challenge(c2)
        resp = c2.allocate(extra=[(0x0042, b"\x00\x00\x00\x00")])
        t.expect_error(self, resp, t.ALLOCATE, 420)
        self.assertEqual(resp.unknown_attributes(), [0x0042])
        # The rejected Allocate created nothing.
        self.check_allocate_success(c2, c2.allocate())

    def test_unknown_optional_attribute_ignored(self):
        c = self.client()
        self.check_allocate_success(c, c.allocate(extra=[(0x8042, b"\x01\x02\x03\x04")]))

    def test_second_allocate_other_transaction_437(self):
        c, a = self.allocated()
        resp = c.allocate()
        t.expect_error(self, resp, t.ALLOCATE, 437)
        # The first allocation is untouched.
        self.assertEqual(c.refresh_ok(), 600)

    def test_allocate_retransmission_gets_identical_response(self):
        c = self.client()
        self.challenge(c)
        tid, raw = c.build(t.ALLOCATE, [t.requested_transport_attr()])
        first = c.transact_raw(raw, tid)
        a = self.check_allocate_success(c, first)
        second = c.transact_raw(raw, tid)
        self.assertEqual(second.raw, first.raw, "retransmitted Allocate answered differently")
        third = c.transact_raw(raw, tid)
        self.assertEqual(third.raw, first.raw)
        self.assertEqual(a.relay, t.Allocation(third).relay)

    def test_refresh_retransmission_identical(self):
        c, a = self.allocated()
        tid, raw = c.build(t.REFRESH, [t.lifetime_attr(1000)])
        first = c.transact_raw(raw, tid)
        t.expect_success(first, t.REFRESH)
        self.assertEqual(lifetime_of(first), 1000)
        self.assertEqual(c.transact_raw(raw, tid).raw, first.raw)

    def test_refresh_lifetimes(self):
        c, a = self.allocated()
        self.assertEqual(c.refresh_ok(1200), 1200)
        self.assertEqual(c.refresh_ok(), 600)
        self.assertEqual(c.refresh_ok(30), 600)
        self.assertEqual(c.refresh_ok(100000), 3600)
        resp = c.refresh(900)
        t.expect_success(resp, t.REFRESH)
        self.assertTrue(resp.integrity_ok(c.key))
        self.assertIsNone(resp.get(t.XOR_RELAYED_ADDRESS))

    def test_refresh_zero_deletes(self):
        c, a = self.allocated()
        peer = self.peer()
        c.permit(peer.addr)
        tid, raw = c.build(t.REFRESH, [t.lifetime_attr(0)])
        resp = c.transact_raw(raw, tid)
        t.expect_success(resp, t.REFRESH)
        self.assertEqual(lifetime_of(resp), 0)
        self.assertTrue(resp.integrity_ok(c.key))
        # Its retransmission succeeds too.
        again = c.transact_raw(raw, tid)
        t.expect_success(again, t.REFRESH)
        self.assertEqual(lifetime_of(again), 0)
        # Later requests find no allocation.
        t.expect_error(self, c.refresh(600), t.REFRESH, 437)
        t.expect_error(self, c.refresh(0), t.REFRESH, 437)
        t.expect_error(self, c.create_permission(peer.addr), t.CREATE_PERMISSION, 437)
        t.expect_error(self, c.channel_bind(0x4000, peer.addr), t.CHANNEL_BIND, 437)
        # The relayed port no longer forwards.
        peer.send(b"after delete", a.relay)
        self.assertIsNone(c.expect_no_data(0.3))
        # A new Allocate on the same 5-tuple works.
        self.check_allocate_success(c, c.allocate())

    def test_binding_on_an_allocation_5_tuple(self):
        # STUN Binding needs no credentials, also on a 5-tuple that holds an allocation.
        c, a = self.allocated()
        tid = h.new_tid()
        resp = c.transact_raw(h.binding_request(tid), tid)
        h.check_binding_success(self, resp, tid, c.conn.local)
        self.assertEqual(c.refresh_ok(), 600)

    def test_requests_without_allocation_437(self):
        c = self.client()
        t.expect_error(self, c.refresh(600), t.REFRESH, 437)
        self.assertEqual(c.challenges, 1)
        t.expect_error(self, c.create_permission(("127.0.0.1", 9)), t.CREATE_PERMISSION, 437)
        t.expect_error(self, c.channel_bind(0x4000, ("127.0.0.1", 9)), t.CHANNEL_BIND, 437)

    def test_other_users_credentials_441(self):
        c, a = self.allocated()
        bob = t.TurnClient(c.conn, "bob", "builder")
        bob.realm, bob.nonce = c.realm, c.nonce
        for method, attrs in ((t.REFRESH, [t.lifetime_attr(600)]),
                              (t.CREATE_PERMISSION, [t.xor_peer_attr("127.0.0.1", 9)]),
                              (t.CHANNEL_BIND, [t.channel_number_attr(0x4000),
                                                t.xor_peer_attr("127.0.0.1", 9)])):
            with self.subTest(method=t.method_name(method)):
                resp = bob.request(method, attrs)
                t.expect_error(self, resp, method, 441)
        # alice is still fine.
        self.assertEqual(c.refresh_ok(), 600)

    def test_requested_family_ipv6_without_ipv6_relay_440(self):
        c = self.client()
        resp = c.allocate(family=h.FAMILY_V6)
        t.expect_error(self, resp, t.ALLOCATE, 440)
        self.assertIsNone(resp.get(t.XOR_RELAYED_ADDRESS))
        # Explicit IPv4 is fine.
        self.check_allocate_success(c, c.allocate(family=h.FAMILY_V4))

    def test_requested_family_unknown_value_440(self):
        # Unknown family 0x03: 440 per RFC 8656 section 7.2 (address family not supported).
        c = self.client()
        t.expect_error(self, c.allocate(family=0x03), t.ALLOCATE, 440)

    def test_additional_family_with_ipv4_only_relay(self):
        c = self.client()
        resp = c.allocate(additional_family=h.FAMILY_V6)
        a = self.check_allocate_success(c, resp)
        err = resp.get(t.ADDRESS_ERROR_CODE)
        self.assertIsNotNone(err, f"no ADDRESS-ERROR-CODE in {resp}")
        family, code, _ = t.decode_address_error_code(err)
        self.assertEqual((family, code), (h.FAMILY_V6, 440))
        self.assertEqual(a.relay[0], "127.0.0.1")

    def test_additional_family_ipv4_value_400(self):
        c = self.client()
        t.expect_error(self, c.allocate(additional_family=h.FAMILY_V4), t.ALLOCATE, 400)

    def test_requested_and_additional_family_together_400(self):
        c = self.client()
        resp = c.allocate(family=h.FAMILY_V4, additional_family=h.FAMILY_V6)
        t.expect_error(self, resp, t.ALLOCATE, 400)

    def test_even_port_reservation(self):
        # Several pairs, each from two fresh client sockets: with 2 workers the request with
        # the token lands on the other worker about half of the time.
        results = []
        for _ in range(6):
            c1 = self.client()
            resp = c1.allocate(even_port=True)
            a1 = self.check_allocate_success(c1, resp)
            self.assertEqual(a1.relay[1] % 2, 0, f"EVEN-PORT gave odd port {a1.relay}")
            self.assertIsNotNone(a1.token, f"no RESERVATION-TOKEN in {resp}")
            self.assertEqual(len(a1.token), 8)
            c2 = self.client()
            resp2 = c2.allocate(token=a1.token)
            results.append((c1.conn.local, c2.conn.local, a1.relay, resp2.error_code()))
            if resp2.cls != t.SUCCESS:
                continue
            a2 = self.check_allocate_success(c2, resp2)
            self.assertEqual(a2.relay, ("127.0.0.1", a1.relay[1] + 1))
            self.assertIsNone(a2.token)
            # The token was consumed: a third client cannot use it again.
            c3 = self.client()
            resp3 = c3.allocate(token=a1.token)
            self.assertEqual(resp3.cls, t.ERROR, f"reservation token reused: {resp3}")
        failed = [r for r in results if r[3] is not None]
        self.assertEqual(failed, [], "Allocate with RESERVATION-TOKEN failed "
                         "(client of the EVEN-PORT allocation, client with the token, "
                         "reserved-for relay, error)")

    def test_even_port_without_reservation(self):
        c = self.client()
        resp = c.allocate(even_port=False)
        a = self.check_allocate_success(c, resp)
        self.assertEqual(a.relay[1] % 2, 0, f"EVEN-PORT gave odd port {a.relay}")
        self.assertIsNone(a.token)

    def test_even_port_and_reservation_token_together_400(self):
        c = self.client()
        resp = c.allocate(even_port=True, token=b"\x01" * 8)
        t.expect_error(self, resp, t.ALLOCATE, 400)

    def test_unknown_reservation_token_508(self):
        c = self.client()
        t.expect_error(self, c.allocate(token=b"\x5a" * 8), t.ALLOCATE, 508)


# ============================================================================================


class PermissionsAndChannels(TurnCase):
    @classmethod
    def make_config(cls, tls_files):
        return turn_cfg()

    def test_send_and_data_indications(self):
        c, a = self.allocated()
        p1, p2 = self.peer(), self.peer()
        resp = c.permit(p1.addr, p2.addr)  # two XOR-PEER-ADDRESS in one request
        self.assertTrue(resp.integrity_ok(c.key))
        self.round_trip_indication(c, a.relay, p1, b"hello peer one", b"hi client")
        self.round_trip_indication(c, a.relay, p2, b"\x00\x01\x02", b"\xff" * 33)
        # Permissions are per IP address: a third port on 127.0.0.1 gets through too.
        p3 = self.peer()
        p3.send(b"from p3", a.relay)
        self.assertEqual(c.recv_data(), ("data", p3.addr, b"from p3"))

    def test_payload_sizes(self):
        c, a = self.allocated()
        peer = self.peer()
        c.permit(peer.addr)
        for n in (0, 1, 2, 3, 4, 5, 500, 1400, 1472):
            payload = bytes((i * 7 + n) & 0xFF for i in range(n))
            with self.subTest(size=n):
                self.round_trip_indication(c, a.relay, peer, payload, payload[::-1])

    def test_peer_without_permission_is_dropped(self):
        c, a = self.allocated()
        peer = self.peer()
        peer.send(b"no permission yet", a.relay)
        self.assertIsNone(c.expect_no_data(0.3))
        c.send_indication(peer.addr, b"no permission either")
        self.assertIsNone(peer.expect_nothing(0.3))
        c.permit(peer.addr)
        peer.send(b"now allowed", a.relay)
        self.assertEqual(c.recv_data(), ("data", peer.addr, b"now allowed"))

    @unittest.skipUnless(HAVE_ALT, "cannot bind 127.0.0.2")
    def test_permission_is_per_ip(self):
        c, a = self.allocated()
        allowed, other = self.peer(), self.peer("127.0.0.2")
        c.permit(allowed.addr)
        other.send(b"from 127.0.0.2", a.relay)
        allowed.send(b"from 127.0.0.1", a.relay)
        self.assertEqual(c.recv_data(), ("data", allowed.addr, b"from 127.0.0.1"))
        self.assertIsNone(c.expect_no_data(0.3))

    def test_create_permission_without_peer_400(self):
        c, a = self.allocated()
        t.expect_error(self, c.create_permission(), t.CREATE_PERMISSION, 400)

    def test_forbidden_peers_403(self):
        c, a = self.allocated()
        for peer in (("10.0.0.1", 5000), ("169.254.169.254", 80), ("0.0.0.0", 5000),
                     ("127.0.0.2", 5000), ("192.168.1.1", 5000), ("224.0.0.1", 5000),
                     ("255.255.255.255", 5000)):
            with self.subTest(peer=peer):
                t.expect_error(self, c.create_permission(peer), t.CREATE_PERMISSION, 403)
                t.expect_error(self, c.channel_bind(0x4000, peer), t.CHANNEL_BIND, 403)

    def test_v4_mapped_peer_on_ipv4_allocation_443(self):
        # An IPv6-family XOR-PEER-ADDRESS (even ::ffff:a.b.c.d) on an IPv4-only allocation:
        # the family check (RFC 8656 section 9.2) comes first. The filter on mapped forms is
        # tested on an IPv6 allocation (Ipv6PeerFilter).
        c, a = self.allocated()
        t.expect_error(self, c.create_permission(("::ffff:127.0.0.2", 5000)),
                       t.CREATE_PERMISSION, 443)

    def test_one_forbidden_peer_fails_whole_request(self):
        c, a = self.allocated()
        peer = self.peer()
        t.expect_error(self, c.create_permission(peer.addr, ("10.0.0.1", 5000)),
                       t.CREATE_PERMISSION, 403)
        peer.send(b"not installed", a.relay)
        self.assertIsNone(c.expect_no_data(0.3))

    @unittest.skipUnless(HAVE_ALT, "cannot bind 127.0.0.2")
    def test_send_to_forbidden_peer_dropped(self):
        c, a = self.allocated()
        other = self.peer("127.0.0.2")
        c.send_indication(other.addr, b"must not arrive")
        self.assertIsNone(other.expect_nothing(0.3))

    def test_ipv6_peer_on_ipv4_allocation_443(self):
        c, a = self.allocated()
        t.expect_error(self, c.create_permission(("::1", 5000)), t.CREATE_PERMISSION, 443)
        t.expect_error(self, c.channel_bind(0x4000, ("::1", 5000)), t.CHANNEL_BIND, 443)

    def test_channel_data_round_trip(self):
        c, a = self.allocated()
        peer = self.peer()
        resp = c.bind(0x4000, peer.addr)
        self.assertTrue(resp.integrity_ok(c.key))
        self.assertIsNone(resp.get(h.ERROR_CODE))
        c.send_channel(0x4000, b"via channel")
        self.assertEqual(peer.recv(), (b"via channel", a.relay))
        peer.send(b"back via channel", a.relay)
        self.assertEqual(c.recv_data(), ("channel", 0x4000, b"back via channel"))
        # Padded ChannelData over UDP is accepted too, padding not forwarded.
        c.send_channel(0x4000, b"odd", pad=True)
        self.assertEqual(peer.recv(), (b"odd", a.relay))
        # ChannelBind installed a permission: Send indications work without CreatePermission.
        c.send_indication(peer.addr, b"indication to a bound peer")
        self.assertEqual(peer.recv(), (b"indication to a bound peer", a.relay))

    def test_channel_bind_installs_permission_for_ip(self):
        c, a = self.allocated()
        bound, other_port = self.peer(), self.peer()
        c.bind(0x4001, bound.addr)
        other_port.send(b"same ip other port", a.relay)
        self.assertEqual(c.recv_data(), ("data", other_port.addr, b"same ip other port"))

    def test_channel_limits_and_several_channels(self):
        c, a = self.allocated()
        low, high = self.peer(), self.peer()
        c.bind(0x4000, low.addr)
        c.bind(0x4FFF, high.addr)
        c.send_channel(0x4FFF, b"to high")
        c.send_channel(0x4000, b"to low")
        self.assertEqual(high.recv(), (b"to high", a.relay))
        self.assertEqual(low.recv(), (b"to low", a.relay))
        high.send(b"from high", a.relay)
        self.assertEqual(c.recv_data(), ("channel", 0x4FFF, b"from high"))
        low.send(b"from low", a.relay)
        self.assertEqual(c.recv_data(), ("channel", 0x4000, b"from low"))

    def test_channel_number_out_of_range_400(self):
        c, a = self.allocated()
        peer = self.peer()
        for number in (0x0000, 0x3FFF, 0x5000, 0x7FFF, 0xFFFF):
            with self.subTest(channel=hex(number)):
                t.expect_error(self, c.channel_bind(number, peer.addr), t.CHANNEL_BIND, 400)

    def test_channel_bind_missing_attributes_400(self):
        c, a = self.allocated()
        peer = self.peer()
        t.expect_error(self, c.channel_bind(0x4000, None), t.CHANNEL_BIND, 400)
        t.expect_error(self, c.channel_bind(None, peer.addr), t.CHANNEL_BIND, 400)

    def test_channel_rebind_conflicts_400(self):
        c, a = self.allocated()
        p1, p2 = self.peer(), self.peer()
        c.bind(0x4002, p1.addr)
        t.expect_error(self, c.channel_bind(0x4002, p2.addr), t.CHANNEL_BIND, 400)
        t.expect_error(self, c.channel_bind(0x4003, p1.addr), t.CHANNEL_BIND, 400)
        c.bind(0x4002, p1.addr)  # refreshing the same binding is fine
        c.bind(0x4003, p2.addr)
        c.send_channel(0x4002, b"still p1")
        self.assertEqual(p1.recv(), (b"still p1", a.relay))
        c.send_channel(0x4003, b"p2")
        self.assertEqual(p2.recv(), (b"p2", a.relay))

    def test_channel_data_on_unbound_channel_dropped(self):
        c, a = self.allocated()
        peer = self.peer()
        c.permit(peer.addr)
        c.send_channel(0x4010, b"unbound")
        self.assertIsNone(peer.expect_nothing(0.3))

    def test_channel_data_before_allocation_dropped(self):
        c = self.client()
        c.send_channel(0x4000, b"nothing allocated")
        self.assertIsNone(c.expect_no_data(0.3))
        self.check_allocate_success(c, c.allocate())

    def test_send_indication_errors_are_silent(self):
        c, a = self.allocated()
        peer = self.peer()
        c.permit(peer.addr)
        # Missing DATA, missing XOR-PEER-ADDRESS: dropped, no response.
        tid, raw = c.build(t.SEND, [t.xor_peer_attr(*peer.addr)], auth=False, cls=t.INDICATION)
        c.conn.send(raw)
        tid, raw = c.build(t.SEND, [(t.DATA_ATTR, b"x")], auth=False, cls=t.INDICATION)
        c.conn.send(raw)
        self.assertIsNone(peer.expect_nothing(0.3))
        self.assertIsNone(c.expect_no_data(0.1))
        self.assertEqual(c.stray, [])
        self.round_trip_indication(c, a.relay, peer, b"fine", b"fine too")

    def test_allocations_are_isolated(self):
        c1, a1 = self.allocated()
        c2, a2 = self.allocated()
        self.assertNotEqual(a1.relay, a2.relay)
        peer = self.peer()
        c1.permit(peer.addr)
        c2.permit(peer.addr)
        peer.send(b"for c2", a2.relay)
        peer.send(b"for c1", a1.relay)
        self.assertEqual(c2.recv_data(), ("data", peer.addr, b"for c2"))
        self.assertEqual(c1.recv_data(), ("data", peer.addr, b"for c1"))
        self.assertIsNone(c2.expect_no_data(0.2))


# ============================================================================================


class ExternalRelayAddress(TurnCase):
    @classmethod
    def make_config(cls, tls_files):
        return turn_cfg(relay_addresses=[{"address": "127.0.0.1", "external": "127.0.0.3"}])

    def test_external_address_reported(self):
        c = self.client()
        a = self.check_allocate_success(c, c.allocate(), relay_host="127.0.0.3")
        # The socket itself is bound to 127.0.0.1 on the reported port.
        peer = self.peer()
        c.permit(peer.addr)
        bound = ("127.0.0.1", a.relay[1])
        c.send_indication(peer.addr, b"external")
        self.assertEqual(peer.recv(), (b"external", bound))
        peer.send(b"to the bound socket", bound)
        self.assertEqual(c.recv_data(), ("data", peer.addr, b"to the bound socket"))


@unittest.skipUnless(V6, "no IPv6 loopback")
class Ipv6PeerFilter(TurnCase):
    @classmethod
    def make_config(cls, tls_files):
        return turn_cfg(relay_addresses=["127.0.0.1", "::1"])

    def test_ipv6_forms_of_forbidden_ipv4_peers_403(self):
        c = self.client()
        a = self.check_allocate_success(c, c.allocate(family=h.FAMILY_V6), relay_host="::1")
        for peer in ("::ffff:127.0.0.2", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
                     "::ffff:0.0.0.0", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1",
                     "::", "fe80::1", "fc00::1", "ff02::1"):
            with self.subTest(peer=peer):
                t.expect_error(self, c.create_permission((peer, 5000)),
                               t.CREATE_PERMISSION, 403)
        # ::1 is allowed by the test config, and IPv4 peers do not fit an IPv6 allocation.
        peer = self.peer("::1")
        c.permit(peer.addr)
        self.round_trip_indication(c, a.relay, peer, b"v6 peer", b"v6 answer")
        t.expect_error(self, c.create_permission(("127.0.0.1", 5000)),
                       t.CREATE_PERMISSION, 443)


class DefaultPeerPolicy(TurnCase):
    """Without peers.allow, loopback / private / link-local peers are refused."""

    @classmethod
    def make_config(cls, tls_files):
        return turn_cfg(peers_allow=[])

    def test_loopback_and_private_peers_refused(self):
        c, a = self.allocated()
        for peer in ("127.0.0.1", "127.0.0.2", "10.1.2.3", "172.16.0.1", "192.168.0.1",
                     "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1"):
            with self.subTest(peer=peer):
                t.expect_error(self, c.create_permission((peer, 5000)),
                               t.CREATE_PERMISSION, 403)
        # A public address is fine (CreatePermission sends nothing to it).
        c.permit(("8.8.8.8", 53))


class PeerDenyList(TurnCase):
    @classmethod
    def make_config(cls, tls_files):
        return turn_cfg(peers_allow=["127.0.0.1/32"], peers_deny=["127.0.0.1/32", "8.8.8.0/24"])

    def test_deny_wins_over_allow(self):
        c, a = self.allocated()
        t.expect_error(self, c.create_permission(("127.0.0.1", 5000)), t.CREATE_PERMISSION, 403)
        t.expect_error(self, c.create_permission(("8.8.8.8", 53)), t.CREATE_PERMISSION, 403)
        t.expect_error(self, c.channel_bind(0x4000, ("8.8.8.8", 53)), t.CHANNEL_BIND, 403)
        c.permit(("8.8.4.4", 53))


class UserQuota(TurnCase):
    @classmethod
    def make_config(cls, tls_files):
        return turn_cfg(quotas={"max_allocations_per_user": 1})

    def test_second_allocation_of_same_user_486(self):
        c1, a1 = self.allocated()
        c2 = self.client()
        t.expect_error(self, c2.allocate(), t.ALLOCATE, 486)
        # Another user is not affected.
        bob = self.client("bob")
        self.check_allocate_success(bob, bob.allocate())
        # Freeing alice's allocation lets her allocate again.
        self.assertEqual(c1.refresh_ok(0), 0)
        self.check_allocate_success(c2, c2.allocate())
        self.assertEqual(c2.refresh_ok(0), 0)
        self.assertEqual(bob.refresh_ok(0), 0)


@unittest.skipUnless(HAVE_ALT, "cannot bind 127.0.0.2")
class IpAndTotalQuota(TurnCase):
    @classmethod
    def make_config(cls, tls_files):
        return turn_cfg(quotas={"max_allocations_per_ip": 2, "max_allocations": 3})

    def test_per_ip_486_then_total_508(self):
        alice, _ = self.allocated("alice")
        bob, _ = self.allocated("bob")
        third = self.client("alice")
        t.expect_error(self, third.allocate(), t.ALLOCATE, 486)     # 2 from 127.0.0.1
        other_ip, _ = self.allocated("bob", local_host="127.0.0.2")  # 3rd in total
        fourth = self.client("alice", local_host="127.0.0.2")
        t.expect_error(self, fourth.allocate(), t.ALLOCATE, 508)     # server total
        self.assertEqual(alice.refresh_ok(0), 0)
        self.check_allocate_success(third, third.allocate())
        for c in (bob, other_ip, third):
            self.assertEqual(c.refresh_ok(0), 0)


class PortExhaustion(TurnCase):
    @classmethod
    def make_config(cls, tls_files):
        first, _ = h.relay_port_window(2)
        return turn_cfg(workers=1, port_range=(first, first + 1))

    def test_508_then_free_and_reallocate(self):
        first, last = self.port_range()
        c1, a1 = self.allocated()
        c2, a2 = self.allocated()
        self.assertEqual(sorted([a1.relay[1], a2.relay[1]]), [first, last])
        c3 = self.client()
        resp = c3.allocate()
        t.expect_error(self, resp, t.ALLOCATE, 508)
        self.assertEqual(c1.refresh_ok(0), 0)
        a3 = self.check_allocate_success(c3, c3.allocate())
        self.assertEqual(a3.relay, a1.relay)
        for c in (c2, c3):
            self.assertEqual(c.refresh_ok(0), 0)


class Bursts(TurnCase):
    """Datagrams that queue up while the server is stopped are drained together, so runs to one
    destination leave as UDP GSO sends: every datagram must still arrive alone, whole, in
    order, in both directions, whatever the sizes."""

    @classmethod
    def make_config(cls, tls_files):
        return turn_cfg(workers=1)

    # Equal sizes (coalesced), a shorter one (ends a run), a larger one (starts a new run), one
    # above the coalescing limit, and an empty one.
    SIZES = [100] * 30 + [40] + [100] * 5 + [300] * 3 + [1500, 1500] + [0] + [64] * 70

    def payloads(self, tag: bytes) -> list[bytes]:
        out = []
        for i, n in enumerate(self.SIZES):
            head = tag + i.to_bytes(2, "big")
            out.append((head * (n // len(head) + 1))[:n])
        return out

    def stopped(self):
        server = self.server

        class Stopped:
            def __enter__(self):
                server.send_signal(signal.SIGSTOP)

            def __exit__(self, *exc):
                server.send_signal(signal.SIGCONT)

        return Stopped()

    def test_peer_bursts_reach_the_client_as_channel_data(self):
        c, a = self.allocated()
        peer = self.peer()
        c.bind(0x4000, peer.addr)
        sent = self.payloads(b"C")
        with self.stopped():
            for p in sent:
                peer.send(p, a.relay)
        got = [c.recv_data() for _ in sent]
        self.assertEqual(got, [("channel", 0x4000, p) for p in sent])
        c.expect_no_data()

    def test_peer_bursts_reach_the_client_as_data_indications(self):
        c, a = self.allocated()
        peer = self.peer()
        c.permit(peer.addr)
        sent = self.payloads(b"D")
        with self.stopped():
            for p in sent:
                peer.send(p, a.relay)
        got = [c.recv_data() for _ in sent]
        self.assertEqual(got, [("data", peer.addr, p) for p in sent])

    def test_client_bursts_reach_the_peers(self):
        # Two allocations, two peers, their datagrams interleaved in one drain of the listener.
        c1, a1 = self.allocated()
        c2, a2 = self.allocated("bob")
        p1, p2 = self.peer(), self.peer()
        c1.bind(0x4000, p1.addr)
        c2.bind(0x4001, p2.addr)
        sent1, sent2 = self.payloads(b"1"), self.payloads(b"2")
        with self.stopped():
            for x, y in zip(sent1, sent2):
                c1.send_channel(0x4000, x)
                c2.send_channel(0x4001, y)
        self.assertEqual([p1.recv() for _ in sent1], [(x, a1.relay) for x in sent1])
        self.assertEqual([p2.recv() for _ in sent2], [(y, a2.relay) for y in sent2])
        p1.expect_nothing()


class BurstsWithoutGso(Bursts):
    """The same bursts with relay.udp_gso off: one send per datagram."""

    @classmethod
    def make_config(cls, tls_files):
        cfg = turn_cfg(workers=1)
        cfg["relay"]["udp_gso"] = False
        return cfg


@unittest.skipUnless(HAVE_ALT, "cannot bind 127.0.0.2")
class ChallengeRateLimit(TurnCase):
    RATE = 5

    @classmethod
    def make_config(cls, tls_files):
        return turn_cfg(quotas={"challenges_per_second": cls.RATE})

    def test_401s_are_rate_limited_per_source_ip(self):
        burst = 40
        c = self.client()
        tids = set()
        for _ in range(burst):
            tid, raw = c.build(t.ALLOCATE, [t.requested_transport_attr()], auth=False)
            tids.add(tid)
            c.conn.send(raw)
        answers = []
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:
            try:
                answers.append(c.next_frame(max(0.01, deadline - time.monotonic())))
            except (socket.timeout, TimeoutError):
                break
        for m in answers:
            self.assertEqual(m.error_code()[0], 401, m)
            self.assertIn(m.tid, tids)
        self.assertGreaterEqual(len(answers), 1, "no 401 at all")
        self.assertLessEqual(len(answers), 2 * self.RATE,
                             f"{len(answers)} challenges for {burst} requests in < 1 s")
        # Another source IP still gets its challenge right away.
        other = self.client(local_host="127.0.0.2")
        self.challenge(other)


class FinalTurnStats(unittest.TestCase):
    def test_counters(self):
        srv = h.ServerProcess(turn_cfg())
        self.addCleanup(srv.cleanup)
        srv.start()
        c = t.TurnClient(t.UdpConn(srv.addr("udp")), "alice", "wonderland")
        self.addCleanup(c.close)
        peer = t.Peer()
        self.addCleanup(peer.close)
        a = c.allocate_ok()                                             # 1 challenge, 1 created
        self.assertEqual(c.challenges, 1)
        t.expect_error(self, c.create_permission(("10.0.0.1", 9)), t.CREATE_PERMISSION, 403)
        c.permit(peer.addr)
        for i in range(3):                                              # 3 to the peer
            c.send_indication(peer.addr, b"out %d" % i)
            self.assertEqual(peer.recv(), (b"out %d" % i, a.relay))
        for i in range(2):                                              # 2 to the client
            peer.send(b"in %d" % i, a.relay)
            self.assertEqual(c.recv_data(), ("data", peer.addr, b"in %d" % i))
        c.bind(0x4000, peer.addr)
        c.send_channel(0x4000, b"chan out")                             # 4th to the peer
        self.assertEqual(peer.recv(), (b"chan out", a.relay))
        peer.send(b"chan in", a.relay)                                  # 3rd to the client
        self.assertEqual(c.recv_data(), ("channel", 0x4000, b"chan in"))
        self.assertEqual(c.refresh_ok(0), 0)                            # 1 deleted
        time.sleep(0.1)
        self.assertEqual(srv.stop(), 0, srv.stderr_text()[-4000:])
        stats = srv.final_stats()
        want = {"allocations_created": 1, "allocations_deleted": 1, "peers_refused": 1,
                "relayed_to_peer_packets": 4, "relayed_to_client_packets": 3,
                "challenges_sent": 1}
        got = {k: int(stats[k]) if k in stats else None for k in want}
        self.assertEqual(got, want, stats)


if __name__ == "__main__":
    unittest.main()
