"""Big payloads through shared memory instead of the pipe (the Python half of src/bridge/shm.ts).

Payloads up to half the pool's budget use reusable segments (shm_pool.py: ours, for results;
shm_peer.py: the host's, for arguments). The rest use one-shot segments, described here.

The sender creates a private tmpfs file (/dev/shm/snakepit-<host pid>-..., O_EXCL, mode 0600,
never followed through a symlink), writes the payload once and sends only {"name", "size"}; the
receiver opens it, maps it and unlinks the name at once. Arguments arrive as a memoryview or a
numpy array over that mapping: no copy, and the memory is released by reference counting when
the last view is dropped (normally when the call ends; a tool that keeps the array keeps the
memory until it lets go). numpy arrays also speak DLPack, so np.from_dlpack / torch.from_dlpack
take them without a copy. Results at least SNAKEPIT_SHM_MIN_BYTES long go back the same way when
the host said it can map them (SNAKEPIT_SHM=1; never under Deno or off Linux).
"""

from __future__ import annotations

import collections
import mmap
import os
import re
import stat
import sys
import threading
import time
from typing import Any, Deque, Optional, Tuple

from . import shm_peer, shm_pool

__all__ = ["enabled", "export", "write_segment", "open_segment", "cleanup", "DIR"]

DIR = shm_pool.DIR
_NAME = re.compile(r"^snakepit-(\d+)-(?:w(\d+)-)?[0-9a-z]+$")
_ORPHAN_AFTER_S = 30.0
# Fault every page in at map time: one pass in the kernel instead of a fault per 4 KiB page.
_MAP_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)  # the host maps a segment as soon as it reads the packet

_enabled = os.environ.get("SNAKEPIT_SHM") == "1" and sys.platform.startswith("linux") and os.path.isdir(DIR)
try:
    _min_bytes = max(1, int(os.environ.get("SNAKEPIT_SHM_MIN_BYTES", "") or 1 << 20))
except ValueError:
    _min_bytes = 1 << 20
_host_pid = os.environ.get("SNAKEPIT_SHM_HOST_PID", "") or str(os.getppid())
try:  # reusable segments (shm_pool.py), with the host's budget
    shm_pool.configure(int(os.environ.get("SNAKEPIT_SHM_POOL_BYTES", "") or 0) if _enabled else 0, int(_host_pid))
except ValueError:
    shm_pool.configure(0, 0)
_sent: Deque[Tuple[str, float]] = collections.deque()
_lock = threading.Lock()
_seq = 0


def enabled() -> bool:
    """True when results may be sent through shared memory."""
    return _enabled


def export(buf: Any) -> Optional[dict]:
    """A handle for a contiguous buffer big enough for shared memory (pooled when it can), else None (use the pipe)."""
    if not _enabled:
        return None
    view = memoryview(buf)
    if view.nbytes < _min_bytes or not view.contiguous:
        return None
    pooled = shm_pool.lend(view)
    if pooled is not None:
        return pooled
    try:
        return write_segment(view)
    except OSError:  # /dev/shm full (ENOSPC), out of fds...: this one goes through the pipe
        return None


def write_segment(buf: Any) -> dict:
    """A one-shot segment: a fresh named file the host unlinks when it maps it."""
    global _seq
    view = memoryview(buf)
    with _lock:
        _seq += 1
        name = f"snakepit-{_host_pid}-w{os.getpid()}-{_seq:x}{os.urandom(4).hex()}"
        _prune(time.monotonic())
        _sent.append((name, time.monotonic()))
    path = f"{DIR}/{name}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        data = view.cast("B")
        written = 0
        while written < len(data):  # the one copy: into tmpfs pages the host maps as they are
            written += os.write(fd, data[written:])
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(fd)
    return {"name": name, "size": view.nbytes}


def open_segment(handle: Any) -> Any:
    """Map a segment the host sent and unlink its name; returns a writable mmap (or b"").

    A pooled handle (it has "fd") gives a memoryview over the host's reusable segment instead.
    """
    if isinstance(handle, dict) and "fd" in handle:
        return shm_peer.take(handle)
    name = handle.get("name") if isinstance(handle, dict) else None
    size = handle.get("size") if isinstance(handle, dict) else None
    if not isinstance(name, str) or not _NAME.match(name) or not isinstance(size, int) or size < 0:
        raise ValueError(f"malformed shared-memory handle {handle!r}")
    path = f"{DIR}/{name}"
    fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    try:
        st = os.fstat(fd)
        if st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077 or st.st_size != size:
            raise ValueError(
                f"refusing shared-memory segment {name}: owner {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o}, size {st.st_size}"
            )
        return mmap.mmap(fd, size, flags=_MAP_FLAGS) if size else b""
    finally:
        os.close(fd)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _prune(now: float) -> None:
    """Unlink segments the host never mapped (its call was cancelled before it read them)."""
    while _sent and now - _sent[0][1] > _ORPHAN_AFTER_S:
        _unlink(_sent.popleft()[0])


def _unlink(name: str) -> None:
    try:
        os.unlink(f"{DIR}/{name}")
    except OSError:
        pass


def _alive(pid: str) -> bool:
    """True while `pid` runs (a zombie, dead but not yet reaped, counts as dead)."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, ValueError, IndexError):
        return False


def cleanup(host_gone: bool = False) -> None:
    """On the way out: remove what we sent and nobody mapped, and, if the host died, its own.

    `host_gone`: our pipe from the host closed. The kernel closes a dying process's files before
    it turns into a zombie, so /proc may still show it running: believe the pipe.
    """
    with _lock:
        while _sent:
            _unlink(_sent.popleft()[0])
    if not host_gone and _alive(_host_pid):
        return
    try:
        names = os.listdir(DIR)
    except OSError:
        return
    for name in names:
        if name.startswith(f"snakepit-{_host_pid}-") and _NAME.match(name):
            _unlink(name)
