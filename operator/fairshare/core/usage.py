"""Usage and spend as pure functions: decayed GPU-hours (half-life) and credits metered per job and tenant."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from fairshare.core.types import Job, JobPhase


def decay_factor(elapsed_hours: float, half_life_hours: float) -> float:
    """How much of past usage survives `elapsed_hours`: 2^(-elapsed / half-life)."""
    return float(0.5 ** (max(0.0, elapsed_hours) / half_life_hours))


def decay_usage(decayed_gpu_hours: float, gpus_in_use: float, elapsed_hours: float, half_life_hours: float) -> float:
    """Decayed usage after holding `gpus_in_use` GPUs for `elapsed_hours`.

    Exact for a constant number of GPUs over the interval, so the result does not depend on how often the
    operator calls it: the old usage decays, and each moment's use decays from when it happened.
    """
    factor = decay_factor(elapsed_hours, half_life_hours)
    fresh = gpus_in_use * half_life_hours / math.log(2.0) * (1.0 - factor)
    return decayed_gpu_hours * factor + fresh


def spend(gpus: float, price_per_gpu_hour: float, elapsed_hours: float) -> float:
    """Credits for holding `gpus` GPUs at a price for a while: allocation x price x elapsed hours."""
    return gpus * price_per_gpu_hour * max(0.0, elapsed_hours)


def job_gpus(job: Job) -> int:
    """GPUs a job holds right now (0 unless it is running): a terminal job is never charged again."""
    if job.phase is not JobPhase.RUNNING or job.allocation is None:
        return 0
    return job.allocation.workers * job.gpus_per_worker


def tenant_spend(jobs: Iterable[Job], charges: Mapping[str, float], elapsed_hours: float) -> dict[str, float]:
    """Credits each tenant owes for an interval, from the jobs it ran and the prices of the last cycle's `charges`."""
    out: dict[str, float] = {}
    for job in jobs:
        gpus = job_gpus(job)
        price = charges.get(job.key)
        if gpus and price is not None:
            out[job.tenant] = out.get(job.tenant, 0.0) + spend(gpus, price, elapsed_hours)
    return out


def tenant_gpus(jobs: Iterable[Job]) -> dict[str, int]:
    """GPUs each tenant holds right now, for decay_usage."""
    out: dict[str, int] = {}
    for job in jobs:
        gpus = job_gpus(job)
        if gpus:
            out[job.tenant] = out.get(job.tenant, 0) + gpus
    return out
