"""Stream chunks held briefly by FrameWriter: order kept, first chunk prompt, stalls flushed."""

import os
import select
import unittest

from snakepit_bridge.framing import FrameReader, FrameWriter


class FrameHoldTest(unittest.TestCase):
    def setUp(self):
        self.r, self.w = os.pipe()
        self.writer = FrameWriter(self.w)

    def tearDown(self):
        os.close(self.r)
        os.close(self.w)

    def received(self, timeout=0.0):
        """Bytes in the pipe now (waiting up to `timeout` for the first)."""
        out = b""
        while select.select([self.r], [], [], timeout)[0]:
            out += os.read(self.r, 1 << 16)
            timeout = 0.0
        return out

    def test_a_first_chunk_goes_out_at_once(self):
        self.writer.write_packet(b'{"x":0}')  # a write just now: a later chunk would be held
        self.received()
        self.writer.queue_packet(b'{"x":1}', first=True)
        self.assertIn(b'{"x":1}', self.received())

    def test_a_held_chunk_goes_out_without_another_write_when_the_producer_stalls(self):
        self.writer.HOLD_S = 0.2  # wide, so that a loaded machine cannot outrun it
        self.writer.queue_packet(b'{"x":1}', first=True)
        self.writer.queue_packet(b'{"x":2}')  # right after a write: held
        self.assertNotIn(b'{"x":2}', self.received())
        self.assertIn(b'{"x":2}', self.received(10.0))  # no further write: the flusher sent it

    def test_packets_keep_their_order_across_held_chunks(self):
        self.writer.queue_packet(b'{"x":1}', first=True)
        for i in range(2, 50):
            self.writer.queue_packet(b'{"x":%d}' % i)
        self.writer.write_packet(b'{"end":1}')
        data = self.received()
        reader_fd, writer_fd = os.pipe()
        try:
            os.write(writer_fd, data)
            os.close(writer_fd)
            reader = FrameReader(reader_fd)
            got = [reader.read_packet()[1] for _ in range(50)]
            self.assertIsNone(reader.read_packet())
        finally:
            os.close(reader_fd)
        self.assertEqual(got, [b'{"x":%d}' % i for i in range(1, 50)] + [b'{"end":1}'])

    def test_flush_writes_held_chunks_now(self):
        self.writer.HOLD_S = 10.0
        self.writer.queue_packet(b'{"x":1}', first=True)
        self.writer.queue_packet(b'{"x":2}')
        self.writer.flush()
        self.assertIn(b'{"x":2}', self.received())


if __name__ == "__main__":
    unittest.main()
