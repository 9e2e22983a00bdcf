"""Start, probe and stop the local control plane's processes, each recorded by pid and start time."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


class StartupError(RuntimeError):
    """A control-plane process exited or never became ready; the message carries the tail of its log."""


@dataclasses.dataclass(frozen=True)
class ProcessRecord:
    """A process this cluster started: enough to stop exactly it later, even from another Python process."""

    name: str
    pid: int
    start_ticks: int  # /proc/<pid>/stat field 22: guards against signalling a recycled pid
    log: str


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_range(consecutive: int) -> int:
    """A base port such that base .. base + consecutive - 1 are all free right now on 127.0.0.1 (a trainer's ranks
    serve metrics on base + local rank)."""
    for _ in range(200):
        base = random.randint(20000, 60000)
        sockets: list[socket.socket] = []
        try:
            for offset in range(consecutive):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {consecutive} consecutive free ports found on 127.0.0.1")


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
    return int(stat.rsplit(")", 1)[1].split()[19])


def is_alive(record: ProcessRecord) -> bool:
    return _start_ticks(record.pid) == record.start_ticks


def spawn(name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None) -> ProcessRecord:
    """Start argv in its own session (so a terminal's Ctrl-C does not reach it), logging to log_dir/name.log."""
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    ticks = _start_ticks(proc.pid)
    if ticks is None:
        raise StartupError(f"{name} exited immediately; see {log_path}:\n{tail(log_path)}")
    return ProcessRecord(name=name, pid=proc.pid, start_ticks=ticks, log=str(log_path))


def tail(path: Path | str, lines: int = 30) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(record: ProcessRecord, grace_seconds: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL after the grace period; a no-op if it is already gone."""
    if not is_alive(record):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not is_alive(record):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(record.pid, signal.SIGKILL)
    _reap(record.pid)


def _reap(pid: int) -> None:
    """Collect a child's exit status so it does not linger as a zombie (and look alive)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def http_ok(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> bool:
    """True when url answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def insecure_context() -> ssl.SSLContext:
    """For the health endpoints of controller-manager and scheduler, which serve self-signed certs on loopback."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def wait_until(ready: Callable[[], bool], record: ProcessRecord, timeout: float, what: str) -> float:
    """Poll `ready` until true; fail early if the process died. Returns seconds waited."""
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        if ready():
            return time.monotonic() - start
        _reap(record.pid)
        if not is_alive(record):
            raise StartupError(f"{record.name} exited before {what}; log {record.log}:\n{tail(record.log)}")
        time.sleep(0.2)
    raise StartupError(f"{record.name} not {what} after {timeout:.0f}s; log {record.log}:\n{tail(record.log)}")
