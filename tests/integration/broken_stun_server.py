# SPDX-License-Identifier: Apache-2.0
"""A deliberately broken RFC 5780 STUN server, for natcheck's server-validation tests.

It listens like an RFC 5780 server (primary IP and alternate IP, each on two ports) and sends
OTHER-ADDRESS and RESPONSE-ORIGIN, but answers every request from the socket it arrived on:
CHANGE-REQUEST is ignored. A client that does not check where answers come from would call any
NAT endpoint-independent-filtering ("full cone") against it.

Use in-process (``BrokenRfc5780Server(primary_ip, alternate_ip)``) or as a program:
``python3 broken_stun_server.py PRIMARY_IP ALTERNATE_IP [PORT]`` prints ``ready PORT ALT_PORT``
and serves until stdin closes.
"""

import selectors
import socket
import sys
import threading

import harness as h


class BrokenRfc5780Server:
    def __init__(self, primary_ip: str, alternate_ip: str, port: int = 0):
        self.sockets = {}
        first = h.udp_socket(primary_ip, port)
        p = first.getsockname()[1]
        second = h.udp_socket(primary_ip, p + 1 if port else 0)
        a = second.getsockname()[1]
        self.sockets[(primary_ip, p)] = first
        self.sockets[(primary_ip, a)] = second
        self.sockets[(alternate_ip, p)] = h.udp_socket(alternate_ip, p)
        self.sockets[(alternate_ip, a)] = h.udp_socket(alternate_ip, a)
        self.primary = (primary_ip, p)
        self.other = (alternate_ip, a)
        self.stop_r, self.stop_w = socket.socketpair()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        sel = selectors.DefaultSelector()
        for addr, s in self.sockets.items():
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, addr)
        sel.register(self.stop_r, selectors.EVENT_READ, None)
        while True:
            for key, _ in sel.select():
                if key.data is None:
                    sel.close()
                    return
                data, src = key.fileobj.recvfrom(2048)
                try:
                    req = h.parse_message(data)
                except h.StunError:
                    continue
                if req.type != h.BINDING_REQUEST:
                    continue
                resp = h.build_message(h.BINDING_SUCCESS, req.tid, [
                    (h.XOR_MAPPED_ADDRESS, h.encode_xor_address(src[0], src[1], req.tid)),
                    (h.RESPONSE_ORIGIN, h.encode_address(*key.data)),
                    (h.OTHER_ADDRESS, h.encode_address(*self.other)),
                ])
                key.fileobj.sendto(resp, src)

    def close(self):
        self.stop_w.send(b"x")
        self.thread.join(timeout=5)
        for s in self.sockets.values():
            s.close()
        self.stop_r.close()
        self.stop_w.close()


if __name__ == "__main__":
    server = BrokenRfc5780Server(sys.argv[1], sys.argv[2],
                                 int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    print(f"ready {server.primary[1]} {server.other[1]}", flush=True)
    sys.stdin.read()
    server.close()
