import datetime
import json
import math
import unittest
from collections import namedtuple
from dataclasses import dataclass

from snakepit_bridge import codec


class Point:
    def __init__(self, x: int) -> None:
        self.x = x

    def to_dict(self) -> dict:
        return {"x": self.x}


@dataclass
class DC:
    a: int


class DumpsTest(unittest.TestCase):
    def decode(self, value):
        text, atts, typed = codec.dumps(value)
        data = json.loads(text)
        return codec.revive(data, atts) if typed else data, typed

    def test_plain_json_is_not_typed(self):
        out, typed = self.decode({"a": [1, 2.5, None, "x", True]})
        self.assertEqual(out, {"a": [1, 2.5, None, "x", True]})
        self.assertFalse(typed)

    def test_ints_stay_ints(self):
        out, _ = self.decode({"n": 5})
        self.assertIsInstance(out["n"], int)

    def test_bytes_go_to_attachments(self):
        text, atts, typed = codec.dumps({"b": b"\x00\xff"})
        self.assertTrue(typed)
        self.assertEqual(atts, [b"\x00\xff"])
        self.assertNotIn(b"AP8", text)  # no base64 anywhere

    def test_non_finite_floats_and_big_ints_round_trip(self):
        out, typed = self.decode([math.inf, -math.inf, 2**70, -(2**64)])
        self.assertTrue(typed)
        self.assertEqual(out, [math.inf, -math.inf, 2**70, -(2**64)])
        nan, _ = self.decode(float("nan"))
        self.assertTrue(math.isnan(nan))

    def test_long_digit_strings_are_not_mangled(self):
        out, _ = self.decode({"s": "12345678901234567890"})
        self.assertEqual(out, {"s": "12345678901234567890"})

    def test_seed_conversions(self):
        Pair = namedtuple("Pair", "a b")
        out, _ = self.decode({
            "p": Point(3),
            "d": datetime.date(2024, 1, 2),
            "t": Pair(1, 2),
            "dc": DC(4),
            "s": {1},
        })
        self.assertEqual(out["p"], {"x": 3})
        self.assertEqual(out["d"], "2024-01-02")
        self.assertEqual(out["t"], [1, 2])  # tuples are JSON lists
        self.assertEqual(out["dc"], {"a": 4})
        self.assertEqual(out["s"], [1])

    def test_unserializable_marker(self):
        out, _ = self.decode({"o": object()})
        self.assertEqual(out["o"], {"__ffi_unserializable__": True, "__type__": "builtins.object"})

    def test_nan_inside_converted_object(self):
        class Weird:
            def to_dict(self):
                return {"v": float("nan")}

        out, _ = self.decode(Weird())
        self.assertTrue(math.isnan(out["v"]))

    def test_circular_value_raises(self):
        a: list = []
        a.append(a)
        with self.assertRaises((ValueError, RecursionError)):
            codec.dumps(a)


if __name__ == "__main__":
    unittest.main()
