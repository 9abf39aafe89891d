import unittest

from snakepit_bridge import telemetry


class TelemetryTest(unittest.TestCase):
    def setUp(self):
        telemetry.configure({})
        telemetry._queue.clear()
        telemetry._label_values.clear()

    def test_names_are_namespaced_and_checked(self):
        self.assertTrue(telemetry.emit("tick", {"v": 1}))
        self.assertEqual(telemetry._queue[-1]["name"], "python.tick")
        self.assertTrue(telemetry.emit("app.done"))
        self.assertEqual(telemetry._queue[-1]["name"], "python.app.done")
        with self.assertRaises(ValueError):
            telemetry.emit("Not Valid")

    def test_non_numeric_measurements_are_left_out(self):
        telemetry.emit("m", {"a": 1, "b": "x", "c": True, "d": 2.5})
        self.assertEqual(telemetry._queue[-1]["measurements"], {"a": 1, "d": 2.5})

    def test_deny_allow_and_sampling(self):
        telemetry.configure({"deny": ["python.secret.*"]})
        self.assertFalse(telemetry.emit("secret.x"))
        telemetry.configure({"allow": ["python.ok"]})
        self.assertFalse(telemetry.emit("other"))
        self.assertTrue(telemetry.emit("ok"))
        telemetry.configure({"samplingRate": 0.0})
        self.assertFalse(telemetry.emit("ok"))
        telemetry.configure({"enabled": False})
        self.assertFalse(telemetry.emit("ok"))

    def test_label_values_are_bounded(self):
        for i in range(telemetry.MAX_LABEL_VALUES + 5):
            telemetry.emit("lbl", {}, {"user": str(i)})
        values = [e["metadata"]["user"] for e in telemetry._queue]
        self.assertEqual(values.count("_other"), 5)

    def test_span_emits_start_and_stop(self):
        with telemetry.span("work"):
            pass
        self.assertEqual([e["name"] for e in telemetry._queue][-2:], ["python.work.start", "python.work.stop"])
        with self.assertRaises(KeyError):
            with telemetry.span("fail"):
                raise KeyError("x")
        self.assertEqual(telemetry._queue[-1]["name"], "python.fail.exception")
        self.assertEqual(telemetry._queue[-1]["metadata"]["kind"], "KeyError")


if __name__ == "__main__":
    unittest.main()
