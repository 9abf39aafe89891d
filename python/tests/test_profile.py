import os
import sys
import tempfile
import unittest
from unittest import mock

from snakepit_bridge import profile, threadpools


class ProfileTest(unittest.TestCase):
    def test_interpreter_info_matches_sys(self):
        info = profile.interpreter_info()
        self.assertEqual(info["implementation"], sys.implementation.name)
        self.assertTrue(info["version"].startswith("%d.%d." % sys.version_info[:2]))
        expected_gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
        self.assertEqual(info["gil_enabled"], expected_gil)

    def test_recommendation_follows_free_threading(self):
        base = {"version": "3.13.0", "free_threaded_build": True, "gil_enabled": False}
        self.assertEqual(profile.recommend_profile(base)["profile"], "thread")
        self.assertEqual(profile.recommend_profile(dict(base, gil_enabled=True))["profile"], "process")
        self.assertEqual(profile.recommend_profile(dict(base, free_threaded_build=False, gil_enabled=True))["profile"], "process")

    def test_is_gil_enabled_is_read_when_present(self):
        with mock.patch.object(sys, "_is_gil_enabled", create=True, return_value=False):
            self.assertFalse(profile.interpreter_info()["gil_enabled"])

    def test_check_uses_the_matrix_and_aliases(self):
        self.assertEqual(profile.check("pandas", "thread")["status"], "error")
        self.assertEqual(profile.check("pandas", "process")["status"], "ok")
        self.assertEqual(profile.check("numpy", "thread")["status"], "warning")
        self.assertEqual(profile.check("sklearn", "thread")["library"], "scikit-learn")
        self.assertEqual(profile.check("onnxruntime", "thread")["status"], "ok")
        self.assertEqual(profile.check("leftpad", "thread")["status"], "unknown")
        for name in ("numpy", "torch", "pandas", "scikit-learn", "tokenizers"):
            self.assertIn(name, profile.COMPATIBILITY)

    def test_adapter_imports_are_read_without_running_the_adapter(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "adapter.py")
            with open(path, "w") as f:
                f.write("import os.path\nfrom pandas import DataFrame\nfrom . import sibling\nraise SystemExit('never run')\n")
            self.assertEqual(profile.adapter_imports(path + ":Adapter"), ["os", "pandas"])
            report = profile.report(path, "thread")
            self.assertEqual([f["library"] for f in report["findings"]], ["pandas"])


class ThreadpoolsTest(unittest.TestCase):
    def test_probe_reports_the_thread_variables(self):
        with mock.patch.dict(os.environ, {"OMP_NUM_THREADS": "1"}):
            out = threadpools.probe(import_numpy=False)
        self.assertEqual(out["env"]["OMP_NUM_THREADS"], "1")
        self.assertEqual(set(out["env"]), set(threadpools.THREAD_VARS))
        self.assertIsInstance(out["pools"], list)


if __name__ == "__main__":
    unittest.main()
