# SPDX-License-Identifier: Apache-2.0
"""ICMP errors from peers reach the client (RFC 8656 section 11): a Send indication to a closed
UDP port on 127.0.0.1 makes the kernel answer ICMP port unreachable to the relay socket, and the
server reports it in a Data indication with XOR-PEER-ADDRESS and an ICMP attribute, no DATA."""

import socket
import struct
import time
import unittest

import harness as h
import turn_client as t
from turn_client import TurnServerCase

ICMP_ATTR = 0x8004


def closed_udp_port() -> int:
    """A loopback UDP port with nothing bound to it (bound, noted, released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class IcmpRelay(TurnServerCase):
    @classmethod
    def make_config(cls, tls_files):
        return h.turn_config(relay_addresses=["127.0.0.1"], peers_allow=["127.0.0.1/32"])

    def next_data_indication(self, c: t.TurnClient, timeout: float = 2.0) -> h.Message:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no Data indication within the timeout")
            frame = c.next_frame(remaining)
            if isinstance(frame, t.ChannelData):
                continue
            if frame.type == t.msg_type(t.DATA, t.INDICATION):
                return frame

    def test_port_unreachable_is_reported_with_an_icmp_attribute(self):
        c, a = self.allocated()
        port = closed_udp_port()
        c.permit(("127.0.0.1", port))
        c.send_indication(("127.0.0.1", port), b"is anybody there?")
        ind = self.next_data_indication(c)
        self.assertEqual(h.decode_xor_address(ind.get(t.XOR_PEER_ADDRESS), ind.tid),
                         ("127.0.0.1", port))
        self.assertIsNone(ind.get(t.DATA_ATTR), "an ICMP report carries no DATA")
        icmp = ind.get(ICMP_ATTR)
        self.assertIsNotNone(icmp, f"no ICMP attribute in {ind}")
        self.assertEqual(len(icmp), 8)
        type_bits, code, error_data = struct.unpack("!HBxI", icmp)
        self.assertEqual(type_bits & 0x7F, 3)  # destination unreachable
        self.assertEqual(type_bits >> 7, 0)    # reserved bits zero
        self.assertEqual(code, 3)              # port unreachable
        self.assertEqual(error_data, 0)

    def test_the_relay_keeps_working_after_an_icmp_error(self):
        # The error is read from the socket's error queue; a socket left in the error state
        # would stop relaying (or spin). A live peer still gets through both ways.
        c, a = self.allocated()
        port = closed_udp_port()
        c.permit(("127.0.0.1", port))
        c.send_indication(("127.0.0.1", port), b"x")
        self.next_data_indication(c)
        peer = self.peer()
        c.permit(peer.addr)
        c.send_indication(peer.addr, b"still relaying")
        self.assertEqual(peer.recv()[0], b"still relaying")
        peer.send(b"and back", a.relay)
        self.assertEqual(c.recv_data(), ("data", peer.addr, b"and back"))


if __name__ == "__main__":
    unittest.main()
