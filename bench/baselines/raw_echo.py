"""Baseline: the floor for host<->Python calls. Newline JSON over stdin/stdout, one loop."""

import json
import sys


def main() -> None:
    read = sys.stdin.buffer.readline
    out = sys.stdout.buffer
    loads, dumps = json.loads, json.dumps
    while True:
        line = read()
        if not line:
            return
        msg = loads(line)
        out.write(dumps({"id": msg["id"], "result": msg["a"] + msg["b"]}).encode() + b"\n")
        out.flush()


main()
