"""Python filters telemetry names exactly as the host does (test/fixtures/glob-cases.json)."""

import json
import os
import unittest

from snakepit_bridge import telemetry
from snakepit_bridge.globs import MAX_GLOB_LENGTH, any_glob, glob_matcher

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class GlobTableTest(unittest.TestCase):
    def test_every_case_of_the_shared_table(self):
        with open(os.path.join(ROOT, "test/fixtures/glob-cases.json"), encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        self.assertGreater(len(cases), 20)
        for case in cases:
            with self.subTest(**case):
                self.assertIs(glob_matcher(case["glob"])(case["name"]), case["match"])

    def test_only_star_is_special(self):
        self.assertFalse(glob_matcher("python.?")("python.a"))
        self.assertFalse(glob_matcher("python.[ab]")("python.a"))

    def test_long_globs_are_refused(self):
        with self.assertRaises(ValueError):
            glob_matcher("a" * (MAX_GLOB_LENGTH + 1))
        glob_matcher("a" * MAX_GLOB_LENGTH)

    def test_no_globs_match_everything(self):
        self.assertTrue(any_glob([])("x"))

    def test_telemetry_deny_uses_the_same_semantics(self):
        telemetry.configure({"deny": ["python.?", "python.[x]", "python.*.stop"]})
        try:
            self.assertTrue(telemetry.emit("python.x"))  # fnmatch would have denied it
            self.assertFalse(telemetry.emit("python.a.b.stop"))
        finally:
            telemetry.configure({})


if __name__ == "__main__":
    unittest.main()
