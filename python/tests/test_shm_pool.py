"""The worker's segment pool (shm_pool.py), with this process as its own "host": leases, reuse,
views that hand the segment back when they go, and refusals."""

import gc
import json
import os
import time
import unittest

from snakepit_bridge import shm_peer, shm_pool

try:
    import numpy as np
except ImportError:  # pragma: no cover - depends on the machine
    np = None

MiB = 1 << 20


def _retire_all() -> None:
    """Forget every segment of ours (spares being made included): the next lend must make one."""
    while shm_pool._making:
        time.sleep(0.01)
    with shm_pool._lock:
        for seg in list(shm_pool._own.values()):
            seg.retire()


def _state(handle: dict) -> int:
    """The header state of a segment of ours, read through a fresh take-side mapping."""
    return shm_pool.read_word(shm_pool._own[handle["fd"]].mm, shm_pool.STATE)


@unittest.skipUnless(os.path.isdir("/dev/shm") and hasattr(os, "O_TMPFILE"), "needs /dev/shm and O_TMPFILE (Linux)")
class SegmentPoolTest(unittest.TestCase):
    def setUp(self) -> None:
        shm_pool.configure(16 * MiB, os.getpid())

    def tearDown(self) -> None:
        gc.collect()
        shm_pool.configure(0, 0)

    def test_lend_take_free_and_reuse(self) -> None:
        handle = shm_pool.lend(memoryview(b"a" * MiB))
        self.assertIsNotNone(handle)
        self.assertEqual(_state(handle), shm_pool.LENT)
        view = shm_peer.take(handle)
        self.assertEqual(view.format, "B")
        self.assertEqual(len(view), MiB)
        self.assertEqual(bytes(view[:3]), b"aaa")
        self.assertEqual(_state(handle), shm_pool.HELD)
        part = view[10:20]
        del view
        self.assertEqual(_state(handle), shm_pool.HELD)  # a slice still uses it
        del part
        self.assertEqual(_state(handle), shm_pool.FREE)
        again = shm_pool.lend(memoryview(b"b" * MiB))
        self.assertEqual((again["fd"], again["id"]), (handle["fd"], handle["id"]))  # the same segment
        self.assertEqual(again["lease"], handle["lease"] + 1)
        with self.assertRaisesRegex(ValueError, r"lease \d+ is over"):
            shm_peer.take(handle)  # a stale handle for the same segment
        self.assertEqual(bytes(shm_peer.take(again)[:2]), b"bb")

    @unittest.skipIf(np is None, "numpy not installed")
    def test_numpy_views_keep_the_lease_until_the_last_one_goes(self) -> None:
        handle = shm_pool.lend(memoryview(np.arange(MiB // 4, dtype=np.float32)))
        arr = np.frombuffer(shm_peer.take(handle), dtype=np.float32)
        tail = arr[100:].reshape(-1, 4)
        tensor = np.from_dlpack(tail)
        del arr, tail
        self.assertEqual(_state(handle), shm_pool.HELD)
        self.assertEqual(float(tensor[0, 0]), 100.0)
        del tensor
        self.assertEqual(_state(handle), shm_pool.FREE)

    def test_busy_segments_are_not_reused_and_the_budget_holds(self) -> None:
        views = []
        handles = []
        for _ in range(8):
            h = shm_pool.lend(memoryview(bytes(3 * MiB)))
            if h is None:
                break
            handles.append(h)
            views.append(shm_peer.take(h))
        self.assertGreaterEqual(len(handles), 2)
        self.assertEqual(len({h["fd"] for h in handles}), len(handles))  # none lent twice
        self.assertLessEqual(shm_pool.stats()["bytes"], 16 * MiB)
        self.assertIsNone(shm_pool.lend(memoryview(bytes(9 * MiB))))  # over half the budget: one-shot instead

    def test_refuses_handles_not_from_the_host(self) -> None:
        handle = shm_pool.lend(memoryview(b"c" * MiB))
        with self.assertRaisesRegex(ValueError, "only the host's"):
            shm_peer.take({**handle, "pid": handle["pid"] + 1})
        with self.assertRaisesRegex(ValueError, "malformed"):
            shm_peer.take({**handle, "off": 0})
        with self.assertRaisesRegex(ValueError, "malformed"):
            shm_peer.take({"pid": handle["pid"]})
        with self.assertRaisesRegex(ValueError, "past its segment"):
            shm_peer.take({**handle, "size": 64 * MiB})
        r, w = os.pipe()
        try:
            with self.assertRaisesRegex(ValueError, "not a private nameless"):
                shm_peer.take({**handle, "fd": r})
        finally:
            os.close(r)
            os.close(w)

    def test_a_spare_is_made_in_the_background(self) -> None:
        first = shm_pool.lend(memoryview(bytes(2 * MiB)))
        deadline = time.monotonic() + 10
        while shm_pool._making and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(shm_pool.stats()["segments"], 2)
        view = shm_peer.take(first)  # the first is held: the next lend takes the spare
        second = shm_pool.lend(memoryview(bytes(2 * MiB)))
        self.assertNotEqual(second["fd"], first["fd"])
        del view

    def test_an_undumpable_worker_does_not_lend(self) -> None:
        import ctypes

        prctl = ctypes.CDLL(None).prctl
        prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: the host could not open our /proc/<pid>/fd
        try:
            self.assertIsNone(shm_pool.lend(memoryview(bytes(MiB))))
        finally:
            prctl(4, 1, 0, 0, 0)
        self.assertIsNotNone(shm_pool.lend(memoryview(bytes(MiB))))

    def test_turning_the_pool_off_retires_free_segments(self) -> None:
        shm_pool.lend(memoryview(bytes(MiB)))
        shm_pool.configure(16 * MiB, os.getpid())
        self.assertGreaterEqual(shm_pool.stats()["segments"], 1)
        for h in list(shm_pool._own.values()):
            shm_pool.write_word(h.mm, shm_pool.STATE, shm_pool.FREE)
        while shm_pool._making:
            time.sleep(0.01)
        shm_pool.configure(0, os.getpid())
        self.assertEqual(shm_pool.stats()["segments"], 0)
        self.assertIsNone(shm_pool.lend(memoryview(bytes(MiB))))


    def test_a_segment_that_cannot_be_made_does_not_turn_the_pool_off(self) -> None:
        import errno
        from unittest import mock

        real_open = os.open
        for code, stays_on in ((errno.EMFILE, True), (errno.ENOSPC, True), (errno.EOPNOTSUPP, False)):
            with self.subTest(errno=errno.errorcode[code]):
                _retire_all()

                def failing(path, flags, *rest, _code=code):
                    if flags & os.O_TMPFILE == os.O_TMPFILE:
                        raise OSError(_code, os.strerror(_code))
                    return real_open(path, flags, *rest)

                with mock.patch.object(shm_pool.os, "open", failing):
                    self.assertIsNone(shm_pool.lend(memoryview(bytes(3 * MiB))))  # the caller falls back to one-shot
                self.assertEqual(shm_pool._works, stays_on)
                shm_pool._works = True
                self.assertIsNotNone(shm_pool.lend(memoryview(bytes(3 * MiB))))
        _retire_all()

    def test_a_host_segment_that_cannot_be_opened_is_an_internal_error_not_the_callers(self) -> None:
        from snakepit_bridge.decode import UndecodablePacket, decode_packet
        from snakepit_bridge.framing import FLAG_TYPED

        handle = {"pid": os.getpid(), "fd": 999_999, "id": "0123456789abcdef", "lease": 1, "off": 64, "size": MiB}
        with self.assertRaises(OSError):
            shm_peer.take(handle)
        payload = json.dumps({"k": 1, "id": 7, "m": "ExecuteTool", "msg": {"toolName": "t", "args": {"x": {"__snakepit__": "bytes", "shm": handle}}}})
        with self.assertRaises(UndecodablePacket) as caught:
            decode_packet(FLAG_TYPED, payload.encode(), [])
        self.assertEqual((caught.exception.code, caught.exception.call_id), ("internal", 7))
        self.assertIn("could not be mapped", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
