"""The host's pooled segments, as this worker maps them: the twin of src/bridge/shm-peer.ts.

The host lends a segment for a big argument with a handle {pid, fd, id, lease, off, size}; the
worker opens /proc/<host pid>/fd/<fd> once (only the host's, and only a private nameless /dev/shm
file of ours with the segment header), keeps it mapped, and gives the tool a memoryview over a
ctypes array over the mapping: no copy. numpy arrays, slices and DLPack tensors made from it keep
that ctypes array alive; when the last of them goes, a finalizer writes FREE in the header and the
host may fill the segment again. See shm_pool.py for the protocol.
"""

from __future__ import annotations

import mmap
import os
import stat
import time
import weakref
from typing import Any, Dict

from . import shm_pool
from .shm_pool import _DIR, _LEASE, _MAGIC, _STATE, FREE, HEADER, HELD, LENT, MAGIC, RETIRED, _get, _id_of, _put

__all__ = ["take"]


class _Peer:
    __slots__ = ("id", "mm")

    def __init__(self, mm: mmap.mmap) -> None:
        self.mm = mm
        self.id = _id_of(mm)

    def close(self) -> bool:
        """Unmap unless a view still uses it; True when unmapped."""
        try:
            self.mm.close()
            return True
        except BufferError:
            return False


def _free(mm: mmap.mmap, lease: int) -> None:
    """The last view of a lease is gone: hand the segment back to the host."""
    try:
        if _get(mm, _LEASE) == lease and _get(mm, _STATE) == HELD:
            _put(mm, _STATE, FREE)
    except ValueError:  # closed
        pass


def _open(pid: int, fd: int) -> _Peer:
    handle = os.open(f"/proc/{pid}/fd/{fd}", os.O_RDWR)  # a magic link: O_NOFOLLOW would refuse it
    try:
        st = os.fstat(handle)
        if (
            not stat.S_ISREG(st.st_mode) or st.st_dev != os.stat(_DIR).st_dev or st.st_nlink != 0
            or st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077 or st.st_size < HEADER
        ):
            raise ValueError(f"refusing pooled segment {pid}/{fd}: not a private nameless {_DIR} file of ours")
        mm = mmap.mmap(handle, st.st_size)
    finally:
        os.close(handle)
    if _get(mm, _MAGIC) != MAGIC:
        mm.close()
        raise ValueError(f"refusing pooled segment {pid}/{fd}: no segment header")
    return _Peer(mm)


def take(handle: Dict[str, Any]) -> memoryview:
    """A memoryview over a segment the host lent (no copy); freed back to it when the views go."""
    import ctypes  # here, not at start-up: only bulk transfers need it

    try:
        pid, fd, seg_id, lease, off, size = (handle[k] for k in ("pid", "fd", "id", "lease", "off", "size"))
    except (KeyError, TypeError):
        raise ValueError(f"malformed shared-memory handle {handle!r}") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (pid, fd, lease, off, size)) or not isinstance(seg_id, str) or off < HEADER or size < 0:
        raise ValueError(f"malformed shared-memory handle {handle!r}")
    if pid != shm_pool._host_pid:
        raise ValueError(f"refusing pooled segment of process {pid}: only the host's ({shm_pool._host_pid}) are accepted")
    with shm_pool._lock:
        peer = shm_pool._peers.get((pid, fd))
        if peer is not None and (peer.id != seg_id or _get(peer.mm, _STATE) == RETIRED):
            del shm_pool._peers[(pid, fd)]
            peer.close()  # or, still viewed, left to the views
            peer = None
        if peer is None:
            peer = _open(pid, fd)
            if peer.id != seg_id:
                peer.close()
                raise ValueError(f"pooled segment {pid}/{fd} is gone (the host retired it)")
            shm_pool._peers[(pid, fd)] = peer
            shm_pool._ensure_janitor()
        if off + size > len(peer.mm):
            raise ValueError(f"pooled handle {handle!r} reaches past its segment ({len(peer.mm)} bytes)")
        if _get(peer.mm, _LEASE) != lease or _get(peer.mm, _STATE) != LENT:
            raise ValueError(f"pooled segment {pid}/{fd}: lease {lease} is over")
        _put(peer.mm, _STATE, HELD)
        shm_pool._trim(time.monotonic())
    data = (ctypes.c_ubyte * size).from_buffer(peer.mm, off)
    weakref.finalize(data, _free, peer.mm, lease).atexit = False
    return memoryview(data).cast("B")


