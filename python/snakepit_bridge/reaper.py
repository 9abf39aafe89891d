"""Nothing a tool starts outlives its worker, not even a daemon that called setsid() or double-forked.

Two mechanisms, the first the machine allows:

* cgroup: the host gives us ``SNAKEPIT_CGROUP`` (its run's cgroup v2 directory); we create our
  own child cgroup there and move into it before any user code runs. Everything we start stays in
  it whatever it does with sessions and process groups; on exit we kill all of it, and the host
  kills the cgroup too when we die (even by SIGKILL).
* child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``): orphans of our descendants are re-parented
  to us instead of init, so the whole tree stays reachable by parent links; on exit we kill it.

``install()`` runs at start-up; ``kill_tree()`` runs on every exit path we control (host gone,
watchdog, drain, normal exit). Stdlib only.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import sys
from typing import Dict, List, Optional

PR_SET_CHILD_SUBREAPER = 36

_mode = "none"
_cgroup: Optional[str] = None
_owner = 0  # the worker's pid (install() runs in the worker itself)


def mode() -> str:
    """``cgroup``, ``subreaper`` or ``none``."""
    return _mode


def cgroup_path(base: str, worker_id: str) -> str:
    """The cgroup a worker with this id creates under the run's cgroup ``base``."""
    return os.path.join(base, re.sub(r"[^A-Za-z0-9_.-]", "_", worker_id))


def _join_cgroup(base: str, worker_id: str) -> Optional[str]:
    path = cgroup_path(base, worker_id)
    try:
        if not os.path.isdir(path):
            os.mkdir(path)
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        return path
    except OSError:
        return None


def _become_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes  # only here: it costs ~10 ms at start-up

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def owns_worker() -> bool:
    """False in a process a tool forked from this worker: it must not clean up the worker's things."""
    return _owner == 0 or os.getpid() == _owner  # 0: install() never ran (in-process tests)


def install() -> str:
    """Contain this worker's future descendants; returns the mechanism in use."""
    global _mode, _cgroup, _owner
    _owner = os.getpid()
    base = os.environ.get("SNAKEPIT_CGROUP", "")
    if base:
        _cgroup = _join_cgroup(base, os.environ.get("SNAKEPIT_WORKER_ID", str(os.getpid())))
    if _cgroup:
        _mode = "cgroup"
    elif _become_subreaper():
        _mode = "subreaper"
    atexit.register(kill_tree)
    return _mode


def descendants(root: int) -> List[int]:
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out: List[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _members() -> List[int]:
    me = os.getpid()
    if _cgroup:
        try:
            with open(os.path.join(_cgroup, "cgroup.procs")) as f:
                return [int(p) for p in f.read().split() if int(p) != me]
        except (OSError, ValueError):
            pass
    return descendants(me) if os.path.isdir("/proc") else []


def kill_tree(rounds: int = 20) -> int:
    """SIGKILL every process this worker started (repeated while new ones appear); returns how many."""
    if _mode == "none" or not owns_worker():  # a forked copy would kill the worker in its cgroup
        return 0
    killed = 0
    for _ in range(rounds):
        pids = _members()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        _reap()
    return killed


def _reap() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
