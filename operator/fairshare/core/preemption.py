"""Reclaim: make room for a gang by shrinking elastic jobs first, then preempting, in victim order, minimally."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fairshare.core.cycle import ClassState, PendingJob, RunState

# (victim, GPUs it would give up) -> may it?
MayTake = Callable[[RunState, int], bool]


def least_harm_first(run: RunState) -> tuple[int, int, float, str]:
    """Who goes first: jobs on idle capacity, then lowest priority, then least work lost since the last checkpoint."""
    return (0 if run.opportunistic else 1, run.job.priority, run.lost_gpu_hours, run.job.key)


def share_victim_order(run: RunState) -> tuple[int, float, int, float, float, str]:
    """Who goes first when another tenant takes GPUs (a guarantee reclaim or fair-sharing preemption): jobs on idle
    capacity, then the tenant furthest above its fair share (highest share ratio); within it the lowest priority,
    the least work lost since the last checkpoint, the youngest; then by key. Priority thus orders only a tenant's
    own jobs: raising it cannot push preemptions onto another tenant."""
    alloc = run.job.allocation
    started = alloc.started_at if alloc is not None else 0.0
    return (0 if run.opportunistic else 1, -run.tenant.share_ratio(), run.job.priority, run.lost_gpu_hours, -started,
            run.job.key)


def idle_yield_order(run: RunState) -> tuple[int, float, float, int, float, float, str]:
    """Who yields idle capacity first (jobs running opportunistically, beyond their tenant's share): the tenant
    furthest above its share, then the tenant holding the most GPUs of the class per unit of weight (idle-capacity
    holdings cost no share, so the share ratio alone often ties); within a tenant the lowest priority, the least work
    lost, the youngest. Priority thus never decides which of two tenants yields."""
    alloc = run.job.allocation
    started = alloc.started_at if alloc is not None else 0.0
    weight = run.tenant.tenant.weight
    held = run.tenant.used.get(run.cls.name, 0) / weight if weight > 0 else float("inf")
    return (0 if run.opportunistic else 1, -run.tenant.share_ratio(), -held, run.job.priority, run.lost_gpu_hours,
            -started, run.job.key)


def victims(cls: ClassState) -> list[RunState]:
    """The preemptible jobs running on a class, least harm first (computed once per cycle)."""
    if cls.victims is None:
        cls.victims = sorted((r for r in cls.running if r.job.preemptible), key=least_harm_first)
    return cls.victims


# The rules. Each takes the victim and the GPUs it would give up, reading usage as simulated so far.


def borrows_beyond_guarantee(run: RunState, gpus: int) -> bool:
    """A guarantee reclaims only from tenants that, before this removal, hold more than their guarantee of the class."""
    return run.tenant.used.get(run.cls.name, 0) > run.tenant.tenant.guarantee(run.cls.name)


def keeps_own_guarantee(run: RunState, gpus: int) -> bool:
    """Yielding to another's share never takes a tenant below its own guarantee of the class."""
    return run.tenant.used.get(run.cls.name, 0) - gpus >= run.tenant.tenant.guarantee(run.cls.name)


def ran_long_enough(run: RunState, now: float, min_run_seconds: float) -> bool:
    """A job younger than the minimum run time does not yield to another tenant's share (against thrashing)."""
    alloc = run.job.allocation
    return alloc is not None and now - alloc.started_at >= min_run_seconds


def outranked_by(run: RunState, preemptor: PendingJob) -> bool:
    """A job never yields to a job of its own tenant unless that job has strictly higher priority."""
    return run.tenant is not preemptor.tenant or preemptor.job.priority > run.job.priority


@dataclass(slots=True)
class Plan:
    """What a successful reclaim takes: jobs that lose some workers, and jobs preempted whole."""

    shrunk: list[RunState] = field(default_factory=list)
    preempted: list[RunState] = field(default_factory=list)


def _release(run: RunState, count: int) -> None:
    pool = run.cls.pool
    for i in run.nodes[len(run.nodes) - count:]:
        if i >= 0:
            pool.release(i, run.gpw)
    del run.nodes[len(run.nodes) - count:]
    run.tenant.used[run.cls.name] = run.tenant.used.get(run.cls.name, 0) - count * run.gpw


def _restore(run: RunState, nodes: Sequence[int]) -> None:
    pool = run.cls.pool
    for i in nodes:
        if i >= 0:
            pool.take(i, run.gpw)
    run.nodes.extend(nodes)
    run.tenant.used[run.cls.name] = run.tenant.used.get(run.cls.name, 0) + len(nodes) * run.gpw


def undo(plan: Plan, nodes_before: dict[str, list[int]]) -> None:
    """Give back everything a plan took (pools and usage), given each victim's nodes before the reclaim, by job key."""
    for run in [*plan.preempted, *plan.shrunk]:
        before = nodes_before[run.job.key]
        _restore(run, before[len(run.nodes):])


def reclaim(cls: ClassState, workers: int, gpw: int, candidates: Sequence[RunState], may_take: MayTake) -> Plan | None:
    """Find the fewest removals (shrinks before preemptions, victims in order) that let the gang fit on `cls`.

    Usage and node pools are left as if the plan were applied; on failure everything is restored.
    """
    pool = cls.pool
    undo: list[tuple[RunState, list[int]]] = []  # (victim, nodes removed), in order
    if gpw < len(pool.count):
        for run in candidates:  # Elastic jobs give up workers before anyone is preempted.
            if pool.fits(workers, gpw):
                break
            if run.preempted is not None or not run.job.elastic:
                continue
            while len(run.nodes) > run.job.min_workers and not pool.fits(workers, gpw) and may_take(run, run.gpw):
                undo.append((run, run.nodes[-1:]))
                _release(run, 1)
        for run in candidates:
            if pool.fits(workers, gpw):
                break
            if run.preempted is not None or not run.nodes or not may_take(run, run.gpus):
                continue
            undo.append((run, list(run.nodes)))
            _release(run, len(run.nodes))
    if not pool.fits(workers, gpw):
        for run, nodes in reversed(undo):
            _restore(run, nodes)
        return None
    # Put back, latest first, every removal the gang turns out not to need. Workers leave a job from the end, so
    # once a later removal from a job is kept, its earlier ones stay too.
    kept: list[tuple[RunState, list[int]]] = []
    for run, nodes in reversed(undo):
        if any(r is run for r, _ in kept):
            kept.append((run, nodes))
            continue
        _restore(run, nodes)
        if pool.fits(workers, gpw):
            continue
        _release(run, len(nodes))
        kept.append((run, nodes))
    plan = Plan()
    for run, _ in reversed(kept):
        target = plan.shrunk if run.nodes else plan.preempted
        if run not in target:
            target.append(run)
    return plan
