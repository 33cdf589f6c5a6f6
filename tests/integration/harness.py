# SPDX-License-Identifier: Apache-2.0
"""Black-box test harness for the traverse server.

Standard library only (runs under Debian's /usr/bin/python3). Provides:

* ``ServerProcess``: start ``$TRAVERSE_BIN --config FILE`` from a config dict (YAML written by
  hand), wait for the ``listening ...`` lines and ``ready``, collect stderr, stop with a signal
  and parse the ``final stats`` log line.
* ``make_cert``: a throwaway self-signed P-256 certificate for TLS listeners.
* A small STUN (RFC 8489 / RFC 3489 / RFC 5780) encoder and decoder written independently of the
  server: message building with FINGERPRINT / MESSAGE-INTEGRITY, strict parsing, (XOR-)address
  and ERROR-CODE decoding.
* UDP / TCP / TLS request helpers with bounded timeouts.

All sockets are bound to loopback addresses only.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import ipaddress
import os
import queue
import re
import selectors
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import zlib

# --------------------------------------------------------------------------------------------
# Paths

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

SOCKET_TIMEOUT = 2.0  # upper bound for any single blocking socket operation
NO_ANSWER_WAIT = 0.5  # how long we listen when we expect *no* answer
STARTUP_TIMEOUT = 10.0  # from exec to the "ready" line


def traverse_binary() -> str:
    """Path of the server binary: $TRAVERSE_BIN, else the default build location."""
    path = os.environ.get("TRAVERSE_BIN")
    if path:
        return path
    for candidate in (
        os.path.join(REPO_ROOT, "build", "server", "app", "traverse"),
        os.path.join(REPO_ROOT, "build-it", "server", "app", "traverse"),
    ):
        if os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("TRAVERSE_BIN is not set and no built traverse binary was found")


# --------------------------------------------------------------------------------------------
# Host capabilities


def can_bind(family: int, host: str) -> bool:
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((host, 0))
        return True
    except OSError:
        return False


def ipv6_available() -> bool:
    return socket.has_ipv6 and can_bind(socket.AF_INET6, "::1")


# --------------------------------------------------------------------------------------------
# YAML (a tiny emitter for the subset the config uses: nested mappings, lists of mappings,
# scalars). No PyYAML.


class Raw(str):
    """A scalar emitted verbatim (no quoting decision)."""


_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./@+-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}
_NUMBER_LIKE = re.compile(r"^[-+]?(\d[\d_]*)?(\.\d*)?([eE][-+]?\d+)?$|^0[xob][0-9a-fA-F_]+$")


def yaml_scalar(value) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    s = str(value)
    if (
        _PLAIN_SAFE.match(s)
        and s.lower() not in _RESERVED
        and not _NUMBER_LIKE.match(s)
    ):
        return s
    if re.match(r"^\d+(\.\d+){3}$", s):  # dotted IPv4 addresses are unambiguous strings
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_yaml(obj, indent: int = 0) -> str:
    pad = " " * indent
    out = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, dict):
                if not value:
                    out.append(f"{pad}{key}: {{}}")
                else:
                    out.append(f"{pad}{key}:")
                    out.append(to_yaml(value, indent + 2))
            elif isinstance(value, (list, tuple)):
                if not value:
                    out.append(f"{pad}{key}: []")
                else:
                    out.append(f"{pad}{key}:")
                    out.append(to_yaml(list(value), indent + 2))
            else:
                out.append(f"{pad}{key}: {yaml_scalar(value)}")
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict) and item:
                body = to_yaml(item, indent + 2).splitlines()
                out.append(f"{pad}- " + body[0].lstrip())
                out.extend(body[1:])
            else:
                out.append(f"{pad}- {yaml_scalar(item)}")
    else:
        out.append(pad + yaml_scalar(obj))
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# TLS certificate


def make_cert(directory: str) -> tuple[str, str]:
    """Generate a self-signed P-256 certificate valid for localhost/127.0.0.1/::1."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
            "-keyout", key, "-out", cert,
        ],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=20,
    )
    return cert, key


def client_tls_context(cafile: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    ctx.check_hostname = True  # IP SAN 127.0.0.1 / ::1 is matched against server_hostname
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


# --------------------------------------------------------------------------------------------
# Config helpers


def base_config(
    *,
    software: str = "Traverse-test",
    workers: int = 2,
    listen=None,
    tls_files: tuple[str, str] | None = None,
    rfc5780: dict | None = None,
    limits: dict | None = None,
    log_level: str = "info",
) -> dict:
    cfg: dict = {"server": {"software": software, "workers": workers}}
    cfg["listen"] = listen if listen is not None else [
        {"transport": "udp", "address": "127.0.0.1", "port": 0}
    ]
    if tls_files is not None:
        cfg["tls"] = {"certificate": tls_files[0], "private_key": tls_files[1]}
    if rfc5780 is not None:
        cfg["rfc5780"] = rfc5780
    cfg["limits"] = limits if limits is not None else {
        "max_connections": 4096,
        "max_connections_per_ip": 64,
        "idle_timeout": "2s",
        "tls_handshake_timeout": "2s",
    }
    cfg["logging"] = {"level": log_level, "format": "text"}
    return cfg


def listener(transport: str, address: str, port: int = 0) -> dict:
    return {"transport": transport, "address": address, "port": port}


# TURN relay ports: a random window per server below the Linux ephemeral range (32768..), so
# that ephemeral client sockets never land inside it. 1000-port windows come from
# 10000..29999; small windows (port exhaustion tests) from 30000..32767, where the big windows of
# parallel test processes cannot overlap them, and only if every port is free right now.
RELAY_PORT_LOW = 10000
RELAY_PORT_SMALL_LOW = 30000
RELAY_PORT_HIGH = 32767


def relay_port_window(size: int = 1000) -> tuple[int, int]:
    """A random [first, last] relay port window of ``size`` ports."""
    import random
    if size >= 100:
        first = random.randint(RELAY_PORT_LOW, RELAY_PORT_SMALL_LOW - size)
        return first, first + size - 1
    for _ in range(100):
        first = random.randint(RELAY_PORT_SMALL_LOW, RELAY_PORT_HIGH - size + 1)
        if all(can_bind_port(port) for port in range(first, first + size)):
            return first, first + size - 1
    raise RuntimeError(f"no free window of {size} UDP ports in "
                       f"{RELAY_PORT_SMALL_LOW}..{RELAY_PORT_HIGH}")


def can_bind_port(port: int) -> bool:
    hosts = [(socket.AF_INET, "127.0.0.1")]
    if ipv6_available():
        hosts.append((socket.AF_INET6, "::1"))
    for family, host in hosts:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.bind((host, port))
        except OSError:
            return False
    return True


TEST_REALM = "example.test"
TEST_USERS = {"alice": "wonderland", "bob": "builder"}
TEST_REST_SECRETS = ["rest-secret-new", "rest-secret-old"]


def md5_key(user: str, realm: str, password: str) -> bytes:
    return hashlib.md5(f"{user}:{realm}:{password}".encode("utf-8")).digest()


def turn_config(
    *,
    listen=None,
    tls_files: tuple[str, str] | None = None,
    workers: int = 2,
    software: str = "Traverse-test",
    realm: str | None = TEST_REALM,
    users: list | None = None,
    secrets: list | None = None,
    secret_file: str | None = None,
    nonce_lifetime: str | None = None,
    relay_addresses=("127.0.0.1",),
    port_range: tuple[int, int] | None = None,
    allocation_lifetime: str | None = None,
    max_allocation_lifetime: str | None = None,
    peers_allow=("127.0.0.1/32",),
    peers_deny=(),
    quotas: dict | None = None,
    limits: dict | None = None,
    log_level: str = "info",
) -> dict:
    """base_config() plus auth / relay / peers / quotas sections (``realm=None``: no auth).

    Default users: alice (plain password) and bob (stored as the hex MD5 key of
    bob:example.test:builder); default secrets: TEST_REST_SECRETS (inline, unless
    ``secret_file`` is given); default relay window: a
    random 1000-port window (relay_port_window()).
    """
    if limits is None:  # TURN clients over TCP/TLS may stay silent for a while
        limits = {"max_connections": 4096, "max_connections_per_ip": 64,
                  "idle_timeout": "30s", "tls_handshake_timeout": "2s"}
    cfg = base_config(software=software, workers=workers, listen=listen, tls_files=tls_files,
                      limits=limits, log_level=log_level)
    if realm is not None:
        if users is None:
            users = [{"name": "alice", "password": TEST_USERS["alice"]},
                     {"name": "bob", "key": md5_key("bob", realm, TEST_USERS["bob"]).hex()}]
        auth: dict = {"realm": realm, "users": users}
        if secret_file is not None:
            auth["secret_file"] = secret_file
        else:
            auth["secrets"] = list(TEST_REST_SECRETS if secrets is None else secrets)
        if nonce_lifetime is not None:
            auth["nonce_lifetime"] = nonce_lifetime
        cfg["auth"] = auth
    first, last = port_range if port_range is not None else relay_port_window()
    relay: dict = {"addresses": list(relay_addresses), "port_range": Raw(f"{first}-{last}")}
    if allocation_lifetime is not None:
        relay["allocation_lifetime"] = allocation_lifetime
    if max_allocation_lifetime is not None:
        relay["max_allocation_lifetime"] = max_allocation_lifetime
    cfg["relay"] = relay
    cfg["peers"] = {"allow": list(peers_allow), "deny": list(peers_deny)}
    q = {"max_allocations_per_user": 100, "max_allocations_per_ip": 100,
         "max_allocations": 16000, "challenges_per_second": 1000}
    q.update(quotas or {})
    cfg["quotas"] = q
    return cfg


# --------------------------------------------------------------------------------------------
# Server process

_LISTEN_RE = re.compile(
    r"^listening (udp|tcp|tls) (\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d+)"
    r"(?: rfc5780=(change-port|change-address|change-both))?$"
)

# "listening metrics 127.0.0.1:9641": the Prometheus endpoint (metrics.listen).
_METRICS_RE = re.compile(r"^listening metrics (\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d+)$")

_live_processes: list[subprocess.Popen] = []


def _kill_leftovers() -> None:
    for proc in _live_processes:
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass


atexit.register(_kill_leftovers)


class StartupError(AssertionError):
    pass


class Listener:
    def __init__(self, transport: str, host: str, port: int, role: str | None):
        self.transport = transport
        self.host = host
        self.port = port
        self.role = role  # None (primary), change-port, change-address, change-both

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    @property
    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)

    def __repr__(self) -> str:
        role = f" rfc5780={self.role}" if self.role else ""
        return f"Listener({self.transport} {self.host}:{self.port}{role})"


class ServerProcess:
    """One traverse process. Use as a context manager or call start()/stop()."""

    def __init__(self, config: dict | None = None, *, config_text: str | None = None,
                 args: tuple | list = (), startup_timeout: float = STARTUP_TIMEOUT):
        self.config = config
        self.config_text = config_text if config_text is not None else (
            to_yaml(config) + "\n" if config is not None else None)
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self.tmp = tempfile.TemporaryDirectory(prefix="traverse-it-")
        self.config_path = os.path.join(self.tmp.name, "traverse.yaml")
        self.proc: subprocess.Popen | None = None
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self.listeners: list[Listener] = []
        self.metrics_addr: tuple[str, int] | None = None  # from "listening metrics ..."
        self.returncode: int | None = None
        self._stdout_q: queue.Queue = queue.Queue()
        self._threads: list[threading.Thread] = []

    # -- lifecycle ------------------------------------------------------------------------

    def command(self) -> list[str]:
        cmd = [traverse_binary()]
        if self.config_text is not None:
            cmd += ["--config", self.config_path]
        return cmd + self.args

    def spawn(self) -> None:
        if self.config_text is not None:
            with open(self.config_path, "w", encoding="utf-8") as f:
                f.write(self.config_text)
        self.proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=self.tmp.name,
        )
        _live_processes.append(self.proc)
        for stream, sink, q in ((self.proc.stdout, self.stdout_lines, self._stdout_q),
                                (self.proc.stderr, self.stderr_lines, None)):
            t = threading.Thread(target=self._pump, args=(stream, sink, q), daemon=True)
            t.start()
            self._threads.append(t)

    @staticmethod
    def _pump(stream, sink: list, q: queue.Queue | None) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            sink.append(line)
            if q is not None:
                q.put(line)
        if q is not None:
            q.put(None)  # EOF
        stream.close()

    def start(self) -> "ServerProcess":
        self.spawn()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise StartupError(f"server did not print 'ready' within {self.startup_timeout}s"
                                   f"\nstdout: {self.stdout_lines}\nstderr: {self.stderr_text()}")
            try:
                line = self._stdout_q.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                rc = self.proc.wait(timeout=5)
                self._join()
                raise StartupError(f"server exited with {rc} before 'ready'"
                                   f"\nstdout: {self.stdout_lines}\nstderr: {self.stderr_text()}")
            if line == "ready":
                return self
            m = _LISTEN_RE.match(line)
            metrics = _METRICS_RE.match(line)
            if metrics:
                self.metrics_addr = (metrics.group(1).strip("[]"), int(metrics.group(2)))
            elif m:
                host = m.group(2).strip("[]")
                self.listeners.append(Listener(m.group(1), host, int(m.group(3)), m.group(4)))
            elif line.startswith("listening"):
                self.kill()
                raise StartupError(f"unparseable listening line: {line!r}")

    def send_signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        self.returncode = self.proc.wait(timeout=timeout)
        self._join()
        return self.returncode

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 5.0) -> int | None:
        """Signal the server and wait; returns the exit status (kills it on timeout: None)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self.returncode = self.proc.returncode
        self._join()
        return self.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._join()

    def _join(self) -> None:
        for t in self._threads:
            t.join(timeout=2)

    def cleanup(self) -> None:
        self.kill()
        self.tmp.cleanup()

    def __enter__(self) -> "ServerProcess":
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            self.cleanup()

    # -- queries ----------------------------------------------------------------------------

    def find(self, transport: str, family: int = socket.AF_INET, role: str | None = None,
             host: str | None = None) -> Listener:
        for lst in self.listeners:
            if (lst.transport == transport and lst.family == family and lst.role == role
                    and (host is None or lst.host == host)):
                return lst
        raise AssertionError(f"no {transport} listener family={family} role={role} "
                             f"in {self.listeners}")

    def addr(self, transport: str, family: int = socket.AF_INET,
             role: str | None = None) -> tuple[str, int]:
        return self.find(transport, family, role).addr

    def stderr_text(self) -> str:
        return "\n".join(self.stderr_lines)

    def final_stats(self) -> dict[str, str]:
        """key=value pairs of the 'final stats' log line (after stop())."""
        for line in reversed(self.stderr_lines):
            if 'msg="final stats"' in line:
                return parse_logfmt(line)
        raise AssertionError("no msg=\"final stats\" line on stderr:\n" + self.stderr_text())


def parse_logfmt(line: str) -> dict[str, str]:
    out = {}
    for m in re.finditer(r'([A-Za-z0-9_.\-]+)=("(?:[^"\\]|\\.)*"|\S*)', line):
        value = m.group(2)
        if value.startswith('"'):
            value = value[1:-1]
        out[m.group(1)] = value
    return out


def run_cli(args: list[str], timeout: float = 10.0) -> subprocess.CompletedProcess:
    """Run the binary with arguments, capturing text output."""
    return subprocess.run([traverse_binary()] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


class ServerClassCase(unittest.TestCase):
    """One traverse server per test class, started from ``make_config(tls_files)``.

    ``tls_files`` is a freshly generated (cert, key) pair when the class sets ``tls = True``
    (also kept as ``cls.cert`` / ``cls.key_file``), else None. The server must exit 0 on
    SIGTERM at the end of the class."""

    tls = False
    tmp_prefix = "traverse-it-"
    server: ServerProcess
    cert: str | None = None
    key_file: str | None = None

    @classmethod
    def make_config(cls, tls_files) -> dict:
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix=cls.tmp_prefix)
        tls_files = None
        if cls.tls:
            cls.cert, cls.key_file = make_cert(cls.tmp.name)
            tls_files = (cls.cert, cls.key_file)
        cls.config = cls.make_config(tls_files)
        cls.server = ServerProcess(cls.config)
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            cls.tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.server.stop()
        finally:
            cls.server.cleanup()
            cls.tmp.cleanup()
        if rc != 0:
            raise AssertionError(f"server exit status {rc} after SIGTERM (expected 0)\n"
                                 + cls.server.stderr_text()[-4000:])


# --------------------------------------------------------------------------------------------
# STUN codec (independent implementation: RFC 8489, RFC 3489 classic, RFC 5780)

MAGIC_COOKIE = 0x2112A442
COOKIE_BYTES = struct.pack("!I", MAGIC_COOKIE)
FINGERPRINT_XOR = 0x5354554E
HEADER_LEN = 20

# Message types
BINDING_REQUEST = 0x0001
BINDING_INDICATION = 0x0011
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111

# Attributes
MAPPED_ADDRESS = 0x0001
RESPONSE_ADDRESS = 0x0002
CHANGE_REQUEST = 0x0003
SOURCE_ADDRESS = 0x0004
CHANGED_ADDRESS = 0x0005
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
UNKNOWN_ATTRIBUTES = 0x000A
REALM = 0x0014
NONCE = 0x0015
MESSAGE_INTEGRITY_SHA256 = 0x001C
PASSWORD_ALGORITHM = 0x001D
USERHASH = 0x001E
XOR_MAPPED_ADDRESS = 0x0020
PRIORITY = 0x0024
PADDING = 0x0026
RESPONSE_PORT = 0x0027
PASSWORD_ALGORITHMS = 0x8002
ALTERNATE_DOMAIN = 0x8003
SOFTWARE = 0x8022
ALTERNATE_SERVER = 0x8023
FINGERPRINT = 0x8028
ICE_CONTROLLED = 0x8029
ICE_CONTROLLING = 0x802A
RESPONSE_ORIGIN = 0x802B
OTHER_ADDRESS = 0x802C

CHANGE_IP = 0x04
CHANGE_PORT = 0x02

FAMILY_V4 = 0x01
FAMILY_V6 = 0x02


class StunError(ValueError):
    pass


def new_tid(classic: bool = False) -> bytes:
    """12-byte transaction id, or 16 bytes for RFC 3489 (never starting with the cookie)."""
    if not classic:
        return os.urandom(12)
    while True:
        tid = os.urandom(16)
        if tid[:4] != COOKIE_BYTES:
            return tid


def pad4(n: int) -> int:
    return (4 - n % 4) % 4


def encode_attr(attr_type: int, value: bytes, pad_byte: bytes = b"\x00") -> bytes:
    return struct.pack("!HH", attr_type, len(value)) + value + pad_byte * pad4(len(value))


def fingerprint_value(data_before_fp: bytes) -> int:
    """FINGERPRINT over a message whose header length already covers the 8-byte attribute."""
    return (zlib.crc32(data_before_fp) & 0xFFFFFFFF) ^ FINGERPRINT_XOR


def _with_length(data: bytes, length: int) -> bytes:
    return data[:2] + struct.pack("!H", length) + data[4:]


def build_message(msg_type: int, tid: bytes | None = None, attrs=(), *, fingerprint: bool = False,
                  integrity_key: bytes | None = None,
                  integrity_sha256_key: bytes | None = None) -> bytes:
    """Encode a STUN message.

    ``tid``: 12 bytes (RFC 8489, magic cookie added) or 16 bytes (RFC 3489: bytes 4..19 verbatim).
    ``attrs``: (type, value) pairs, or pre-encoded ``bytes`` chunks inserted as they are.
    ``integrity_key`` appends MESSAGE-INTEGRITY (HMAC-SHA1), ``integrity_sha256_key``
    MESSAGE-INTEGRITY-SHA256 (after MESSAGE-INTEGRITY when both are given), then FINGERPRINT.
    """
    if tid is None:
        tid = new_tid()
    if len(tid) == 12:
        id_part = COOKIE_BYTES + tid
    elif len(tid) == 16:
        id_part = tid
    else:
        raise ValueError("transaction id must be 12 or 16 bytes")
    body = b"".join(a if isinstance(a, (bytes, bytearray)) else encode_attr(a[0], a[1])
                    for a in attrs)
    header = struct.pack("!HH", msg_type, len(body)) + id_part
    msg = header + body
    if integrity_key is not None:
        msg = _with_length(msg, len(msg) - HEADER_LEN + 24)
        mac = hmac.new(integrity_key, msg, hashlib.sha1).digest()
        msg += encode_attr(MESSAGE_INTEGRITY, mac)
    if integrity_sha256_key is not None:
        msg = _with_length(msg, len(msg) - HEADER_LEN + 36)
        mac = hmac.new(integrity_sha256_key, msg, hashlib.sha256).digest()
        msg += encode_attr(MESSAGE_INTEGRITY_SHA256, mac)
    if fingerprint:
        msg = _with_length(msg, len(msg) - HEADER_LEN + 8)
        msg += encode_attr(FINGERPRINT, struct.pack("!I", fingerprint_value(msg)))
    return msg


def binding_request(tid: bytes | None = None, attrs=(), fingerprint: bool = False) -> bytes:
    return build_message(BINDING_REQUEST, tid, attrs, fingerprint=fingerprint)


class Attr:
    __slots__ = ("type", "value", "offset")

    def __init__(self, attr_type: int, value: bytes, offset: int):
        self.type = attr_type
        self.value = value
        self.offset = offset  # of the attribute header within the message

    def __repr__(self) -> str:
        return f"Attr(0x{self.type:04x}, {self.value.hex()})"


class Message:
    def __init__(self, raw: bytes, msg_type: int, length: int, cookie: int, tid: bytes,
                 attrs: list[Attr]):
        self.raw = raw
        self.type = msg_type
        self.length = length
        self.cookie = cookie
        self.tid = tid  # 12 bytes (bytes 8..19)
        self.attrs = attrs

    @property
    def classic(self) -> bool:
        return self.cookie != MAGIC_COOKIE

    @property
    def tid16(self) -> bytes:
        return self.raw[4:20]

    @property
    def method(self) -> int:
        t = self.type
        return (t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2)

    @property
    def cls(self) -> int:
        return ((self.type >> 4) & 0x1) | ((self.type >> 7) & 0x2)

    def types(self) -> list[int]:
        return [a.type for a in self.attrs]

    def get(self, attr_type: int) -> bytes | None:
        for a in self.attrs:
            if a.type == attr_type:
                return a.value
        return None

    def get_attr(self, attr_type: int) -> Attr | None:
        for a in self.attrs:
            if a.type == attr_type:
                return a
        return None

    def count(self, attr_type: int) -> int:
        return sum(1 for a in self.attrs if a.type == attr_type)

    # decoded accessors
    def xor_mapped(self) -> tuple[str, int] | None:
        v = self.get(XOR_MAPPED_ADDRESS)
        return None if v is None else decode_xor_address(v, self.tid)

    def address(self, attr_type: int) -> tuple[str, int] | None:
        v = self.get(attr_type)
        return None if v is None else decode_address(v)

    def software(self) -> str | None:
        v = self.get(SOFTWARE)
        return None if v is None else v.decode("utf-8")

    def error_code(self) -> tuple[int, str] | None:
        v = self.get(ERROR_CODE)
        return None if v is None else decode_error_code(v)

    def unknown_attributes(self) -> list[int] | None:
        v = self.get(UNKNOWN_ATTRIBUTES)
        if v is None:
            return None
        if len(v) % 2:
            raise StunError("odd UNKNOWN-ATTRIBUTES length")
        return [struct.unpack_from("!H", v, i)[0] for i in range(0, len(v), 2)]

    def fingerprint_ok(self) -> bool:
        a = self.get_attr(FINGERPRINT)
        if a is None or len(a.value) != 4:
            return False
        return struct.unpack("!I", a.value)[0] == fingerprint_value(self.raw[:a.offset])

    def integrity_ok(self, key: bytes) -> bool:
        a = self.get_attr(MESSAGE_INTEGRITY)
        if a is None or len(a.value) != 20:
            return False
        data = _with_length(self.raw[:a.offset], a.offset - HEADER_LEN + 24)
        return hmac.compare_digest(hmac.new(key, data, hashlib.sha1).digest(), a.value)

    def integrity_sha256_ok(self, key: bytes) -> bool:
        a = self.get_attr(MESSAGE_INTEGRITY_SHA256)
        if a is None or len(a.value) != 32:
            return False
        data = _with_length(self.raw[:a.offset], a.offset - HEADER_LEN + 36)
        return hmac.compare_digest(hmac.new(key, data, hashlib.sha256).digest(), a.value)

    def __repr__(self) -> str:
        return f"Message(type=0x{self.type:04x}, tid={self.tid.hex()}, attrs={self.attrs})"


def parse_message(data: bytes) -> Message:
    """Strictly parse one STUN message occupying all of ``data``."""
    if len(data) < HEADER_LEN:
        raise StunError(f"short message ({len(data)} bytes)")
    msg_type, length, cookie = struct.unpack_from("!HHI", data, 0)
    if msg_type & 0xC000:
        raise StunError("top two bits of the message type are not zero")
    if length % 4:
        raise StunError(f"length {length} is not a multiple of 4")
    if len(data) != HEADER_LEN + length:
        raise StunError(f"length field {length} but {len(data) - HEADER_LEN} body bytes")
    attrs = []
    pos = HEADER_LEN
    while pos < len(data):
        if pos + 4 > len(data):
            raise StunError("truncated attribute header")
        attr_type, attr_len = struct.unpack_from("!HH", data, pos)
        end = pos + 4 + attr_len
        if end + pad4(attr_len) > len(data):
            raise StunError(f"attribute 0x{attr_type:04x} overruns the message")
        attrs.append(Attr(attr_type, bytes(data[pos + 4:end]), pos))
        pos = end + pad4(attr_len)
    return Message(bytes(data), msg_type, length, cookie, bytes(data[8:20]), attrs)


def encode_address(host: str, port: int) -> bytes:
    ip = ipaddress.ip_address(host)
    fam = FAMILY_V4 if ip.version == 4 else FAMILY_V6
    return struct.pack("!BBH", 0, fam, port) + ip.packed


def decode_address(value: bytes) -> tuple[str, int]:
    if len(value) < 4:
        raise StunError("short address attribute")
    _, fam, port = struct.unpack_from("!BBH", value, 0)
    if fam == FAMILY_V4 and len(value) == 8:
        return (str(ipaddress.IPv4Address(value[4:8])), port)
    if fam == FAMILY_V6 and len(value) == 20:
        return (str(ipaddress.IPv6Address(value[4:20])), port)
    raise StunError(f"bad address family {fam} / length {len(value)}")


def _xor_bytes(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b))


def decode_xor_address(value: bytes, tid: bytes) -> tuple[str, int]:
    if len(value) < 4:
        raise StunError("short xor address attribute")
    _, fam, xport = struct.unpack_from("!BBH", value, 0)
    port = xport ^ (MAGIC_COOKIE >> 16)
    if fam == FAMILY_V4 and len(value) == 8:
        return (str(ipaddress.IPv4Address(_xor_bytes(value[4:8], COOKIE_BYTES))), port)
    if fam == FAMILY_V6 and len(value) == 20:
        return (str(ipaddress.IPv6Address(_xor_bytes(value[4:20], COOKIE_BYTES + tid))), port)
    raise StunError(f"bad xor address family {fam} / length {len(value)}")


def encode_xor_address(host: str, port: int, tid: bytes) -> bytes:
    ip = ipaddress.ip_address(host)
    fam = FAMILY_V4 if ip.version == 4 else FAMILY_V6
    mask = COOKIE_BYTES if ip.version == 4 else COOKIE_BYTES + tid
    return struct.pack("!BBH", 0, fam, port ^ (MAGIC_COOKIE >> 16)) + _xor_bytes(ip.packed, mask)


def decode_error_code(value: bytes) -> tuple[int, str]:
    if len(value) < 4:
        raise StunError("short ERROR-CODE")
    cls = value[2] & 0x07
    number = value[3]
    if not 3 <= cls <= 6 or number > 99:
        raise StunError(f"bad ERROR-CODE class {cls} number {number}")
    return (cls * 100 + number, value[4:].decode("utf-8"))


def canonical_host(host: str) -> str:
    return str(ipaddress.ip_address(host))


def sock_addr(sock: socket.socket) -> tuple[str, int]:
    """The (host, port) a socket is bound to, canonicalised."""
    name = sock.getsockname()
    return (canonical_host(name[0]), name[1])


# --------------------------------------------------------------------------------------------
# UDP helpers


def udp_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((host, port))
    s.settimeout(SOCKET_TIMEOUT)
    return s


def udp_recv(sock: socket.socket, timeout: float = SOCKET_TIMEOUT) -> tuple[bytes, tuple[str, int]]:
    sock.settimeout(timeout)
    data, src = sock.recvfrom(65535)
    return data, (canonical_host(src[0]), src[1])


def udp_transact(sock: socket.socket, dest: tuple[str, int], request: bytes,
                 timeout: float = SOCKET_TIMEOUT) -> tuple[Message, tuple[str, int]]:
    """Send one request; return the first datagram received (parsed) and its source."""
    sock.sendto(request, dest)
    data, src = udp_recv(sock, timeout)
    return parse_message(data), src


def udp_expect_silence(sock: socket.socket, wait: float = NO_ANSWER_WAIT) -> bytes | None:
    """Return the datagram received within ``wait`` seconds, or None (the expected outcome)."""
    sock.settimeout(wait)
    try:
        data, _ = sock.recvfrom(65535)
        return data
    except socket.timeout:
        return None


# --------------------------------------------------------------------------------------------
# TCP / TLS helpers


def tcp_connect(addr: tuple[str, int], *, nodelay: bool = True,
                bind_host: str | None = None) -> socket.socket:
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(SOCKET_TIMEOUT)
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if bind_host is not None:
        s.bind((bind_host, 0))
    s.connect(addr)
    return s


def tls_connect(addr: tuple[str, int], cafile: str, *, server_hostname: str | None = None
                ) -> ssl.SSLSocket:
    raw = tcp_connect(addr)
    ctx = client_tls_context(cafile)
    try:
        return ctx.wrap_socket(raw, server_hostname=server_hostname or addr[0])
    except BaseException:
        raw.close()
        raise


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def read_stun_frame(sock: socket.socket, timeout: float = SOCKET_TIMEOUT) -> bytes:
    """Read one STUN message from a stream (RFC 8489 framing: header length field)."""
    sock.settimeout(timeout)
    header = recv_exact(sock, HEADER_LEN)
    (length,) = struct.unpack_from("!H", header, 2)
    return header + recv_exact(sock, length)


def stream_transact(sock: socket.socket, request: bytes) -> Message:
    sock.sendall(request)
    return parse_message(read_stun_frame(sock))


def wait_for_close(sock: socket.socket, deadline_s: float) -> tuple[bool, bytes, float]:
    """Read until the peer closes (EOF or reset) or ``deadline_s`` elapses.

    Returns (closed, bytes_received_before_close, seconds_elapsed).
    """
    start = time.monotonic()
    got = b""
    while True:
        remaining = deadline_s - (time.monotonic() - start)
        if remaining <= 0:
            return False, got, time.monotonic() - start
        sock.settimeout(min(remaining, SOCKET_TIMEOUT))
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except ssl.SSLError:
            return True, got, time.monotonic() - start
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            return True, got, time.monotonic() - start
        if not chunk:
            return True, got, time.monotonic() - start
        got += chunk


# --------------------------------------------------------------------------------------------
# Assertions shared by the suites


def check_binding_success(tc, msg: Message, tid: bytes, mapped: tuple[str, int], *,
                          software: str | None = "Traverse-test",
                          fingerprint: bool = False) -> None:
    """Assert ``msg`` is a correct RFC 8489 Binding success response for ``tid``."""
    tc.assertEqual(msg.type, BINDING_SUCCESS, f"not a Binding success response: {msg}")
    tc.assertEqual(msg.cookie, MAGIC_COOKIE)
    tc.assertEqual(msg.tid, tid, "transaction id not echoed")
    tc.assertEqual(msg.count(XOR_MAPPED_ADDRESS), 1, f"XOR-MAPPED-ADDRESS count: {msg}")
    tc.assertEqual(msg.xor_mapped(), (canonical_host(mapped[0]), mapped[1]))
    if software is None:
        tc.assertIsNone(msg.get(SOFTWARE), "SOFTWARE present although configured empty")
    else:
        tc.assertEqual(msg.software(), software)
    tc.assertIsNone(msg.get(MESSAGE_INTEGRITY), "unexpected MESSAGE-INTEGRITY")
    tc.assertIsNone(msg.get(ERROR_CODE), "ERROR-CODE in a success response")
    if fingerprint:
        tc.assertEqual(msg.count(FINGERPRINT), 1)
        tc.assertEqual(msg.attrs[-1].type, FINGERPRINT, "FINGERPRINT is not the last attribute")
        tc.assertTrue(msg.fingerprint_ok(), "FINGERPRINT value does not verify")
    else:
        tc.assertIsNone(msg.get(FINGERPRINT), "FINGERPRINT present although the request had none")


def check_error(tc, msg: Message, tid: bytes, code: int) -> None:
    tc.assertEqual(msg.type, BINDING_ERROR, f"not a Binding error response: {msg}")
    tc.assertEqual(msg.cookie, MAGIC_COOKIE)
    tc.assertEqual(msg.tid, tid)
    tc.assertEqual(msg.count(ERROR_CODE), 1)
    tc.assertEqual(msg.error_code()[0], code, f"ERROR-CODE {msg.error_code()}")
    tc.assertIsNone(msg.get(XOR_MAPPED_ADDRESS), "XOR-MAPPED-ADDRESS in an error response")


class SelectorPool:
    """Wait for datagrams on many UDP sockets at once (multi-client tests)."""

    def __init__(self, socks):
        self.sel = selectors.DefaultSelector()
        for s in socks:
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ)

    def collect(self, expected: int, timeout: float = SOCKET_TIMEOUT):
        """Yield (sock, data, src) until ``expected`` datagrams or ``timeout`` of silence."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in self.sel.select(remaining):
                while True:
                    try:
                        data, src = key.fileobj.recvfrom(65535)
                    except BlockingIOError:
                        break
                    out.append((key.fileobj, data, (canonical_host(src[0]), src[1])))
        return out

    def close(self):
        self.sel.close()
