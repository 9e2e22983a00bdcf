"""What the feedback loop reads: which trainer to ask (Target) and what it said (Reading), plus the text parser."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

TRAINER_PREFIX = "fairshare_trainer_"
# The trainer's gauges the loop uses (trainer_image/fairshare_trainer/metrics.py); job-wide on every rank.
SAMPLES_PER_SECOND = TRAINER_PREFIX + "samples_per_second"
STEP = TRAINER_PREFIX + "step"
TOTAL_STEPS = TRAINER_PREFIX + "total_steps"  # optional: with it, status.progress and an ETA
WORLD_SIZE = TRAINER_PREFIX + "world_size"
CHECKPOINT_AGE = TRAINER_PREFIX + "checkpoint_age_seconds"
LAST_CHECKPOINT_STEP = TRAINER_PREFIX + "last_checkpoint_step"
READ_METRICS = (SAMPLES_PER_SECOND, STEP, TOTAL_STEPS, WORLD_SIZE, CHECKPOINT_AGE, LAST_CHECKPOINT_STEP)


@dataclasses.dataclass(frozen=True)
class Target:
    """One running job's rank-0 trainer, as the last cycle saw it."""

    job_key: str  # namespace/name, also the trainer's `trainingjob` label
    generation: int  # allocation generation the pod belongs to
    gpu_class: str
    workers: int
    admitted_at: float  # unix time of the allocation: readings older than this plus a warm-up are ignored
    endpoint: str | None  # host:port of the rank-0 metrics server, when known
    smoothed: float | None = None  # the job's stored throughput at this class and size (what a jump is measured by)
    expected: float | None = None  # what its other measurements predict here (core.throughput.estimate), if any


@dataclasses.dataclass(frozen=True)
class Reading:
    """What a job's trainer reported at `observed_at`, for the allocation generation it was read for."""

    job_key: str
    generation: int
    gpu_class: str | None  # the trainer's own gpu_class label, when it has one
    samples_per_second: float
    observed_at: float
    step: float | None = None
    total_steps: float | None = None
    world_size: int | None = None
    checkpoint_age_seconds: float | None = None
    last_checkpoint_step: float | None = None


def rank_zero_values(text: str) -> dict[str, tuple[float, dict[str, str]]]:
    """Metric name -> (value, labels) of the rank-0 series (or the only series) in Prometheus text exposition."""
    values: dict[str, tuple[float, dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name not in READ_METRICS:
                continue
            rank = sample.labels.get("rank", "0")
            if rank == "0" or sample.name not in values:
                values[sample.name] = (float(sample.value), dict(sample.labels))
    return values


def reading_from_values(target: Target, values: Mapping[str, tuple[float, Mapping[str, str]]],
                        observed_at: float) -> Reading | None:
    """A Reading when the trainer reported a finite positive samples/s, else None (still warming up, or broken)."""
    sps = values.get(SAMPLES_PER_SECOND)
    if sps is None or not math.isfinite(sps[0]) or sps[0] <= 0:
        return None

    def number(name: str) -> float | None:
        found = values.get(name)
        return found[0] if found is not None and math.isfinite(found[0]) else None

    world = number(WORLD_SIZE)
    return Reading(job_key=target.job_key, generation=target.generation, gpu_class=sps[1].get("gpu_class") or None,
                   samples_per_second=sps[0], observed_at=observed_at, step=number(STEP),
                   total_steps=number(TOTAL_STEPS),
                   world_size=int(world) if world is not None else None,
                   checkpoint_age_seconds=number(CHECKPOINT_AGE), last_checkpoint_step=number(LAST_CHECKPOINT_STEP))
