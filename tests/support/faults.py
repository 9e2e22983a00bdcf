"""Faults for the local control plane: restart one of its processes in place, pause one (SIGSTOP) for a while.

Both keep `ClusterState.processes` true, so the session fixture still stops exactly what is running at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from fairshare.localcluster import processes
from fairshare.localcluster.cluster import ClusterState
from fairshare.localcluster.processes import ProcessRecord


def record(state: ClusterState, name: str) -> ProcessRecord:
    """The running process of this name (kube-apiserver, etcd, ...)."""
    return next(p for p in state.processes if p.name == name and processes.is_alive(p))


def restart(state: ClusterState, name: str, ready: Callable[[], bool], timeout: float = 120.0) -> float:
    """SIGKILL a control-plane process and start it again with the same command line; seconds until `ready`."""
    old = record(state, name)
    argv = Path(f"/proc/{old.pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(old.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while processes.is_alive(old) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(old.pid, os.WNOHANG)
        time.sleep(0.05)
    start = time.monotonic()
    new = processes.spawn(name, [a.decode() for a in argv], Path(old.log).parent)
    state.processes[state.processes.index(old)] = new
    state.save()
    processes.wait_until(ready, new, timeout, "ready after a restart")
    return time.monotonic() - start


@contextlib.contextmanager
def paused(state: ClusterState, name: str) -> Iterator[ProcessRecord]:
    """SIGSTOP a process for the body of the `with`, SIGCONT after it, whatever happens."""
    target = record(state, name)
    os.kill(target.pid, signal.SIGSTOP)
    try:
        yield target
    finally:
        os.kill(target.pid, signal.SIGCONT)
