"""Packets Python cannot decode get a typed answer for their call, and the worker stays up."""

import json
import time
import unittest

from snakepit_bridge.decode import MAX_DEPTH, nesting_depth, peek_header

from .proc import WorkerProcess


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


class DecodeLimitsTest(unittest.TestCase):
    def setUp(self):
        self.worker = WorkerProcess("plain_tools.py")
        self.addCleanup(self.worker.close)

    def raw_call(self, call_id: int, args_json: str) -> dict:
        payload = ('{"k":1,"id":%d,"m":"ExecuteTool","msg":{"toolName":"echo","args":{"value":%s}}}' % (call_id, args_json))
        self.worker.send_raw(payload.encode("utf-8", "surrogatepass"))
        return self.worker.recv()

    def assert_alive(self, call_id: int):
        reply = self.worker.call(call_id, "echo", {"value": [1, {"a": "b"}]})
        self.assertEqual(reply["msg"]["result"], [1, {"a": "b"}])

    def assert_invalid(self, reply: dict, call_id: int, *words: str):
        self.assertEqual(reply["id"], call_id)
        self.assertEqual(reply["error"]["code"], "invalid_argument", reply)
        self.assertEqual(reply["error"]["details"][0]["debug"]["code"], "invalid_argument")
        for word in words:
            self.assertIn(word, reply["error"]["message"])

    def test_arguments_1000_deep_are_refused_naming_the_limit(self):
        started = time.monotonic()
        reply = self.raw_call(1, nested(1000))
        self.assertLess(time.monotonic() - started, 1.0)
        self.assert_invalid(reply, 1, "1001 levels deep", f"limit is {MAX_DEPTH}")
        self.assertEqual(reply["error"]["details"][0]["debug"]["context"], {"limit": MAX_DEPTH, "depth": 1001})
        self.assert_alive(2)

    def test_arguments_100000_deep_are_refused(self):
        reply = self.raw_call(3, '{"a":' * 100_000 + "1" + "}" * 100_000)
        self.assert_invalid(reply, 3, "levels deep")
        self.assert_alive(4)

    def test_the_limit_itself_passes(self):
        # {"value": [[...]]}: the args object is one level, the list MAX_DEPTH - 1 more.
        reply = self.raw_call(5, nested(MAX_DEPTH - 1))
        self.assertNotIn("error", reply)
        reply = self.raw_call(6, nested(MAX_DEPTH))
        self.assert_invalid(reply, 6, f"{MAX_DEPTH + 1} levels deep")

    def test_brackets_inside_strings_do_not_count(self):
        text = json.dumps("[" * 5000)
        reply = self.raw_call(7, text)
        self.assertEqual(reply["msg"]["result"], "[" * 5000)

    def test_invalid_utf8_is_refused(self):
        payload = b'{"k":1,"id":8,"m":"ExecuteTool","msg":{"toolName":"echo","args":{"value":"\xff\xfe"}}}'
        self.worker.send_raw(payload)
        reply = self.worker.recv()
        self.assertEqual(reply["id"], 8)
        self.assertEqual(reply["error"]["code"], "invalid_argument")
        self.assertIn("UTF-8", reply["error"]["message"])
        self.assert_alive(9)

    def test_a_lone_surrogate_is_refused_naming_where(self):
        reply = self.raw_call(10, '{"inner": "a\\ud800b"}')
        self.assert_invalid(reply, 10, "lone UTF-16 surrogate", "value.inner")
        self.assert_alive(11)

    def test_a_surrogate_pair_is_fine(self):
        reply = self.raw_call(12, '"\\ud83d\\ude00"')
        self.assertEqual(reply["msg"]["result"], "\U0001F600")

    def test_garbage_json_for_a_call_is_answered(self):
        self.worker.send_raw(b'{"k":1,"id":13,"m":"ExecuteTool","msg":{"toolName":')
        reply = self.worker.recv()
        self.assert_invalid(reply, 13, "could not be decoded")
        self.assert_alive(14)

    def test_a_control_request_that_cannot_be_decoded_is_answered_too(self):
        self.worker.send_raw(b'{"k":1,"id":15,"m":"Heartbeat","msg":' + nested(2000).encode() + b"}")
        self.assert_invalid(self.worker.recv(), 15, "levels deep")
        self.assert_alive(16)


class HelpersTest(unittest.TestCase):
    def test_peek_header(self):
        self.assertEqual(peek_header(b'{"k":2,"id":77,"m":"x"'), (2, 77))
        self.assertEqual(peek_header(b'{"id":77,"k":2}'), (None, None))
        self.assertEqual(peek_header(b"\xff"), (None, None))

    def test_nesting_depth(self):
        self.assertEqual(nesting_depth(b"[1,2]"), 0)  # under the limit: not scanned
        deep = ("[" * 300 + "]" * 300).encode()
        self.assertEqual(nesting_depth(deep), 300)
        self.assertEqual(nesting_depth(b'["' + b"[" * 400 + b'"]'), 1)
        self.assertEqual(nesting_depth(b'["\\"' + b"[" * 400 + b'"]'), 1)


if __name__ == "__main__":
    unittest.main()
