# SPDX-License-Identifier: Apache-2.0
"""Two traverse-signal nodes sharing one real redis-server (Debian's redis-server, started here
on a random loopback port without persistence): users on different nodes are matched through
the shared queue and exchange offer/answer/candidates with a server-set "from", named rooms span
the nodes, peer-left crosses nodes, and the entries of a killed node expire."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from test_signaling import SignalServer, hear, say, signal_binary

REDIS = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """redis-server on 127.0.0.1:<random port>, no RDB/AOF, in a temporary directory."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="traverse-redis-")
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                [REDIS, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                 "--appendonly", "no", "--dir", self.tmp.name, "--protected-mode", "yes"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if self.command("PING") == "PONG":
                        return
                except OSError:
                    time.sleep(0.05)
            self.proc.kill()
            self.proc.wait()
        raise AssertionError("redis-server did not start")

    def command(self, *args: str):
        """One command over a fresh connection (tests only read simple replies)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            out = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
            s.sendall(out.encode())
            data = s.recv(65536).decode()
        kind, rest = data[0], data[1:].split("\r\n")
        if kind == "+":
            return rest[0]
        if kind == ":":
            return int(rest[0])
        if kind == "$":
            return None if rest[0] == "-1" else rest[1]
        if kind == "*":
            return [rest[i] for i in range(2, len(rest), 2)][: int(rest[0])]
        raise AssertionError(f"redis error: {data!r}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
        self.tmp.cleanup()


@unittest.skipIf(REDIS is None and not os.environ.get("CI"),
                 "redis-server is not installed (apt-get install redis-server)")
class TwoNodes(unittest.TestCase):
    def setUp(self):
        self.redis = RedisServer()
        self.addCleanup(self.redis.stop)
        addr = f"127.0.0.1:{self.redis.port}"
        self.a = SignalServer("--redis", addr, "--redis-ttl", "3s")
        self.b = SignalServer("--redis", addr, "--redis-ttl", "3s")

    def tearDown(self):
        for node in (self.a, self.b):
            if node.proc.poll() is None:
                self.assertEqual(node.stop(), 0)

    def connect(self, node):
        ws, welcome = node.connect()
        self.addCleanup(ws.close)
        self.assertEqual(welcome["type"], "welcome")
        return ws, welcome["id"]

    def test_users_on_two_nodes_are_matched_and_relay(self):
        x, xid = self.connect(self.a)
        y, yid = self.connect(self.b)
        say(x, type="queue")
        self.assertEqual(hear(x), {"type": "queued", "position": 1})
        self.assertEqual(self.redis.command("LRANGE", "traverse:signal:queue", "0", "-1"), [xid])
        say(y, type="queue")
        mx, my = hear(x), hear(y)
        self.assertEqual((mx["type"], mx["peer"], mx["initiator"]), ("matched", yid, True))
        self.assertEqual((my["type"], my["peer"], my["initiator"]), ("matched", xid, False))
        self.assertEqual(mx["room"], my["room"])
        self.assertTrue(mx["room"].startswith("~"))
        self.assertEqual(self.redis.command("LRANGE", "traverse:signal:queue", "0", "-1"), [])
        self.assertEqual(
            self.redis.command("LRANGE", "traverse:signal:room:" + mx["room"], "0", "-1"),
            [xid, yid])
        # Offer from node A to node B, forged "from" replaced by the server.
        say(x, type="offer", to=yid, sdp="v=0 offer", **{"from": "mallory"})
        self.assertEqual(hear(y), {"type": "offer", "from": xid, "sdp": "v=0 offer"})
        say(y, type="answer", to=xid, sdp="v=0 answer")
        self.assertEqual(hear(x), {"type": "answer", "from": yid, "sdp": "v=0 answer"})
        cand = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}
        say(x, type="candidate", to=yid, candidate=cand)
        self.assertEqual(hear(y), {"type": "candidate", "from": xid, "candidate": cand})
        say(y, type="candidate", to=xid, candidate=None)
        self.assertEqual(hear(x), {"type": "candidate", "from": yid, "candidate": None})
        # Not in the room: still refused across nodes.
        z, zid = self.connect(self.b)
        say(z, type="join", room="elsewhere")
        hear(z)
        say(z, type="offer", to=xid, sdp="x")
        self.assertEqual(hear(z)["code"], "unknown-peer")
        # "next" on node B tells node A's user the pairing is over.
        say(y, type="next")
        self.assertEqual(hear(x), {"type": "peer-left", "room": mx["room"], "peer": yid})
        self.assertEqual(hear(y), {"type": "queued", "position": 1})
        # The one on node A queues again and is matched with y, now as the responder.
        say(x, type="queue")
        my2, mx2 = hear(y), hear(x)
        self.assertEqual((my2["peer"], my2["initiator"]), (xid, True))
        self.assertEqual((mx2["peer"], mx2["initiator"]), (yid, False))
        # A disconnect on node B reaches node A.
        y.close()
        self.assertEqual(hear(x), {"type": "peer-left", "room": mx2["room"], "peer": yid})

    def test_concurrent_queueing_on_both_nodes_pairs_everyone_exactly_once(self):
        users = [self.connect(self.a if i % 2 else self.b) for i in range(20)]
        for ws, _ in users:  # as close together as one thread gets
            say(ws, type="queue")
        partner, rooms = {}, {}
        for ws, uid in users:
            m = hear(ws)
            if m["type"] == "queued":  # matched later, when someone queued after it
                m = hear(ws)
            self.assertEqual(m["type"], "matched")
            partner[uid] = m["peer"]
            rooms.setdefault(m["room"], set()).add(uid)
        self.assertEqual(len(rooms), 10)
        for uid, other in partner.items():
            self.assertEqual(partner[other], uid)  # symmetric: nobody was popped twice
        for room, members in rooms.items():
            self.assertEqual(len(members), 2)
            self.assertEqual(
                set(self.redis.command("LRANGE", "traverse:signal:room:" + room, "0", "-1")),
                members)
        self.assertEqual(self.redis.command("LLEN", "traverse:signal:queue"), 0)

    def test_named_rooms_span_nodes_with_capacity(self):
        x, xid = self.connect(self.a)
        y, yid = self.connect(self.b)
        z, zid = self.connect(self.a)
        say(x, type="join", room="standup")
        self.assertEqual(hear(x), {"type": "joined", "room": "standup", "peers": []})
        say(y, type="join", room="standup")
        self.assertEqual(hear(y), {"type": "joined", "room": "standup", "peers": [xid]})
        self.assertEqual(hear(x), {"type": "peer-joined", "room": "standup", "peer": yid})
        say(z, type="join", room="standup")  # capacity 2, counted across both nodes
        self.assertEqual(hear(z)["code"], "room-full")
        say(y, type="offer", to=xid, sdp="v=0 from b")
        self.assertEqual(hear(x), {"type": "offer", "from": yid, "sdp": "v=0 from b"})
        say(x, type="leave")
        self.assertEqual(hear(x), {"type": "left"})
        self.assertEqual(hear(y), {"type": "peer-left", "room": "standup", "peer": xid})
        say(z, type="join", room="standup")  # a seat is free again
        self.assertEqual(hear(z), {"type": "joined", "room": "standup", "peers": [yid]})
        self.assertEqual(hear(y), {"type": "peer-joined", "room": "standup", "peer": zid})

    def test_a_partner_gone_before_the_match_reaches_it_is_reported_left(self):
        # A waiting entry whose peer is still marked alive but subscribed nowhere: the window in
        # which a user disconnects while another node pops it from the queue.
        self.redis.command("SET", "traverse:signal:peer:p-ghost", "n-gone", "EX", "30")
        self.redis.command("RPUSH", "traverse:signal:queue", "p-ghost")
        y, yid = self.connect(self.b)
        say(y, type="queue")
        m = hear(y)
        self.assertEqual((m["type"], m["peer"], m["initiator"]), ("matched", "p-ghost", False))
        self.assertEqual(hear(y), {"type": "peer-left", "room": m["room"], "peer": "p-ghost"})
        self.assertEqual(self.redis.command("EXISTS", "traverse:signal:room:" + m["room"]), 1)
        say(y, type="next")  # y is alone in the room; next closes it and queues y
        self.assertEqual(hear(y), {"type": "queued", "position": 1})
        self.assertEqual(self.redis.command("EXISTS", "traverse:signal:room:" + m["room"]), 0)

    def test_redis_going_away_answers_unavailable_and_keeps_the_connection(self):
        x, xid = self.connect(self.a)
        say(x, type="join", room="r")
        self.assertEqual(hear(x)["type"], "joined")
        self.redis.proc.kill()
        self.redis.proc.wait()
        started = time.monotonic()
        say(x, type="queue")  # leaving "r" needs Redis
        error = hear(x)
        self.assertEqual(error["type"], "error")
        self.assertEqual(error["code"], "unavailable")
        self.assertLess(time.monotonic() - started, 1.9)
        say(x, type="dance")  # the connection is still served
        self.assertEqual(hear(x)["code"], "unknown-type")

    def test_entries_of_a_dead_node_expire(self):
        x, xid = self.connect(self.a)
        say(x, type="queue")
        self.assertEqual(hear(x)["type"], "queued")
        r, rid = self.connect(self.a)
        say(r, type="join", room="ghosts")
        hear(r)
        self.a.proc.kill()  # no goodbye: its entries stay until their TTL (3 s) runs out
        self.a.proc.wait()
        self.a.proc.stdout.close()
        self.a.proc.stderr.close()
        self.a.tmp.cleanup()
        self.assertEqual(self.redis.command("GET", f"traverse:signal:peer:{xid}")[:2], "n-")
        deadline = time.monotonic() + 8
        while self.redis.command("EXISTS", f"traverse:signal:peer:{xid}") and \
                time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.redis.command("EXISTS", f"traverse:signal:peer:{xid}"), 0)
        # The dead user is skipped by matching: a new user waits instead of being paired.
        y, yid = self.connect(self.b)
        say(y, type="queue")
        self.assertEqual(hear(y), {"type": "queued", "position": 1})
        # And the dead member of the room no longer holds a seat.
        u, uid = self.connect(self.b)
        v, vid = self.connect(self.b)
        say(u, type="join", room="ghosts")
        self.assertEqual(hear(u), {"type": "joined", "room": "ghosts", "peers": []})
        say(v, type="join", room="ghosts")
        self.assertEqual(hear(v)["peers"], [uid])



class RedisCommandLine(unittest.TestCase):
    def test_unreachable_redis_is_a_clear_startup_error(self):
        port = free_port()
        r = subprocess.run([signal_binary(), "--listen", "127.0.0.1:0", "--redis",
                            f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"redis 127.0.0.1:{port}", r.stderr)
        r = subprocess.run([signal_binary(), "--redis", "127.0.0.1:notaport"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--redis", r.stderr)
        r = subprocess.run([signal_binary(), "--redis-ttl", "10s"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([signal_binary(), "--metrics", "nowhere"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--metrics", r.stderr)


if __name__ == "__main__":
    unittest.main()
