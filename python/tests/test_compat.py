"""Adapters written for the original Snakepit run unmodified (test/fixtures/original_style.py)."""

import os
import time
import unittest

from snakepit_bridge import StreamChunk
from snakepit_bridge.adapter import discover_tools, load_adapter
from snakepit_bridge.base_adapter import BaseAdapter, tool
from snakepit_bridge.chunks import is_stream, unwrap_chunk
from snakepit_bridge.session_context import SessionContext
from snakepit_bridge.wire import END, MESSAGE, REQUEST, STREAM_REQUEST

from .proc import WorkerProcess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADAPTER = os.path.join(ROOT, "test/fixtures/original_style.py")
HOST_TOOLS = [{"name": "validate", "description": "Validate data", "parameters": {"type": "object"}, "streaming": False, "origin": "host"}]


class CompatProcessTest(unittest.TestCase):
    def setUp(self):
        self.worker = WorkerProcess(ADAPTER)
        self.addCleanup(self.worker.close)

    def call(self, call_id, name, args, **extra):
        return self.worker.call(call_id, name, args, **extra)

    def stream(self, call_id, name, args):
        self.worker.send({"k": STREAM_REQUEST, "id": call_id, "m": "ExecuteStreamingTool", "n": 100, "msg": {"toolName": name, "args": args}})
        chunks = []
        while True:
            packet = self.worker.recv()
            if packet["k"] == MESSAGE:
                chunks.append(packet["msg"]["data"])
            else:
                self.assertEqual(packet["k"], END)
                self.assertNotIn("error", packet)
                return chunks

    def test_tools_are_discovered_with_their_metadata(self):
        specs = {t["name"]: t for t in self.worker.ready["msg"]["tools"]}
        self.assertEqual(specs["add"]["description"], "Add two numbers together")
        self.assertTrue(specs["stream_data"]["streaming"])
        self.assertTrue(specs["search"]["streaming"])
        self.assertFalse(specs["add"]["streaming"])
        self.assertEqual(specs["add"]["parameters"]["required"], ["a", "b"])

    def test_each_call_gets_a_new_instance_with_initialize_and_cleanup(self):
        self.assertEqual(self.call(1, "add", {"a": 1, "b": 2})["msg"]["result"], 3)
        first = self.call(2, "lifecycle", {})["msg"]["result"]
        second = self.call(3, "lifecycle", {})["msg"]["result"]
        self.assertEqual(second["created"] - first["created"], 1)
        self.assertEqual(second["initialized"] - first["initialized"], 1)
        self.assertEqual(second["cleaned_up"] - first["cleaned_up"], 1)  # the async cleanup of call 2
        self.assertEqual(second["last_cleanup_tool"], "lifecycle")

    def test_cleanup_runs_when_the_tool_fails(self):
        before = self.call(1, "lifecycle", {})["msg"]["result"]["cleaned_up"]
        reply = self.call(2, "broken", {})
        self.assertEqual(reply["error"]["details"][0]["debug"]["pythonType"], "ValueError")
        after = self.call(3, "lifecycle", {})["msg"]["result"]
        self.assertEqual(after["cleaned_up"] - before, 2)

    def test_session_context_and_correlation_id(self):
        reply = self.call(1, "get_session_info", {}, sessionId="s-9", metadata={"tenant": "acme"}, correlationId="corr-1")
        self.assertEqual(reply["msg"]["result"], {"session_id": "s-9", "metadata": {"tenant": "acme"}, "correlation_id": "corr-1"})

    def test_call_elixir_tool_reaches_the_host(self):
        self.worker.send({"k": REQUEST, "id": 1, "m": "ExecuteTool", "msg": {
            "toolName": "call_backend_tool", "args": {"operation": "validate", "data": {"x": 1}}, "sessionId": "s-1"}})
        listing = self.worker.recv()
        self.assertEqual((listing["m"], listing["msg"]["sessionId"]), ("ListHostTools", "s-1"))
        self.worker.send({"k": END, "id": listing["id"], "msg": {"tools": HOST_TOOLS}})
        call = self.worker.recv()
        self.assertEqual(call["m"], "CallHostTool")
        self.assertEqual(call["msg"]["toolName"], "validate")
        self.assertEqual(call["msg"]["args"], {"input": {"x": 1}, "options": {"timeout": 5000}})
        self.worker.send({"k": END, "id": call["id"], "msg": {"result": {"valid": True}}})
        self.assertEqual(self.worker.recv()["msg"]["result"], {"valid": True})

    def test_an_unknown_host_tool_is_a_value_error(self):
        self.worker.send({"k": REQUEST, "id": 1, "m": "ExecuteTool", "msg": {
            "toolName": "call_backend_tool", "args": {"operation": "nope", "data": {}}}})
        listing = self.worker.recv()
        self.worker.send({"k": END, "id": listing["id"], "msg": {"tools": HOST_TOOLS}})
        reply = self.worker.recv()
        self.assertEqual(reply["error"]["details"][0]["debug"]["kind"], "ValueError")
        self.assertIn("'nope' not found", reply["error"]["message"])

    def test_chunk_objects_and_chunk_dicts_send_their_data(self):
        self.assertEqual(self.stream(1, "stream_data", {"count": 3}), [{"index": i, "total": 3} for i in (1, 2, 3)])
        self.assertEqual([c["item"] for c in self.stream(2, "process_with_progress", {"items": 3})], [1, 2, 3])

    def test_a_streaming_tool_returning_a_dict_streams_it_as_one_chunk(self):
        self.assertEqual(self.stream(1, "search", {"query": "q"}), [{"results": [], "query": "q", "limit": 10}])
        self.assertEqual(self.call(2, "search", {"query": "q"})["msg"]["result"], {"results": [], "query": "q", "limit": 10})

    def test_a_name_routed_by_execute_tool(self):
        reply = self.call(1, "legacy_shout", {"text": "hi"}, sessionId="s-2")
        self.assertEqual(reply["msg"]["result"], {"shout": "HI", "session_id": "s-2"})

    def test_async_tools_and_telemetry_with_the_calls_correlation_id(self):
        self.assertEqual(self.call(1, "slow_double", {"x": 21})["msg"]["result"], 42)
        reply = self.call(2, "timed_work", {"n": 3}, correlationId="corr-7")
        self.assertEqual(reply["msg"]["result"], {"correlation_id": "corr-7"})
        time.sleep(0.3)  # telemetry is batched every 50 ms; the next call reads the batch
        self.assertEqual(self.call(3, "add", {"a": 1, "b": 1})["msg"]["result"], 2)
        err = self.worker.close()
        self.assertIn("[corr=corr-7] working on 3", err)
        names = {e["name"]: e for e in self.worker.telemetry if e.get("correlationId") == "corr-7"}
        self.assertIn("python.compat.work.stop", names)
        self.assertEqual(names["python.compat.progress"]["measurements"], {"done": 3})


class CompatUnitTest(unittest.TestCase):
    def test_load_the_originals_dotted_class_spec(self):
        import sys

        sys.path.insert(0, os.path.join(ROOT, "test"))
        try:
            target = load_adapter("fixtures.original_style.OriginalStyleAdapter")
        finally:
            sys.path.remove(os.path.join(ROOT, "test"))
        self.assertIsInstance(target, BaseAdapter)
        self.assertIs(discover_tools(target)["add"].adapter_class, type(target))

    def test_get_tools_and_call_tool(self):
        class Small(BaseAdapter):
            @tool(description="Say hi", required_variables=["name"])
            def hi(self, name: str = "you") -> str:
                return f"hi {name}"

        adapter = Small()
        [spec] = adapter.get_tools()
        self.assertEqual(spec["required_variables"], ["name"])
        self.assertEqual(spec["parameters"], [{"name": "name", "type": "str", "required": False, "default": "you"}])
        self.assertEqual(adapter.call_tool("hi", name="x"), "hi x")
        self.assertEqual(adapter.execute_tool("hi", {"name": "y"}, None), "hi y")
        self.assertTrue(hasattr(Small.hi, "_tool_metadata"))

    def test_chunks(self):
        self.assertEqual(unwrap_chunk(StreamChunk({"a": 1}, is_final=True)), ({"a": 1}, True))
        self.assertEqual(unwrap_chunk({"data": 1, "is_final": False}), (1, False))
        self.assertEqual(unwrap_chunk({"data": 1, "other": 2}), ({"data": 1, "other": 2}, False))
        self.assertFalse(is_stream({"a": 1}))
        self.assertFalse(is_stream([1, 2]))
        self.assertTrue(is_stream(iter([1])))

    def test_a_detached_session_context_says_it_cannot_reach_the_host(self):
        ctx = SessionContext(None, "s1")
        self.assertEqual(ctx.session_id, "s1")
        with self.assertRaises(RuntimeError):
            ctx.call_elixir_tool("x")


if __name__ == "__main__":
    unittest.main()
