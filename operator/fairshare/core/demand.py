"""Steps 2-3 inputs: what each tenant wants (per class and in total), what a GPU of each class is worth to it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fairshare.core.fairshare import Claim, usage_discounted_weights
from fairshare.core.index import ClassState, Cycle, TenantState, informative
from fairshare.core.market import Market
from fairshare.core.throughput import Curves, normalized_speeds
from fairshare.core.types import GPUClass


@dataclass(slots=True)
class TenantDemand:
    """Demand of one tenant: GPUs per class it could use, value-weighted speeds, total GPUs, value at list prices."""

    per_class: dict[str, float] = field(default_factory=dict)
    speed_sum: dict[str, float] = field(default_factory=dict)
    total: float = 0.0
    list_value: float = 0.0


def _speeds(
    options: tuple[ClassState, ...], curves: Curves | None, workers: int, by_name: dict[str, GPUClass]
) -> list[float]:
    return normalized_speeds(curves, [c.gpu_class for c in options], workers, by_name)


def tenant_demands(cycle: Cycle) -> dict[str, TenantDemand]:
    """Each tenant's demand: a pending job wants max_workers x gpus on every class it accepts, a running job on its own.

    Budget-exhausted and unknown tenants want nothing in the market: they run only on idle capacity.
    """
    out = {name: TenantDemand() for name, ts in cycle.tenants.items() if _in_market(ts)}
    by_name = {name: cs.gpu_class for name, cs in cycle.classes.items()}
    # Jobs without informative measurements share one speed vector per set of acceptable classes, so the index
    # summed them per tenant and set; only the measured ones are looked at one by one.
    prior: dict[tuple[ClassState, ...], list[float]] = {}
    for name, d in out.items():
        for options, gpus in cycle.tenants[name].wants.items():
            if not options:
                continue
            if options not in prior:
                prior[options] = _speeds(options, None, 1, by_name)
            want = float(gpus)
            d.total += want
            d.list_value += want * max(c.list_price for c in options)
            for cs, r in zip(options, prior[options], strict=True):
                _add(d, cs.name, want, r)
    for p in cycle.measured:
        measured = out.get(p.tenant.name)
        if measured is None or not p.options:
            continue
        d = measured
        want = float(p.job.max_workers * p.gpw)
        d.total += want
        d.list_value += want * max(c.list_price for c in p.options)
        for cs, r in zip(p.options, _speeds(p.options, p.curves, p.workers, by_name), strict=True):
            _add(d, cs.name, want, r)
    run_options: dict[tuple[str, ...], tuple[ClassState, ...]] = {}
    for run in cycle.running:
        running = out.get(run.tenant.name)
        if running is None or run.preempted is not None:
            continue
        d = running
        want = float(run.job.max_workers * run.gpw)
        d.total += want
        d.list_value += want * run.cls.list_price
        if run.job.gpu_classes not in run_options:
            run_options[run.job.gpu_classes] = tuple(c for c in cycle.classes.values() if run.job.accepts(c.name))
        options = run_options[run.job.gpu_classes]
        if run.cls not in options:
            options = (*options, run.cls)
        curves = informative(cycle.curves.get(run.job.key))
        if curves is None and options not in prior:
            prior[options] = _speeds(options, None, 1, by_name)
        speeds = prior[options] if curves is None else _speeds(options, curves, max(1, len(run.nodes)), by_name)
        _add(d, run.cls.name, want, speeds[options.index(run.cls)])
    return out


def _in_market(ts: TenantState) -> bool:
    return ts.known and not ts.tenant.budget_exhausted


def _add(d: TenantDemand, cls: str, want: float, speed: float) -> None:
    d.per_class[cls] = d.per_class.get(cls, 0.0) + want
    d.speed_sum[cls] = d.speed_sum.get(cls, 0.0) + want * speed


def claims(cycle: Cycle, demands: dict[str, TenantDemand]) -> dict[str, Claim]:
    """Each tenant's claim in credits per hour at list prices: guarantee, demand, limit; weight discounted by usage."""
    names = sorted(demands)
    raw = [cycle.tenants[n].tenant.weight for n in names]
    usage = [cycle.tenants[n].tenant.decayed_usage_gpu_hours for n in names]
    weights = usage_discounted_weights(raw, usage) if cycle.config.usage_discount else raw
    out = {}
    for name, weight in zip(names, weights, strict=True):
        tenant, d = cycle.tenants[name].tenant, demands[name]
        guarantee = limit = 0.0
        for cls, want in d.per_class.items():
            list_price = cycle.classes[cls].list_price
            guarantee += min(tenant.guarantee(cls), want) * list_price
            limit += min(tenant.limit(cls), want) * list_price
        out[name] = Claim(weight=weight, guarantee=min(guarantee, d.list_value), demand=d.list_value, limit=limit)
    return out


def market(cycle: Cycle, demands: dict[str, TenantDemand], budgets: dict[str, float]) -> tuple[list[str], Market]:
    """The market of this cycle: buyers are tenants with a budget and demand, goods are the classes."""
    names = [n for n in sorted(demands) if budgets.get(n, 0.0) > 0 and demands[n].total > 0]
    classes = list(cycle.classes.values())
    shape = (len(names), len(classes))
    utilities, caps = np.zeros(shape), np.zeros(shape)
    for i, name in enumerate(names):
        d, tenant = demands[name], cycle.tenants[name].tenant
        for j, cs in enumerate(classes):
            want = d.per_class.get(cs.name, 0.0)
            if want > 0:
                utilities[i, j] = d.speed_sum[cs.name] / want
                caps[i, j] = min(want, tenant.limit(cs.name))
    return names, Market(
        budgets=np.array([budgets[n] for n in names], dtype=np.float64),
        utilities=utilities,
        caps=caps,
        quantities=np.array([demands[n].total for n in names], dtype=np.float64),
        supply=np.array([float(cs.capacity) for cs in classes], dtype=np.float64),
        floors=np.array([cs.floor for cs in classes], dtype=np.float64),
    )


def capacity_value(cycle: Cycle) -> float:
    """The whole cluster in credits per hour at list prices: what entitlements divide."""
    return math.fsum(cs.capacity * cs.list_price for cs in cycle.classes.values())
