"""Reusable shared-memory segments this worker owns: the twin of src/bridge/shm-pool.ts.

A fresh 16 MiB tmpfs segment costs ~14 ms (pages allocated, zeroed, then freed again), copying
into pages that are already there and mapped ~1 ms. So payloads up to half the pool's budget go
through segments that stay mapped on both sides:

- a segment is a nameless tmpfs file (O_TMPFILE in /dev/shm, mode 0600) the owner keeps open;
  the peer opens /proc/<owner pid>/fd/<fd> once, checks it and keeps it mapped. Nothing appears
  in /dev/shm, and the kernel frees the memory when the last process holding it goes.
- a 64-byte header holds the state: the owner sets LENT and a new lease before sending, the
  peer sets HELD when it makes the view and FREE when the last view is gone; the owner writes
  only FREE segments. Arguments the host lends arrive as a memoryview over a ctypes array over
  the mapping (no copy); when the tool's last view of it (numpy arrays, slices, DLPack tensors
  included) is dropped, a finalizer says FREE.
- a segment's pages are reserved when it is made (posix_fallocate): a sparse one written through
  its mapping on a full /dev/shm raises SIGBUS; reserved, a full /dev/shm is an OSError at
  creation and the payload goes one-shot (or through the pipe).
- at most SNAKEPIT_SHM_POOL_BYTES per process (the host passes its budget; 0: no pool); idle
  segments are retired after 30 s, and a lease the host never took is retired after 30 s.
"""

from __future__ import annotations

import errno
import mmap
import os
import struct
import threading
import time
from typing import Any, Dict, Optional, Tuple

__all__ = [
    "lend", "configure", "stats", "DIR", "HEADER", "STATE", "LEASE", "MAGIC_AT", "MAGIC", "FREE", "LENT", "HELD", "RETIRED",
    "read_word", "write_word", "segment_id", "host_pid", "locked", "peer", "keep_peer", "forget_peer",
]

HEADER = 64
STATE, LEASE, MAGIC_AT, ID_AT = 0, 4, 8, 12  # byte offsets of the header's words
MAGIC = 0x504B4E53
FREE, LENT, HELD, RETIRED = 0, 1, 2, 3
_IDLE_S = 30.0
DIR = "/dev/shm"
# open(O_TMPFILE) errors that mean "this filesystem has no O_TMPFILE"; any other is this segment's problem.
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL}

_lock = threading.Lock()
_own: Dict[int, "_Seg"] = {}
_peers: Dict[Tuple[int, int], Any] = {}  # the host's segments this worker maps (shm_peer.py)
_budget = 0
_bytes = 0
_works = hasattr(os, "O_TMPFILE")
_host_pid = 0
_making: Dict[int, threading.Event] = {}  # capacity -> a spare being made in the background
_janitor: Optional[threading.Thread] = None
_prctl: Any = None


def read_word(mm: mmap.mmap, at: int) -> int:
    """A header word (an aligned 4-byte load: atomic on every platform we run on)."""
    return struct.unpack_from("<i", mm, at)[0]


def write_word(mm: mmap.mmap, at: int, value: int) -> None:
    """Set a header word. Callers that hand a segment over (FREE) hold a lock first: its
    acquire/release orders the reads of the payload before this store (aarch64 reorders them)."""
    struct.pack_into("<i", mm, at, value)


def segment_id(mm: mmap.mmap) -> str:
    lo, hi = struct.unpack_from("<II", mm, ID_AT)
    return f"{lo:08x}{hi:08x}"


class _Seg:
    __slots__ = ("fd", "id", "cap", "mm", "used_at")

    def __init__(self, cap: int) -> None:
        self.fd = os.open(DIR, os.O_TMPFILE | os.O_RDWR, 0o600)
        try:
            os.ftruncate(self.fd, cap)
            # Every page reserved now: a sparse segment on a full tmpfs raises SIGBUS when written through the mapping.
            os.posix_fallocate(self.fd, 0, cap)
            self.mm = mmap.mmap(self.fd, cap)
        except BaseException:
            os.close(self.fd)
            raise
        write_word(self.mm, MAGIC_AT, MAGIC)
        self.mm[ID_AT:ID_AT + 8] = os.urandom(8)
        self.id = segment_id(self.mm)
        self.cap = cap
        self.used_at = time.monotonic()

    def retire(self) -> None:
        global _bytes
        _own.pop(self.fd, None)
        _bytes -= self.cap
        write_word(self.mm, STATE, RETIRED)
        self.mm.close()  # the host's mapping, if any, keeps the pages until it drops it
        os.close(self.fd)


def configure(budget: int, host: int) -> None:
    """Set the pool's budget (bytes; 0 turns it off) and whose segments `take` accepts."""
    global _budget, _host_pid
    with _lock:
        _budget, _host_pid = max(0, budget), host
        _trim(time.monotonic(), everything=_budget == 0)


# The small API shm_peer.py uses for the host's segments it maps (call the last three under `locked()`).
def host_pid() -> int:
    """The only process whose pooled segments this worker maps."""
    return _host_pid


def locked() -> threading.Lock:
    return _lock


def peer(key: Tuple[int, int]) -> Any:
    return _peers.get(key)


def keep_peer(key: Tuple[int, int], mapped: Any) -> None:
    """Remember a mapped host segment (the janitor unmaps it once retired) and tidy up."""
    _peers[key] = mapped
    _ensure_janitor()
    _trim(time.monotonic())


def forget_peer(key: Tuple[int, int]) -> None:
    _peers.pop(key, None)


def _capacity(size: int) -> int:
    need = size + HEADER
    step = max(64 << 10, (1 << (need - 1).bit_length()) // 32)
    return -(-need // step) * step


def _trim(now: float, everything: bool = False) -> None:
    """Retire idle FREE segments, leases the host never took, and what is over the budget."""
    for seg in list(_own.values()):
        state = read_word(seg.mm, STATE)
        if (state == FREE and (everything or _bytes > _budget or now - seg.used_at > _IDLE_S)) or (state == LENT and now - seg.used_at > _IDLE_S):
            seg.retire()
    for key, peer in list(_peers.items()):
        if read_word(peer.mm, STATE) == RETIRED and peer.close():
            del _peers[key]


def lend(view: memoryview) -> Optional[dict]:
    """Copy a contiguous buffer into a free pooled segment and lend it to the host; None: pool cannot."""
    size = view.nbytes
    if not _works or size * 2 > _budget or not _dumpable():
        return None
    cap = _capacity(size)
    short = False  # no free segment of this size was there: make a spare for next time
    while True:
        with _lock:
            now = time.monotonic()
            _trim(now)
            best = _free_segment(cap)
            making = _making.get(cap) if best is None else None
            if best is None and making is None:
                best = _create(cap)
                if best is None:
                    return None
                short = True
            if best is not None:
                best.used_at = now
                lease = (read_word(best.mm, LEASE) + 1) & 0x7FFFFFFF
                write_word(best.mm, LEASE, lease)
                write_word(best.mm, STATE, LENT)  # ours to fill until the host reads the handle
                if short:
                    _prepare_spare(cap)
                break
        short = True
        making.wait(1.0)  # a spare of this size is being made: cheaper than making another
    best.mm[HEADER:HEADER + size] = view.cast("B") if view.format != "B" or view.ndim != 1 else view
    return {"pid": os.getpid(), "fd": best.fd, "id": best.id, "lease": lease, "off": HEADER, "size": size}


def _dumpable() -> bool:
    """False when this process was made undumpable (prctl): the host could not open our /proc/<pid>/fd."""
    import ctypes  # here, not at start-up: only bulk transfers need it

    global _prctl
    if _prctl is None:
        try:
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _prctl = False
    return _prctl is False or _prctl(3, 0, 0, 0, 0) != 0  # PR_GET_DUMPABLE


def _free_segment(cap: int) -> Optional[_Seg]:
    best = None
    for seg in _own.values():
        if cap <= seg.cap <= 2 * cap and read_word(seg.mm, STATE) == FREE and (best is None or seg.cap < best.cap):
            best = seg
    return best


def _create(cap: int) -> Optional[_Seg]:
    """A new segment in the pool (under the lock), making room from idle ones; None: over budget."""
    global _works, _bytes
    for seg in list(_own.values()):
        if _bytes + cap <= _budget:
            break
        if read_word(seg.mm, STATE) == FREE:
            seg.retire()
    if _bytes + cap > _budget:
        return None
    try:
        seg = _Seg(cap)
    except OSError as exc:
        if exc.errno in _NO_TMPFILE:
            _works = False  # no O_TMPFILE on this /dev/shm: one-shot segments only
        return None  # ENOSPC, EMFILE, ENOMEM...: this payload only
    _own[seg.fd] = seg
    _bytes += seg.cap
    _ensure_janitor()
    return seg


def _ensure_janitor() -> None:
    """A daemon thread (under the lock) that retires idle segments even when no call comes."""
    global _janitor
    if _janitor is not None and _janitor.is_alive():
        return

    def sweep() -> None:
        global _janitor
        while True:
            time.sleep(_IDLE_S / 3)
            with _lock:
                _trim(time.monotonic())
                if not _own and not _peers:
                    _janitor = None
                    return

    _janitor = threading.Thread(target=sweep, name="snakepit-shm-janitor", daemon=True)
    _janitor.start()


def _prepare_spare(cap: int) -> None:
    """A lend found no free segment of this size: make one in the background (under the lock).

    A fresh 16 MiB segment costs ~15 ms of page allocation and zeroing: made here while the
    worker waits for its next call, the next result (the last one may still be held by the
    host) finds its pages ready. Only after a shortage (a segment the host gives back at once
    needs no spare), and within the budget.
    """
    global _bytes
    if cap in _making or _free_segment(cap) is not None or _bytes + cap > _budget:
        return
    _bytes += cap  # reserved
    done = _making[cap] = threading.Event()

    def make() -> None:
        global _bytes
        seg = None
        try:
            seg = _Seg(cap)  # pages allocated and zeroed now (posix_fallocate), without the GIL
        except OSError:
            seg = None
        with _lock:
            if seg is not None and _budget:
                _own[seg.fd] = seg
            else:
                _bytes -= cap
                if seg is not None:
                    seg.mm.close()
                    os.close(seg.fd)
            del _making[cap]
        done.set()

    threading.Thread(target=make, name="snakepit-shm-spare", daemon=True).start()


def stats() -> dict:
    """This worker's pool and the host segments it keeps mapped."""
    with _lock:
        lent = sum(1 for s in _own.values() if read_word(s.mm, STATE) != FREE)
        return {"segments": len(_own), "bytes": _bytes, "lent": lent, "peers": len(_peers)}
