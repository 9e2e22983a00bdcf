"""The bring-your-own example (examples/byo-trainer/train.py), a plain PyTorch script, under torchrun as a worker pod
runs it: the operator's own scrape reads its progress, and on SIGTERM it checkpoints, exits, and resumes there."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import torch

from fairshare.feedback.readings import Reading, Target
from fairshare.feedback.scrape import ScrapeSource
from tests.trainer.processes import REPO_ROOT, TrainerLauncher, free_port

EXAMPLE = REPO_ROOT / "examples" / "byo-trainer" / "train.py"


def read_until(target: Target, done: float, timeout: float) -> Reading:
    """The first reading of `target` whose step is at least `done` (bounded wait)."""
    deadline, source = time.monotonic() + timeout, ScrapeSource(timeout_seconds=2.0)
    while time.monotonic() < deadline:
        readings, _ = source.read([target])
        if readings and (readings[0].step or 0) >= done:
            return readings[0]
        time.sleep(0.2)
    raise AssertionError(f"no reading of {target.endpoint} at step {done} within {timeout}s")


def test_the_example_reports_checkpoints_on_sigterm_and_resumes(launcher: TrainerLauncher, tmp_path: Path) -> None:
    port = free_port(2)
    env = {"FAIRSHARE_JOB": "team-a/mine", "FAIRSHARE_GPU_CLASS": "a100", "FAIRSHARE_METRICS_PORT": str(port),
           "FAIRSHARE_CHECKPOINT_DIR": str(tmp_path)}
    run = launcher.torchrun(2, ["--steps", "100000", "--min-step-seconds", "0.02", "--checkpoint-every", "50"], env,
                            script=EXAMPLE)
    reading = read_until(Target("team-a/mine", 0, "a100", 1, 0.0, f"127.0.0.1:{port}"), done=20, timeout=180)
    assert (reading.total_steps, reading.world_size, reading.gpu_class) == (100000.0, 2, "a100")
    assert reading.samples_per_second > 0

    run.signal(signal.SIGTERM)  # what the kubelet sends torchrun when the job is preempted
    run.wait(timeout=60)
    output = "\n".join(run.other_output)
    stopped = re.search(r"stopped at step (\d+) after a checkpoint", output)
    assert stopped, run.describe()
    step = int(stopped.group(1))
    assert torch.load(tmp_path / "checkpoint.pt")["step"] == step > reading.step  # type: ignore[operator]

    resumed = launcher.torchrun(2, ["--steps", str(step + 10)], {**env, "FAIRSHARE_METRICS_PORT": "0"},
                                script=EXAMPLE)
    assert resumed.wait(timeout=180) == 0, resumed.describe()
    assert [line for line in resumed.other_output if "resumed" in line or "finished" in line] == [
        f"resumed from step {step}", f"finished {step + 10} steps"]
