"""Parsing a trainer's /metrics text and reading real trainer metrics servers over HTTP."""

from __future__ import annotations

import math

import pytest
import torch
from fairshare_trainer.metrics import TrainerMetrics
from prometheus_client import generate_latest

from fairshare.feedback.readings import Target, rank_zero_values, reading_from_values
from fairshare.feedback.scrape import ScrapeSource
from fairshare.localcluster.processes import free_port

TARGET = Target("nlp/bert", 3, "a100", 2, admitted_at=0.0, endpoint=None)


def trainer_metrics(rank: int, samples_per_second: float) -> TrainerMetrics:
    metrics = TrainerMetrics("nlp/bert", "a100", rank, torch.device("cpu"), clock=lambda: 1000.0)
    metrics.observe_start(world_size=4, model_parameters=10, step=7, total_steps=100)
    metrics.observe_step(step=8, samples=64, samples_per_second=samples_per_second, tokens_per_second=1.0, loss=2.0)
    return metrics


def test_rank_zero_series_is_read_from_the_trainers_real_exposition() -> None:
    text = generate_latest(trainer_metrics(0, 321.0).registry).decode()
    reading = reading_from_values(TARGET, rank_zero_values(text), observed_at=50.0)
    assert reading is not None
    assert (reading.samples_per_second, reading.step, reading.total_steps, reading.world_size, reading.gpu_class,
            reading.last_checkpoint_step, reading.generation) == (321.0, 8.0, 100.0, 4, "a100", -1.0, 3)


@pytest.mark.parametrize("samples_per_second", [0.0, math.nan])
def test_no_reading_before_the_trainer_has_a_throughput(samples_per_second: float) -> None:
    text = generate_latest(trainer_metrics(0, samples_per_second).registry).decode()
    assert reading_from_values(TARGET, rank_zero_values(text), observed_at=50.0) is None


def test_scrape_reads_live_trainer_servers_and_counts_the_ones_that_do_not_answer() -> None:
    live = trainer_metrics(0, 55.5)
    port = free_port()
    live.serve(port, "127.0.0.1")
    try:
        targets = [Target("nlp/bert", 3, "a100", 2, 0.0, f"127.0.0.1:{port}"),
                   Target("nlp/gone", 1, "a100", 1, 0.0, f"127.0.0.1:{free_port()}"),
                   Target("nlp/unknown", 1, "a100", 1, 0.0, None)]
        readings, failures = ScrapeSource(timeout_seconds=2.0, clock=lambda: 99.0).read(targets)
    finally:
        live.close()
    assert [(r.job_key, r.samples_per_second, r.observed_at) for r in readings] == [("nlp/bert", 55.5, 99.0)]
    assert failures == 2
