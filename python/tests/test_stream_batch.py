"""Stream chunks batched into MESSAGES packets (protocol 2): order, credits, stalls, typed values,
and the old one-message-per-chunk packets for a host that does not say it reads batches."""

import os
import select
import tempfile
import time
import unittest

from snakepit_bridge import codec
from snakepit_bridge.framing import FLAG_TYPED, HEADER
from snakepit_bridge.server import PROTOCOL_VERSION
from snakepit_bridge.stream_out import BATCH_MAX, Fragment, batch_packet, plain_json
from snakepit_bridge.wire import CREDIT, END, MESSAGE, MESSAGES, STREAM_REQUEST

from .proc import WorkerProcess


def unframe(framed: bytes):
    flags, length = HEADER.unpack_from(framed)
    return flags, framed[HEADER.size:HEADER.size + length]


class BatchPacketTest(unittest.TestCase):
    def test_numbers_are_plain_json_while_json_holds_them_exactly(self):
        data = [0, -5, 10**15, 2**53 - 1, -(2**53 - 1), 1.5, 1e-300, True, False]
        flags, payload = unframe(batch_packet(3, 9, data))
        self.assertEqual(flags, 0)
        self.assertEqual(codec.loads(payload), {"k": MESSAGES, "id": 3, "msg": {"seq": 9, "data": data}})

    def test_other_scalars_are_the_codecs_bytes(self):
        for data in (["", 'quote " and é', None], ["12345678901234567", 1], [None, 2.5, "x" * 5000]):
            with self.subTest(data=data):
                flags, payload = unframe(batch_packet(3, 9, data))
                packet = {"k": MESSAGES, "id": 3, "msg": {"seq": 9, "data": data}}
                want, _, typed = codec.dumps(packet)
                self.assertEqual((payload, flags), (want, FLAG_TYPED if typed else 0))

    def test_values_json_cannot_carry_are_typed(self):
        for data in ([1, 2**53], [-(2**60)], [float("nan")], [1.0, float("-inf")], ["x", 2**70]):
            with self.subTest(data=data):
                flags, payload = unframe(batch_packet(3, 0, data))
                self.assertEqual(flags, FLAG_TYPED)
                msg = codec.revive(codec.loads(payload), [])
                self.assertEqual(repr(msg["msg"]["data"]), repr(data))


class FragmentTest(unittest.TestCase):
    def test_containers_of_plain_values_are_the_codecs_bytes(self):
        for value in ({"a": 1, "b": [1.5, None, True, "é"]}, [1, {"x": "y"}], (1, 2), {1: "int key"}, {}):
            with self.subTest(value=value):
                self.assertEqual(plain_json(value), codec.dumps(value)[0])

    def test_what_only_the_codec_carries_is_refused(self):
        class Obj:
            pass

        for value in ({"b": b"raw"}, [float("nan")], {"big": 2**60}, {"s": {1, 2}}, [Obj()], {"n": "12345678901234567"}):
            with self.subTest(value=value):
                self.assertIsNone(plain_json(value))

    def test_a_batch_of_fragments_and_scalars_is_typed_when_a_scalar_needs_it(self):
        data = [Fragment(b'{"a":1}'), 2, "x", Fragment(b"[3]")]
        flags, payload = unframe(batch_packet(1, 4, data, True))
        self.assertEqual((flags, codec.loads(payload)["msg"]), (0, {"seq": 4, "data": [{"a": 1}, 2, "x", [3]]}))
        flags, payload = unframe(batch_packet(1, 4, [Fragment(b'{"a":1}'), 2**60], True))
        self.assertEqual(flags, FLAG_TYPED)
        self.assertEqual(codec.revive(codec.loads(payload), [])["msg"]["data"], [{"a": 1}, 2**60])


class StreamWorker:
    """A worker whose host says it speaks this protocol (so it batches), or not."""

    def __init__(self, test: unittest.TestCase, batching: bool = True) -> None:
        self.worker = WorkerProcess("plain_tools.py", answer_ready={"protocolVersion": PROTOCOL_VERSION} if batching else {})
        test.addCleanup(self.worker.close)

    def start(self, call_id: int, tool: str, args: dict, window: int = 256) -> None:
        self.worker.send({"k": STREAM_REQUEST, "id": call_id, "m": "ExecuteStreamingTool", "n": window,
                          "msg": {"toolName": tool, "args": args}})

    def until_end(self, kinds=None):
        """(packets, end): every message packet of the stream, then its END."""
        packets = []
        while True:
            packet = self.worker.recv()
            if packet["k"] == END:
                return packets, packet
            if kinds is not None:
                assert packet["k"] in kinds, packet
            packets.append(packet)

    def pending(self, timeout: float) -> bool:
        """Bytes from the worker arrive within `timeout`."""
        return bool(select.select([self.worker.proc.stdout], [], [], timeout)[0])


def chunks_of(packets):
    """The data of every message, checking seqs run on without gaps."""
    out = []
    for packet in packets:
        msg = packet["msg"]
        if packet["k"] == MESSAGES:
            assert msg["seq"] == len(out), (msg["seq"], len(out))
            out.extend(msg["data"])
        else:
            assert msg["seq"] == len(out), (msg["seq"], len(out))
            out.append(msg["data"])
    return out


class BatchedStreamTest(unittest.TestCase):
    def test_a_fast_stream_comes_in_few_packets_the_first_chunk_alone(self):
        w = StreamWorker(self)
        w.start(1, "ticks_fast", {"n": 5000}, window=10**9)
        packets, end = w.until_end(kinds=(MESSAGES,))
        self.assertNotIn("error", end)
        self.assertEqual(chunks_of(packets), list(range(5000)))
        self.assertEqual(len(packets[0]["msg"]["data"]), 1)  # the first chunk is never held
        self.assertLessEqual(max(len(p["msg"]["data"]) for p in packets), BATCH_MAX)
        self.assertLess(len(packets), 5000 // 4)

    def test_every_kind_of_chunk_keeps_its_place(self):
        w = StreamWorker(self)
        w.start(2, "mixed", {})
        packets, end = w.until_end()
        self.assertNotIn("error", end)
        got = chunks_of(packets)
        self.assertEqual(got, [1, "two", 3.5, None, True, 2**60, float("inf"), {"six": 6}, b"\x00\x07", 8, 9, "ten"])
        self.assertEqual({p["k"] for p in packets}, {MESSAGE, MESSAGES})

    def test_a_dict_changed_after_it_was_yielded_arrives_as_it_was(self):
        w = StreamWorker(self)
        w.start(7, "same_dict", {"n": 50})
        packets, end = w.until_end()
        self.assertNotIn("error", end)
        self.assertEqual(chunks_of(packets), [{"i": i, "tags": list(range(i + 1))} for i in range(50)])
        self.assertIn(MESSAGES, {p["k"] for p in packets})

    def test_the_window_holds_the_generator_until_credit_comes(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "count")
            w = StreamWorker(self)
            w.start(3, "counted", {"n": 1000, "path": path}, window=256)
            got = []
            while len(got) < 256:
                got += chunks_of_one(w.worker.recv(), len(got))
            self.assertFalse(w.pending(0.3))  # nothing past the window
            with open(path) as f:
                self.assertLessEqual(int(f.read()), 257)  # one item taken from the generator, not sent
            w.worker.send({"k": CREDIT, "id": 3, "n": 128})
            while len(got) < 384:
                got += chunks_of_one(w.worker.recv(), len(got))
            self.assertFalse(w.pending(0.3))
            w.worker.send({"k": CREDIT, "id": 3, "n": 10_000})
            packets, end = w.until_end()
            self.assertNotIn("error", end)
            self.assertEqual(got + chunks_of(packets_from(packets, len(got))), list(range(1000)))

    def test_chunks_held_when_the_generator_stalls_go_out_without_waiting_for_it(self):
        w = StreamWorker(self)
        started = time.monotonic()
        w.start(4, "stalls", {"first": 3, "pause_s": 3.0, "then": 2})
        got = []
        while len(got) < 3:
            got += chunks_of_one(w.worker.recv(), len(got))
        self.assertEqual(got, [0, 1, 2])
        self.assertLess(time.monotonic() - started, 2.0)  # well before the pause ends (the flusher wrote them)
        packets, end = w.until_end()
        self.assertEqual(got + chunks_of(packets_from(packets, 3)), [0, 1, 2, 3, 4])

    def test_an_error_ends_the_stream_after_the_chunks_before_it(self):
        w = StreamWorker(self)
        w.start(5, "ticks_then_fail", {"n": 300}, window=10**9)
        packets, end = w.until_end()
        self.assertEqual(chunks_of(packets), list(range(300)))
        self.assertEqual(end["error"]["details"][0]["debug"]["pythonType"], "ValueError")

    def test_a_host_that_does_not_say_it_reads_batches_gets_one_message_per_chunk(self):
        w = StreamWorker(self, batching=False)
        w.start(6, "ticks_fast", {"n": 300}, window=10**9)
        packets, _ = w.until_end(kinds=(MESSAGE,))
        self.assertEqual(chunks_of(packets), list(range(300)))


def chunks_of_one(packet, seq):
    """The chunks one message packet carries, checking it starts at `seq`."""
    assert packet["k"] in (MESSAGE, MESSAGES), packet
    assert packet["msg"]["seq"] == seq, (packet["msg"]["seq"], seq)
    return packet["msg"]["data"] if packet["k"] == MESSAGES else [packet["msg"]["data"]]


def packets_from(packets, seq):
    """`packets` with their seqs shifted to start at 0 (for `chunks_of`)."""
    out = []
    for p in packets:
        msg = dict(p["msg"], seq=p["msg"]["seq"] - seq)
        out.append(dict(p, msg=msg))
    return out


if __name__ == "__main__":
    unittest.main()
