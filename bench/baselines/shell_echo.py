"""python-shell contender: JSON lines in, JSON lines out (python-shell's "json" mode)."""

import json
import sys

for line in sys.stdin:
    msg = json.loads(line)
    if "stream" in msg:
        for k in range(msg["stream"]):
            print(json.dumps({"i": k}))
        print(json.dumps({"id": msg["id"], "done": True}), flush=True)
    else:
        print(json.dumps({"id": msg["id"], "result": msg["a"] + msg["b"]}), flush=True)
