"""What one replay of one policy records: per-job outcomes, a timeline of holdings, and totals."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class JobOutcome:
    """One job's life in simulated seconds; `finish_s` is None when the run ended before the job did."""

    key: str
    tenant: str
    gpus: int
    arrival_s: float
    first_start_s: float | None
    finish_s: float | None
    isolated_s: float
    preemptions: int
    resizes: int

    @property
    def jct_s(self) -> float | None:
        return None if self.finish_s is None else self.finish_s - self.arrival_s


@dataclasses.dataclass(frozen=True)
class Sample:
    """Holdings from time `t` until the next sample: GPUs by class and by tenant, tenant demand, class prices."""

    t: float
    held_by_class: Mapping[str, int]
    held_by_tenant: Mapping[str, int]
    demand_by_tenant: Mapping[str, int]
    prices: Mapping[str, float]


@dataclasses.dataclass(frozen=True)
class RunResult:
    """A whole replay of one policy. Energy counts allocated GPUs only (idle GPUs are not metered)."""

    policy: str
    capacity: Mapping[str, int]
    weights: Mapping[str, float]
    jobs: tuple[JobOutcome, ...]
    timeline: tuple[Sample, ...]
    end_s: float
    gpu_seconds_by_class: Mapping[str, float]
    restart_gpu_seconds: float
    credits_by_tenant: Mapping[str, float]
    energy_joules: float
    cycles: int
    scheduler_wall_s: float
    wall_s: float
    violations: tuple[str, ...]
    # Applied Preempt decisions by their cause (PreemptCause, as the policy gave it); moves are not preemptions.
    preemptions_by_cause: Mapping[str, int] = dataclasses.field(default_factory=dict)
    # (time, class -> price) for every cycle the replay ran, in order: the prices CycleResult.prices set.
    cycle_prices: tuple[tuple[float, Mapping[str, float]], ...] = ()
