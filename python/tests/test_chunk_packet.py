"""The stream fast path encodes exactly what the general codec would, or steps aside."""

import unittest

from snakepit_bridge import codec
from snakepit_bridge.chunks import chunk_packet, end_packet
from snakepit_bridge.wire import END, MESSAGE


class ChunkPacketTest(unittest.TestCase):
    def test_same_bytes_as_the_codec_for_plain_scalars(self):
        for value in (0, 1, -5, 10**15 - 1, 1.5, -0.25, 1e300, "", 'quote " and é', "x" * 100, True, False, None):
            with self.subTest(value=value):
                fast = chunk_packet(7, 3, value)
                payload, attachments, typed = codec.dumps({"k": MESSAGE, "id": 7, "msg": {"data": value, "seq": 3}})
                self.assertEqual(fast, payload)
                self.assertEqual((attachments, typed), ([], False))
                fast = end_packet(9, value, 42)
                payload, attachments, typed = codec.dumps({"k": END, "id": 9, "msg": {"result": value, "durationUs": 42}})
                self.assertEqual(fast, payload)
                self.assertEqual((attachments, typed), ([], False))

    def test_values_the_codec_must_handle_are_left_to_it(self):
        for value in (10**15, 2**53, -(2**60), float("nan"), float("inf"), 12345678901234567.0,
                      "12345678901234567", "y" * 5000, [1], {"a": 1}, b"raw", 3 + 4j):
            with self.subTest(value=value):
                self.assertIsNone(chunk_packet(7, 3, value))
                self.assertIsNone(end_packet(7, value, 1))


if __name__ == "__main__":
    unittest.main()
