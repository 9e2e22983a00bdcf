"""The cycle's tallies, counted once after its decisions: what GPUClass and Tenant status and the gauges all report."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from fairshare.control.foreign import foreign_by_class, foreign_by_tenant
from fairshare.control.snapshot import World
from fairshare.core import types as core
from fairshare.core.decisions import Admit, CycleResult, Migrate, Preempt, Resize


@dataclasses.dataclass(frozen=True)
class CycleTallies:
    """GPUs, prices, shares and job counts as the cycle leaves them (after its decisions). GPUClass and Tenant status
    and the metrics (loop.py, _record) all read this one object, so they agree on the same cycle."""

    held: Mapping[tuple[str, str], int]  # (tenant, class) -> GPUs its jobs hold after the decisions
    capacity: Mapping[str, int]  # class -> capacity (class_capacity); every class listed
    foreign: Mapping[str, int]  # class -> GPUs pods the operator did not create hold (foreign.foreign_by_class)
    foreign_held: Mapping[tuple[str, str], int]  # (tenant, class) -> foreign GPUs charged to it (foreign_by_tenant)
    prices: Mapping[str, float]  # class -> the core's price this cycle, or its list price if the core has none
    fair_shares: Mapping[str, Mapping[str, float]]  # tenant -> class -> GPUs
    share_ratios: Mapping[str, float]  # tenant -> the core's share ratio (may be infinite)
    pending: Mapping[str, int]  # tenant -> its jobs still waiting after the decisions
    running: Mapping[str, int]  # tenant -> its jobs holding GPUs after the decisions

    def allocated(self, gpu_class: str) -> int:
        """GPUs of the class held by jobs after the decisions."""
        return sum(v for (_, c), v in self.held.items() if c == gpu_class)

    def idle(self, gpu_class: str) -> int:
        """Rule: a class's idle GPUs are its capacity less what jobs and foreign pods hold, at least 0."""
        return max(0, self.capacity.get(gpu_class, 0) - self.allocated(gpu_class) - self.foreign.get(gpu_class, 0))


def tally(world: World, snapshot: core.Snapshot, result: CycleResult) -> CycleTallies:
    """The tallies of a cycle whose core ran on `snapshot` (jobs releasing GPUs this cycle already left out) and
    decided `result`."""
    held_jobs = holding_jobs(snapshot, result)
    pending: dict[str, int] = {t.name: 0 for t in world.snapshot.tenants}
    running: dict[str, int] = dict(pending)
    for job in snapshot.jobs:
        if job.tenant not in pending:  # a tenant the snapshot does not list gets no series
            continue
        if job.key in held_jobs:
            running[job.tenant] += 1
        elif job.allocation is None:
            pending[job.tenant] += 1
    return CycleTallies(held=held_gpus(snapshot, result), capacity=class_capacity(world, snapshot, result),
                        foreign=foreign_by_class(world), foreign_held=foreign_by_tenant(world),
                        prices=class_prices(world, result),
                        fair_shares={t: dict(shares) for t, shares in result.fair_shares.items()},
                        share_ratios=dict(result.share_ratios), pending=pending, running=running)


def class_prices(world: World, result: CycleResult) -> dict[str, float]:
    """Rule: a class costs the core's price this cycle, or its list price (spec.pricePerGPUHour) until the core
    prices it."""
    listed = {name: c.spec.price_per_gpu_hour for name, c in world.gpu_classes.items()}
    return {**listed, **result.prices}


def holding_jobs(snapshot: core.Snapshot, result: CycleResult) -> set[str]:
    """Rule: after the decisions a job holds GPUs if it held them and was not preempted, or if it was admitted, resized
    or moved this cycle."""
    kept = {j.key for j in snapshot.jobs
            if j.allocation is not None and not isinstance(result.for_job(j.key), Preempt | Resize | Migrate)}
    return kept | {d.job_key for d in result.decisions if isinstance(d, Admit | Resize | Migrate)}


def held_gpus(snapshot: core.Snapshot, result: CycleResult) -> dict[tuple[str, str], int]:
    """(tenant, class) -> GPUs held after this cycle's decisions."""
    by_key = {j.key: j for j in snapshot.jobs}
    held: dict[tuple[str, str], int] = {}
    for job in snapshot.jobs:
        if job.allocation is not None and not isinstance(result.for_job(job.key), Preempt | Resize | Migrate):
            k = (job.tenant, job.allocation.gpu_class)
            held[k] = held.get(k, 0) + job.allocation.workers * job.gpus_per_worker
    for d in result.decisions:
        if isinstance(d, Admit | Resize | Migrate):
            job = by_key[d.job_key]
            gpu_class = d.gpu_class if isinstance(d, Admit | Migrate) else (
                job.allocation.gpu_class if job.allocation else "")
            k = (job.tenant, gpu_class)
            held[k] = held.get(k, 0) + d.workers * job.gpus_per_worker
    return held


def class_capacity(world: World, snapshot: core.Snapshot, result: CycleResult) -> dict[str, int]:
    """Rule: a class's capacity is the allocatable GPUs of its Ready, uncordoned nodes, plus, on a cordoned or NotReady
    node, only the GPUs the gangs still on it hold after this cycle (its idle GPUs serve no one); a lost node holds
    none once its gang has left. Every class is listed, 0 when it has no node."""
    held_on: dict[str, int] = {}
    by_key = {j.key: j for j in snapshot.jobs}
    for job in snapshot.jobs:
        if job.allocation is not None and not isinstance(result.for_job(job.key), Preempt | Resize | Migrate):
            for node in job.allocation.nodes:
                held_on[node] = held_on.get(node, 0) + job.gpus_per_worker
    for d in result.decisions:
        if isinstance(d, Admit | Resize | Migrate) and d.job_key in by_key:
            for node in d.nodes:
                held_on[node] = held_on.get(node, 0) + by_key[d.job_key].gpus_per_worker
    capacity = {name: 0 for name in world.gpu_classes}
    for node, gpus in world.node_capacity.items():
        name = world.node_class[node]
        capacity[name] = capacity.get(name, 0) + (gpus if world.node_usable(node) else min(gpus, held_on.get(node, 0)))
    return capacity
