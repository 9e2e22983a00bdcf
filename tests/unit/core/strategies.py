"""Hypothesis strategies: random clusters, and states reachable from them by running the scheduler."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import strategies as st

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.types import GPUClass, Job, JobPhase, Node, Snapshot, Tenant, Throughput
from fairshare.simulator.replay import apply

CLASS_NAMES = ("a100", "h100", "t4")
TENANT_NAMES = ("cv", "nlp", "rl", "speech")


# Drawing every field through hypothesis costs ~40 us a draw, which made cluster generation 20x slower than
# scheduling it: sizes are drawn (so they shrink), the rest comes from a drawn seed.


def _cluster(rnd: random.Random, n_classes: int, cordons: bool) -> tuple[tuple[GPUClass, ...], tuple[Node, ...]]:
    names = rnd.sample(CLASS_NAMES, n_classes)
    classes = tuple(GPUClass(n, rnd.choice([0.5, 1.0, 2.0, 4.0]), 300.0, rnd.choice([0.5, 1.0, 2.0, 3.0]))
                    for n in names)
    nodes = [Node(f"{c.name}-{i}", c.name, rnd.choice([1, 2, 4, 8]), schedulable=not (cordons and rnd.random() < 0.1))
             for c in classes for i in range(rnd.randint(0 if rnd.random() < 0.1 else 1, 4))]
    return classes, tuple(nodes)


def _tenants(rnd: random.Random, n_tenants: int, classes: tuple[GPUClass, ...]) -> tuple[Tenant, ...]:
    out = []
    for n in rnd.sample(TENANT_NAMES, n_tenants):
        guaranteed = {c.name: rnd.randint(0, 8) for c in classes if rnd.random() < 0.7}
        limit = None if rnd.random() < 0.5 else {c.name: rnd.randint(0, 8) for c in classes if rnd.random() < 0.5}
        budget = 10.0 if rnd.random() < 0.25 else None
        out.append(Tenant(n, weight=rnd.choice([0.0, 0.5, 1.0, 2.0, 3.0]), guaranteed=guaranteed,
                          borrowing_limit=limit, budget_per_period=budget,
                          spent_this_period=rnd.choice([0.0, 5.0, 10.0, 20.0]) if budget else 0.0,
                          decayed_usage_gpu_hours=rnd.choice([0.0, 10.0, 100.0])))
    return tuple(out)


def _jobs(rnd: random.Random, n_jobs: int, classes: tuple[GPUClass, ...], tenant_names: tuple[str, ...], prefix: str,
          gpus: tuple[int, ...], submitted: float) -> tuple[Job, ...]:
    jobs = []
    for i in range(n_jobs):
        owner = "ghost" if rnd.random() < 0.03 else rnd.choice(tenant_names)
        low = rnd.randint(1, 3)
        wanted = ("missing",) if rnd.random() < 0.05 else tuple(c.name for c in classes if rnd.random() < 0.3)
        jobs.append(Job(
            key=f"{owner}/{prefix}{i}", tenant=owner, min_workers=low, max_workers=low + rnd.choice([0, 0, 1, 3]),
            gpus_per_worker=rnd.choice(gpus), gpu_classes=wanted, priority=rnd.randint(0, 2),
            preemptible=rnd.random() < 0.8,
            max_price_per_gpu_hour=rnd.choice([0.05, 0.5, 1.0, 3.0]) if rnd.random() < 0.25 else None,
            submitted_at=submitted + rnd.randint(0, 100)))
    return tuple(jobs)


def _throughputs(rnd: random.Random, jobs: tuple[Job, ...], classes: tuple[GPUClass, ...]) -> tuple[Throughput, ...]:
    return tuple(Throughput(j.key, c.name, w, rnd.choice([10.0, 50.0, 100.0]) * w ** 0.8)
                 for j in jobs if rnd.random() < 0.25 for c in classes for w in {j.min_workers, j.max_workers})


@st.composite
def snapshots(draw: st.DrawFn, gpus: tuple[int, ...] = (1, 1, 2, 4, 8), max_jobs: int = 16,
              cordons: bool = True) -> Snapshot:
    """A cluster with only pending jobs."""
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    classes, nodes = _cluster(rnd, draw(st.integers(1, 3)), cordons)
    ts = _tenants(rnd, draw(st.integers(1, 4)), classes)
    jobs = _jobs(rnd, draw(st.integers(0, max_jobs)), classes, tuple(t.name for t in ts), "j", gpus, 0.0)
    return Snapshot(classes, nodes, ts, jobs, _throughputs(rnd, jobs, classes))


@st.composite
def reachable(draw: st.DrawFn, gpus: tuple[int, ...] = (1, 1, 2, 4, 8), max_jobs: int = 16,
              cordons: bool = True, reclaim: bool = False) -> tuple[Snapshot, float]:
    """(snapshot, now): a cluster run for one cycle by the market policy, some jobs finished, new ones queued.

    With `reclaim`, one tenant alone queues work in the first cycle (and borrows), the others come after.
    """
    first = draw(snapshots(gpus, max_jobs, cordons))
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    # Often only some tenants start out busy: they borrow what the others then come back for.
    early = {t.name for t in first.tenants if rnd.random() < 0.5} if rnd.random() < 0.6 else None
    if reclaim:
        early = {rnd.choice(first.tenants).name}
    if early is not None:
        first = replace(first, jobs=tuple(j for j in first.jobs if j.tenant in early))
    start = 1000.0
    after = apply(first, schedule(first, start, PolicyConfig(price_iterations=30)), start)
    jobs = []
    for j in after.jobs:
        if j.phase is JobPhase.RUNNING and rnd.random() < 0.2:
            jobs.append(replace(j, phase=JobPhase.TERMINAL, allocation=None))
        elif j.allocation is not None and rnd.random() < 0.5:
            jobs.append(replace(j, allocation=replace(j.allocation, last_checkpoint_at=start + rnd.randint(0, 900))))
        else:
            jobs.append(j)
    now = start + rnd.choice([60.0, 900.0, 7200.0])
    more = _jobs(rnd, draw(st.integers(0, max_jobs)), first.classes, tuple(t.name for t in first.tenants), "k",
                 gpus, 500.0)
    throughputs = after.throughputs + _throughputs(rnd, more, first.classes)
    return replace(after, jobs=(*jobs, *more), throughputs=throughputs), now
