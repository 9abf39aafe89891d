"""The worker's command line, parsed without argparse: the same rules for its flags."""

import contextlib
import io
import unittest

from snakepit_bridge.__main__ import parse_args


class MainArgsTest(unittest.TestCase):
    def test_defaults_and_both_spellings(self) -> None:
        args = parse_args(["--adapter", "a.py:A", "--worker-id=w3", "--capacity", "4", "--host-timeout-ms=2500"])
        self.assertEqual(args["adapter"], "a.py:A")
        self.assertEqual(args["worker_id"], "w3")
        self.assertEqual(args["capacity"], 4)
        self.assertEqual(args["host_timeout_ms"], 2500)
        self.assertEqual(args["run_id"], "")
        self.assertEqual(args["instance"], "")

    def test_bad_command_lines_exit_2_naming_the_problem(self) -> None:
        cases = [
            (["--adapter", "a.py", "--bogus", "1"], "unrecognized argument: --bogus"),
            (["--worker-id", "w1"], "the following arguments are required: --adapter"),
            (["--adapter", "a.py", "--capacity", "many"], "argument --capacity: invalid int value: 'many'"),
            (["--adapter"], "argument --adapter: expected one argument"),
            (["a.py"], "unrecognized argument: a.py"),
        ]
        for argv, message in cases:
            err = io.StringIO()
            with self.subTest(argv=argv), contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as exit_:
                parse_args(argv)
            self.assertEqual(exit_.exception.code, 2)
            self.assertIn(message, err.getvalue())


if __name__ == "__main__":
    unittest.main()
