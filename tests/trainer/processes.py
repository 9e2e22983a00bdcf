"""Launching real trainer processes (plain python or torchrun) and bounded waits on their JSON logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from fairshare.localcluster.processes import free_port_range

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAINER_SOURCE = REPO_ROOT / "trainer_image"  # not an installed package: the image copies it, tests add it

Event = dict[str, Any]


def trainer_env(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a trainer subprocess: this checkout on PYTHONPATH, nothing inherited that steers it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FAIRSHARE_", "PET_", "TORCHELASTIC_"))
        and key not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TRAINER_SOURCE), env.get("PYTHONPATH", "")]))
    # One thread per process: on a small CI machine, several processes each spinning up all-core OpenMP
    # pools slow each other down by an order of magnitude.
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides or {})
    return env


def free_port(consecutive: int = 1) -> int:
    """A base port such that base .. base + consecutive - 1 are all free right now on 127.0.0.1."""
    return free_port_range(consecutive)


class TrainerProcess:
    """A running trainer (plain python or torchrun); its JSON log lines are collected by a reader thread."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str]) -> None:
        self.command = list(command)
        self.process = subprocess.Popen(
            self.command, env=dict(env), cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.events: list[Event] = []
        self.other_output: list[str] = []
        self.stderr_lines: list[str] = []
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            with self._lock:
                if isinstance(record, dict) and "event" in record:
                    self.events.append(record)
                else:
                    self.other_output.append(line.rstrip("\n"))

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._lock:
                self.stderr_lines.append(line.rstrip("\n"))

    def events_named(self, name: str) -> list[Event]:
        with self._lock:
            return [event for event in self.events if event["event"] == name]

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float, what: str) -> Event:
        """Poll the log until an event satisfies predicate; fail with the log tail at the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for event in self.events:
                    if predicate(event):
                        return event
            if self.process.poll() is not None:
                self._join_readers()
                with self._lock:
                    for event in self.events:
                        if predicate(event):
                            return event
                pytest.fail(f"trainer exited ({self.process.returncode}) before {what}\n{self.describe()}")
            time.sleep(0.05)
        pytest.fail(f"timed out after {timeout}s waiting for {what}\n{self.describe()}")

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"trainer did not exit within {timeout}s\n{self.describe()}")
        self._join_readers()
        return code

    def _join_readers(self) -> None:
        for reader in self._readers:
            reader.join(timeout=5)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def describe(self) -> str:
        with self._lock:
            tail = [json.dumps(e) for e in self.events[-10:]] + self.other_output[-10:] + self.stderr_lines[-30:]
        return f"command: {' '.join(self.command)}\n" + "\n".join(tail)


class TrainerLauncher:
    """Starts trainers the way pods do; every process started is killed at test teardown if still running."""

    def __init__(self) -> None:
        self.started: list[TrainerProcess] = []

    def standalone(self, args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> TrainerProcess:
        """`python -m fairshare_trainer`: no torchrun, world size 1."""
        return self._start([sys.executable, "-m", "fairshare_trainer", *args], env)

    def torchrun(self, nproc: int, args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                 script: Path | None = None) -> TrainerProcess:
        """torchrun configured only through the PET_* variables the operator injects into worker pods; it runs
        fairshare_trainer, or `script` (a user's own training script)."""
        launch_env = {
            "PET_NNODES": "1",
            "PET_NPROC_PER_NODE": str(nproc),
            "PET_NODE_RANK": "0",
            "PET_MASTER_ADDR": "127.0.0.1",
            "PET_MASTER_PORT": str(free_port()),
            **(env or {}),
        }
        target = [str(script)] if script is not None else ["-m", "fairshare_trainer"]
        return self._start([sys.executable, "-m", "torch.distributed.run", *target, *args], launch_env)

    def _start(self, command: Sequence[str], env: Mapping[str, str] | None) -> TrainerProcess:
        process = TrainerProcess(command, trainer_env(env))
        self.started.append(process)
        return process

    def cleanup(self) -> None:
        for process in self.started:
            process.kill()


def run_to_completion(process: TrainerProcess, timeout: float) -> list[Event]:
    """Wait for a run that ends by itself; assert it exited 0 and return its finished events."""
    code = process.wait(timeout)
    assert code == 0, process.describe()
    return process.events_named("finished")
