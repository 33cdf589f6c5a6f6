# SPDX-License-Identifier: Apache-2.0
"""Self-test of the harness' STUN codec against the RFC 5769 vectors (no server needed)."""

import os
import struct
import unicodedata
import hashlib
import unittest

import harness as h

VECTORS = os.path.join(h.REPO_ROOT, "tests", "vectors", "rfc5769")
TID = bytes.fromhex("b7e7a701bc34d686fa87dfae")
SHORT_TERM_KEY = b"VOkJxbRl1RmTxUk/WvJxBt"


def load(name: str) -> bytes:
    with open(os.path.join(VECTORS, name), encoding="ascii") as f:
        return bytes.fromhex(f.read().strip())


def saslprep_simple(s: str) -> str:
    # Enough of RFC 4013 for the vector: map-to-nothing (B.1, incl. U+00AD) then NFKC.
    s = "".join(ch for ch in s if ch not in "\u00ad\u034f\u1806\u180b\u180c\u180d\u200b"
                "\u200c\u200d\u2060\ufe00\ufeff")
    return unicodedata.normalize("NFKC", s)


class Rfc5769Vectors(unittest.TestCase):
    def test_request(self):
        raw = load("request.hex")
        m = h.parse_message(raw)
        self.assertEqual(m.type, h.BINDING_REQUEST)
        self.assertEqual((m.method, m.cls), (1, 0))
        self.assertFalse(m.classic)
        self.assertEqual(m.tid, TID)
        self.assertEqual(m.types(), [h.SOFTWARE, h.PRIORITY, h.ICE_CONTROLLED, h.USERNAME,
                                     h.MESSAGE_INTEGRITY, h.FINGERPRINT])
        self.assertEqual(m.software(), "STUN test client")
        self.assertEqual(m.get(h.PRIORITY), bytes.fromhex("6e0001ff"))
        self.assertEqual(m.get(h.ICE_CONTROLLED), bytes.fromhex("932ff9b151263b36"))
        self.assertEqual(m.get(h.USERNAME), b"evtj:h6vY")
        # USERNAME padding in the vector is 0x20 bytes, not zeros.
        user = m.get_attr(h.USERNAME)
        self.assertEqual(raw[user.offset + 4 + 9:user.offset + 16], b"   ")
        self.assertTrue(m.integrity_ok(SHORT_TERM_KEY))
        self.assertFalse(m.integrity_ok(b"wrong password"))
        self.assertTrue(m.fingerprint_ok())

    def test_response_ipv4(self):
        m = h.parse_message(load("response-ipv4.hex"))
        self.assertEqual(m.type, h.BINDING_SUCCESS)
        self.assertEqual((m.method, m.cls), (1, 2))
        self.assertEqual(m.tid, TID)
        self.assertEqual(m.software(), "test vector")
        self.assertEqual(m.xor_mapped(), ("192.0.2.1", 32853))
        self.assertTrue(m.integrity_ok(SHORT_TERM_KEY))
        self.assertTrue(m.fingerprint_ok())

    def test_response_ipv6(self):
        m = h.parse_message(load("response-ipv6.hex"))
        self.assertEqual(m.xor_mapped(), ("2001:db8:1234:5678:11:2233:4455:6677", 32853))
        self.assertEqual(m.software(), "test vector")
        self.assertTrue(m.integrity_ok(SHORT_TERM_KEY))
        self.assertTrue(m.fingerprint_ok())

    def test_request_long_term(self):
        m = h.parse_message(load("request-long-term.hex"))
        self.assertEqual(m.tid, bytes.fromhex("78ad3433c6ad72c029da412e"))
        self.assertEqual(m.get(h.USERNAME).decode("utf-8"), "\u30de\u30c8\u30ea\u30c3\u30af\u30b9")
        self.assertEqual(m.get(h.NONCE), b"f//499k954d6OL34oL9FSTvy64sA")
        self.assertEqual(m.get(h.REALM), b"example.org")
        self.assertIsNone(m.get(h.FINGERPRINT))
        password = saslprep_simple("The\u00adM\u00aatr\u2168")
        self.assertEqual(password, "TheMatrIX")
        key = hashlib.md5(("\u30de\u30c8\u30ea\u30c3\u30af\u30b9:example.org:" + password)
                          .encode("utf-8")).digest()
        self.assertTrue(m.integrity_ok(key))

    def test_reencode_matches_vectors(self):
        # Rebuild the IPv4 response from its parts; the encoder must reproduce the vector
        # byte for byte (padding of SOFTWARE is 0x20 in the vector, so we pass it pre-encoded).
        raw = load("response-ipv4.hex")
        sw = h.encode_attr(h.SOFTWARE, b"test vector", pad_byte=b" ")
        xma = (h.XOR_MAPPED_ADDRESS, h.encode_xor_address("192.0.2.1", 32853, TID))
        built = h.build_message(h.BINDING_SUCCESS, TID, [sw, xma], fingerprint=True,
                                integrity_key=SHORT_TERM_KEY)
        self.assertEqual(built, raw)
        raw6 = load("response-ipv6.hex")
        xma6 = (h.XOR_MAPPED_ADDRESS,
                h.encode_xor_address("2001:db8:1234:5678:11:2233:4455:6677", 32853, TID))
        built6 = h.build_message(h.BINDING_SUCCESS, TID, [sw, xma6], fingerprint=True,
                                 integrity_key=SHORT_TERM_KEY)
        self.assertEqual(built6, raw6)

    def test_rebuild_request(self):
        raw = load("request.hex")
        attrs = [
            h.encode_attr(h.SOFTWARE, b"STUN test client"),
            (h.PRIORITY, bytes.fromhex("6e0001ff")),
            (h.ICE_CONTROLLED, bytes.fromhex("932ff9b151263b36")),
            h.encode_attr(h.USERNAME, b"evtj:h6vY", pad_byte=b" "),
        ]
        self.assertEqual(h.build_message(h.BINDING_REQUEST, TID, attrs, fingerprint=True,
                                         integrity_key=SHORT_TERM_KEY), raw)


class CodecEdges(unittest.TestCase):
    def test_fingerprint_detects_corruption(self):
        raw = bytearray(h.binding_request(fingerprint=True))
        self.assertTrue(h.parse_message(bytes(raw)).fingerprint_ok())
        raw[10] ^= 0x01
        self.assertFalse(h.parse_message(bytes(raw)).fingerprint_ok())

    def test_strict_parse(self):
        good = h.binding_request(attrs=[(0x8022, b"abc")])
        h.parse_message(good)
        with self.assertRaises(h.StunError):
            h.parse_message(good[:19])
        with self.assertRaises(h.StunError):
            h.parse_message(good + b"\x00\x00\x00\x00")
        with self.assertRaises(h.StunError):
            h.parse_message(b"\xc0" + good[1:])
        bad_attr_len = good[:20] + struct.pack("!HH", 0x8022, 40) + good[24:]
        with self.assertRaises(h.StunError):
            h.parse_message(bad_attr_len)

    def test_classic_message(self):
        tid16 = h.new_tid(classic=True)
        self.assertNotEqual(tid16[:4], h.COOKIE_BYTES)
        raw = h.build_message(h.BINDING_REQUEST, tid16)
        self.assertEqual(raw[4:20], tid16)
        m = h.parse_message(raw)
        self.assertTrue(m.classic)
        self.assertEqual(m.tid16, tid16)

    def test_address_roundtrip(self):
        tid = h.new_tid()
        for host, port in (("127.0.0.1", 1), ("::1", 65535), ("fe80::1:2", 3478)):
            self.assertEqual(h.decode_address(h.encode_address(host, port)), (host, port))
            self.assertEqual(h.decode_xor_address(h.encode_xor_address(host, port, tid), tid),
                             (host, port))

    def test_error_code(self):
        v = struct.pack("!HBB", 0, 4, 20) + b"Unknown Attribute"
        self.assertEqual(h.decode_error_code(v), (420, "Unknown Attribute"))

    def test_yaml_emitter(self):
        cfg = {
            "server": {"software": "", "workers": 2},
            "listen": [{"transport": "udp", "address": "::1", "port": 0},
                       {"transport": "tcp", "address": "127.0.0.1", "port": 0}],
            "limits": {"idle_timeout": "2s"},
        }
        self.assertEqual(h.to_yaml(cfg), "\n".join([
            "server:",
            '  software: ""',
            "  workers: 2",
            "listen:",
            "  - transport: udp",
            '    address: "::1"',
            "    port: 0",
            "  - transport: tcp",
            "    address: 127.0.0.1",
            "    port: 0",
            "limits:",
            "  idle_timeout: 2s",
        ]))

    def test_logfmt(self):
        line = ('ts=2024-01-01T00:00:00Z level=info msg="final stats" binding_requests=3 '
                'malformed_dropped=7')
        kv = h.parse_logfmt(line)
        self.assertEqual(kv["msg"], "final stats")
        self.assertEqual(kv["binding_requests"], "3")
        self.assertEqual(kv["malformed_dropped"], "7")


if __name__ == "__main__":
    unittest.main()
