"""Bursts of calls: read ahead, answered in few writes, and a quick tool that turns slow never
stops the worker reading (heartbeats and cancels still get through)."""

import os
import threading
import time
import unittest
from unittest import mock

from snakepit_bridge import Adapter, tool
from snakepit_bridge.adapter import discover_tools
from snakepit_bridge.codec import dumps, loads
from snakepit_bridge.framing import FrameReader, FrameWriter
from snakepit_bridge.server import Server
from snakepit_bridge.wire import END, REQUEST


class Tools(Adapter):
    @tool
    def add(self, a: int, b: int = 0) -> int:
        return a + b

    @tool
    def pair(self, a: int) -> dict:
        return {"a": a, "items": [a, str(a)], "blob": b"x" * (a % 3)}

    @tool
    def nap(self, s: float) -> float:
        time.sleep(s)
        return s


class Host:
    def __init__(self) -> None:
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        self.worker = Server(Tools(), discover_tools(Tools()), worker_id="b", capacity=1,
                             reader=FrameReader(to_r), writer=FrameWriter(from_w))
        self.writer = FrameWriter(self.to_w)
        self.reader = FrameReader(self.from_r)
        self.worker.exit = lambda code=0: None
        threading.Thread(target=self.worker.serve, daemon=True).start()
        ready = self.recv()
        self.send_all([{"k": END, "id": ready["id"], "msg": {}}])

    def send_all(self, packets) -> None:
        """Several packets in one write, as the host sends a burst."""
        data = b"".join(bytes([0]) + len(p).to_bytes(4, "big") + p for p in (dumps(x)[0] for x in packets))
        os.write(self.to_w, data)

    def recv(self):
        while True:
            msg = loads(self.reader.read_packet()[1])
            if msg.get("k") == REQUEST and msg.get("m") == "StreamTelemetry":
                self.send_all([{"k": END, "id": msg["id"], "msg": {}}])
                continue
            return msg

    def close(self) -> None:
        os.close(self.to_w)


def call(cid: int, name: str, **args):
    return {"k": REQUEST, "id": cid, "m": "ExecuteTool", "msg": {"toolName": name, "args": args}, "t": 60000}


class BurstTest(unittest.TestCase):
    def setUp(self):
        # Calls run without handing the lead on however far apart they come (here: always).
        patcher = mock.patch("snakepit_bridge.server.BUSY_S", 3600.0)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.host = Host()
        self.addCleanup(self.host.close)

    def test_a_burst_is_answered_in_order(self):
        for _ in range(3):
            self.host.send_all([call(i, "add", a=i, b=1) for i in range(1, 201)])
            got = [self.host.recv() for _ in range(200)]
            self.assertEqual([g["id"] for g in got], list(range(1, 201)))
            self.assertEqual([g["msg"]["result"] for g in got], list(range(2, 202)))

    def test_a_burst_of_structured_results_is_answered_in_order(self):
        for _ in range(2):
            self.host.send_all([call(i, "pair", a=i) for i in range(1, 101)])
            got = [self.host.recv() for _ in range(100)]
            self.assertEqual([g["id"] for g in got], list(range(1, 101)))
            self.assertEqual([g["msg"]["result"]["items"] for g in got], [[i, str(i)] for i in range(1, 101)])

    def test_a_quick_tool_that_turns_slow_does_not_stop_reading(self):
        for i in range(5):  # quick so far: they run without handing the lead on
            self.host.send_all([call(i + 1, "nap", s=0), call(i + 100, "add", a=1)])
            self.assertEqual([self.host.recv()["id"] for _ in range(2)], [i + 1, i + 100])
        self.host.send_all([call(10, "add", a=1), call(11, "add", a=2), call(12, "nap", s=1.5)])
        # The answers held for the burst go out while the nap runs...
        self.assertEqual(sorted(self.host.recv()["id"] for _ in range(2)), [10, 11])
        # ...and a heartbeat sent now is read and answered before the nap ends.
        self.host.send_all([{"k": REQUEST, "id": 13, "m": "Heartbeat", "msg": {"seq": 1}}])
        self.assertEqual(self.host.recv()["id"], 13)
        self.assertEqual(self.host.recv()["id"], 12)

    def test_a_cancel_reaches_a_queued_call_behind_a_slow_one(self):
        for i in range(3):
            self.host.send_all([call(i + 1, "nap", s=0)])
            self.host.recv()
        self.host.send_all([call(19, "nap", s=0), call(20, "nap", s=1.5), call(21, "add", a=1)])
        time.sleep(0.05)
        self.host.send_all([{"k": 5, "id": 21}])
        first = {m["id"]: m for m in (self.host.recv(), self.host.recv())}
        self.assertEqual(sorted(first), [19, 21])
        self.assertEqual(first[21]["error"]["code"], "canceled")
        self.assertEqual(self.host.recv()["id"], 20)


class ReaderTest(unittest.TestCase):
    def test_buffered_says_whether_a_read_would_wait(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        reader = FrameReader(r)
        os.write(w, b"\x00\x00\x00\x00\x02{}" * 2)
        self.assertFalse(reader.buffered())
        self.assertEqual(reader.read_packet()[1], b"{}")
        self.assertTrue(reader.buffered())
        self.assertEqual(reader.read_packet()[1], b"{}")
        self.assertFalse(reader.buffered())
        os.close(w)
        self.assertIsNone(reader.read_packet())

    def test_a_partial_envelope_is_not_buffered(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        reader = FrameReader(r)
        os.write(w, b"\x00\x00\x00\x00\x02{}" + b"\x00\x00\x00\x01\x00" + b"x" * 100)
        self.assertEqual(reader.read_packet()[1], b"{}")
        self.assertFalse(reader.buffered())  # 100 of 256 payload bytes: a read would wait
        os.write(w, b"x" * 156)
        self.assertEqual(len(reader.read_packet()[1]), 256)
        self.assertFalse(reader.buffered())


if __name__ == "__main__":
    unittest.main()
