"""A TrainingJob's cost: price x GPUs x hours since it was last charged, written now and then and on release.

A running job is charged every `accrual_interval` seconds, at the price the core says it pays (`charges`), and
once more in the status patch that releases its GPUs (finished, failed, preempted, resized, moved, requeued), at
the price it was last charged. Each periodic charge also brings `allocation.pricePerGPUHour` (the price the job
pays now, a printer column) up to date. A gang is charged only once every worker runs: while it is Admitted (pods
starting, or stuck and never started) its GPUs count in its tenant's usage and share but cost nothing, and the
Running transition starts its charge afresh (`accruedAt`). `accruedAt` makes every charge idempotent: the next one
covers only the time after it, and a write that loses its race is redone from the same start by the next cycle.
The part of the credits in the tenant's current budget period (`periodCredits`) is what the tenant's spend sums
(control/ledger.py; the arithmetic is core/ledger.py's).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fairshare.api import CostStatus, Phase
from fairshare.api import Tenant as TenantCR
from fairshare.api.base import wire_names
from fairshare.api.tenant import DEFAULT_PERIOD_HOURS
from fairshare.control import conditions as cond
from fairshare.control.podstate import ran_since
from fairshare.control.snapshot import JobView, World
from fairshare.core.ledger import JobCharges, Rate, charge, period_start

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


def gang_ran_since(view: JobView) -> float | None:
    """Rule: a gang the operator never saw Running (its pods started and ended between two cycles) still ran, from
    when its last worker's containers started (their own `startedAt`), never before its admission (a node's clock
    may be wrong); None unless every worker of its allocation started."""
    alloc = view.model.status.allocation if view.model and view.model.status else None
    pods = view.current_pods()
    if alloc is None or not pods or len(pods) != (alloc.workers or 0):
        return None
    starts = [ran_since(p) for p in pods]
    if any(s is None for s in starts):
        return None
    admitted = alloc.admitted_at.timestamp() if alloc.admitted_at else None
    return max([s for s in starts if s is not None] + ([admitted] if admitted is not None else []))


def seconds_uncharged(view: JobView, now: float) -> float | None:
    """Seconds its current allocation has held GPUs since it was last charged (admitted, if never); None if none."""
    status = view.model.status if view.model else None
    alloc = status.allocation if status else None
    if status is None or alloc is None:
        return None
    since = status.cost.accrued_at if status.cost and status.cost.accrued_at else alloc.admitted_at
    return None if since is None else max(0.0, now - since.timestamp())


def budget_period(tenant: TenantCR | None, now: float) -> float | None:
    """Start of the tenant's current budget period: periods of spec.budget.periodHours (720 without a budget)
    counted from status.periodStart, or from the Tenant's creation until one is written; None without a Tenant."""
    if tenant is None:
        return None
    status = tenant.status
    anchor = (status.period_start if status and status.period_start else tenant.metadata.creation_timestamp)
    hours = tenant.spec.budget.period_hours if tenant.spec.budget else DEFAULT_PERIOD_HOURS
    return period_start(anchor.timestamp() if anchor else now, hours, now)


def _seconds(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def recorded(view: JobView) -> JobCharges:
    """What the job's status records of its charges (all zero before the first)."""
    status = view.model.status if view.model else None
    return charges_of(status.cost if status else None)


def charges_of(c: CostStatus | None) -> JobCharges:
    """What a `status.cost` records of a job's charges (all zero without one)."""
    if c is None:
        return JobCharges()
    return JobCharges(c.credits or 0.0, c.gpu_hours or 0.0, c.energy_kwh or 0.0, _seconds(c.period_start),
                      c.period_credits or 0.0, _seconds(c.accrued_at))


def cost_status(charges: JobCharges) -> dict[str, Any]:
    """The job's `status.cost` as written."""
    out = CostStatus.merge_patch(credits=round(charges.credits, 6), gpu_hours=round(charges.gpu_hours, 6),
                                 energy_kwh=round(charges.energy_kwh, 6),
                                 period_credits=round(charges.period_credits, 6))
    if charges.charged_through is not None:
        out.update(CostStatus.merge_patch(accrued_at=cond.rfc3339(charges.charged_through)))
    if charges.period_start is not None:
        out.update(CostStatus.merge_patch(period_start=cond.rfc3339(charges.period_start)))
    return out


def from_cost_status(cost: Mapping[str, Any]) -> JobCharges:
    """JobCharges from a `status.cost` as written (cost_status), e.g. one this cycle is about to write; a value that is
    not of its type (a stored status written around the CRD schema) counts as absent."""
    def when(key: str) -> float | None:
        value = cost.get(wire_names(CostStatus)[key])
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if isinstance(value, str) else None

    def number(key: str) -> float:
        value = cost.get(wire_names(CostStatus)[key])
        return float(value) if isinstance(value, int | float) else 0.0

    return JobCharges(number("credits"), number("gpu_hours"), number("energy_kwh"), when("period_start"),
                      number("period_credits"), when("accrued_at"))


def charged_through(view: JobView, world: World, now: float, price: float,
                    releasing: bool = False, since: float | None = None) -> dict[str, Any] | None:
    """The job's `status.cost` with its allocation charged up to `now` (to the whole second, core.ledger.charge) at
    `price`, its credits since the start of its tenant's budget period counted in that period; None if it holds no
    allocation. A `releasing` charge (the allocation's last) runs to the next whole second
    (core.ledger.release_mark). `since`: charge from then instead of from the last charge (gang_ran_since)."""
    seconds = seconds_uncharged(view, now)
    if seconds is not None and since is not None:
        seconds = max(0.0, now - since)
    if seconds is None or view.model is None or view.model.status is None:
        return None
    alloc = view.model.status.allocation
    assert alloc is not None
    gpu_class = world.gpu_classes.get(alloc.gpu_class or "")
    watts = gpu_class.spec.power_watts if gpu_class is not None else 0.0
    period = budget_period(world.tenants.get(view.tenant or ""), now)
    before = recorded(view)
    if period is None:  # no Tenant to charge it to (it is being requeued): its period figure stays as it was
        period = before.period_start if before.period_start is not None else now
    charges = charge(before, now - seconds, now, Rate(alloc.gpus or 0, price, watts), period, releasing)
    return cost_status(charges)


def final_charge(view: JobView, world: World, now: float) -> dict[str, Any] | None:
    """For the patch that releases the job's GPUs: its allocation charged up to now at the price it last paid;
    None if nothing is left to charge (nothing since the last charge, or a gang that never ran). A gang released
    before the operator saw it Running is charged from when its workers' containers started, if they all did."""
    if not charged_phase(view):
        started = gang_ran_since(view)
        if started is None:
            return None
        return charged_through(view, world, now, last_price(view), releasing=True, since=started)
    if not seconds_uncharged(view, now):
        return None
    return charged_through(view, world, now, last_price(view), releasing=True)
