import typing
import unittest
from typing import Dict, List, Optional

from snakepit_bridge.errors import InvalidArgument
from snakepit_bridge.schema import compile_params, json_schema, make_validator


def tool(a: int, b: float, names: List[str], opts: Dict[str, int], maybe: Optional[int] = None, flag: bool = False, data: bytes = b"", anything=None):
    return a


class ValidatorTest(unittest.TestCase):
    def setUp(self):
        params, var_kw, _ = compile_params(tool)
        self.validate = make_validator("tool", params, var_kw)
        self.ok = {"a": 1, "b": 2, "names": ["x"], "opts": {"k": 1}}

    def check_bad(self, field, **changes):
        args = {**self.ok, **changes}
        with self.assertRaises(InvalidArgument) as ctx:
            self.validate(args)
        self.assertEqual(ctx.exception.field, field)
        return str(ctx.exception)

    def test_valid(self):
        self.validate(self.ok)
        self.validate({**self.ok, "maybe": None, "flag": True, "data": b"x", "anything": object()})

    def test_int_rejects_bool_str_and_float(self):
        self.assertIn("a must be an integer, got bool", self.check_bad("a", a=True))
        self.check_bad("a", a="1")
        self.check_bad("a", a=1.5)

    def test_float_accepts_int(self):
        self.validate({**self.ok, "b": 3})

    def test_nested_types_name_the_element(self):
        self.assertIn("names[1] must be str", self.check_bad("names", names=["x", 2]))
        self.assertIn("opts.k must be an integer", self.check_bad("opts", opts={"k": "v"}))

    def test_missing_and_unknown(self):
        with self.assertRaises(InvalidArgument) as ctx:
            self.validate({"a": 1})
        self.assertEqual(ctx.exception.field, "b")
        self.assertIn("unknown argument 'zzz'", self.check_bad("zzz", zzz=1))

    def test_schema(self):
        params, var_kw, _ = compile_params(tool)
        schema = json_schema(params, var_kw)
        self.assertEqual(schema["required"], ["a", "b", "names", "opts"])
        self.assertEqual(schema["properties"]["names"], {"type": "array", "items": {"type": "string"}})
        self.assertEqual(schema["properties"]["maybe"]["anyOf"], [{"type": "integer"}, {"type": "null"}])
        self.assertFalse(schema["additionalProperties"])

    def test_ctx_and_kwargs(self):
        def t(ctx, x: int, **rest):
            return x

        params, var_kw, wants_ctx = compile_params(t)
        self.assertTrue(wants_ctx)
        self.assertTrue(var_kw)
        self.assertEqual([p.name for p in params], ["x"])


if __name__ == "__main__":
    unittest.main()
