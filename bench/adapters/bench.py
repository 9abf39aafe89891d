"""Tools for the benchmarks: the smallest possible work, so the figures are all overhead."""

from snakepit_bridge import ToolContext, tool


@tool
def add(a: int, b: int = 0) -> int:
    return a + b


@tool
def host_echo(ctx: ToolContext, x: int) -> int:
    """One Python -> host tool call inside this host -> Python call."""
    return ctx.call("echo", x=x)


@tool
def blob(data: bytes) -> bytes:
    return data


@tool
def chunks(n: int):
    for i in range(n):
        yield i


@tool
def f32(x):
    """A float32 numpy array in, the same array back."""
    return x


@tool
def arrow_echo(t):
    """An Arrow table in (pyarrow.Table, or ArrowIPC without pyarrow), the same table back."""
    return t
