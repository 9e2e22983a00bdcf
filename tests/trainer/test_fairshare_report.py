"""fairshare_report, the helper a user's own script imports: the operator reads what it exports, it imports nothing
heavy, and SIGTERM becomes a request to stop."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client import generate_latest

from fairshare.feedback.readings import Target, rank_zero_values, reading_from_values
from tests.trainer.processes import trainer_env

ENV = {"FAIRSHARE_JOB": "team-a/mine", "FAIRSHARE_GPU_CLASS": "a100", "RANK": "0", "LOCAL_RANK": "0",
       "WORLD_SIZE": "4", "FAIRSHARE_METRICS_PORT": "8000"}
TARGET = Target("team-a/mine", 2, "a100", 1, admitted_at=0.0, endpoint=None)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_what_it_exports_is_what_the_operator_reads() -> None:
    from fairshare_report import Reporter

    clock = Clock()
    report = Reporter(total_steps=500, environ=ENV, clock=clock, wall_clock=clock, serve=False)
    report.step(10, samples=0)
    clock.now += 2.0
    report.step(12, samples=256, loss=2.5)  # 2 steps of 4 ranks x 32 samples in 2 s
    report.checkpoint(12)
    clock.now += 3.0
    text = generate_latest(report.registry).decode()
    reading = reading_from_values(TARGET, rank_zero_values(text), observed_at=50.0)
    assert reading is not None
    assert (reading.samples_per_second, reading.step, reading.total_steps, reading.world_size, reading.gpu_class,
            reading.last_checkpoint_step, reading.checkpoint_age_seconds) == (128.0, 12.0, 500.0, 4, "a100", 12.0, 3.0)
    assert 'fairshare_trainer_loss{gpu_class="a100",rank="0",trainingjob="team-a/mine"} 2.5' in text


@pytest.mark.parametrize(("environ", "port"), [
    pytest.param(ENV, 8000, id="the operator's base port on local rank 0"),
    pytest.param({**ENV, "LOCAL_RANK": "3"}, 8003, id="base + local rank"),
    pytest.param({**ENV, "FAIRSHARE_METRICS_PORT": "0"}, 0, id="0 turns the server off"),
    pytest.param({}, 8000, id="outside the operator: the default port"),
])
def test_the_port_follows_the_operators_variables(environ: dict[str, str], port: int) -> None:
    from fairshare_report import Reporter

    assert Reporter(environ=environ, serve=False).port == port


def test_no_reading_before_a_second_step_gives_a_rate() -> None:
    from fairshare_report import Reporter

    report = Reporter(total_steps=10, environ=ENV, clock=Clock(), serve=False)
    report.step(1, samples=32)
    text = generate_latest(report.registry).decode()
    assert reading_from_values(TARGET, rank_zero_values(text), observed_at=50.0) is None


def test_importing_it_imports_neither_torch_nor_transformers() -> None:
    code = ("import sys, fairshare_report\n"
            "heavy = {'torch', 'transformers'} & set(sys.modules)\n"
            "assert not heavy, sorted(heavy)")
    proc = subprocess.run([sys.executable, "-c", code], env=trainer_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_sigterm_becomes_a_request_to_stop() -> None:
    code = ("import os, signal, fairshare_report\n"
            "fairshare_report.install_signal_handlers()\n"
            "assert not fairshare_report.stop_requested()\n"
            "os.kill(os.getpid(), signal.SIGTERM)\n"
            "assert fairshare_report.stop_requested()\n"
            "print('still running')\n")
    proc = subprocess.run([sys.executable, "-c", code], env=trainer_env(), capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout.strip()) == (0, "still running"), proc.stderr
