import sys
import threading
import types
import unittest

from snakepit_bridge import forkserver


class UnsafeReasonTest(unittest.TestCase):
    def test_a_quiet_process_may_fork(self) -> None:
        saved = sys.modules.pop("torch", None)
        try:
            self.assertIsNone(forkserver.unsafe_reason())
        finally:
            if saved is not None:
                sys.modules["torch"] = saved

    def test_threads_are_refused_by_name(self) -> None:
        stop = threading.Event()
        t = threading.Thread(target=stop.wait, name="poller")
        t.start()
        try:
            self.assertIn("poller", forkserver.unsafe_reason() or "")
        finally:
            stop.set()
            t.join()

    def test_initialised_cuda_is_refused(self) -> None:
        fake = types.SimpleNamespace(cuda=types.SimpleNamespace(is_initialized=lambda: True))
        saved = sys.modules.get("torch")
        sys.modules["torch"] = fake  # type: ignore[assignment]
        try:
            self.assertIn("CUDA was initialised", forkserver.unsafe_reason() or "")
        finally:
            if saved is None:
                del sys.modules["torch"]
            else:
                sys.modules["torch"] = saved


if __name__ == "__main__":
    unittest.main()
