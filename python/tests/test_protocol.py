"""The handshake: Python reports its protocol version and checks the host's."""

import time
import unittest

from snakepit_bridge.control import EXIT_REFUSED
from snakepit_bridge.server import PROTOCOL_VERSION

from .proc import WorkerProcess


class ProtocolVersionTest(unittest.TestCase):
    def test_ready_reports_the_version_and_tool_deadlines(self):
        worker = WorkerProcess("plain_tools.py")
        self.addCleanup(worker.close)
        self.assertEqual(worker.ready["msg"]["protocolVersion"], PROTOCOL_VERSION)
        specs = {t["name"]: t for t in worker.ready["msg"]["tools"]}
        self.assertEqual(specs["slow"]["timeoutMs"], 300)
        self.assertEqual(specs["blocking"]["timeoutMs"], 250)  # command_timeout, the seed's name
        self.assertNotIn("timeoutMs", specs["echo"])

    def test_the_same_version_or_none_is_accepted(self):
        for reply in ({"protocolVersion": PROTOCOL_VERSION}, {}):
            worker = WorkerProcess("plain_tools.py", answer_ready=reply)
            self.assertEqual(worker.call(1, "echo", {"value": 1})["msg"]["result"], 1)
            worker.close()

    def test_another_version_ends_the_worker_naming_both_versions(self):
        worker = WorkerProcess("plain_tools.py", answer_ready={"protocolVersion": PROTOCOL_VERSION + 41})
        deadline = time.monotonic() + 10
        while worker.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(worker.proc.returncode, EXIT_REFUSED)
        err = worker.close()
        self.assertIn(f"host speaks protocol version {PROTOCOL_VERSION + 41}", err)
        self.assertIn(f"speaks protocol version {PROTOCOL_VERSION}", err)

    def test_a_refused_ready_ends_the_worker_with_the_reason(self):
        worker = WorkerProcess("plain_tools.py", ready_error={"code": "failed_precondition", "message": "no thanks"})
        self.assertEqual(worker.proc.wait(timeout=10), EXIT_REFUSED)
        self.assertIn("the host refused this worker: no thanks", worker.close())



class HostConstantTest(unittest.TestCase):
    def test_python_and_the_host_speak_the_same_version(self):
        import os
        import re

        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, "src/bridge/messages.ts"), encoding="utf-8") as f:
            found = re.search(r"export const PROTOCOL_VERSION = (\d+);", f.read())
        self.assertIsNotNone(found)
        self.assertEqual(int(found.group(1)), PROTOCOL_VERSION)


if __name__ == "__main__":
    unittest.main()
