# SPDX-License-Identifier: Apache-2.0
"""A small TURN client (RFC 8656 / RFC 5766) for the black-box suites. Standard library only.

* ``UdpConn`` / ``StreamConn`` carry frames to and from the server. Stream framing (RFC 8656
  section 11.5): a STUN message is read by its header length field, a ChannelData message by its
  length field plus padding to a multiple of 4.
* ``TurnClient`` speaks long-term credentials (RFC 8489 section 9.2): the first request goes
  out without MESSAGE-INTEGRITY, a 401 with REALM and NONCE is answered by a retry with
  USERNAME (or USERHASH), REALM, NONCE and MESSAGE-INTEGRITY (MD5 key) or
  PASSWORD-ALGORITHM/PASSWORD-ALGORITHMS and MESSAGE-INTEGRITY-SHA256 (SHA-256 key); a 438
  updates the nonce and retries once. Allocate, Refresh, CreatePermission, ChannelBind, Send and
  Data indications, ChannelData.
* ``Peer``: a UDP socket standing for a peer on loopback.

Every blocking operation is bounded by harness.SOCKET_TIMEOUT.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import socket
import ssl
import struct
import time

import harness as h

# --------------------------------------------------------------------------------------------
# Protocol constants

# Methods
ALLOCATE = 0x003
REFRESH = 0x004
SEND = 0x006
DATA = 0x007
CREATE_PERMISSION = 0x008
CHANNEL_BIND = 0x009

# Classes
REQUEST = 0
INDICATION = 1
SUCCESS = 2
ERROR = 3

# Attributes (RFC 8656 section 18, RFC 8489 section 14)
CHANNEL_NUMBER = 0x000C
LIFETIME = 0x000D
XOR_PEER_ADDRESS = 0x0012
DATA_ATTR = 0x0013
XOR_RELAYED_ADDRESS = 0x0016
REQUESTED_ADDRESS_FAMILY = 0x0017
EVEN_PORT = 0x0018
REQUESTED_TRANSPORT = 0x0019
DONT_FRAGMENT = 0x001A
RESERVATION_TOKEN = 0x0022
ADDITIONAL_ADDRESS_FAMILY = 0x8000
ADDRESS_ERROR_CODE = 0x8001
ICMP = 0x8004

PROTO_UDP = 17
PROTO_TCP = 6

ALG_MD5 = 0x0001
ALG_SHA256 = 0x0002

NONCE_COOKIE = b"obMatJos2"

CHANNEL_MIN = 0x4000
CHANNEL_MAX = 0x4FFF


def msg_type(method: int, cls: int) -> int:
    return ((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2)
            | ((cls & 1) << 4) | ((cls & 2) << 7))


def method_name(method: int) -> str:
    return {ALLOCATE: "Allocate", REFRESH: "Refresh", SEND: "Send", DATA: "Data",
            CREATE_PERMISSION: "CreatePermission", CHANNEL_BIND: "ChannelBind",
            1: "Binding"}.get(method, f"method 0x{method:03x}")


# --------------------------------------------------------------------------------------------
# Attribute values


def u32(value: int) -> bytes:
    return struct.pack("!I", value)


def lifetime_attr(seconds: int):
    return (LIFETIME, u32(seconds))


def requested_transport_attr(proto: int = PROTO_UDP):
    return (REQUESTED_TRANSPORT, struct.pack("!B3x", proto))


def family_value(family: int) -> bytes:
    """REQUESTED-ADDRESS-FAMILY / ADDITIONAL-ADDRESS-FAMILY value: family byte + 3 zeros."""
    return struct.pack("!B3x", family)


def xor_peer_attr(host: str, port: int):
    """XOR-PEER-ADDRESS; the value depends on the transaction id (IPv6), so it is a callable."""
    return (XOR_PEER_ADDRESS, lambda tid: h.encode_xor_address(host, port, tid))


def channel_number_attr(channel: int):
    return (CHANNEL_NUMBER, struct.pack("!HH", channel, 0))


def password_algorithms_value(algs) -> bytes:
    return b"".join(struct.pack("!HH", a, 0) for a in algs)


def decode_password_algorithms(value: bytes) -> list[tuple[int, bytes]]:
    out = []
    pos = 0
    while pos < len(value):
        if pos + 4 > len(value):
            raise h.StunError("truncated PASSWORD-ALGORITHMS")
        alg, plen = struct.unpack_from("!HH", value, pos)
        params = value[pos + 4:pos + 4 + plen]
        if len(params) != plen:
            raise h.StunError("truncated PASSWORD-ALGORITHMS parameters")
        out.append((alg, params))
        pos += 4 + plen + h.pad4(plen)
    return out


def decode_address_error_code(value: bytes) -> tuple[int, int, str]:
    """ADDRESS-ERROR-CODE (RFC 8656 section 18.13): (family, code, reason)."""
    if len(value) < 4:
        raise h.StunError("short ADDRESS-ERROR-CODE")
    family = value[0]
    cls = value[2] & 0x07
    return family, cls * 100 + value[3], value[4:].decode("utf-8")


def userhash(user: str, realm: str) -> bytes:
    return hashlib.sha256(f"{user}:{realm}".encode("utf-8")).digest()


def sha256_key(user: str, realm: str, password: str) -> bytes:
    return hashlib.sha256(f"{user}:{realm}:{password}".encode("utf-8")).digest()


def rest_credentials(secret: str, name: str, expiry: int) -> tuple[str, str]:
    """TURN REST API credentials: ("<expiry>:<name>", base64(HMAC-SHA1(secret, username)))."""
    username = f"{expiry}:{name}"
    mac = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(mac).decode("ascii")


# --------------------------------------------------------------------------------------------
# Frames


class ChannelData:
    __slots__ = ("channel", "data", "raw")

    def __init__(self, channel: int, data: bytes, raw: bytes):
        self.channel = channel
        self.data = data
        self.raw = raw  # as received, padding included

    def __repr__(self) -> str:
        return f"ChannelData(0x{self.channel:04x}, {self.data!r})"


def is_channel_data(frame: bytes) -> bool:
    return len(frame) >= 1 and (frame[0] & 0xC0) == 0x40


def channel_data(channel: int, data: bytes, pad: bool) -> bytes:
    frame = struct.pack("!HH", channel, len(data)) + data
    return frame + b"\x00" * h.pad4(len(data)) if pad else frame


def parse_frame(frame: bytes):
    """A ChannelData or a harness Message."""
    if is_channel_data(frame):
        if len(frame) < 4:
            raise h.StunError("short ChannelData")
        channel, length = struct.unpack_from("!HH", frame, 0)
        if len(frame) < 4 + length:
            raise h.StunError(f"ChannelData length {length} but {len(frame) - 4} bytes")
        return ChannelData(channel, frame[4:4 + length], frame)
    return h.parse_message(frame)


# --------------------------------------------------------------------------------------------
# Connections to the server


class UdpConn:
    stream = False

    def __init__(self, server: tuple[str, int], local_host: str | None = None):
        self.server = (h.canonical_host(server[0]), server[1])
        if local_host is None:
            local_host = "::1" if ":" in server[0] else "127.0.0.1"
        self.sock = h.udp_socket(local_host)
        self.last_src: tuple[str, int] | None = None

    @property
    def local(self) -> tuple[str, int]:
        return h.sock_addr(self.sock)

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def recv_frame(self, timeout: float = h.SOCKET_TIMEOUT) -> bytes:
        data, src = h.udp_recv(self.sock, timeout)
        self.last_src = src
        return data

    def close(self) -> None:
        self.sock.close()


class StreamConn:
    """TCP or TLS connection; ``recv_frame`` returns one STUN message or one ChannelData frame
    (with its padding, which it checks is zeros if ``strict_padding``)."""

    stream = True

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.server = (h.canonical_host(sock.getpeername()[0]), sock.getpeername()[1])
        self.last_src = self.server
        self.last_padding = b""

    @classmethod
    def tcp(cls, server: tuple[str, int]) -> "StreamConn":
        return cls(h.tcp_connect(server))

    @classmethod
    def tls(cls, server: tuple[str, int], cafile: str) -> "StreamConn":
        return cls(h.tls_connect(server, cafile))

    @property
    def local(self) -> tuple[str, int]:
        return h.sock_addr(self.sock)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_frame(self, timeout: float = h.SOCKET_TIMEOUT) -> bytes:
        self.sock.settimeout(timeout)
        head = h.recv_exact(self.sock, 4)
        (length,) = struct.unpack_from("!H", head, 2)
        if is_channel_data(head):
            body = h.recv_exact(self.sock, length + h.pad4(length))
            self.last_padding = body[length:]
            return head + body
        return head + h.recv_exact(self.sock, h.HEADER_LEN - 4 + length)

    def closed_by_server(self, wait: float = 0.2) -> bool:
        """True when the server has closed the connection (EOF or reset seen within ``wait``);
        False when it is still open and silent. Consumes nothing the server did not send."""
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (ConnectionResetError, ssl.SSLError, OSError):
            return True

    def close(self) -> None:
        """Close (TLS: close_notify first); idempotent."""
        if self.sock.fileno() < 0:
            return
        try:
            if isinstance(self.sock, ssl.SSLSocket):
                self.sock.settimeout(0.5)
                try:
                    self.sock.unwrap()
                except (OSError, ssl.SSLError, ValueError):
                    pass
        finally:
            self.sock.close()


def connect(transport: str, server: tuple[str, int], *, cafile: str | None = None,
            local_host: str | None = None):
    if transport == "udp":
        return UdpConn(server, local_host)
    if transport == "tcp":
        return StreamConn.tcp(server)
    if transport == "tls":
        return StreamConn.tls(server, cafile)
    raise ValueError(transport)


# --------------------------------------------------------------------------------------------
# Client


class TurnError(AssertionError):
    def __init__(self, what: str, msg):
        self.msg = msg
        self.code = msg.error_code()[0] if isinstance(msg, h.Message) and msg.error_code() else None
        super().__init__(f"{what}: {msg!r} (error {msg.error_code() if self.code else None})")


class Allocation:
    def __init__(self, msg: h.Message):
        self.msg = msg
        self.relayed = [h.decode_xor_address(a.value, msg.tid) for a in msg.attrs
                        if a.type == XOR_RELAYED_ADDRESS]
        lt = msg.get(LIFETIME)
        self.lifetime = struct.unpack("!I", lt)[0] if lt is not None and len(lt) == 4 else None
        self.mapped = msg.xor_mapped()
        self.token = msg.get(RESERVATION_TOKEN)

    @property
    def relay(self) -> tuple[str, int]:
        return self.relayed[0]


class TurnClient:
    """One TURN client on one connection (one 5-tuple)."""

    def __init__(self, conn, username: str | None = None, password: str | None = None, *,
                 key: bytes | None = None, algorithm: int = ALG_MD5, use_userhash: bool = False,
                 fingerprint: bool = False):
        self.conn = conn
        self.username = username
        self.password = password
        self.fixed_key = key  # a precomputed long-term key (MD5 or SHA-256, per ``algorithm``)
        self.algorithm = algorithm
        self.use_userhash = use_userhash
        self.fingerprint = fingerprint
        self.realm: str | None = None
        self.nonce: bytes | None = None
        self.password_algorithms: bytes | None = None  # value as received in the 401
        self.inbox: list = []  # indications and ChannelData received while waiting
        self.stray: list[h.Message] = []  # responses to other transactions
        self.last_challenge: h.Message | None = None
        self.challenges = 0
        self.requests_sent = 0
        self._last_was_authenticated = False

    # -- credentials ---------------------------------------------------------------------------

    @property
    def key(self) -> bytes:
        if self.fixed_key is not None:
            return self.fixed_key
        if self.algorithm == ALG_SHA256:
            return sha256_key(self.username, self.realm, self.password)
        return h.md5_key(self.username, self.realm, self.password)

    def learn(self, challenge: h.Message) -> None:
        """Take REALM / NONCE / PASSWORD-ALGORITHMS from a 401 or 438."""
        realm = challenge.get(h.REALM)
        if realm is not None:
            self.realm = realm.decode("utf-8")
        self.nonce = challenge.get(h.NONCE)
        algs = challenge.get(h.PASSWORD_ALGORITHMS)
        if algs is not None:
            self.password_algorithms = algs

    def auth_attrs(self) -> list:
        attrs = []
        if self.use_userhash:
            attrs.append((h.USERHASH, userhash(self.username, self.realm)))
        else:
            attrs.append((h.USERNAME, self.username.encode("utf-8")))
        attrs.append((h.REALM, self.realm.encode("utf-8")))
        attrs.append((h.NONCE, self.nonce))
        if self.algorithm == ALG_SHA256:
            attrs.append((h.PASSWORD_ALGORITHM, struct.pack("!HH", ALG_SHA256, 0)))
            attrs.append((h.PASSWORD_ALGORITHMS, self.password_algorithms
                          if self.password_algorithms is not None
                          else password_algorithms_value([ALG_MD5, ALG_SHA256])))
        return attrs

    @property
    def authenticated(self) -> bool:
        return self.nonce is not None and self.realm is not None and (
            self.fixed_key is not None or self.password is not None)

    def response_integrity_ok(self, msg: h.Message) -> bool:
        if self.algorithm == ALG_SHA256:
            return msg.integrity_sha256_ok(self.key)
        return msg.integrity_ok(self.key)

    # -- messages ------------------------------------------------------------------------------

    def build(self, method: int, attrs=(), *, tid: bytes | None = None, auth: bool = True,
              fingerprint: bool | None = None, cls: int = REQUEST) -> tuple[bytes, bytes]:
        """Encode a request (authenticated when credentials are known and ``auth``)."""
        tid = tid if tid is not None else h.new_tid()
        resolved = []
        for a in attrs:
            if isinstance(a, (bytes, bytearray)):
                resolved.append(a)  # pre-encoded attribute
            else:
                t, v = a
                resolved.append((t, v(tid) if callable(v) else v))
        kw = {}
        # Remembered for request(): a 401 to a request that carried credentials is final.
        self._last_was_authenticated = auth and self.authenticated
        if auth and self.authenticated:
            resolved += self.auth_attrs()
            if self.algorithm == ALG_SHA256:
                kw["integrity_sha256_key"] = self.key
            else:
                kw["integrity_key"] = self.key
        fp = self.fingerprint if fingerprint is None else fingerprint
        return tid, h.build_message(msg_type(method, cls), tid, resolved, fingerprint=fp, **kw)

    def next_frame(self, timeout: float = h.SOCKET_TIMEOUT):
        return parse_frame(self.conn.recv_frame(timeout))

    def transact_raw(self, data: bytes, tid: bytes, timeout: float = h.SOCKET_TIMEOUT
                     ) -> h.Message:
        """Send bytes; return the response with ``tid`` (other frames are kept aside)."""
        self.conn.send(data)
        self.requests_sent += 1
        return self.wait_response(tid, timeout)

    def wait_response(self, tid: bytes, timeout: float = h.SOCKET_TIMEOUT) -> h.Message:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout(f"no response to transaction {tid.hex()}")
            frame = self.next_frame(remaining)
            if isinstance(frame, h.Message) and frame.cls in (SUCCESS, ERROR):
                if frame.tid == tid:
                    return frame
                self.stray.append(frame)
            else:
                self.inbox.append(frame)

    def request(self, method: int, attrs=(), *, auth: bool = True, retry: bool = True,
                fingerprint: bool | None = None, timeout: float = h.SOCKET_TIMEOUT
                ) -> h.Message:
        """One request with the long-term credential dance (401 then retry; 438 then retry)."""
        tid, data = self.build(method, attrs, auth=auth, fingerprint=fingerprint)
        resp = self.transact_raw(data, tid, timeout)
        if not retry or not auth:
            return resp
        for _ in range(2):
            err = resp.error_code()
            if resp.cls != ERROR or err is None:
                return resp
            code = err[0]
            if code == 401 and resp.get(h.REALM) is not None and resp.get(h.NONCE) is not None \
                    and not self._last_was_authenticated and self.has_credentials:
                self.challenges += 1
                self.last_challenge = resp
                self.learn(resp)
            elif code == 438 and resp.get(h.NONCE) is not None and self.has_credentials:
                self.learn(resp)
            else:
                return resp
            tid, data = self.build(method, attrs, auth=True, fingerprint=fingerprint)
            resp = self.transact_raw(data, tid, timeout)
        return resp

    @property
    def has_credentials(self) -> bool:
        return self.username is not None and (self.password is not None
                                              or self.fixed_key is not None)

    # -- TURN operations -----------------------------------------------------------------------

    def allocate(self, *, lifetime: int | None = None, transport: int | None = PROTO_UDP,
                 family: int | None = None, additional_family: int | None = None,
                 even_port: bool | None = None, token: bytes | None = None,
                 dont_fragment: bool = False, extra=(), **kw) -> h.Message:
        attrs = []
        if transport is not None:
            attrs.append(requested_transport_attr(transport))
        if lifetime is not None:
            attrs.append(lifetime_attr(lifetime))
        if family is not None:
            attrs.append((REQUESTED_ADDRESS_FAMILY, family_value(family)))
        if additional_family is not None:
            attrs.append((ADDITIONAL_ADDRESS_FAMILY, family_value(additional_family)))
        if even_port is not None:
            attrs.append((EVEN_PORT, b"\x80" if even_port else b"\x00"))
        if token is not None:
            attrs.append((RESERVATION_TOKEN, token))
        if dont_fragment:
            attrs.append((DONT_FRAGMENT, b""))
        attrs.extend(extra)
        return self.request(ALLOCATE, attrs, **kw)

    def allocate_ok(self, **kw) -> Allocation:
        return Allocation(expect_success(self.allocate(**kw), ALLOCATE))

    def refresh(self, lifetime: int | None = None, extra=(), **kw) -> h.Message:
        attrs = [] if lifetime is None else [lifetime_attr(lifetime)]
        return self.request(REFRESH, attrs + list(extra), **kw)

    def refresh_ok(self, lifetime: int | None = None) -> int:
        resp = expect_success(self.refresh(lifetime), REFRESH)
        return struct.unpack("!I", resp.get(LIFETIME))[0]

    def create_permission(self, *peers, extra=(), **kw) -> h.Message:
        attrs = [xor_peer_attr(host, port) for host, port in peers]
        return self.request(CREATE_PERMISSION, attrs + list(extra), **kw)

    def permit(self, *peers) -> h.Message:
        return expect_success(self.create_permission(*peers), CREATE_PERMISSION)

    def channel_bind(self, channel: int | None, peer: tuple[str, int] | None, extra=(),
                     **kw) -> h.Message:
        attrs = []
        if channel is not None:
            attrs.append(channel_number_attr(channel))
        if peer is not None:
            attrs.append(xor_peer_attr(*peer))
        return self.request(CHANNEL_BIND, attrs + list(extra), **kw)

    def bind(self, channel: int, peer: tuple[str, int]) -> h.Message:
        return expect_success(self.channel_bind(channel, peer), CHANNEL_BIND)

    def send_indication(self, peer: tuple[str, int], data: bytes, extra=(),
                        fingerprint: bool | None = None) -> bytes:
        tid, raw = self.build(SEND, [xor_peer_attr(*peer), (DATA_ATTR, data)] + list(extra),
                              auth=False, cls=INDICATION, fingerprint=fingerprint)
        self.conn.send(raw)
        return raw

    def send_channel(self, channel: int, data: bytes, pad: bool | None = None) -> bytes:
        frame = channel_data(channel, data, self.conn.stream if pad is None else pad)
        self.conn.send(frame)
        return frame

    def recv_data(self, timeout: float = h.SOCKET_TIMEOUT):
        """Next Data indication or ChannelData: ("data", peer, bytes) or ("channel", n, bytes).

        Responses to old transactions arriving meanwhile go to ``stray``; other STUN messages
        raise."""
        deadline = time.monotonic() + timeout
        while True:
            if self.inbox:
                frame = self.inbox.pop(0)
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise socket.timeout("no Data indication / ChannelData")
                frame = self.next_frame(remaining)
            if isinstance(frame, ChannelData):
                return ("channel", frame.channel, frame.data)
            if frame.type == msg_type(DATA, INDICATION):
                peer = frame.get(XOR_PEER_ADDRESS)
                data = frame.get(DATA_ATTR)
                if peer is None or data is None:
                    raise AssertionError(f"Data indication without XOR-PEER-ADDRESS/DATA: {frame}")
                return ("data", h.decode_xor_address(peer, frame.tid), data)
            if frame.cls in (SUCCESS, ERROR):
                self.stray.append(frame)
                continue
            raise AssertionError(f"unexpected message from the server: {frame}")

    def expect_no_data(self, wait: float = h.NO_ANSWER_WAIT):
        """None when nothing arrives within ``wait``; otherwise what arrived."""
        try:
            return self.recv_data(wait)
        except (socket.timeout, TimeoutError):
            return None

    def close(self) -> None:
        self.conn.close()


def expect_success(resp: h.Message, method: int) -> h.Message:
    if resp.type != msg_type(method, SUCCESS):
        raise TurnError(f"{method_name(method)} failed", resp)
    return resp


def expect_error(tc, resp: h.Message, method: int, code: int) -> h.Message:
    tc.assertEqual(resp.type, msg_type(method, ERROR),
                   f"expected a {method_name(method)} error {code}, got {resp}")
    tc.assertEqual(resp.cookie, h.MAGIC_COOKIE)
    tc.assertEqual(resp.count(h.ERROR_CODE), 1, resp)
    tc.assertEqual(resp.error_code()[0], code, f"ERROR-CODE {resp.error_code()}")
    tc.assertIsNone(resp.get(XOR_RELAYED_ADDRESS), "XOR-RELAYED-ADDRESS in an error response")
    return resp


# --------------------------------------------------------------------------------------------
# Peers


class Peer:
    """A UDP socket on loopback standing for a TURN peer."""

    def __init__(self, host: str = "127.0.0.1"):
        self.sock = h.udp_socket(host)

    @property
    def addr(self) -> tuple[str, int]:
        return h.sock_addr(self.sock)

    def send(self, data: bytes, dest: tuple[str, int]) -> None:
        self.sock.sendto(data, dest)

    def recv(self, timeout: float = h.SOCKET_TIMEOUT) -> tuple[bytes, tuple[str, int]]:
        return h.udp_recv(self.sock, timeout)

    def expect_nothing(self, wait: float = h.NO_ANSWER_WAIT) -> bytes | None:
        return h.udp_expect_silence(self.sock, wait)

    def close(self) -> None:
        self.sock.close()


def ip_family(host: str) -> int:
    return h.FAMILY_V6 if ipaddress.ip_address(host).version == 6 else h.FAMILY_V4


# --------------------------------------------------------------------------------------------
# unittest base class


class TurnServerCase(h.ServerClassCase):
    """One traverse server per test class (see ``harness.ServerClassCase``), plus TURN helpers."""

    tmp_prefix = "traverse-turn-"

    # -- config facts ------------------------------------------------------------------------

    @classmethod
    def port_range(cls) -> tuple[int, int]:
        first, last = str(cls.config["relay"]["port_range"]).split("-")
        return int(first), int(last)

    def assert_relay_port(self, port: int) -> None:
        first, last = self.port_range()
        self.assertTrue(first <= port <= last, f"relayed port {port} outside {first}-{last}")

    # -- helpers -------------------------------------------------------------------------------

    def conn(self, transport: str = "udp", family: int = socket.AF_INET,
             local_host: str | None = None):
        c = connect(transport, self.server.addr(transport, family), cafile=self.cert,
                    local_host=local_host)
        self.addCleanup(c.close)
        return c

    def client(self, user: str | None = "alice", password: str | None = None, *,
               transport: str = "udp", family: int = socket.AF_INET,
               local_host: str | None = None, **kw) -> TurnClient:
        if password is None and user in h.TEST_USERS:
            password = h.TEST_USERS[user]
        return TurnClient(self.conn(transport, family, local_host), user, password, **kw)

    def allocated(self, user: str = "alice", **kw) -> tuple[TurnClient, Allocation]:
        """A client (``client()`` arguments) with a fresh allocation."""
        alloc_kw = {k: kw.pop(k) for k in ("lifetime", "family", "additional_family")
                    if k in kw}
        c = self.client(user, **kw)
        return c, c.allocate_ok(**alloc_kw)

    def peer(self, host: str = "127.0.0.1") -> Peer:
        p = Peer(host)
        self.addCleanup(p.close)
        return p
