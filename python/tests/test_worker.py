"""Drive a real Worker over OS pipes in-process, as the host would."""

import json
import os
import threading
import time
import unittest

from snakepit_bridge import Adapter, ToolContext, tool
from snakepit_bridge.adapter import discover_tools
from snakepit_bridge.codec import dumps, loads, revive
from snakepit_bridge.framing import FLAG_TYPED, FrameReader, FrameWriter
from snakepit_bridge.wire import CANCEL, END, MESSAGE, REQUEST, STREAM_REQUEST
from snakepit_bridge.server import Server as Worker


class A(Adapter):
    @tool
    def add(self, a: int, b: int = 0) -> int:
        return a + b

    @tool
    def wait(self, ctx: ToolContext) -> str:
        while not ctx.cancelled:
            time.sleep(0.001)
        return "never sent"

    @tool
    def gen(self, n: int):
        for i in range(n):
            yield i

    @tool
    def ask_host(self, ctx: ToolContext, name: str):
        return ctx.call(name, x=[1, "two", None, b"3"])


class Host:
    def __init__(self, capacity: int = 1) -> None:
        to_worker_r, self.to_worker_w = os.pipe()
        self.from_worker_r, from_worker_w = os.pipe()
        self.worker = Worker(A(), discover_tools(A()), worker_id="t", capacity=capacity,
                             reader=FrameReader(to_worker_r), writer=FrameWriter(from_worker_w))
        self.writer = FrameWriter(self.to_worker_w)
        self.reader = FrameReader(self.from_worker_r)
        self.worker.exit = lambda code=0: None  # keep the test process alive at EOF
        threading.Thread(target=self.worker.serve, daemon=True).start()
        ready = self.recv()
        assert ready["m"] == "Ready", ready
        self.send({"k": END, "id": ready["id"], "msg": {}})

    def send(self, packet):
        payload, atts, typed = dumps(packet)
        self.writer.write_packet(payload, atts, typed)

    def recv(self):
        """The next packet, answering (and skipping) telemetry batches the worker sends on its own."""
        while True:
            flags, payload, atts = self.reader.read_packet()
            msg = loads(payload)
            msg = revive(msg, atts) if flags & FLAG_TYPED else msg
            if msg.get("k") == REQUEST and msg.get("m") == "StreamTelemetry":
                self.send({"k": END, "id": msg["id"], "msg": {}})
                continue
            return msg

    def close(self):
        os.close(self.to_worker_w)


class WorkerTest(unittest.TestCase):
    def setUp(self):
        self.host = Host()
        self.addCleanup(self.host.close)

    def test_execute(self):
        self.host.send({"k": REQUEST, "id": 1, "m": "ExecuteTool", "msg": {"toolName": "add", "args": {"a": 2, "b": 3}}})
        reply = self.host.recv()
        self.assertEqual(reply["id"], 1)
        self.assertEqual(reply["msg"]["result"], 5)

    def test_invalid_argument_is_structured(self):
        self.host.send({"k": REQUEST, "id": 2, "m": "ExecuteTool", "msg": {"toolName": "add", "args": {"a": "x"}}})
        reply = self.host.recv()
        self.assertEqual(reply["error"]["code"], "invalid_argument")
        self.assertEqual(reply["error"]["details"][0]["debug"]["field"], "a")

    def test_heartbeat_is_answered_during_a_long_call(self):
        self.host.send({"k": REQUEST, "id": 3, "m": "ExecuteTool", "msg": {"toolName": "wait", "args": {}}})
        self.host.send({"k": REQUEST, "id": 4, "m": "Heartbeat", "msg": {"seq": 9}})
        hb = self.host.recv()
        self.assertEqual(hb["id"], 4)
        self.assertEqual(hb["msg"]["inFlight"], 1)
        self.host.send({"k": CANCEL, "id": 3})
        end = self.host.recv()
        self.assertEqual(end["id"], 3)
        self.assertEqual(end["error"]["code"], "canceled")

    def test_stream(self):
        self.host.send({"k": STREAM_REQUEST, "id": 5, "m": "ExecuteStreamingTool", "n": 10, "msg": {"toolName": "gen", "args": {"n": 3}}})
        got = [self.host.recv() for _ in range(4)]
        self.assertEqual([g["k"] for g in got], [MESSAGE, MESSAGE, MESSAGE, END])
        self.assertEqual([g["msg"]["data"] for g in got[:3]], [0, 1, 2])

    def test_host_tool_call_carries_every_json_type_and_bytes(self):
        self.host.send({"k": REQUEST, "id": 6, "m": "ExecuteTool", "msg": {"toolName": "ask_host", "args": {"name": "lookup"}, "sessionId": "s1"}})
        req = self.host.recv()
        self.assertEqual(req["m"], "CallHostTool")
        self.assertEqual(req["msg"]["args"], {"x": [1, "two", None, b"3"]})
        self.assertEqual(req["msg"]["sessionId"], "s1")
        self.host.send({"k": END, "id": req["id"], "msg": {"result": {"ok": True}}})
        self.assertEqual(self.host.recv()["msg"]["result"], {"ok": True})


if __name__ == "__main__":
    unittest.main()


class BadInputTest(unittest.TestCase):
    def test_a_request_that_cannot_be_decoded_is_answered_and_the_worker_lives(self):
        host = Host()
        self.addCleanup(host.close)
        bad = {"k": REQUEST, "id": 9, "m": "ExecuteTool", "msg": {"toolName": "add", "args": {"a": {"__snakepit__": "ndarray", "dtype": "float32", "shape": [3, 3], "ref": 0}}}}
        payload, _, _ = dumps(bad)
        host.writer.write_packet(payload, [b"\x00" * 8], typed=True)
        reply = host.recv()
        self.assertEqual(reply["id"], 9)
        self.assertEqual(reply["error"]["code"], "invalid_argument")
        self.assertIn("could not be decoded", reply["error"]["message"])
        host.writer.write_packet(b"this is not json")
        host.send({"k": REQUEST, "id": 10, "m": "ExecuteTool", "msg": {"toolName": "add", "args": {"a": 1}}})
        self.assertEqual(host.recv()["msg"]["result"], 1)
