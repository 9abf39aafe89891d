"""snakepit_bridge: write Python tools that a snakepit host pools, supervises and calls."""

from . import telemetry
from .adapter import Adapter, BaseAdapter, tool
from .context import ToolContext
from .errors import BridgeError, Cancelled, DeadlineExceeded, HostToolError, InvalidArgument, ToolNotFound

__all__ = [
    "Adapter",
    "BaseAdapter",
    "tool",
    "ToolContext",
    "telemetry",
    "BridgeError",
    "Cancelled",
    "DeadlineExceeded",
    "HostToolError",
    "InvalidArgument",
    "ToolNotFound",
]

__version__ = "0.1.0"
