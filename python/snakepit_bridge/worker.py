"""Kept for imports of the old name: the worker is `server.Server`."""

from __future__ import annotations

from .calls import TERMINATING
from .server import PROTOCOL_VERSION, Server

__all__ = ["Worker", "PROTOCOL_VERSION", "TERMINATING"]

Worker = Server
