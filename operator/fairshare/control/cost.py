"""A TrainingJob's cost: price x GPUs x hours since it was last charged, written now and then and on release.

A running job is charged every `accrual_interval` seconds, at the price the core says it pays (`charges`), and
once more in the status patch that releases its GPUs (finished, failed, preempted, resized, moved, requeued), at
the price it was last charged. Each periodic charge also brings `allocation.pricePerGPUHour` (the price the job
pays now, a printer column) up to date. A gang is charged only once every worker runs: while it is Admitted (pods
starting, or stuck and never started) its GPUs count in its tenant's usage and share but cost nothing, and the
Running transition starts its charge afresh (`accruedAt`). `accruedAt` makes every charge idempotent: the next one
covers only the time after it, and a write that loses its race is redone from the same start by the next cycle.
"""

from __future__ import annotations

from typing import Any

from fairshare.api import Phase
from fairshare.control import conditions as cond
from fairshare.control.snapshot import JobView, World

ACCRUAL_MIN_SECONDS = 30.0  # charge a running job at most this often
# Over all running jobs, at most about this many periodic cost writes a second: with more running jobs than
# ACCRUAL_MIN_SECONDS x this, each is charged less often (2,000 jobs: every 400 s). Releases are charged anyway.
ACCRUAL_WRITES_PER_SECOND = 5.0


def accrual_interval(running_jobs: int) -> float:
    """Seconds between two periodic charges of one running job, when `running_jobs` jobs hold GPUs."""
    return max(ACCRUAL_MIN_SECONDS, running_jobs / ACCRUAL_WRITES_PER_SECOND)


def last_price(view: JobView) -> float:
    """The price per GPU-hour the job was last charged (or admitted at): its `allocation.pricePerGPUHour`."""
    alloc = view.model.status.allocation if view.model and view.model.status else None
    return (alloc.price_per_gpu_hour or 0.0) if alloc is not None else 0.0


def charged_phase(view: JobView) -> bool:
    """Rule: a job pays for its GPUs from when every worker runs (Running), not while its gang is starting
    (Admitted): a user does not pay for pods that never ran."""
    return view.phase is not Phase.ADMITTED


def seconds_uncharged(view: JobView, now: float) -> float | None:
    """Seconds its current allocation has held GPUs since it was last charged (admitted, if never); None if none."""
    status = view.model.status if view.model else None
    alloc = status.allocation if status else None
    if status is None or alloc is None:
        return None
    since = status.cost.accrued_at if status.cost and status.cost.accrued_at else alloc.admitted_at
    return None if since is None else max(0.0, now - since.timestamp())


def charged_through(view: JobView, world: World, now: float, price: float) -> dict[str, Any] | None:
    """The job's `status.cost` with its allocation charged up to `now` at `price`; None if it holds no allocation."""
    seconds = seconds_uncharged(view, now)
    if seconds is None or view.model is None or view.model.status is None:
        return None
    alloc = view.model.status.allocation
    assert alloc is not None
    cost = view.model.status.cost
    hours = seconds / 3600.0
    gpus = alloc.gpus or 0
    gpu_class = world.gpu_classes.get(alloc.gpu_class or "")
    watts = gpu_class.spec.power_watts if gpu_class is not None else 0.0

    def plus(before: float | None, amount: float) -> float:
        return round((before or 0.0) + amount, 6)

    return {"credits": plus(cost.credits if cost else None, price * gpus * hours),
            "gpuHours": plus(cost.gpu_hours if cost else None, gpus * hours),
            "energyKWh": plus(cost.energy_kwh if cost else None, gpus * watts * hours / 1000.0),
            "accruedAt": cond.rfc3339(now)}


def final_charge(view: JobView, world: World, now: float) -> dict[str, Any] | None:
    """For the patch that releases the job's GPUs: its allocation charged up to now at the price it last paid;
    None if nothing is left to charge (nothing since the last charge, or a gang that never ran)."""
    if not charged_phase(view) or not seconds_uncharged(view, now):
        return None
    return charged_through(view, world, now, last_price(view))
