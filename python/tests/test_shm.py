import json
import mmap
import os
import stat
import unittest

from snakepit_bridge import codec, shm

try:
    import numpy as np
except ImportError:  # pragma: no cover - depends on the machine
    np = None


@unittest.skipUnless(os.path.isdir(shm.DIR), "needs /dev/shm")
class SharedMemoryTest(unittest.TestCase):
    def setUp(self) -> None:
        self._saved = (shm._enabled, shm._min_bytes)
        shm._enabled, shm._min_bytes = True, 64

    def tearDown(self) -> None:
        shm._enabled, shm._min_bytes = self._saved
        shm.cleanup()

    def test_export_is_private_and_open_unlinks_it(self) -> None:
        handle = shm.export(b"x" * 100)
        path = f"{shm.DIR}/{handle['name']}"
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        mm = shm.open_segment(handle)
        self.assertFalse(os.path.exists(path))
        self.assertIsInstance(mm, mmap.mmap)
        self.assertEqual(bytes(mm), b"x" * 100)

    def test_small_payloads_stay_on_the_pipe(self) -> None:
        self.assertIsNone(shm.export(b"x" * 10))
        text, attachments, typed = codec.dumps({"b": b"x" * 10})
        self.assertEqual(len(attachments), 1)

    def test_big_payloads_travel_as_handles(self) -> None:
        text, attachments, typed = codec.dumps({"b": b"y" * 1000})
        self.assertEqual(attachments, [])
        self.assertTrue(typed)
        tag = json.loads(text)["b"]
        self.assertEqual(tag["__snakepit__"], "bytes")
        back = codec.revive(tag, [])
        self.assertIsInstance(back, memoryview)
        self.assertEqual(bytes(back), b"y" * 1000)

    @unittest.skipIf(np is None, "numpy not installed")
    def test_revived_array_is_a_view_of_the_mapping(self) -> None:
        src = np.arange(1000, dtype=np.float32)
        text, _, _ = codec.dumps(src)
        arr = codec.revive(json.loads(text), [])
        self.assertTrue(np.array_equal(arr, src))
        base = arr
        while not isinstance(base, mmap.mmap):
            base = base.obj if isinstance(base, memoryview) else base.base
        self.assertTrue(np.shares_memory(arr, np.frombuffer(base, dtype=np.uint8)))
        self.assertTrue(np.shares_memory(np.from_dlpack(arr), arr))

    def test_refuses_malformed_and_foreign_segments(self) -> None:
        with self.assertRaisesRegex(ValueError, "malformed"):
            shm.open_segment({"name": "../../etc/passwd", "size": 1})
        handle = shm.export(b"z" * 100)
        os.chmod(f"{shm.DIR}/{handle['name']}", 0o644)
        with self.assertRaisesRegex(ValueError, "refusing"):
            shm.open_segment(handle)

    def test_cleanup_removes_unsent_segments(self) -> None:
        handle = shm.export(b"q" * 100)
        shm.cleanup(host_gone=False)
        self.assertFalse(os.path.exists(f"{shm.DIR}/{handle['name']}"))


if __name__ == "__main__":
    unittest.main()
