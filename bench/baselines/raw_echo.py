"""Baseline: the floor for host<->Python calls. Newline JSON over stdin/stdout, one loop.

A line {"id", "a", "b"} is answered {"id", "result"}. Two more requests exercise the other rows:
{"id", "stream": n, "flush": bool} answers n lines {"i": k} (flushed each, or left to the
buffer), then {"id", "done": true}; with "batch": b, the n ints go as JSON arrays of up to b, one
line and one flush (write) each, as snakepit's worker batches a fast stream; {"id", "bulk": n, "f32": bool} is followed by n raw bytes,
echoed back after a 4-byte big-endian length (through numpy when "f32" is set).
"""

import json
import sys


def main() -> None:
    read = sys.stdin.buffer.readline
    raw_in = sys.stdin.buffer
    out = sys.stdout.buffer
    loads, dumps = json.loads, json.dumps
    while True:
        line = read()
        if not line:
            return
        msg = loads(line)
        if "a" in msg:
            out.write(dumps({"id": msg["id"], "result": msg["a"] + msg["b"]}).encode() + b"\n")
        elif "batch" in msg:
            size = msg["batch"]
            batch = []
            for k in range(msg["stream"]):
                batch.append(k)
                if len(batch) == size:
                    out.write(repr(batch).encode() + b"\n")  # a list of ints: its repr is JSON
                    out.flush()
                    batch.clear()
            if batch:
                out.write(repr(batch).encode() + b"\n")
            out.write(dumps({"id": msg["id"], "done": True}).encode() + b"\n")
        elif "stream" in msg:
            flush_each = msg["flush"]
            for k in range(msg["stream"]):
                out.write(b'{"i":%d}\n' % k)  # an int formatted without the encoder, as snakepit does
                if flush_each:
                    out.flush()
            out.write(dumps({"id": msg["id"], "done": True}).encode() + b"\n")
        else:
            data = raw_in.read(msg["bulk"])
            if msg.get("f32"):
                import numpy

                data = numpy.frombuffer(data, dtype=numpy.float32)  # no copy: a view of the bytes
            out.write(memoryview(data).nbytes.to_bytes(4, "big"))
            out.write(data)
        out.flush()


main()
