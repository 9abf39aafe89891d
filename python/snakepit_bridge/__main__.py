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

import signal  # noqa: E402
from typing import Any, NoReturn  # noqa: E402


def _take_protocol_fds() -> "tuple[int, int]":
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return proto_in, proto_out


USAGE = """usage: python -m snakepit_bridge --adapter SPEC [--worker-id ID] [--run-id RUN] [--capacity N]
       [--log-level LEVEL] [--host-timeout-ms MS] [--instance NAME]

  --adapter SPEC         FILE.py[:Class] or module[:Class] (required)
  --run-id RUN           the host run this worker belongs to
  --host-timeout-ms MS   exit when the host says nothing for this long (0: never)
  --instance NAME        the host instance this worker belongs to"""

_INT_FLAGS = ("capacity", "host_timeout_ms")


def parse_args(argv: "list[str]") -> "dict[str, object]":
    """The command line (argparse's rules for these flags, without its start-up cost)."""
    args: "dict[str, object]" = {
        "adapter": None, "worker_id": "w0", "run_id": "", "capacity": 1,
        "log_level": os.environ.get("SNAKEPIT_LOG_LEVEL", "warning"), "host_timeout_ms": 0, "instance": "",
    }
    rest = list(argv)
    while rest:
        flag = rest.pop(0)
        if flag in ("-h", "--help"):
            print(USAGE)
            sys.exit(0)
        name, eq, value = flag.partition("=")
        key = name[2:].replace("-", "_")
        if not name.startswith("--") or key not in args:
            _usage_error(f"unrecognized argument: {flag}")
        if not eq:
            if not rest:
                _usage_error(f"argument {name}: expected one argument")
            value = rest.pop(0)
        if key in _INT_FLAGS:
            try:
                args[key] = int(value)
            except ValueError:
                _usage_error(f"argument {name}: invalid int value: {value!r}")
        else:
            args[key] = value
    if args["adapter"] is None:
        _usage_error("the following arguments are required: --adapter")
    return args


def _usage_error(message: str) -> "NoReturn":
    sys.stderr.write(f"{USAGE}\nsnakepit_bridge: error: {message}\n")
    sys.exit(2)


class _Args:
    def __init__(self, values: "dict[str, object]") -> None:
        self.__dict__.update(values)


def main(argv: "list[str] | None" = None) -> int:
    args: Any = _Args(parse_args(sys.argv[1:] if argv is None else argv))

    proto_in, proto_out = _take_protocol_fds()
    from .log_setup import configure_when_imported

    configure_when_imported(args.log_level)
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
