import os
import tempfile
import textwrap
import unittest

from snakepit_bridge import Adapter, tool
from snakepit_bridge.adapter import discover_tools, load_adapter


class Demo(Adapter):
    @tool(description="Add")
    def add(self, a: int, b: int = 0) -> int:
        return a + b

    @tool(name="renamed")
    def original(self) -> str:
        """First line of the doc.

        More text."""
        return "x"

    def not_a_tool(self):
        return None

    @tool
    def gen(self, n: int):
        yield from range(n)

    @tool
    async def coro(self) -> int:
        return 1


class DiscoveryTest(unittest.TestCase):
    def test_methods(self):
        tools = discover_tools(Demo())
        self.assertEqual(sorted(tools), ["add", "coro", "gen", "renamed"])
        self.assertEqual(tools["add"].fn(1, 2), 3)
        self.assertEqual(tools["renamed"].description, "First line of the doc.")
        self.assertTrue(tools["gen"].streaming)
        self.assertTrue(tools["coro"].is_async)
        self.assertFalse(tools["add"].streaming)

    def write(self, text: str) -> str:
        fd, path = tempfile.mkstemp(suffix=".py")
        with os.fdopen(fd, "w") as f:
            f.write(textwrap.dedent(text))
        self.addCleanup(os.unlink, path)
        return path

    def test_load_file_with_and_without_class(self):
        path = self.write("""
            from snakepit_bridge import Adapter, tool
            class A(Adapter):
                @tool
                def hi(self) -> str:
                    return "hi"
        """)
        self.assertEqual(type(load_adapter(path)).__name__, "A")
        self.assertEqual(type(load_adapter(path + ":A")).__name__, "A")
        with self.assertRaises(ImportError) as ctx:
            load_adapter(path + ":Nope")
        self.assertIn("'Nope' not found", str(ctx.exception))

    def test_module_level_tools(self):
        path = self.write("""
            from snakepit_bridge import tool
            @tool
            def double(x: int) -> int:
                return 2 * x
            def helper():
                return None
        """)
        target = load_adapter(path)
        self.assertEqual(list(discover_tools(target)), ["double"])

    def test_missing_file(self):
        with self.assertRaises(ImportError) as ctx:
            load_adapter("/nonexistent/x.py")
        self.assertIn("adapter file not found", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
