"""Step 7: elastic jobs grow, one worker at a time, while a worker's marginal throughput is worth its price."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from fairshare.core import explain
from fairshare.core.cycle import ClassState, Cycle, PendingJob, RunState, TenantState
from fairshare.core.decisions import Admit, Resize
from fairshare.core.rules import within_guarantee, within_limit
from fairshare.core.throughput import marginal_efficiency
from fairshare.core.types import GPUClass, Job


@dataclass(slots=True)
class _Grower:
    """An elastic job that may take another worker: one already running, or one admitted this cycle."""

    job: Job
    tenant: TenantState
    cs: ClassState
    nodes: list[int]
    price: float
    opportunistic: bool
    run: RunState | None = None
    pending: PendingJob | None = None


def worth_growing(efficiency: float, price: float, list_price: float, threshold: float) -> bool:
    """A worker is added only if its marginal efficiency is at least threshold x price / list price."""
    return efficiency >= threshold * price / list_price


def may_hold_more(g: _Grower, gpus: int) -> bool:
    """Growth obeys the admission rules: budget, bid, limit, and non-preemptible work only within guarantee."""
    bid = g.job.max_price_per_gpu_hour
    return (not g.tenant.tenant.budget_exhausted and (bid is None or bid + 1e-9 >= g.price)
            and within_limit(g.tenant, g.cs, gpus) and (g.job.preemptible or within_guarantee(g.tenant, g.cs, gpus)))


def _growers(cycle: Cycle) -> list[_Grower]:
    out = []
    for run in cycle.running:
        job = run.job
        if (job.elastic and run.preempted is None and run.resized is None and run.nodes and -1 not in run.nodes
                and len(run.nodes) < job.max_workers):
            price = run.cls.floor if run.opportunistic else run.cls.price
            out.append(_Grower(job, run.tenant, run.cls, list(run.nodes), price, run.opportunistic, run=run))
    for p in cycle.pending:
        a = p.admitted
        if a is not None and p.job.elastic:
            cs = cycle.classes[a.gpu_class]
            out.append(_Grower(p.job, p.tenant, cs, [cs.node_index[n] for n in a.nodes], a.price_per_gpu_hour,
                               a.opportunistic, pending=p))
    return out


def grow_elastic_jobs(cycle: Cycle) -> None:
    """Give free workers to the elastic jobs that gain most per GPU, while the gain beats the price."""
    if not any(cs.pool.total_free for cs in cycle.classes.values()):
        return
    threshold = cycle.config.elastic_growth_threshold
    classes = {name: cs.gpu_class for name, cs in cycle.classes.items()}

    def efficiency(g: _Grower) -> float:
        return marginal_efficiency(cycle.curves.get(g.job.key), g.cs.gpu_class, len(g.nodes), classes)

    growers = _growers(cycle)
    heap = [(-efficiency(g), n) for n, g in enumerate(growers)]
    heapq.heapify(heap)
    starts = {n: len(g.nodes) for n, g in enumerate(growers)}
    grown: dict[int, float] = {}
    while heap:
        neg, n = heapq.heappop(heap)
        g = growers[n]
        k = g.job.gpus_per_worker
        if (len(g.nodes) >= g.job.max_workers or not worth_growing(-neg, g.price, g.cs.list_price, threshold)
                or not may_hold_more(g, k)):
            continue
        i = g.cs.pool.best_fit(k)
        if i is None:
            continue
        g.cs.pool.take(i, k)
        g.nodes.append(i)
        g.tenant.used[g.cs.name] = g.tenant.used.get(g.cs.name, 0) + k
        if not g.opportunistic:
            g.tenant.spend += k * g.price
        grown[n] = -neg
        heapq.heappush(heap, (-efficiency(g), n))
    for n, last in grown.items():
        _record(growers[n], starts[n], last, classes)


def _record(g: _Grower, start: int, last_efficiency: float, classes: dict[str, GPUClass]) -> None:
    names = tuple(g.cs.pool.names[i] for i in g.nodes)
    if g.pending is not None and g.pending.admitted is not None:
        a = g.pending.admitted
        g.pending.admitted = Admit(a.job_key, a.gpu_class, len(g.nodes), names, a.price_per_gpu_hour, a.opportunistic)
        return
    assert g.run is not None
    run = g.run
    run.nodes = list(g.nodes)
    if not run.opportunistic:
        run.charged = run.gpus
    reason = explain.grow(start, len(g.nodes), last_efficiency, g.price, g.cs.list_price)
    run.resized = Resize(run.job.key, len(g.nodes), names, g.price, reason)
