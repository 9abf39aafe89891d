"""The built-in example adapter: small tools that show each feature of snakepit."""

import asyncio
import os
import time

from snakepit_bridge import Adapter, ToolContext, tool


class DemoAdapter(Adapter):
    def setup(self) -> None:
        # Runs once per worker: load models here. This "model" is a lookup table.
        self.greetings = {"en": "Hello", "fr": "Bonjour", "de": "Hallo"}

    @tool(description="Add two numbers")
    def add(self, a: float, b: float = 0) -> float:
        return a + b

    @tool(description="Return the arguments unchanged")
    def echo(self, **kwargs):
        return kwargs

    @tool(description="Greet someone in a language")
    def greet(self, name: str, lang: str = "en") -> str:
        if lang not in self.greetings:
            raise ValueError(f"unknown language {lang!r}; known: {', '.join(sorted(self.greetings))}")
        return f"{self.greetings[lang]}, {name}!"

    @tool(description="Count up", streaming=True)
    def count(self, n: int, delay_ms: int = 0):
        for i in range(n):
            if delay_ms:
                time.sleep(delay_ms / 1000)
            yield {"i": i}

    @tool(description="Sleep, then return how long (checks for cancellation)")
    def sleep(self, ms: int, ctx: ToolContext) -> int:
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            ctx.check_cancelled()
            time.sleep(0.005)
        return ms

    @tool(description="Async tool: wait, then answer")
    async def async_add(self, a: int, b: int) -> int:
        await asyncio.sleep(0.001)
        return a + b

    @tool(description="Keep a value in this session's state (lives in this worker)")
    def remember(self, key: str, value, ctx: ToolContext) -> int:
        ctx.state[key] = value
        return len(ctx.state)

    @tool(description="Read a value from this session's state")
    def recall(self, key: str, ctx: ToolContext):
        return ctx.state.get(key)

    @tool(description="Greet a user the host knows, through the host tool get_user")
    def greet_user(self, user_id: str, ctx: ToolContext) -> str:
        user = ctx.call("get_user", id=user_id)
        return self.greet(user["name"], user.get("lang", "en"))

    @tool(description="Emit a custom telemetry event")
    def report(self, value: float, ctx: ToolContext) -> None:
        ctx.emit("demo.report", {"value": value})

    @tool(description="The worker's process id")
    def pid(self) -> int:
        return os.getpid()

    @tool(description="Raise an exception with the given message")
    def fail(self, message: str = "boom") -> None:
        raise RuntimeError(message)
