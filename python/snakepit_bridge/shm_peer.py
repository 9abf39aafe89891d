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
import threading
import weakref
from typing import Any, Dict

from . import shm_pool
from .shm_pool import DIR, FREE, HEADER, HELD, LEASE, LENT, MAGIC, MAGIC_AT, RETIRED, STATE, read_word, segment_id, write_word

__all__ = ["take"]


class _Peer:
    __slots__ = ("id", "mm")

    def __init__(self, mm: mmap.mmap) -> None:
        self.mm = mm
        self.id = segment_id(mm)

    def close(self) -> bool:
        """Unmap unless a view still uses it; True when unmapped."""
        try:
            self.mm.close()
            return True
        except BufferError:
            return False


_release_order = threading.Lock()  # its own: a finalizer may run while the pool's lock is held


def _free(mm: mmap.mmap, lease: int) -> None:
    """The last view of a lease is gone: hand the segment back to the host."""
    try:
        with _release_order:  # a full barrier: the tool's reads of the payload come before FREE (aarch64)
            if read_word(mm, LEASE) == lease and read_word(mm, STATE) == HELD:
                write_word(mm, STATE, FREE)
    except ValueError:  # closed
        pass


def _check(pid: int, fd: int, st: os.stat_result) -> None:
    if (
        not stat.S_ISREG(st.st_mode) or st.st_dev != os.stat(DIR).st_dev or st.st_nlink != 0
        or st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077 or st.st_size < HEADER
    ):
        raise ValueError(f"refusing pooled segment {pid}/{fd}: not a private nameless {DIR} file of ours")


def _open(pid: int, fd: int) -> _Peer:
    path = f"/proc/{pid}/fd/{fd}"  # a magic link: O_NOFOLLOW would refuse it
    _check(pid, fd, os.stat(path))  # before opening: a device or FIFO must never be opened
    handle = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        st = os.fstat(handle)
        _check(pid, fd, st)
        mm = mmap.mmap(handle, st.st_size)
    finally:
        os.close(handle)
    if read_word(mm, MAGIC_AT) != MAGIC:
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
    if pid != shm_pool.host_pid():
        raise ValueError(f"refusing pooled segment of process {pid}: only the host's ({shm_pool.host_pid()}) are accepted")
    with shm_pool.locked():
        peer = shm_pool.peer((pid, fd))
        if peer is not None and (peer.id != seg_id or read_word(peer.mm, STATE) == RETIRED):
            shm_pool.forget_peer((pid, fd))
            peer.close()  # or, still viewed, left to the views
            peer = None
        if peer is None:
            peer = _open(pid, fd)
            if peer.id != seg_id:
                peer.close()
                raise ValueError(f"pooled segment {pid}/{fd} is gone (the host retired it)")
        if off + size > len(peer.mm):
            raise ValueError(f"pooled handle {handle!r} reaches past its segment ({len(peer.mm)} bytes)")
        if read_word(peer.mm, LEASE) != lease or read_word(peer.mm, STATE) != LENT:
            raise ValueError(f"pooled segment {pid}/{fd}: lease {lease} is over")
        write_word(peer.mm, STATE, HELD)
        shm_pool.keep_peer((pid, fd), peer)
    data = (ctypes.c_ubyte * size).from_buffer(peer.mm, off)
    weakref.finalize(data, _free, peer.mm, lease).atexit = False
    return memoryview(data).cast("B")


