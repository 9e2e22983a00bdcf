"""The operator's and a trainer's real /metrics text, with every metric given a sample (helpers for the tests)."""

from __future__ import annotations

import sys
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, Summary, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from fairshare.metrics import OperatorMetrics
from tests.unit.chart.chart import REPO_ROOT

TRAINER_SOURCE = REPO_ROOT / "trainer_image"


def populate(owner: Any) -> None:
    """Give every metric attribute of `owner` one sample, so the exposition shows every series family.

    Labelled metrics export nothing until a child exists; `_labelnames` is prometheus_client's record of the
    label names a metric was declared with (stable since 0.4).
    """
    for metric in vars(owner).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        names = metric._labelnames
        child = metric.labels(**{n: f"{n}-a" for n in names}) if names else metric
        if isinstance(metric, Counter):
            child.inc(3)
        elif isinstance(metric, Gauge):
            child.set(2)
        elif isinstance(metric, Histogram | Summary):
            child.observe(0.4)


def operator_exposition() -> str:
    metrics = OperatorMetrics()
    populate(metrics)
    metrics.observe_cycle_steps({"snapshot": 0.01, "plan": 0.02})
    return generate_latest(metrics.registry).decode()


def trainer_exposition(device: str = "cpu") -> str:
    """A trainer's exposition as rank 0 serves it after a step and a checkpoint."""
    if str(TRAINER_SOURCE) not in sys.path:
        sys.path.insert(0, str(TRAINER_SOURCE))
    import torch
    from fairshare_trainer.metrics import TrainerMetrics

    metrics = TrainerMetrics("team-a/bert", "a100", rank=0, device=torch.device(device), clock=lambda: 100.0)
    metrics.observe_start(world_size=2, model_parameters=120_576, step=10)
    metrics.observe_step(step=11, samples=32, samples_per_second=64.0, tokens_per_second=4096.0, loss=2.5)
    metrics.observe_checkpoint(step=11, saved_at_unix=90.0)
    return generate_latest(metrics.registry).decode()


def sample_names(text: str) -> set[str]:
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}
