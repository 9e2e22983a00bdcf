"""`fairshare operator` as a real subprocess, so a test can configure it, kill it at any moment and start it again."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from fairshare.localcluster.operatorenv import local_operator_env
from fairshare.localcluster.processes import free_port, tail


class OperatorProcess:
    """One operator against `kubeconfig`, logging to `log`; `env` and `args` add settings (policy, feedback).

    Its leader-election identity is kept across `start`s, as a container restarted in its pod keeps the pod's name:
    a restart takes its own Lease back at once. `identity` names another replica (a new pod)."""

    def __init__(self, kubeconfig: str, log: Path, env: Mapping[str, str] | None = None,
                 args: Sequence[str] = (), identity: str | None = None) -> None:
        self.kubeconfig, self.log = kubeconfig, log
        self.env, self.args = dict(env or {}), list(args)
        self.identity = identity or f"operator-{uuid.uuid4().hex[:8]}"
        self.metrics_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = local_operator_env({**os.environ, "KUBECONFIG": self.kubeconfig,
                                  "FAIRSHARE_CYCLE_DEBOUNCE_SECONDS": "0.1",
                                  "FAIRSHARE_LEADER_ELECTION_IDENTITY": self.identity, **self.env})
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fairshare.cli.main", "operator", "--metrics-port", str(self.metrics_port),
                 "--liveness-port", "0", "--period", "2", *self.args], env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as when a node dies under the operator."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def pause(self) -> None:
        """SIGSTOP: frozen, sockets open, as a process stalled by its node (or a debugger) would be."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGCONT)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@contextlib.contextmanager
def operator_running(kubeconfig: str, log: Path, env: Mapping[str, str] | None = None,
                     args: Sequence[str] = ()) -> Iterator[OperatorProcess]:
    """An operator started and past its first scheduling cycle; stopped (its log tail printed) on exit."""
    from tests.support.teams import cycles
    from tests.support.wait import wait_for

    proc = OperatorProcess(kubeconfig, log, env, args)
    proc.start()
    try:
        wait_for(lambda: cycles(proc.metrics_port), timeout=90,
                 what=lambda: f"the operator's first cycle; log:\n{tail(log, 30)}")
        yield proc
    finally:
        proc.stop()
        print(f"--- operator log tail ---\n{tail(log, 40)}")
