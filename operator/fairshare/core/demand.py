"""Steps 2-3 inputs: what each tenant wants (per class and in total), what a GPU of each class is worth to it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fairshare.core.cycle import ClassState, Cycle, TenantState, informative
from fairshare.core.fairshare import Claim, usage_discounted_weights
from fairshare.core.market import Market
from fairshare.core.throughput import Curves, normalized_speeds
from fairshare.core.types import GPUClass

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Demand:
    """Tenants in the market (rows) x classes (columns, in cycle order).

    - gpus[t, g]: GPUs tenant t could use on class g (every job that accepts g, at its largest size).
    - value[t, g]: the same, weighted by each job's normalised speed on g (value / gpus = utility per GPU).
    - total[t]: GPUs its jobs want in all (a job runs on one class); list_value[t]: that, priced at the dearest
      class each job accepts (what the tenant could usefully be entitled to, in credits per hour).
    None of these reads where a job runs: moving a job (admitting, preempting) leaves every tenant's demand, and so
    its entitlement and the prices, as they were; fair-sharing preemption then aims at a target its own moves do not
    shift.
    """

    tenants: list[str]
    gpus: Array
    value: Array
    total: Array
    list_value: Array


def _in_market(ts: TenantState) -> bool:
    return ts.known and not ts.tenant.budget_exhausted


def tenant_demands(cycle: Cycle) -> Demand:
    """Each tenant's demand: every job, pending or running, wants max_workers x gpus on every class it accepts.

    Budget-exhausted and unknown tenants want nothing in the market: they run only on idle capacity.
    """
    classes = list(cycle.classes.values())
    width = len(classes)
    column = {cs.name: j for j, cs in enumerate(classes)}
    by_name = {cs.name: cs.gpu_class for cs in classes}
    names = [name for name, ts in cycle.tenants.items() if _in_market(ts)]
    row = {name: i for i, name in enumerate(names)}
    gpus = [[0.0] * width for _ in names]
    value = [[0.0] * width for _ in names]
    total = [0.0] * len(names)
    list_value = [0.0] * len(names)
    # Speeds over all classes per set of acceptable classes, for jobs without informative throughput (which the
    # index already summed per tenant and set of classes).
    vectors: dict[tuple[ClassState, ...], tuple[list[float], float]] = {}

    def prior(options: tuple[ClassState, ...]) -> tuple[list[float], float]:
        known = vectors.get(options)
        if known is None:
            known = vectors[options] = (_spread(options, _speeds(options, None, 1, by_name), column),
                                        max(c.list_price for c in options))
        return known

    def add(tenant_row: int, count: float, speed: list[float], top: float) -> None:
        gpu_row, value_row = gpus[tenant_row], value[tenant_row]
        for g in range(width):
            s = speed[g]
            if s > 0.0:
                gpu_row[g] += count
                value_row[g] += count * s
        total[tenant_row] += count
        list_value[tenant_row] += count * top

    for name in names:
        for options, count in cycle.tenants[name].wants.items():
            if options:
                vector, top = prior(options)
                add(row[name], float(count), vector, top)
    for p in cycle.measured:
        if p.tenant.name in row and p.options:
            vector = _spread(p.options, _speeds(p.options, p.curves, p.workers, by_name), column)
            add(row[p.tenant.name], float(p.job.max_workers * p.gpw), vector, max(c.list_price for c in p.options))
    # A running job bids as it would waiting: on every class it accepts. Demand, and so prices and entitlements,
    # then depend on what the tenants want, not on where their jobs happen to run; otherwise moving a job (a
    # preemption for fair share) would move the prices that judge the next move, and GPUs could go back and forth.
    for run in cycle.running:
        if run.tenant.name not in row or run.preempted is not None:
            continue
        options = tuple(c for c in classes if run.job.accepts(c.name)) or (run.cls,)
        if run.cls not in options:
            options = (*options, run.cls)
        curves = informative(cycle.curves.get(run.job.key))
        if curves is None:
            vector, top = prior(options)
        else:
            vector = _spread(options, _speeds(options, curves, max(1, len(run.nodes)), by_name), column)
            top = max(c.list_price for c in options)
        add(row[run.tenant.name], float(run.job.max_workers * run.gpw), vector, top)
    shape = (len(names), width)
    return Demand(names, np.array(gpus, dtype=np.float64).reshape(shape),
                  np.array(value, dtype=np.float64).reshape(shape), np.array(total, dtype=np.float64),
                  np.array(list_value, dtype=np.float64))


def _speeds(options: tuple[ClassState, ...], curves: Curves | None, workers: int,
            by_name: dict[str, GPUClass]) -> list[float]:
    return normalized_speeds(curves, [c.gpu_class for c in options], workers, by_name)


def _spread(options: tuple[ClassState, ...], speeds: list[float], column: dict[str, int]) -> list[float]:
    """Speeds over all classes (0 where the job does not run); a class a job accepts keeps a tiny positive speed
    so that it still counts as demand there."""
    out = [0.0] * len(column)
    for cs, r in zip(options, speeds, strict=True):
        out[column[cs.name]] = max(r, 1e-12)
    return out


def _per_class(cycle: Cycle, names: list[str], read: str) -> Array:
    """tenant x class matrix of guarantees ("guarantee") or guarantee + borrowing limit ("limit", inf = none)."""
    classes = [cs.name for cs in cycle.classes.values()]
    rows = [[cycle.tenants[name].tenant.guarantee(c) if read == "guarantee" else cycle.tenants[name].tenant.limit(c)
             for c in classes] for name in names]
    return np.array(rows, dtype=np.float64).reshape(len(names), len(classes))


def claims(cycle: Cycle, demand: Demand) -> dict[str, Claim]:
    """Each tenant's claim in credits per hour at list prices: guarantee, demand, limit; weight discounted by usage."""
    names = demand.tenants
    raw = [cycle.tenants[n].tenant.weight for n in names]
    usage = [cycle.tenants[n].tenant.decayed_usage_gpu_hours for n in names]
    full_usage = sum(cs.capacity for cs in cycle.classes.values()) * cycle.config.half_life_hours
    weights = usage_discounted_weights(raw, usage, full_usage) if cycle.config.usage_discount else raw
    classes = [(cs.name, cs.list_price) for cs in cycle.classes.values()]
    gpus: list[list[float]] = demand.gpus.tolist()
    list_value: list[float] = demand.list_value.tolist()
    out: dict[str, Claim] = {}
    for i, name in enumerate(names):
        tenant = cycle.tenants[name].tenant
        wanted = gpus[i]
        guarantee = limit = 0.0
        for g, (cls, price) in enumerate(classes):
            guarantee += min(float(tenant.guarantee(cls)), wanted[g]) * price
            limit += min(tenant.limit(cls), wanted[g]) * price
        out[name] = Claim(weight=weights[i], guarantee=min(guarantee, list_value[i]), demand=list_value[i],
                          limit=limit)
    return out


def market(cycle: Cycle, demand: Demand, budgets: dict[str, float]) -> tuple[list[str], Market]:
    """The market of this cycle: buyers are tenants with a budget and demand, goods are the classes."""
    keep = [i for i, n in enumerate(demand.tenants) if budgets.get(n, 0.0) > 0 and demand.total[i] > 0]
    names = [demand.tenants[i] for i in keep]
    classes = list(cycle.classes.values())
    gpus, value = demand.gpus[keep], demand.value[keep]
    utilities = np.divide(value, gpus, out=np.zeros_like(value), where=gpus > 0)
    return names, Market(
        budgets=np.array([budgets[n] for n in names], dtype=np.float64),
        utilities=utilities,
        caps=np.minimum(gpus, _per_class(cycle, names, "limit")),
        quantities=demand.total[keep].astype(np.float64),
        supply=np.array([float(cs.capacity) for cs in classes], dtype=np.float64),
        floors=np.array([cs.floor for cs in classes], dtype=np.float64),
    )


def capacity_value(cycle: Cycle) -> float:
    """The whole cluster in credits per hour at list prices: what entitlements divide."""
    return math.fsum(cs.capacity * cs.list_price for cs in cycle.classes.values())
