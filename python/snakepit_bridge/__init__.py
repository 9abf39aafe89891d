"""snakepit_bridge: write Python tools that a snakepit host pools, supervises and calls."""

import os as _os

if _os.environ.get("SNAKEPIT_PYCACHE_DIR"):  # a read-only bridge (the single binary): its bytecode lives there
    from .bytecode import install as _install

    _install(__path__)

from . import telemetry
from .adapter import Adapter, tool
from .base_adapter import BaseAdapter
from .chunks import StreamChunk
from .context import ToolContext
from .errors import ERROR_CODES, BridgeError, Cancelled, DeadlineExceeded, HostToolError, InvalidArgument, ToolNotFound
from .session_context import SessionContext

__all__ = [
    "Adapter",
    "BaseAdapter",
    "tool",
    "ToolContext",
    "SessionContext",
    "StreamChunk",
    "ERROR_CODES",
    "telemetry",
    "BridgeError",
    "Cancelled",
    "DeadlineExceeded",
    "HostToolError",
    "InvalidArgument",
    "ToolNotFound",
]

__version__ = "0.1.0"
