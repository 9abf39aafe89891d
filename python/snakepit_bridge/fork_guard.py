"""A tool that forks without exec (os.fork, multiprocessing's fork context) makes a copy of its
worker, threads aside. When the child's code returns instead of exiting, the copy would go on
leading the worker's loop: reading the host's pipe, taking requests meant for the worker and
answering them (or running them twice), or sitting forever on a lock a missing thread held.

`install(server)` registers an at-fork hook: in every such child the protocol descriptors lead to
/dev/null at once, and the child leaves (os._exit(0), touching nothing of the worker's: no
kill_tree on its cgroup, no shared-memory cleanup) as soon as its call returns and would be
answered. Children that exec (subprocess) or exit on their own are unaffected.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .server import Server

__all__ = ["install"]


def install(server: "Server") -> None:
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=lambda: _forked_copy(server))


def _leave(*_args: Any, **_kw: Any) -> None:
    os._exit(0)


def _forked_copy(server: "Server") -> None:
    runner = server.runner
    runner._send = runner._write = runner._hold = runner._queue = runner._send_chunk = runner._flush = _leave
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(devnull, server._reader._raw.fd)
        os.dup2(devnull, server._writer._fd)
    finally:
        os.close(devnull)
