"""Metrics in-process: names, labels and values of the exposition, and the throughput smoothing."""

from __future__ import annotations

import urllib.request

import pytest
import torch
from prometheus_client.parser import text_string_to_metric_families

from tests.trainer.processes import free_port


def _samples(text: str) -> dict[str, float]:
    return {sample.name: sample.value for family in text_string_to_metric_families(text) for sample in family.samples}


def test_exposition_has_every_metric_with_bounded_constant_labels():
    from fairshare_trainer.metrics import TrainerMetrics

    now = [1000.0]
    metrics = TrainerMetrics("team-a/bert-7", "a100", rank=1, device=torch.device("cpu"), clock=lambda: now[0])
    metrics.observe_start(world_size=2, model_parameters=120_576, step=10, total_steps=500)
    metrics.observe_step(step=11, samples=32, samples_per_second=64.0, tokens_per_second=4096.0, loss=2.5)
    metrics.observe_checkpoint(step=11, saved_at_unix=990.0)
    port = free_port()
    metrics.serve(port, "127.0.0.1")
    try:
        now[0] = 1012.5
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        metrics.close()

    assert _samples(text) == {
        "fairshare_trainer_step": 11,
        "fairshare_trainer_total_steps": 500,
        "fairshare_trainer_samples_total": 32,
        "fairshare_trainer_samples_created": pytest.approx(_samples(text)["fairshare_trainer_samples_created"]),
        "fairshare_trainer_samples_per_second": 64.0,
        "fairshare_trainer_tokens_per_second": 4096.0,
        "fairshare_trainer_loss": 2.5,
        "fairshare_trainer_world_size": 2,
        "fairshare_trainer_model_parameters": 120_576,
        "fairshare_trainer_last_checkpoint_step": 11,
        "fairshare_trainer_checkpoint_age_seconds": 22.5,
    }
    labels = {frozenset(s.labels.items()) for f in text_string_to_metric_families(text) for s in f.samples}
    assert labels == {frozenset({("trainingjob", "team-a/bert-7"), ("gpu_class", "a100"), ("rank", "1")})}


def test_checkpoint_age_counts_from_start_until_a_checkpoint_exists():
    from fairshare_trainer.metrics import TrainerMetrics

    now = [500.0]
    metrics = TrainerMetrics("default/local", "", rank=0, device=torch.device("cpu"), clock=lambda: now[0])
    now[0] = 530.0

    assert metrics._checkpoint_age() == 30.0


@pytest.mark.parametrize(
    ("updates", "want"),
    [
        pytest.param([(10, 1.0)], 10.0, id="first measurement taken as is"),
        pytest.param([(10, 1.0), (10, 1.0), (10, 1.0)], 10.0, id="steady rate stays"),
        pytest.param([(10, 1.0), (40, 1.0)], pytest.approx(10 + 30 * 0.18127, rel=1e-3), id="one step moves ~18%"),
        pytest.param(
            [(10, 1.0), (200, 10.0)], pytest.approx(10 + 10 * 0.86466, rel=1e-3), id="long interval dominates"
        ),
        pytest.param([(10, 1.0), (5, 0.0)], 10.0, id="zero elapsed ignored"),
    ],
)
def test_throughput_smoothing_is_weighted_by_elapsed_time(updates, want):
    from fairshare_trainer.metrics import ThroughputSmoother

    smoother = ThroughputSmoother(time_constant_seconds=5.0)
    for amount, elapsed in updates:
        rate = smoother.update(amount, elapsed)

    assert rate == want
