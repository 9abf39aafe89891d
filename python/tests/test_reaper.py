"""reaper: a worker's whole tree, daemons included, dies with it (subreaper mode, no cgroup)."""

import os
import subprocess
import sys
import textwrap
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(HERE)

SCRIPT = textwrap.dedent("""
    import os, subprocess, sys, time
    from snakepit_bridge import reaper
    print(reaper.install(), flush=True)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    r, w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(w, str(os.getpid()).encode()); time.sleep(600)
        os._exit(0)
    daemon = int(os.read(r, 32))
    print(child.pid, daemon, flush=True)
    sys.stdin.read()  # until the test closes our stdin; exiting then runs kill_tree (atexit)
""")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@unittest.skipUnless(sys.platform.startswith("linux"), "PR_SET_CHILD_SUBREAPER is Linux only")
class ReaperTest(unittest.TestCase):
    def test_setsid_child_and_double_forked_daemon_die_with_the_worker(self) -> None:
        env = {**os.environ, "PYTHONPATH": PYTHON_DIR, "SNAKEPIT_CGROUP": ""}
        proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
        pids: "list[int]" = []
        try:
            self.assertEqual(proc.stdout.readline().strip(), "subreaper")
            pids.extend(int(p) for p in proc.stdout.readline().split())
            self.assertTrue(all(alive(p) for p in pids))
            proc.stdin.close()
            proc.wait(timeout=10)
            deadline = time.monotonic() + 2
            while any(alive(p) for p in pids) and time.monotonic() < deadline:
                time.sleep(0.01)
            self.assertEqual([p for p in pids if alive(p)], [])
        finally:
            proc.kill()
            for p in pids:
                try:
                    os.kill(p, 9)
                except OSError:
                    pass


if __name__ == "__main__":
    unittest.main()
