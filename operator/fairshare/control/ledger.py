"""A Tenant's spend this period, summed from its jobs' charges (core/ledger.py) as this cycle leaves them.

The jobs' charges are read from their statuses, or taken from this cycle's own cost writes (a release or a periodic
charge), so that the Tenant's figure is written in the same cycle as the charge: a job deleted right after its last
charge keeps it. A job deleted while it ran is charged once more, from its last body (the store's tombstone), up to
when the operator saw it gone (departed_charges). Jobs are told apart by UID, so a job deleted and created again under
the same name is another job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fairshare.api import LedgerStatus, Phase, SpecError, TenantStatus, TrainingJobStatus, parse_model
from fairshare.api import Tenant as TenantCR
from fairshare.control import conditions as cond
from fairshare.control import cost
from fairshare.control.actions import Action, PatchStatus
from fairshare.control.snapshot import World
from fairshare.control.store import TRAINING_JOBS
from fairshare.core.ledger import (
    CLOSED_GRACE_SECONDS,
    Foreign,
    JobCharges,
    Rate,
    TenantLedger,
    departure_charge,
    post,
)


def planned_costs(actions: Iterable[Action]) -> dict[str, dict[str, Any]]:
    """Job key -> the `status.cost` this cycle writes for it (its last, when it writes more than one)."""
    out: dict[str, dict[str, Any]] = {}
    for action in actions:
        if isinstance(action, PatchStatus) and action.kind == TRAINING_JOBS and isinstance(
                action.status.get("cost"), dict) and "credits" in action.status["cost"]:
            out[action.key] = action.status["cost"]
    return out


def stored(tenant: TenantCR) -> TenantLedger | None:
    """The ledger the Tenant's status holds, for the period its periodStart names; None before the first. A status
    written before there was a ledger carries its spend over as the deleted jobs' part (its jobs' charges in the
    period were not recorded apart; they count from now on)."""
    status = tenant.status
    if status is None or status.period_start is None:
        return None
    if status.ledger is None:
        return TenantLedger(status.period_start.timestamp(), status.spend_this_period or 0.0, {})
    book = status.ledger
    through = book.foreign_charged_through
    return TenantLedger(status.period_start.timestamp(), book.closed_credits or 0.0, dict(book.jobs),
                        {uid: at.timestamp() for uid, at in book.closed_at.items()},
                        through.timestamp() if through is not None else None,
                        {uid: at.timestamp() for uid, at in book.final_charged_through.items()})


def job_charges(world: World, planned: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, JobCharges]]:
    """Tenant -> UID -> charges of every job it has now (a job without a UID, as in a test's world, by its key)."""
    out: dict[str, dict[str, JobCharges]] = {}
    for key, view in world.jobs.items():
        if view.tenant is None:
            continue
        uid = str(view.body.get("metadata", {}).get("uid") or key)
        charges = cost.from_cost_status(planned[key]) if key in planned else cost.recorded(view)
        out.setdefault(view.tenant, {})[uid] = charges
    return out


def departed_charges(world: World, now: float) -> dict[str, dict[str, JobCharges]]:
    """Tenant -> UID -> charges of each TrainingJob deleted lately (World.departed), as its last body records them
    plus, if it was Running, its allocation charged from its last mark (or admission) up to when the operator saw it
    gone, at the price it last paid (core.ledger.departure_charge). A body whose status does not parse, whose
    namespace no Tenant holds now, or seen gone longer than the ledger's grace ago (its entry may be folded into
    `closed` since, and would be counted again), is left out."""
    out: dict[str, dict[str, JobCharges]] = {}
    for body, gone in world.departed:
        if now - gone >= CLOSED_GRACE_SECONDS:
            continue
        meta = body.get("metadata") or {}
        name = world.namespace_tenant.get(str(meta.get("namespace") or ""))
        tenant = world.tenants.get(name or "")
        uid = str(meta.get("uid") or "")
        book = tenant.status.ledger if tenant is not None and tenant.status else None
        if name is None or tenant is None or not uid or (book is not None and uid in book.final_charged_through):
            continue  # (an entry final already takes nothing more: core.ledger.final_entries; not parsed again)
        try:
            status = parse_model(TrainingJobStatus, body.get("status") or {})
        except SpecError:
            continue
        period = cost.budget_period(tenant, now)
        assert period is not None
        alloc = status.allocation
        since = None
        if alloc is not None and status.phase is Phase.RUNNING:
            mark = status.cost.accrued_at if status.cost and status.cost.accrued_at else alloc.admitted_at
            since = mark.timestamp() if mark is not None else None
        rate = Rate(0, 0.0)
        if alloc is not None:
            gpu_class = world.gpu_classes.get(alloc.gpu_class or "")
            rate = Rate(alloc.gpus or 0, alloc.price_per_gpu_hour or 0.0,
                        gpu_class.spec.power_watts if gpu_class is not None else 0.0)
        out.setdefault(name, {})[uid] = departure_charge(cost.charges_of(status.cost), since, gone, rate, period)
    return out


def tenant_ledger(tenant: TenantCR, charges: Mapping[str, JobCharges], now: float,
                  foreign: Foreign | None = None, departed: Mapping[str, JobCharges] | None = None) -> TenantLedger:
    """The Tenant's ledger once this cycle's charges land (`charges`: its entry of job_charges; `foreign`: its
    foreign pods, and whether they are charged now; `departed`: its entry of departed_charges), in its current
    budget period (cost.budget_period)."""
    period = cost.budget_period(tenant, now)
    assert period is not None
    return post(stored(tenant), period, charges, now, foreign, departed=departed)


def foreign_due(tenant: TenantCR, now: float) -> bool:
    """Rule: a tenant's foreign pods are charged every cost.ACCRUAL_MIN_SECONDS (and the mark set at the first post)."""
    book = stored(tenant)
    return book is None or book.foreign_through is None or now - book.foreign_through >= cost.ACCRUAL_MIN_SECONDS


def ledger_status(ledger: TenantLedger, tenant: TenantCR) -> dict[str, Any]:
    """The status fields the ledger sets, as a merge patch (an entry, or a closing time, that left is sent as
    null)."""
    book = tenant.status.ledger if tenant.status else None
    jobs: dict[str, Any] = {uid: None for uid in (book.jobs if book else {}) if uid not in ledger.jobs}
    jobs.update({uid: round(v, 6) for uid, v in ledger.jobs.items()})
    closed_at: dict[str, Any] = {uid: None for uid in (book.closed_at if book else {}) if uid not in ledger.closed_at}
    closed_at.update({uid: cond.rfc3339(t) for uid, t in ledger.closed_at.items()})
    out = LedgerStatus.merge_patch(closed_credits=round(ledger.closed, 6), jobs=jobs)
    if closed_at:
        out.update(LedgerStatus.merge_patch(closed_at=closed_at))
    final: dict[str, Any] = {uid: None for uid in (book.final_charged_through if book else {})
                             if uid not in ledger.final}
    final.update({uid: cond.rfc3339(t) for uid, t in ledger.final.items()})
    if final:
        out.update(LedgerStatus.merge_patch(final_charged_through=final))
    if ledger.foreign_through is not None:
        out.update(LedgerStatus.merge_patch(foreign_charged_through=cond.rfc3339(ledger.foreign_through)))
    elif book is not None and book.foreign_charged_through is not None:
        out.update(LedgerStatus.merge_patch(foreign_charged_through=None))
    return TenantStatus.merge_patch(spend_this_period=round(ledger.spend, 6), ledger=out)


def changed(ledger: TenantLedger, tenant: TenantCR) -> bool:
    """Whether the ledger differs from what the Tenant's status holds (to the 6 decimals and whole seconds written)."""
    was = stored(tenant)
    status = tenant.status
    if was is None or was.period_start != ledger.period_start or status is None or status.ledger is None:
        return True

    def whole(times: Mapping[str, float]) -> dict[str, int]:
        return {k: int(v) for k, v in times.items()}

    return (round(was.closed, 6) != round(ledger.closed, 6)
            or {k: round(v, 6) for k, v in was.jobs.items()} != {k: round(v, 6) for k, v in ledger.jobs.items()}
            or whole(was.closed_at) != whole(ledger.closed_at)
            or whole(was.final) != whole(ledger.final)
            or (None if was.foreign_through is None else int(was.foreign_through))
            != (None if ledger.foreign_through is None else int(ledger.foreign_through))
            or status.spend_this_period is None
            or round(status.spend_this_period, 6) != round(ledger.spend, 6))
