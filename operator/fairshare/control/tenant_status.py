"""Tenant status: holdings and fair share from the cycle's tallies, metered usage, spend this period, conditions."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from fairshare.api import Tenant as TenantCR
from fairshare.api import TenantStatus
from fairshare.control import conditions as cond
from fairshare.control import cost, ledger
from fairshare.control.actions import Action, PatchStatus
from fairshare.control.foreign import foreign_rates
from fairshare.control.namespaces import namespace_conflict, system_namespaces
from fairshare.control.snapshot import World
from fairshare.control.store import TENANTS
from fairshare.control.tallies import CycleTallies
from fairshare.core import types as core
from fairshare.core.ledger import Foreign
from fairshare.core.usage import decay_usage


@dataclasses.dataclass(frozen=True)
class TenantMeter:
    """A tenant's decayed usage brought up to `now`, integrated from `usageUpdatedAt` over the GPUs it held."""

    decayed_gpu_hours: float
    elapsed: float  # seconds integrated; 0 when the clock starts now


def meter(tenant: TenantCR, gpus_held: int, now: float, half_life_hours: float) -> TenantMeter:
    """Decayed GPU-hours, integrated over the GPUs the tenant held since the stored `usageUpdatedAt`. Integrating
    from the stored time makes it idempotent: a lost write is redone over the longer interval by the next cycle.
    (Spend is not metered here: it is the sum of the jobs' charges, control/ledger.py.)"""
    status = tenant.status
    usage = (status.decayed_usage_gpu_hours or 0.0) if status else 0.0
    since = status.usage_updated_at.timestamp() if status and status.usage_updated_at else None
    if since is None:
        return TenantMeter(usage, 0.0)
    elapsed = max(0.0, now - since)
    return TenantMeter(decay_usage(usage, gpus_held, elapsed / 3600.0, half_life_hours), elapsed)


def unknown_gpu_classes(world: World, tenant: TenantCR) -> str | None:
    """Keys of guaranteed and borrowingLimit that name no GPUClass count for nothing until the class exists."""
    unknown = [f"spec.guaranteed[{c}]" for c in sorted(tenant.spec.guaranteed) if c not in world.gpu_classes]
    unknown += [f"spec.borrowingLimit[{c}]" for c in sorted(tenant.spec.borrowing_limit or {})
                if c not in world.gpu_classes]
    if not unknown:
        return None
    names, count = ("names", "it counts") if len(unknown) == 1 else ("name", "they count")
    return (f"{', '.join(unknown)} {names} no GPUClass; {count} for nothing until such a class is created (check "
            f"the spelling against `kubectl get gpuclasses`)")


def tenant_conditions(world: World, name: str, tenant: TenantCR, now: float) -> list[dict[str, Any]]:
    current = [c.model_dump(mode="json", by_alias=True, exclude_none=True)
               for c in (tenant.status.conditions if tenant.status else [])]
    generation = tenant.metadata.generation
    conditions = cond.report(current, cond.CONFLICT, namespace_conflict(world.namespace_conflicts.get(name) or {}),
                             "NamespaceHeld",
                             "NoConflict", "every namespace in spec.namespaces belongs to this Tenant", now,
                             generation)
    conditions = cond.report(conditions, cond.UNKNOWN_GPU_CLASS, unknown_gpu_classes(world, tenant),
                             "NoSuchGPUClass", "AllClassesKnown",
                             "every class in spec.guaranteed and spec.borrowingLimit exists", now, generation)
    conditions = cond.report(conditions, cond.SYSTEM_NAMESPACE,
                             system_namespaces(world.system_namespace_claims.get(name) or (),
                                               world.protected_namespaces), "SystemNamespace",
                             "NoSystemNamespace", "spec.namespaces lists no system namespace", now, generation)
    return cond.ready_again(conditions, now, generation)


def share_ratio(tallies: CycleTallies, tenant: str) -> float | None:
    """The tenant's share ratio as its status shows it: the core's, to the two decimals the queue reasons quote (so
    the status changes only when the quoted figure does); None (no field) when the core has none for it or it is
    infinite (GPUs held at full price with no entitlement), which JSON cannot carry."""
    ratio = tallies.share_ratios.get(tenant)
    return round(ratio, 2) if ratio is not None and math.isfinite(ratio) else None


def merge_patch_map(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch turning map `current` into `desired`: removed keys become null."""
    return {**{k: None for k in current if k not in desired}, **desired}


def tenant_status_actions(world: World, snapshot: core.Snapshot, tallies: CycleTallies, now: float,
                          half_life_hours: float,
                          planned: Mapping[str, Mapping[str, Any]] | None = None) -> list[Action]:
    """Each Tenant's status: what it holds and its fair share (written when they change), its decayed usage (every
    cost.ACCRUAL_MIN_SECONDS), and its spend this period, the sum of its jobs' charges as this cycle leaves them
    (`planned`: job key -> the status.cost this cycle writes), and its deleted jobs' last charges
    (ledger.departed_charges), written in the cycle that charges them."""
    held = tallies.held
    holding: dict[str, int] = {}  # GPUs each tenant held during the interval that ends now (before decisions)
    for job in snapshot.jobs:
        if job.allocation is not None:
            holding[job.tenant] = holding.get(job.tenant, 0) + job.allocation.workers * job.gpus_per_worker
    for (name, _), gpus in sorted(tallies.foreign_held.items()):
        holding[name] = holding.get(name, 0) + gpus  # pods of its namespaces the operator did not create
    foreign = tallies.foreign_held
    rates = foreign_rates(world, tallies.prices)
    charges = ledger.job_charges(world, planned or {})
    departed = ledger.departed_charges(world, now)
    actions: list[Action] = []
    for name, tenant in sorted(world.tenants.items()):
        allocated = {c: v for (t, c), v in sorted(held.items()) if t == name and v}
        foreign_held = {c: v for (t, c), v in sorted(foreign.items()) if t == name and v}
        shares = {c: round(v, 3) for c, v in sorted((tallies.fair_shares.get(name) or {}).items())}
        status = tenant.status or TenantStatus()
        current = status.model_dump(by_alias=True, exclude_none=True)
        metered = meter(tenant, holding.get(name, 0), now, half_life_hours)
        book = ledger.tenant_ledger(tenant, charges.get(name, {}), now,
                                    Foreign(rates.get(name, {}), ledger.foreign_due(tenant, now)),
                                    departed.get(name))
        # Usage moves every cycle while GPUs are held: it is written at most every cost.ACCRUAL_MIN_SECONDS (or when
        # the clock starts), and otherwise with a change of the rest; spend is written whenever a charge moves it.
        due = metered.elapsed >= cost.ACCRUAL_MIN_SECONDS or status.usage_updated_at is None
        charged = ledger.changed(book, tenant)
        desired = TenantStatus.merge_patch(allocated=allocated, allocated_gpus=sum(allocated.values()),
                                           fair_share=shares)
        with_foreign = bool(foreign_held or status.foreign)
        if with_foreign:
            desired.update(TenantStatus.merge_patch(foreign=foreign_held))
        ratio = share_ratio(tallies, name)
        if ratio is not None or status.share_ratio is not None:
            desired.update(TenantStatus.merge_patch(share_ratio=ratio))  # null drops one the tenant no longer has
        conditions = tenant_conditions(world, name, tenant, now)
        if not cond.same_conditions(conditions, current.get("conditions") or []):
            desired.update(TenantStatus.merge_patch(conditions=conditions))
        if any(current.get(k) != v for k, v in desired.items()) or due or charged:
            if due:
                desired.update(TenantStatus.merge_patch(decayed_usage_gpu_hours=round(metered.decayed_gpu_hours, 6),
                                                        usage_updated_at=cond.rfc3339(now)))
            if due or charged:
                desired.update(ledger.ledger_status(book, tenant))
                desired.update(TenantStatus.merge_patch(period_start=cond.rfc3339(book.period_start)))
                if tenant.spec.budget:
                    desired.update(TenantStatus.merge_patch(
                        credits_left=round(tenant.spec.budget.credits_per_period - book.spend, 6)))
            # A merge patch merges maps: a class that dropped out must be sent as null to disappear.
            desired.update(TenantStatus.merge_patch(allocated=merge_patch_map(status.allocated, allocated),
                                                    fair_share=merge_patch_map(status.fair_share, shares)))
            if with_foreign:
                desired.update(TenantStatus.merge_patch(foreign=merge_patch_map(status.foreign, foreign_held)))
            actions.append(PatchStatus(TENANTS, name, desired, tenant.metadata.resource_version if due or charged
                                       else None))
    return actions
