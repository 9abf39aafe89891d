"""The Arrow IPC schema reader (snakepit_bridge/arrow_ipc.py) on real IPC and on hostile bytes."""

import base64
import struct
import unittest

from snakepit_bridge import codec
from snakepit_bridge.arrow_ipc import ArrowIPC, ArrowIPCError, parse_schema, pyarrow
from snakepit_bridge.errors import InvalidArgument

# apache-arrow 21 (JS), tableToIPC of a: int32, s: utf8, b: bool, ts: timestamp[us, UTC], f: float64.
SAMPLE = base64.b64decode(
    "/////1gBAAAQAAAAAAAKABAADgAHAAgACgAAAAAAAAEQAAAAAAAEAAgACAAAAAQACAAAAAQAAAAFAAAA7AAAAKwAAACAAAAA"
    "PAAAAAQAAAA4////FAAAAAAAAAEUAAAAAAAAAxgAAAABAAAAZgAAAAAAAAAAAAYACAAGAAYAAAAAAAIAbP///xQAAAAAAAAB"
    "FAAAAAAAAAoYAAAAAgAAAHRzAAAAAAAACAAMAAoABAAIAAAACAAAAAAAAgADAAAAVVRDAKz///8UAAAAAAAAARQAAAAAAAAG"
    "EAAAAAEAAABiAAAAAAAAANj////U////FAAAAAAAAAEUAAAAAAAABRQAAAABAAAAcwAAAAAAAAAEAAQABAAAABAAGAAEAAsA"
    "EwAUAAAADAAQAAAAFAAAAAAAAAEUAAAAAAAAAhgAAAABAAAAYQAAAAAAAAAIAAwACAAHAAgAAAAAAAABIAAAAP////9YAQAA"
    "FAAAAAAAAAAMABYAFAAPABAABAAMAAAAQAEAAAAAAAAAAAADEAAAAAQACgAYAAwACAAEAAoAAAAUAAAAyAAAAAIAAAAAAAAA"
    "AAAAAAsAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIAAAAAAAAAAgAAAAAAAAAQAAAAAAAAABIAAAAAAAAABAAAAAAAAAA"
    "WAAAAAAAAAAIAAAAAAAAAGAAAAAAAAAAQAAAAAAAAACgAAAAAAAAAEAAAAAAAAAA4AAAAAAAAAAAAAAAAAAAAOAAAAAAAAAA"
    "EAAAAAAAAADwAAAAAAAAAEAAAAAAAAAAMAEAAAAAAAAQAAAAAAAAAAAAAAAFAAAAAgAAAAAAAAAAAAAAAAAAAAIAAAAAAAAA"
    "AQAAAAAAAAACAAAAAAAAAAEAAAAAAAAAAgAAAAAAAAAAAAAAAAAAAAIAAAAAAAAAAQAAAAAAAAABAAAAAgAAAAEAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAAAAEAAAAAAAAA"
    "eAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "6AMAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAA4D8AAAAAAAAAAP////8AAAAA"
)
FIELDS = [
    {"name": "a", "type": "int32", "nullable": True},
    {"name": "s", "type": "utf8", "nullable": True},
    {"name": "b", "type": "bool", "nullable": True},
    {"name": "ts", "type": "timestamp[us, UTC]", "nullable": True},
    {"name": "f", "type": "float64", "nullable": True},
]


def _repeated_name(n: int, length: int) -> bytes:
    """A hand-made schema message: n fields, every one the same table, named with `length` bytes."""
    field = 48 + 4 * n
    m = bytearray(field + 28 + length)
    struct.pack_into("<I5H", m, 0, 16, 10, 12, 0, 4, 8)  # root; message vtable: header_type +4, header +8
    struct.pack_into("<iBxxxI", m, 16, 12, 1, 36 - 24)  # message table: a schema
    struct.pack_into("<4HiII", m, 28, 8, 8, 0, 4, 8, 44 - 40, n)  # schema vtable and table; the fields vector
    for k in range(n):
        struct.pack_into("<I", m, 48 + 4 * k, field + 12 - (48 + 4 * k))
    struct.pack_into("<5HxxiIBxxxI", m, field, 10, 12, 4, 0, 8, 12, 8, 6, length)  # field: name +4, type_type +8 (bool)
    m[field + 28 :] = b"x" * length
    return struct.pack("<ii", -1, len(m)) + bytes(m)


class SchemaTest(unittest.TestCase):
    def test_real_ipc(self) -> None:
        self.assertEqual(parse_schema(SAMPLE), {"format": "stream", "fields": FIELDS})
        ipc = ArrowIPC(SAMPLE)
        self.assertEqual(ipc.column_names, ["a", "s", "b", "ts", "f"])
        self.assertEqual(ipc.num_rows, 2)
        self.assertEqual(ArrowIPC(SAMPLE[: len(SAMPLE) - 8]).num_rows, 2)  # without the end-of-stream marker
        with self.assertRaisesRegex(ArrowIPCError, r"runs past the end"):
            ArrowIPC(SAMPLE[:-100]).num_rows
        self.assertIs(ipc.buffer.obj, SAMPLE)  # a view, not a copy
        self.assertIn("ts: timestamp[us, UTC]", repr(ipc))

    def assertRefused(self, data: bytes, message: str) -> None:
        with self.assertRaises(ArrowIPCError) as caught:
            parse_schema(data)
        self.assertIsInstance(caught.exception, InvalidArgument)  # crosses the wire as invalid_argument
        self.assertRegex(str(caught.exception), message)

    def test_hostile_bytes(self) -> None:
        self.assertRefused(b"", r"truncated: 0 bytes")
        self.assertRefused(b"hello, this is not arrow", r"wrong magic: starts with 0x68656c6c")
        self.assertRefused(SAMPLE[:40], r"schema message length \d+ does not fit")
        self.assertRefused(b"\xff\xff\xff\xff" + struct.pack("<i", 0x7FFFFFF0) + SAMPLE[8:], r"length 2147483632 does not fit")
        self.assertRefused(b"ARROW1\0\0" + SAMPLE, r'no closing "ARROW1"')
        self.assertRefused(b"ARROW1\0\0" + SAMPLE + struct.pack("<i", 1 << 30) + b"ARROW1", r"footer length 1073741824 does not fit")
        self.assertRefused(SAMPLE[:8] + struct.pack("<I", 0xFFFFFFF0) + SAMPLE[12:], r"runs past the \d+-byte metadata")
        metadata_len = struct.unpack_from("<i", SAMPLE, 4)[0]
        self.assertRefused(SAMPLE[8 + metadata_len :], r"first message is a record batch, not a schema")

    def test_fields_all_pointing_at_one_long_name(self) -> None:
        self.assertRefused(_repeated_name(10_000, 60_000), r"strings add up to more than the metadata holds")
        fields = parse_schema(_repeated_name(3, 10))["fields"]
        self.assertEqual(fields, [{"name": "x" * 10, "type": "bool", "nullable": False}] * 3)

    def test_random_damage_is_always_typed(self) -> None:
        x = 1
        for seed in range(300):
            junk = bytearray(SAMPLE)
            for i in range(8, 400):
                x = (x * 1103515245 + 12345) & 0xFFFFFFFF
                if x % 7 == seed % 7:
                    junk[i] = x >> 24
            try:
                parse_schema(bytes(junk))
            except ArrowIPCError:
                pass

    def test_codec_round_trip_without_shared_memory(self) -> None:
        text, attachments, typed = codec.dumps({"r": ArrowIPC(SAMPLE)})
        self.assertTrue(typed)
        msg = codec.loads(text)
        self.assertEqual(msg["r"]["schema"]["fields"], FIELDS)
        back = codec.revive(msg, attachments)["r"]
        if pyarrow() is None:
            self.assertIsInstance(back, ArrowIPC)
            self.assertEqual(bytes(back.buffer), SAMPLE)
        else:
            self.assertEqual(back.column_names, ["a", "s", "b", "ts", "f"])


@unittest.skipIf(pyarrow() is None, "pyarrow is not importable (Debian 12 has no python3-pyarrow)")
class PyarrowTest(unittest.TestCase):
    def test_tables_and_readers_become_ipc(self) -> None:
        pa = pyarrow()
        table = ArrowIPC(SAMPLE).to_pyarrow()
        self.assertEqual(table.num_rows, 2)
        self.assertEqual(str(table.schema.field("ts").type), "timestamp[us, tz=UTC]")
        for value in (table, table.to_batches()[0], pa.RecordBatchReader.from_batches(table.schema, table.to_batches())):
            text, attachments, _ = codec.dumps(value)
            self.assertEqual(codec.loads(text)["schema"]["fields"], FIELDS)
            self.assertTrue(codec.revive(codec.loads(text), attachments).equals(table))


if __name__ == "__main__":
    unittest.main()
