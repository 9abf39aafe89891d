"""Python knows every error code of the host, with the same Connect code."""

import os
import re
import unittest

from snakepit_bridge.errors import CONNECT_CODES, ERROR_CODES, BridgeError
from snakepit_bridge.wire import error_payload

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(path: str) -> str:
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def ts_codes() -> list:
    block = re.search(r"export const ERROR_CODES = \[(.*?)\] as const", read("src/errors.ts"), re.S)
    assert block, "ERROR_CODES not found in src/errors.ts"
    return re.findall(r'"([a-z_]+)"', block.group(1))


def ts_connect_table() -> dict:
    block = re.search(r"export const CONNECT_CODE[^=]*= \{(.*?)\};", read("src/bridge/wire-errors.ts"), re.S)
    assert block, "CONNECT_CODE not found in src/bridge/wire-errors.ts"
    snake = lambda name: re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()  # noqa: E731
    return {code: snake(connect) for code, connect in re.findall(r"(\w+): Code\.(\w+)", block.group(1))}


class ErrorCodesTest(unittest.TestCase):
    def test_python_has_exactly_the_hosts_codes(self):
        codes = ts_codes()
        self.assertGreaterEqual(len(codes), 21)
        self.assertEqual(sorted(ERROR_CODES), sorted(codes), "src/errors.ts and snakepit_bridge/errors.py drifted")

    def test_connect_codes_match_the_hosts_table(self):
        table = ts_connect_table()
        self.assertEqual(sorted(table), sorted(ts_codes()))
        self.assertEqual(CONNECT_CODES, table)

    def test_any_code_can_be_raised_and_crosses_the_wire(self):
        for code in ERROR_CODES:
            payload = error_payload(BridgeError(f"failed with {code}", code=code))
            self.assertEqual(payload["details"][0]["debug"]["code"], code)
            self.assertEqual(payload["code"], CONNECT_CODES[code])

    def test_an_unknown_code_is_refused(self):
        with self.assertRaises(ValueError) as caught:
            BridgeError("x", code="no_such_code")
        self.assertIn("no_such_code", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
