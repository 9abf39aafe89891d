"""snakepit_bridge.bytecode: a read-only package's bytecode kept in a private cache, never stale."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BRIDGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE_TAG = sys.implementation.cache_tag


class BytecodeCacheTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="snakepit-bytecode-")
        self.src = os.path.join(self.tmp, "src")
        self.cache = os.path.join(self.tmp, "cache")
        pkg = os.path.join(self.src, "readonly_pkg")
        os.makedirs(pkg)
        with open(os.path.join(pkg, "__init__.py"), "w") as f:
            f.write("from snakepit_bridge.bytecode import install\ninstall(__path__)\n")
        self.mod = os.path.join(pkg, "mod.py")
        with open(self.mod, "w") as f:
            f.write('VALUE = "aaaa"\n')
        with open(os.path.join(self.src, "user_mod.py"), "w") as f:
            f.write("USER = 1\n")

    def tearDown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_python(self, code: str, cache: str = "") -> str:
        env = {**os.environ, "PYTHONPATH": f"{self.src}:{BRIDGE}", "SNAKEPIT_PYCACHE_DIR": cache or self.cache, "PYTHONDONTWRITEBYTECODE": "1"}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError(out.stderr)
        return out.stdout.strip()

    def pyc(self) -> str:
        return os.path.join(self.cache, CACHE_TAG, "readonly_pkg.mod.pyc")

    def test_compiled_once_into_the_cache_as_a_checked_hash_pyc_then_reused(self) -> None:
        self.assertEqual(self.run_python("import readonly_pkg.mod as m; print(m.VALUE)"), "aaaa")
        with open(self.pyc(), "rb") as f:
            head = f.read(16)
        self.assertEqual(int.from_bytes(head[4:8], "little"), 0b11)  # PEP 552: hash-based, checked
        self.assertEqual(os.stat(os.path.join(self.cache, CACHE_TAG)).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(self.pyc()).st_mode & 0o777, 0o600)
        before = os.stat(self.pyc())
        self.assertEqual(self.run_python("import readonly_pkg.mod as m; print(m.VALUE)"), "aaaa")
        after = os.stat(self.pyc())
        self.assertEqual((before.st_ino, before.st_mtime_ns), (after.st_ino, after.st_mtime_ns))  # read, not rewritten

    def test_an_edit_that_keeps_size_and_mtime_is_still_seen(self) -> None:
        self.run_python("import readonly_pkg.mod")
        st = os.stat(self.mod)
        with open(self.mod, "w") as f:
            f.write('VALUE = "bbbb"\n')
        os.utime(self.mod, ns=(st.st_atime_ns, st.st_mtime_ns))  # what a timestamp pyc could not tell apart
        self.assertEqual(self.run_python("import readonly_pkg.mod as m; print(m.VALUE)"), "bbbb")

    def test_a_damaged_pyc_is_compiled_again(self) -> None:
        self.run_python("import readonly_pkg.mod")
        with open(self.pyc(), "r+b") as f:
            f.seek(16)
            f.write(b"\xff\x00garbage")
        self.assertEqual(self.run_python("import readonly_pkg.mod as m; print(m.VALUE)"), "aaaa")
        with open(self.pyc(), "rb") as f:
            self.assertNotIn(b"garbage", f.read())

    def test_only_the_package_uses_the_cache(self) -> None:
        self.run_python("import readonly_pkg.mod, user_mod, json.decoder")
        names = os.listdir(os.path.join(self.cache, CACHE_TAG))  # the bridge, imported here, uses it too
        self.assertIn("readonly_pkg.mod.pyc", names)
        self.assertEqual([n for n in names if not n.startswith(("readonly_pkg.", "snakepit_bridge."))], [])

    def test_an_unusable_cache_folder_costs_only_the_compile(self) -> None:
        blocked = os.path.join(self.tmp, "a-file")
        open(blocked, "w").close()
        self.assertEqual(self.run_python("import readonly_pkg.mod as m; print(m.VALUE)", cache=os.path.join(blocked, "sub")), "aaaa")

    def test_the_bridge_itself_uses_it_when_the_variable_is_set(self) -> None:
        code = "import snakepit_bridge.server as s; print(type(s.__spec__.loader).__name__)"
        self.assertEqual(self.run_python(code), "BridgeLoader")
        self.assertIn("snakepit_bridge.server.pyc", os.listdir(os.path.join(self.cache, CACHE_TAG)))


if __name__ == "__main__":
    unittest.main()
