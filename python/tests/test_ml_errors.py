import json
import unittest

from snakepit_bridge.ml_errors import classify
from snakepit_bridge.wire import error_payload


class ClassifyTest(unittest.TestCase):
    def test_shape_mismatch_wordings(self):
        for exc, shapes in [
            (RuntimeError("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"), [[2, 3], [4, 5]]),
            (ValueError("shapes (2,3) and (4,5) not aligned: 3 (dim 1) != 4 (dim 0)"), [[2, 3], [4, 5]]),
            (ValueError("operands could not be broadcast together with shapes (2,3) (4,) "), [[2, 3], [4]]),
        ]:
            self.assertEqual(classify(exc), ("ShapeMismatch", {"shapes": shapes}))

    def test_out_of_memory(self):
        kind, facts = classify(RuntimeError("CUDA out of memory. Tried to allocate 512.00 MiB (GPU 0)"))
        self.assertEqual(kind, "OutOfMemory")
        self.assertEqual(facts["requested_bytes"], 512 * 1024 * 1024)
        self.assertTrue(facts["suggestions"])
        self.assertEqual(classify(MemoryError())[0], "OutOfMemory")

    def test_device_mismatch(self):
        exc = RuntimeError("Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!")
        self.assertEqual(classify(exc), ("DeviceMismatch", {"devices": ["cuda:0", "cpu"]}))

    def test_plain_errors_are_not_ml(self):
        self.assertIsNone(classify(ValueError("bad value")))

    def test_error_payload_kinds(self):
        def kind(exc):
            return error_payload(exc)["details"][0]["debug"]["kind"]

        self.assertEqual(kind(json.JSONDecodeError("x", "y", 0)), "ValueError")
        self.assertEqual(kind(ModuleNotFoundError("torch")), "ImportError")
        self.assertEqual(kind(type("Weird", (Exception,), {})()), "PythonException")
        self.assertEqual(kind(RuntimeError("CUDA out of memory")), "OutOfMemory")


if __name__ == "__main__":
    unittest.main()
