import os
import subprocess
import sys
import unittest

BRIDGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def reason_in_fresh_process(prelude: str) -> str:
    """forkserver.unsafe_reason() in a new interpreter after `prelude` (this one has threads)."""
    code = f"{prelude}\nfrom snakepit_bridge import forkserver\nprint(forkserver.unsafe_reason())"
    env = {**os.environ, "PYTHONPATH": BRIDGE}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(out.stderr)
    return out.stdout.strip()


class UnsafeReasonTest(unittest.TestCase):
    def test_a_quiet_process_may_fork(self) -> None:
        self.assertEqual(reason_in_fresh_process(""), "None")

    def test_threads_are_refused_by_name(self) -> None:
        prelude = "import threading\nthreading.Thread(target=threading.Event().wait, name='poller', daemon=True).start()"
        self.assertIn("threads were started while preloading (poller)", reason_in_fresh_process(prelude))

    def test_initialised_cuda_is_refused(self) -> None:
        prelude = "import sys, types\nsys.modules['torch'] = types.SimpleNamespace(cuda=types.SimpleNamespace(is_initialized=lambda: True))"
        self.assertIn("CUDA was initialised", reason_in_fresh_process(prelude))


if __name__ == "__main__":
    unittest.main()
