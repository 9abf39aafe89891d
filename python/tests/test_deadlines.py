"""A tool's own default deadline (`@tool(timeout_ms=...)`), enforced when the host sends none."""

import time
import unittest

from snakepit_bridge import tool
from snakepit_bridge.wire import END, MESSAGE, REQUEST, STREAM_REQUEST

from .proc import WorkerProcess


class ToolDeadlineTest(unittest.TestCase):
    def setUp(self):
        self.worker = WorkerProcess("plain_tools.py")
        self.addCleanup(self.worker.close)

    def test_the_tools_deadline_applies_when_the_host_sends_none(self):
        started = time.monotonic()
        reply = self.worker.call(1, "slow", {"seconds": 30})
        elapsed = time.monotonic() - started
        self.assertEqual(reply["error"]["code"], "deadline_exceeded", reply)
        self.assertIn("default deadline of 300 ms", reply["error"]["message"])
        self.assertGreaterEqual(elapsed, 0.29)
        self.assertLess(elapsed, 20)  # far under the 30 s the tool takes without its deadline, even on a loaded machine

    def test_the_hosts_deadline_wins_over_the_tools(self):
        self.worker.send({"k": REQUEST, "id": 2, "m": "ExecuteTool", "t": 5000, "msg": {"toolName": "slow", "args": {"seconds": 0.5}}})
        self.assertEqual(self.worker.recv()["msg"]["result"], "done")

    def test_a_tool_that_ignores_its_deadline_still_answers_deadline_exceeded(self):
        reply = self.worker.call(3, "blocking", {"seconds": 0.5})
        self.assertEqual(reply["error"]["code"], "deadline_exceeded")
        self.assertIn("250 ms", reply["error"]["message"])
        self.assertEqual(self.worker.call(4, "echo", {"value": "alive"})["msg"]["result"], "alive")

    def test_a_stream_stops_at_the_tools_deadline(self):
        self.worker.send({"k": STREAM_REQUEST, "id": 5, "m": "ExecuteStreamingTool", "n": 10_000, "msg": {"toolName": "ticks", "args": {}}})
        chunks = 0
        while True:
            packet = self.worker.recv()
            if packet["k"] == MESSAGE:
                chunks += 1
                continue
            self.assertEqual(packet["k"], END)
            self.assertEqual(packet["error"]["code"], "deadline_exceeded")
            break
        self.assertGreater(chunks, 3)
        self.assertLess(chunks, 200)


class DecoratorTest(unittest.TestCase):
    def test_bad_budgets_are_refused_when_the_tool_is_declared(self):
        for bad in (0, -5, 1.5, "100", True):
            with self.assertRaises(ValueError):
                tool(timeout_ms=bad)


if __name__ == "__main__":
    unittest.main()
