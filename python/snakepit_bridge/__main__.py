"""Worker entry point: `python -m snakepit_bridge --adapter SPEC --worker-id ID`.

The protocol runs on the inherited stdin/stdout pipes. Before any user code runs, those are
moved to private descriptors: fd 1 then points at stderr (so print() becomes a host log line)
and fd 0 at /dev/null. End of input on the protocol pipe means the host is gone: we exit.
"""

from __future__ import annotations

import os
import sys

# `python -m` puts the working directory first on sys.path, so a json.py or logging.py there would
# replace the standard module under the bridge itself. Keep it importable, but last.
_cwd_entries = [p for p in sys.path if p in ("", os.getcwd())]
sys.path[:] = [p for p in sys.path if p not in _cwd_entries] + [os.getcwd()]

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402


def _take_protocol_fds() -> "tuple[int, int]":
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return proto_in, proto_out


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(prog="snakepit_bridge")
    parser.add_argument("--adapter", required=True, help="FILE.py[:Class] or module[:Class]")
    parser.add_argument("--worker-id", default="w0")
    parser.add_argument("--run-id", default="", help="the host run this worker belongs to")
    parser.add_argument("--capacity", type=int, default=1)
    parser.add_argument("--log-level", default=os.environ.get("SNAKEPIT_LOG_LEVEL", "warning"))
    parser.add_argument("--host-timeout-ms", type=int, default=0, help="exit when the host says nothing for this long (0: never)")
    parser.add_argument("--instance", default="", help="the host instance this worker belongs to")
    args = parser.parse_args(argv)

    proto_in, proto_out = _take_protocol_fds()
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, args.log_level.upper(), logging.WARNING),
        format="%(levelname)s %(name)s: %(message)s",
    )
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host decides when we stop
    def on_sigterm(*_: object) -> None:
        from .calls import TERMINATING

        TERMINATING.set()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)

    from . import reaper

    reaper.install()  # before user code: nothing it starts may outlive us (SECURITY.md)
    from .adapter import discover_tools, load_adapter
    from .framing import FrameReader, FrameWriter
    from .server import Server

    target = load_adapter(args.adapter)
    setup = getattr(target, "setup", None)
    if callable(setup):
        setup()
    tools = discover_tools(target)
    worker = Server(
        target,
        tools,
        worker_id=args.worker_id,
        capacity=args.capacity,
        reader=FrameReader(proto_in),
        writer=FrameWriter(proto_out),
    )
    if args.host_timeout_ms > 0:
        worker.control.start_watchdog(args.host_timeout_ms / 1000)
    worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
