"""The forked side of preloading: what a child of the template does to become a worker.

`become_worker()` runs in the child right after `os.fork()` in the template
(python/snakepit_bridge/forkserver.py). It gives the child what a spawned worker has: its own
session and process group, the private pipes to the host, its environment and working folder, a
name of its own (`/proc/<pid>/comm` is the worker id and its command line reads like a spawned
worker's, as far as the template's left room for it), and then runs the usual bridge main loop.

Exit status: the template (the parent) reaps the worker and tells the host its exit code or
signal; after the template's death its keeper does (forkkeeper.py). If both are gone, nobody can
wait for the worker any more, so the worker also writes its own exit code, on every Python-level
way out (return, `sys.exit`, an uncaught exception, `os._exit`), to a fourth private pipe the host
reads: the host then knows the code even so. Only a death by signal then stays unknown, and the
host says so. See docs/preload.md.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import sys
from typing import Callable, Dict, List

__all__ = ["become_worker", "rename", "set_identity", "subreaper", "FIFOS"]

FIFOS = ("in", "out", "err", "st")  # stdin, stdout, stderr, exit status
PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36
COMM_LEN = 15  # /proc/<pid>/comm keeps 15 bytes

_libc = ctypes.CDLL(None, use_errno=True)  # loaded once, in the template: forks pay nothing
_real_exit: Callable[[int], None] = os._exit


def _comm(worker_id: str) -> bytes:
    """The worker id, cut to fit; its number (after the last "-") is kept: `embeddings-gpu-12` -> `embeddings-g-12`."""
    raw = worker_id.encode("utf-8", "replace") or b"snakepit-worker"
    if len(raw) <= COMM_LEN:
        return raw
    head, dash, number = raw.rpartition(b"-")
    tail = dash + number if head and len(number) <= 6 else b""
    return raw[:COMM_LEN - len(tail)] + tail


def _argv_area() -> "tuple[int, int]":
    """Start and end of this process's command-line bytes (fields 48-49 of /proc/self/stat)."""
    with open("/proc/self/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return int(fields[45]), int(fields[46])


def _cmdline(python: str, argv: List[str], room: int) -> bytes:
    """A spawned worker's command line, its identifying flags first, cut to whole flags in `room`."""
    groups: List[List[str]] = []
    rest = list(argv)
    while rest:
        word = rest.pop(0)
        groups.append([word, rest.pop(0)] if word.startswith("--") and rest and not rest[0].startswith("--") else [word])
    order = {"--worker-id": 0, "--run-id": 1}
    groups.sort(key=lambda g: order.get(g[0], 2))  # stable: the rest keep their order
    out = b""
    for group in [[python, "-m", "snakepit_bridge"], *groups]:
        item = b"".join(word.encode("utf-8", "surrogateescape") + b"\0" for word in group)
        if len(out) + len(item) > room:
            break
        out += item
    return out


def rename(comm: str, words: List[str]) -> bool:
    """Set this process's comm and, cut to the room the command line has, its words (the
    kernel shows what is in the original argv bytes; nothing can make them longer)."""
    _libc.prctl(PR_SET_NAME, ctypes.c_char_p(_comm(comm)), 0, 0, 0)
    try:
        start, end = _argv_area()
    except (OSError, ValueError, IndexError):
        return False
    line = b""
    for word in words:
        item = word.encode("utf-8", "surrogateescape") + b"\0"
        if len(line) + len(item) > end - start:
            break
        line += item
    if not start or not line:
        return False
    ctypes.memmove(start, line.ljust(end - start, b"\0"), end - start)
    return True


def subreaper() -> bool:
    """Become a child subreaper: orphans among our descendants are re-parented to us."""
    return _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def set_identity(worker_id: str, argv: List[str]) -> None:
    """Name this process after its worker: comm and, where it fits, a spawned worker's command line."""
    try:
        start, end = _argv_area()
        with open("/proc/self/cmdline", "rb") as f:
            python = f.read().split(b"\0", 1)[0].decode("utf-8", "surrogateescape")  # as the host named it
    except (OSError, ValueError, IndexError):
        _libc.prctl(PR_SET_NAME, ctypes.c_char_p(_comm(worker_id)), 0, 0, 0)
        return
    line = _cmdline(python, argv, end - start)
    # Without --run-id the registry could not tell this worker is ours: keep the template's line.
    words = [w.decode("utf-8", "surrogateescape") for w in line.split(b"\0")[:-1]] if b"--run-id\0" in line else []
    rename(worker_id, words)


def _report_exit(fd: int, code: int) -> None:
    try:
        os.write(fd, b"exit %d\n" % (code & 0xFF))
    except OSError:
        pass


def _watch_exits(fd: int) -> None:
    """Report `os._exit(code)` calls of this process (not of its own forks) before they happen."""
    me = os.getpid()

    def _exit(code: int) -> None:
        if os.getpid() == me:
            _report_exit(fd, int(code))
        _real_exit(code)

    os._exit = _exit


def become_worker(req: Dict, fifo_dir: str, private_fds: List[int], remove_dir: Callable[[str], None]) -> None:
    """In the forked child: become a worker of our own, run the worker main loop, never return."""
    code = 1
    ran = False
    st = -1
    try:
        for fd in private_fds:  # the template's control pipe and wake-up pipe are not ours
            os.close(fd)
        os.setsid()
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        fds = [os.open(f"{fifo_dir}/{name}", os.O_RDONLY if name == "in" else os.O_WRONLY) for name in FIFOS]  # wait for the host's ends
        remove_dir(fifo_dir)
        for fd, target in zip(fds[:3], (0, 1, 2)):
            os.dup2(fd, target)
            os.close(fd)
        st = fds[3]
        _watch_exits(st)
        os.environ.clear()
        os.environ.update(req["env"])
        set_identity(req["env"].get("SNAKEPIT_WORKER_ID", ""), req["argv"])
        if req.get("cwd"):
            os.chdir(req["cwd"])
        from . import __main__ as bridge_main

        sys.argv = [bridge_main.__file__, *req["argv"]]  # what a spawned worker's code sees
        atexit._clear()  # the template's exit handlers are not this worker's
        ran = True
        code = bridge_main.main(req["argv"])
    except SystemExit as exc:  # as the interpreter treats it: None is 0, a message is printed (code 1)
        code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
        if not isinstance(exc.code, (int, type(None))):
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - the traceback the interpreter prints: the host reads the cause from it
        sys.excepthook(*sys.exc_info())
    finally:
        try:
            if ran:  # as at a spawned worker's exit: its atexit handlers (reaper.kill_tree, user code's)
                atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001 - leaving anyway
            pass
        if st >= 0:
            _report_exit(st, code)
        _real_exit(code)
