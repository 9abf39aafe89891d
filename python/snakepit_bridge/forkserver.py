"""Preloading: a template process that imports modules once and forks workers from itself.

`python -m snakepit_bridge.forkserver --run-id R --pool P [--preload MOD]... [--adapter SPEC]` imports the
named modules (and, with --adapter, the adapter's module and its `preload()` hook, for read-only
state such as model weights), checks that forking is safe, and then serves fork requests: JSON
lines on a FIFO it names when ready (forkkeeper.control_channel), replies on its stdout. Each worker is forked, not spawned: it starts in
milliseconds and shares the template's pages copy-on-write. It then becomes exactly what a
spawned worker is: its own session and process group, private pipes to the host (FIFOs in a
0700 directory, unlinked as soon as both ends are open), its own environment (thread limits,
devices), a name and command line of its own that keep the run id (the host's registry finds
it by it), and the usual `snakepit_bridge` main loop with its heartbeat watchdog and
end-of-input lifeline (python/snakepit_bridge/forkchild.py). The template reaps its workers and
reports each one's exit code or signal to the host; the process the host spawned stays behind as
the template's keeper, which does so for workers that outlive the template (forkkeeper.py).

Fork is unsafe once threads run (their locks are copied held) or CUDA is initialised; the
template refuses to serve in those cases and says why. See docs/preload.md.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import selectors
import signal
import sys
import threading
import time
from typing import Dict, List, Optional

from . import forkkeeper
from .forkchild import FIFOS, become_worker

__all__ = ["main", "unsafe_reason"]

WIND_DOWN_S = 0.3  # after the host died, how long its workers get to leave on their own


def unsafe_reason() -> Optional[str]:
    """Why forking this process would be unsafe, or None."""
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if threads:
        return f"threads were started while preloading ({', '.join(threads)}): a fork copies their locks held"
    try:
        native = len(os.listdir("/proc/self/task"))
    except OSError:
        native = 1
    if native > 1:
        return f"{native - 1} native thread(s) run in the template (a preloaded library started them): set their pool sizes to 1 or preload less"
    torch = sys.modules.get("torch")
    if torch is not None and getattr(torch, "cuda", None) is not None and torch.cuda.is_initialized():
        return "CUDA was initialised while preloading: a forked child cannot use it; initialise CUDA in setup(), not at import"
    return None


def _send(out: int, msg: Dict) -> None:
    data = (json.dumps(msg) + "\n").encode()
    while data:
        data = data[os.write(out, data):]


def _private_dir() -> str:
    """A new mode-0700 folder under $TMPDIR (or /tmp): tempfile.mkdtemp without its imports."""
    base = os.environ.get("TMPDIR") or "/tmp"
    while True:
        path = os.path.join(base, f"snakepit-fork-{os.urandom(6).hex()}")
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue


def _remove_dir(path: str) -> None:
    for name in FIFOS:
        try:
            os.unlink(os.path.join(path, name))
        except OSError:
            pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def _fork(req: Dict, out: int, children: Dict[int, Dict[str, str]], private_fds: List[int], keeper: int) -> None:
    fifo_dir = _private_dir()
    for name in FIFOS:
        os.mkfifo(f"{fifo_dir}/{name}", 0o600)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        become_worker(req, fifo_dir, private_fds, _remove_dir)
    children[pid] = req.get("env") or {}
    if keeper >= 0:  # before the host hears of it: the keeper must know its workers should we die
        try:
            os.write(keeper, b"%d\n" % pid)
        except OSError:  # the keeper was killed: workers we leave behind are then the host's to watch
            pass
    _send(out, {"forked": req["id"], "pid": pid, "dir": fifo_dir})


def _kill_worker(pid: int, env: Dict[str, str]) -> None:
    """SIGKILL a forked worker and everything it started, setsid() and double-forked ones too.

    Its own way out would kill its tree (reaper.kill_tree), but a SIGKILL gives it none: so stop
    it first (no new descendants), kill its cgroup's members or the tree it reaps as a subreaper,
    then the worker.
    """
    from . import reaper

    try:
        os.kill(pid, signal.SIGSTOP)
    except OSError:
        return
    base = env.get("SNAKEPIT_CGROUP", "")
    group = reaper.cgroup_path(base, env.get("SNAKEPIT_WORKER_ID", "")) if base else ""
    for _ in range(20):
        victims = set(reaper.descendants(pid))
        try:
            with open(os.path.join(group, "cgroup.procs")) as f:
                victims.update(int(p) for p in f.read().split())
        except (OSError, ValueError):
            pass
        victims -= {pid, os.getpid()}
        victims = {v for v in victims if _alive(v)}
        if not victims:
            break
        for victim in victims:
            try:
                os.kill(victim, signal.SIGKILL)
            except OSError:
                pass
    for kill in (os.killpg, os.kill):  # before its setsid() a child leads no group
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _alive(pid: int) -> bool:
    """True while `pid` runs (not yet a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def _reap(out: int, children: Dict[int, Dict[str, str]], report: bool = True) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.pop(pid, None)
        if not report:
            continue
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        name = _signal_name(sig) if sig else None
        _send(out, {"exited": pid, "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None, "signal": sig, "signame": name})


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:  # a real-time signal, say
        return f"SIG{sig}"


def _wind_down(sel: selectors.BaseSelector, ctl_in: int, rfd: int, out: int, children: Dict[int, Dict[str, str]]) -> None:
    """The host is gone. Its workers read end-of-input too and leave as spawned ones do (their
    exit handlers kill what they started and remove their shared-memory segments): give them
    WIND_DOWN_S, then kill those still there (stopped, hung) with everything they started."""
    sel.unregister(ctl_in)
    deadline = time.monotonic() + WIND_DOWN_S
    while children and time.monotonic() < deadline:
        _reap(out, children, report=False)
        if children and sel.select(max(0.0, deadline - time.monotonic())):
            os.read(rfd, 4096)
    for pid, env in list(children.items()):
        _kill_worker(pid, env)


class _Args:
    """--run-id R (on the command line, inherited by workers), --pool P, --instance I, --preload MOD
    (repeatable: a module to import once), --adapter SPEC (whose module and preload() hook to
    load once). Parsed by hand: argparse would cost every pool's start-up."""

    def __init__(self, argv: List[str]) -> None:
        self.run_id = ""
        self.pool = ""
        self.instance = ""
        self.adapter = ""
        self.preload: List[str] = []
        rest = list(argv)
        while rest:
            flag, eq, value = rest.pop(0).partition("=")
            if flag not in ("--run-id", "--pool", "--instance", "--preload", "--adapter"):
                sys.stderr.write(f"snakepit_bridge.forkserver: error: unrecognized argument: {flag}\n")
                sys.exit(2)
            if not eq:
                if not rest:
                    sys.stderr.write(f"snakepit_bridge.forkserver: error: argument {flag}: expected one argument\n")
                    sys.exit(2)
                value = rest.pop(0)
            if flag == "--preload":
                self.preload.append(value)
            else:
                setattr(self, flag[2:].replace("-", "_"), value)


def main(argv: Optional[List[str]] = None) -> int:
    args = _Args(sys.argv[1:] if argv is None else argv)
    keeper = forkkeeper.split(args.pool, unsafe_reason, _kill_worker)  # from here on, this is the template
    ctl_in, out = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # prints while preloading go to the log, not the control pipe
    try:
        # The bridge itself first: a forked worker then imports nothing before its adapter.
        for name in ("__main__", "server", "calls", "control", "adapter", "framing", "codec", "decode", "context", "schema", "telemetry", "tracing", "host_client"):
            if importlib.util.find_spec(f"snakepit_bridge.{name}") is not None:
                importlib.import_module(f"snakepit_bridge.{name}")
        for name in args.preload:
            importlib.import_module(name)
        if args.adapter:
            from .adapter import load_adapter

            target = load_adapter(args.adapter)
            hook = getattr(target, "preload", None)
            if callable(hook):
                hook()
    except BaseException as exc:  # noqa: BLE001 - tell the host, which reports a spawn failure
        _send(out, {"error": f"preloading failed: {type(exc).__name__}: {exc}"})
        return 2
    reason = unsafe_reason()
    if reason:
        _send(out, {"error": f"refusing to fork workers: {reason}"})
        return 3
    os.close(ctl_in)
    ctl_in = forkkeeper.control_channel(out, _send, _private_dir)  # says "ready"
    rfd, wfd = os.pipe()
    os.set_blocking(wfd, False)
    signal.set_wakeup_fd(wfd)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    children: Dict[int, Dict[str, str]] = {}
    sel = selectors.DefaultSelector()
    sel.register(ctl_in, selectors.EVENT_READ)
    sel.register(rfd, selectors.EVENT_READ)
    private_fds = [ctl_in, out, rfd, wfd] + ([sel.fileno()] if hasattr(sel, "fileno") else []) + ([keeper] if keeper >= 0 else [])
    buf = b""
    while True:
        for key, _ in sel.select():
            if key.fd == rfd:
                os.read(rfd, 4096)
                _reap(out, children)
                continue
            chunk = os.read(ctl_in, 65536)
            if not chunk:  # the host is gone: so are its workers, and all they started
                _wind_down(sel, ctl_in, rfd, out, children)
                return 0
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                _fork(json.loads(line), out, children, private_fds, keeper)


if __name__ == "__main__":
    sys.exit(main())
