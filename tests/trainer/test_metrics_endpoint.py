"""Metrics from a real two-rank torchrun job: one endpoint per local rank, then a SIGTERM both ranks obey together."""

from __future__ import annotations

import signal
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.wait import wait_for
from tests.trainer.processes import TrainerLauncher, free_port

JOB = "team-a/bert-7"
SEQ_LEN = 64  # the tiny model's context
EXPECTED = {
    "fairshare_trainer_step",
    "fairshare_trainer_samples_total",
    "fairshare_trainer_samples_per_second",
    "fairshare_trainer_tokens_per_second",
    "fairshare_trainer_loss",
    "fairshare_trainer_world_size",
    "fairshare_trainer_model_parameters",
    "fairshare_trainer_last_checkpoint_step",
    "fairshare_trainer_checkpoint_age_seconds",
}


def _scrape(port: int) -> dict[str, tuple[dict[str, str], float]] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None
    return {s.name: (s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples}


def _scrape_after_step(port: int, step: int) -> dict[str, tuple[dict[str, str], float]] | None:
    samples = _scrape(port)
    return samples if samples and samples.get("fairshare_trainer_step", ({}, 0))[1] >= step else None


@pytest.mark.timeout(120)
def test_each_rank_serves_metrics_on_base_port_plus_local_rank_and_sigterm_stops_both(
    launcher: TrainerLauncher, tmp_path
):
    base_port = free_port(consecutive=2)
    trainer = launcher.torchrun(
        2,
        ["--max-steps", "0", "--batch-size", "4", "--checkpoint-every-steps", "5"],
        {
            "FAIRSHARE_METRICS_PORT": str(base_port),
            "FAIRSHARE_JOB": JOB,
            "FAIRSHARE_GPU_CLASS": "cpu-pool",
            "FAIRSHARE_CHECKPOINT_DIR": str(tmp_path),
            "FAIRSHARE_METRICS_ADDR": "127.0.0.1",
        },
    )
    trainer.wait_for(lambda e: e["event"] == "started", 60, "a rank to start")

    for local_rank in (0, 1):
        samples = wait_for(
            lambda port=base_port + local_rank: _scrape_after_step(port, 6),
            timeout=60,
            what=f"rank {local_rank} metrics past step 6",
            interval=0.2,
        )

        assert samples.keys() >= EXPECTED
        assert {name: labels for name, (labels, _) in samples.items() if name in EXPECTED} == {
            name: {"trainingjob": JOB, "gpu_class": "cpu-pool", "rank": str(local_rank)} for name in EXPECTED
        }
        value = {name: v for name, (_, v) in samples.items()}
        assert value["fairshare_trainer_world_size"] == 2
        assert value["fairshare_trainer_samples_per_second"] > 0
        assert value["fairshare_trainer_tokens_per_second"] == pytest.approx(
            value["fairshare_trainer_samples_per_second"] * SEQ_LEN
        )
        assert 0 < value["fairshare_trainer_loss"] < 6
        assert value["fairshare_trainer_samples_total"] >= 6 * 2 * 4
        assert value["fairshare_trainer_last_checkpoint_step"] >= 5
        assert 0 <= value["fairshare_trainer_checkpoint_age_seconds"] < 60
        assert 50_000 < value["fairshare_trainer_model_parameters"] < 300_000

    trainer.signal(signal.SIGTERM)  # what the kubelet sends to torchrun, PID 1 of the container
    trainer.wait(timeout=40)

    stopped = trainer.events_named("stopped")
    assert len(stopped) == 2, trainer.describe()
    assert len({e["step"] for e in stopped}) == 1, stopped
    step = stopped[0]["step"]
    assert {e["last_checkpoint_step"] for e in stopped} == {step}
    assert (tmp_path / f"checkpoint-{step:08d}.pt").is_file()
