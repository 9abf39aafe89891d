"""The keeper: why a forked worker's exit status survives the death of its template.

Only a process's parent can learn how it ended. The template forks the workers, so it is their
parent; if it is killed (by hand, by the OOM killer: with a preloaded model it is as big as a
worker), its workers are re-parented and their exit statuses were lost. So the process the host
spawns splits in two before it imports anything (`split()`): the child goes on as the template,
the parent stays behind as its keeper, a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`) that
holds nothing but the bridge's first imports. When the template dies, its workers are re-parented
to the keeper, which reaps them and reports their exit codes and signals to the host as the
template did, and tells the host the template is gone (the host forks new workers from a new
template). It leaves once the template and every worker it adopted have exited; if the host dies
meanwhile, it gives the adopted workers WIND_DOWN_S to leave on their own, then kills them.

Its command line is `snakepit-keeper --pool P`, without the run id, so `cleanup()` does not take it
for a stray; its environment carries the run id, so the sweep after a dead host finds it.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Callable, Dict, Optional, Set

__all__ = ["control_channel", "split"]

WIND_DOWN_S = 0.3


def _send(out: int, msg: Dict) -> None:
    data = (json.dumps(msg) + "\n").encode()  # one short write: the template writes to the same pipe
    try:
        while data:
            data = data[os.write(out, data):]
    except OSError:  # the host is gone: nobody to tell
        pass


def _status(pid: int, status: int) -> Dict:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"SIG{sig}"
        return {"exited": pid, "code": None, "signal": sig, "signame": name}
    return {"exited": pid, "code": os.WEXITSTATUS(status), "signal": None, "signame": None}


def _children_of(me: int, pids: Set[int]) -> Set[int]:
    """Those of `pids` whose parent is now `me` (live or not yet reaped)."""
    out = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                if int(f.read().rsplit(b")", 1)[1].split()[1]) == me:
                    out.add(pid)
        except (OSError, ValueError, IndexError):
            pass
    return out


class _Keeper:
    def __init__(self, template: int, news: int, out: int) -> None:
        self.template = template
        self.news = news  # the template writes each new worker's pid here
        self.out = out
        self.host = os.getppid()
        self.me = os.getpid()
        self.workers: Set[int] = set()
        self.buf = b""
        self.template_alive = True
        self.host_gone_at = 0.0

    def learn(self) -> None:
        while True:
            try:
                chunk = os.read(self.news, 4096)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.buf += chunk
            *lines, self.buf = self.buf.split(b"\n")
            self.workers.update(int(line) for line in lines if line.strip())
            if len(self.workers) > 1024:  # the template reaps its own: forget those long gone
                self.workers = {pid for pid in self.workers if os.path.exists(f"/proc/{pid}")}

    def reap(self) -> bool:
        """Reap what exited; False once nothing is left to wait for."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return self.template_alive or bool(self.workers)
            self.learn()
            if pid == self.template:
                self.template_alive = False
                # Its live workers are ours now; those it reaped itself it reported itself.
                self.workers = _children_of(self.me, self.workers)
                _send(self.out, {"template_exited": pid, **{k: v for k, v in _status(pid, status).items() if k != "exited"}})
            elif pid in self.workers:
                self.workers.discard(pid)
                _send(self.out, _status(pid, status))
            # else: a descendant of a worker, re-parented to us: reaped, not ours to report

    def host_check(self, now: float, kill: Callable[[int, Dict[str, str]], None]) -> None:
        if self.template_alive or not self.workers or os.getppid() == self.host:
            return
        if not self.host_gone_at:
            self.host_gone_at = now
        elif now - self.host_gone_at >= WIND_DOWN_S:
            for pid in list(self.workers):
                kill(pid, {})


def _keep(template: int, news: int, kill: Callable[[int, Dict[str, str]], None]) -> int:
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    os.set_blocking(news, False)
    keeper = _Keeper(template, news, 1)
    while keeper.reap():
        keeper.learn()
        keeper.host_check(time.monotonic(), kill)
        signal.sigtimedwait({signal.SIGCHLD}, 0.1 if keeper.host_gone_at else 1.0)
    return 0


def control_channel(out: int, send: Callable[[int, Dict], None], private_dir: Callable[[], str]) -> int:
    """Say the template is ready, and return the channel the host sends it fork requests on: a FIFO
    in a fresh 0700 folder, named in the ready message, unlinked once both ends are open. Not the
    stdin of the spawned process: that is the keeper's, and the host's runtime closes it when the
    keeper exits, which would take the template's requests (and, reading end-of-input, its workers)
    with it. The host holds the only writer: its death is end-of-input here, as before."""
    folder = private_dir()
    path = os.path.join(folder, "ctl")
    os.mkfifo(path, 0o600)

    def late(*_: object) -> None:
        raise TimeoutError("the host did not open the template's control FIFO within 30 s")

    previous = signal.signal(signal.SIGALRM, late)
    signal.alarm(30)
    try:
        send(out, {"ready": os.getpid(), "ctl": path})
        return os.open(path, os.O_RDONLY)  # returns once the host has opened its end
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.unlink(path)
        os.rmdir(folder)


def split(pool: str, unsafe: Callable[[], Optional[str]], kill: Callable[[int, Dict[str, str]], None]) -> int:
    """Fork the template off this process. Returns in the template, with the descriptor to tell the
    keeper of each new worker (-1 where there is no keeper: then the template is all there is).
    The keeper itself never returns. `unsafe` says why forking is unsafe (the template then refuses
    with that reason); `kill` kills a worker and what it started."""
    from .forkchild import rename, subreaper

    if unsafe() is not None or not subreaper():
        return -1
    news_r, news_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(news_r)
        return news_w
    os.close(news_w)
    os.close(0)  # the host's control pipe is the template's to read
    rename("snakepit-keeper", ["snakepit-keeper", "--pool", pool])
    code = 1
    try:
        code = _keep(pid, news_r, kill)
    finally:
        os._exit(code)
