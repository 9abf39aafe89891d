"""The original's ThreadSafeAdapter: one shared instance serves concurrent calls."""

import os
import unittest

from snakepit_bridge.wire import REQUEST

from .proc import WorkerProcess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADAPTER = os.path.join(ROOT, "test/fixtures/original_threaded.py")


class ThreadSafeAdapterTest(unittest.TestCase):
    def test_concurrent_calls_share_one_instance_and_see_their_own_session(self):
        worker = WorkerProcess(ADAPTER, capacity=4)
        self.addCleanup(worker.close)
        for i in range(4):
            worker.send({"k": REQUEST, "id": i + 1, "m": "ExecuteTool", "msg": {
                "toolName": "predict", "args": {"input_data": f"x{i}", "hold_ms": 200}, "sessionId": f"s{i}"}})
        replies = {}
        while len(replies) < 4:
            packet = worker.recv()
            replies[packet["id"]] = packet["msg"]["result"]
        self.assertEqual({r["session_id"] for r in replies.values()}, {"s0", "s1", "s2", "s3"})
        for call_id, result in replies.items():
            self.assertEqual(result["session_id"], f"s{call_id - 1}")  # its own, though the calls overlapped
        self.assertEqual(len({r["instance"] for r in replies.values()}), 1)
        self.assertGreater(len({r["thread"] for r in replies.values()}), 1)
        self.assertEqual(sorted(r["logged"] for r in replies.values()), [1, 2, 3, 4])
        stats = worker.call(9, "statistics", {})["msg"]["result"]
        self.assertEqual(stats["log"], 4)
        self.assertEqual(stats["tracker"], {"total_requests": 4, "total_active_requests": 0})
        self.assertTrue(stats["thread_safe"])


if __name__ == "__main__":
    unittest.main()
