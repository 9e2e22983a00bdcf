"""Real trainer processes on CPU/Gloo: learning, two-rank runs, SIGTERM checkpoints, resume and elastic resize."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from tests.trainer.processes import TrainerLauncher, run_to_completion

BATCH = 4  # per process; small so a step takes milliseconds on one core
START_TIMEOUT = 60  # importing torch and forming a gloo group on a busy 2-core machine


def _load(directory, step):
    return torch.load(directory / f"checkpoint-{step:08d}.pt", map_location="cpu", weights_only=True)


@pytest.mark.timeout(90)
def test_loss_decreases_on_the_tiny_model(launcher: TrainerLauncher):
    trainer = launcher.standalone(["--max-steps", "60", "--batch-size", "8", "--log-every-steps", "10"])

    run_to_completion(trainer, timeout=80)

    losses = {event["step"]: event["loss"] for event in trainer.events_named("step")}
    assert losses[1] > 5.0  # ~ln(256): uniform over bytes
    assert losses[60] < losses[1] - 1.5, losses
    assert losses[60] < losses[20], losses


@pytest.mark.timeout(120)
def test_two_processes_under_torchrun_finish_at_the_same_step(launcher: TrainerLauncher, tmp_path):
    trainer = launcher.torchrun(
        2, ["--max-steps", "12", "--batch-size", str(BATCH)], {"FAIRSHARE_CHECKPOINT_DIR": str(tmp_path)}
    )

    finished = run_to_completion(trainer, timeout=100)

    assert sorted((e["rank"], e["step"], e["samples_seen"]) for e in finished) == [
        (0, 12, 12 * 2 * BATCH),
        (1, 12, 12 * 2 * BATCH),
    ]
    started = trainer.events_named("started")
    assert {(e["world_size"], e["backend"], e["global_batch_size"]) for e in started} == {(2, "gloo", 2 * BATCH)}
    state = _load(tmp_path, 12)
    assert (state["step"], state["samples_seen"], state["world_size"]) == (12, 12 * 2 * BATCH, 2)


@pytest.mark.timeout(150)
def test_sigterm_checkpoints_the_current_step_and_a_restart_continues_from_it(launcher: TrainerLauncher, tmp_path):
    checkpoints, termination_log = tmp_path / "checkpoints", tmp_path / "termination-log"
    termination_log.touch()  # the kubelet creates it; the trainer only writes into an existing file
    common = [
        "--batch-size",
        str(BATCH),
        "--checkpoint-dir",
        str(checkpoints),
        "--log-every-steps",
        "1",
        "--checkpoint-every-steps",
        "0",
        "--checkpoint-every-seconds",
        "0",
        "--termination-log",
        str(termination_log),
    ]
    first = launcher.standalone([*common, "--max-steps", "0"])  # unbounded: only the signal ends it
    first.wait_for(lambda e: e["event"] == "step" and e["step"] >= 5, START_TIMEOUT, "step 5")

    first.signal(signal.SIGTERM)

    assert first.wait(timeout=30) == 0, first.describe()
    [stopped] = first.events_named("stopped")
    k = stopped["step"]
    assert stopped["signal"] == "SIGTERM" and stopped["last_checkpoint_step"] == k
    state = _load(checkpoints, k)
    assert (state["step"], state["samples_seen"]) == (k, k * BATCH)
    assert json.loads(termination_log.read_text()) == {
        "outcome": "stopped",
        "step": k,
        "samples_seen": k * BATCH,
        "last_checkpoint_step": k,
    }

    second = launcher.standalone([*common, "--max-steps", str(k + 3)])
    run_to_completion(second, timeout=90)

    [resumed] = second.events_named("resumed")
    assert (resumed["step"], resumed["samples_seen"]) == (k, k * BATCH)
    assert [e["step"] for e in second.events_named("step")] == [k + 1, k + 2, k + 3]
    [finished] = second.events_named("finished")
    assert (finished["step"], finished["samples_seen"], finished["steps_this_run"]) == (k + 3, (k + 3) * BATCH, 3)
    assert json.loads(termination_log.read_text())["outcome"] == "finished"

    wrong_size = launcher.standalone([*common, "--max-steps", str(k + 6), "--model-size", "small"])
    assert wrong_size.wait(timeout=60) == 2
    assert "FAIRSHARE_MODEL_SIZE='small' does not match checkpoint" in "\n".join(wrong_size.stderr_lines)


@pytest.fixture(scope="module")
def uninterrupted_run(tmp_path_factory):
    """Reference: one process, global batch 2 x BATCH, 8 steps without a break."""
    directory = tmp_path_factory.mktemp("uninterrupted")
    launcher = TrainerLauncher()
    try:
        run_to_completion(
            launcher.standalone(
                ["--max-steps", "8", "--batch-size", str(2 * BATCH), "--checkpoint-dir", str(directory)]
            ),
            timeout=90,
        )
    finally:
        launcher.cleanup()
    return _load(directory, 8)


@pytest.mark.timeout(200)
@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param((2, BATCH), (1, 2 * BATCH), id="shrink 2 ranks to 1"),
        pytest.param((1, 2 * BATCH), (2, BATCH), id="grow 1 rank to 2"),
    ],
)
def test_resume_at_another_world_size_continues_step_samples_and_data_order(
    launcher: TrainerLauncher, tmp_path, uninterrupted_run, before, after
):
    """Same global batch before and after: the weights must match an uninterrupted run's (float tolerance).

    A restart that replayed the data from sample zero, skipped samples, or lost the optimizer state
    would end with different weights.
    """

    def run(world_size, per_rank_batch, max_steps):
        args = ["--max-steps", str(max_steps), "--batch-size", str(per_rank_batch), "--checkpoint-dir", str(tmp_path)]
        trainer = launcher.standalone(args) if world_size == 1 else launcher.torchrun(world_size, args)
        return trainer, run_to_completion(trainer, timeout=120)

    run(*before, max_steps=5)
    resumed_trainer, finished = run(*after, max_steps=8)

    resumed = resumed_trainer.events_named("resumed")
    assert {(e["step"], e["samples_seen"], e["checkpoint_world_size"], e["world_size"]) for e in resumed} == {
        (5, 5 * 2 * BATCH, before[0], after[0])
    }
    assert {(e["step"], e["samples_seen"], e["steps_this_run"]) for e in finished} == {(8, 8 * 2 * BATCH, 3)}
    final = _load(tmp_path, 8)
    assert final["world_size"] == after[0]
    for name, tensor in uninterrupted_run["model"].items():
        torch.testing.assert_close(final["model"][name], tensor, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.timeout(120)
def test_resize_with_a_fixed_per_rank_batch_counts_samples_at_each_size(launcher: TrainerLauncher, tmp_path):
    args = ["--batch-size", str(BATCH), "--checkpoint-dir", str(tmp_path)]

    run_to_completion(launcher.torchrun(2, [*args, "--max-steps", "4"]), timeout=100)
    finished = run_to_completion(launcher.standalone([*args, "--max-steps", "7"]), timeout=90)

    assert [(e["step"], e["samples_seen"]) for e in finished] == [(7, 4 * 2 * BATCH + 3 * BATCH)]
