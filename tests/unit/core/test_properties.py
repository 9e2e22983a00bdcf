"""Invariants on thousands of random clusters: capacity, limits, guarantees, gangs, determinism, terminal jobs."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.cycle import service_band
from fairshare.core.decisions import Admit, CycleResult, Migrate, Preempt, Resize, Wait
from fairshare.core.types import Job, JobPhase, Snapshot
from fairshare.simulator.policies import POLICIES
from fairshare.simulator.replay import apply
from tests.unit.core.helpers import examples
from tests.unit.core.strategies import reachable

CONFIG = PolicyConfig(price_iterations=30)


def usage(snapshot: Snapshot) -> tuple[dict[str, int], dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """(GPUs per node, GPUs per tenant and class, non-preemptible GPUs per tenant and class)."""
    per_node: dict[str, int] = defaultdict(int)
    per_tenant: dict[tuple[str, str], int] = defaultdict(int)
    pinned: dict[tuple[str, str], int] = defaultdict(int)
    for j in snapshot.jobs:
        if j.phase is JobPhase.RUNNING and j.allocation is not None:
            for n in j.allocation.nodes:
                per_node[n] += j.gpus_per_worker
            per_tenant[(j.tenant, j.allocation.gpu_class)] += j.allocation.workers * j.gpus_per_worker
            if not j.preemptible:
                pinned[(j.tenant, j.allocation.gpu_class)] += j.allocation.workers * j.gpus_per_worker
    return per_node, per_tenant, pinned


def check_decisions_are_well_formed(snapshot: Snapshot, result: CycleResult) -> None:
    """One decision per job at most; the right kind for its phase; none for terminal jobs; whole gangs only."""
    jobs = {j.key: j for j in snapshot.jobs}
    nodes = {n.name: n for n in snapshot.nodes}
    keys = [d.job_key for d in result.decisions]
    assert len(keys) == len(set(keys))
    for d in result.decisions:
        job = jobs[d.job_key]
        assert job.phase is not JobPhase.TERMINAL, "a terminal job never gets a decision"
        if isinstance(d, Admit | Wait):
            assert job.phase is JobPhase.PENDING
        else:
            assert job.phase is JobPhase.RUNNING
        if isinstance(d, Admit):
            assert job.min_workers <= d.workers <= job.max_workers and len(d.nodes) == d.workers
            assert job.accepts(d.gpu_class)
            assert all(nodes[n].gpu_class == d.gpu_class and nodes[n].schedulable for n in d.nodes)
        if isinstance(d, Resize):
            assert job.allocation is not None
            assert job.min_workers <= d.workers <= job.max_workers and len(d.nodes) == d.workers
            old = job.allocation.nodes
            assert d.nodes[:len(old)] == old or old[:len(d.nodes)] == d.nodes
        if isinstance(d, Migrate):
            assert job.allocation is not None and d.gpu_class != job.allocation.gpu_class
            assert d.workers == job.allocation.workers and len(d.nodes) == d.workers and job.accepts(d.gpu_class)
            assert all(nodes[n].gpu_class == d.gpu_class and nodes[n].schedulable for n in d.nodes)
        if isinstance(d, Wait | Preempt | Migrate):
            assert d.reason and any(ch.isdigit() for ch in d.reason)
    pending = {j.key for j in snapshot.jobs if j.phase is JobPhase.PENDING}
    assert pending == {d.job_key for d in result.decisions if isinstance(d, Admit | Wait)}
    positions: dict[str, list[int]] = defaultdict(list)
    for d in result.decisions:
        if isinstance(d, Wait):
            positions[jobs[d.job_key].tenant].append(d.position)
    assert all(p == list(range(len(p))) for p in positions.values())


def check_capacity(snapshot: Snapshot, after: Snapshot) -> None:
    """Never over capacity, per node and per class (nodes already over are never made worse)."""
    before_node, _, _ = usage(snapshot)
    after_node, _, _ = usage(after)
    capacity: dict[str, int] = defaultdict(int)
    for n in snapshot.nodes:
        assert after_node[n.name] <= max(n.gpus, before_node[n.name])
        capacity[n.gpu_class] += n.gpus
    per_class: dict[str, int] = defaultdict(int)
    for j in after.jobs:
        if j.phase is JobPhase.RUNNING and j.allocation is not None:
            per_class[j.allocation.gpu_class] += j.allocation.workers * j.gpus_per_worker
    assert all(per_class[c] <= capacity[c] for c in per_class)


@examples(400)
@given(reachable(), st.sampled_from(sorted(POLICIES)))
def test_every_policy_keeps_capacity_gangs_and_terminal_jobs(state: tuple[Snapshot, float], name: str) -> None:
    snapshot, now = state
    result = POLICIES[name].schedule(snapshot, now, CONFIG)
    check_decisions_are_well_formed(snapshot, result)
    check_capacity(snapshot, apply(snapshot, result, now))


@examples(700)
@given(st.booleans().flatmap(lambda reclaim: reachable(reclaim=reclaim)))
def test_market_invariants(state: tuple[Snapshot, float]) -> None:
    snapshot, now = state
    result = schedule(snapshot, now, CONFIG)
    after = apply(snapshot, result, now)
    check_decisions_are_well_formed(snapshot, result)
    check_capacity(snapshot, after)
    tenants = {t.name: t for t in snapshot.tenants}
    jobs = {j.key: j for j in snapshot.jobs}
    classes = {c.name: c for c in snapshot.classes}
    _, before, pinned_before = usage(snapshot)
    _, held, pinned = usage(after)
    for (t, c), gpus in held.items():
        if t in tenants:
            # Never over guarantee + borrowing limit; non-preemptible work only within the guarantee.
            assert gpus <= max(tenants[t].limit(c), before[(t, c)])
            assert pinned[(t, c)] <= max(tenants[t].guarantee(c), pinned_before[(t, c)])
        else:
            assert gpus <= before[(t, c)], "an undefined tenant gets nothing new"
    for c, price in result.prices.items():
        assert price >= CONFIG.price_floor_fraction * classes[c].price_per_gpu_hour - 1e-9
    for c in classes:
        capacity = sum(n.gpus for n in snapshot.nodes if n.gpu_class == c)
        assert sum(s.get(c, 0.0) for s in result.fair_shares.values()) <= capacity + 1e-6
    for d in result.decisions:
        job = jobs[d.job_key]
        if isinstance(d, Admit):
            bid = job.max_price_per_gpu_hour
            assert bid is None or d.price_per_gpu_hour <= bid + 1e-9
            assert d.opportunistic or not tenants[job.tenant].budget_exhausted
            assert d.opportunistic or d.price_per_gpu_hour == result.prices[d.gpu_class]
        if isinstance(d, Preempt):
            check_preemption_is_justified(snapshot, result, job, now, before)


def served_band(job: Job, now: float) -> int:
    """The job's least-attained-service band, counting its current allocation."""
    held = job.attained_gpu_hours
    if job.allocation is not None:
        held += (now - job.allocation.started_at) / 3600 * job.allocation.workers * job.gpus_per_worker
    return service_band(held, CONFIG)


def check_preemption_is_justified(snapshot: Snapshot, result: CycleResult, victim: Job, now: float,
                                  before: dict[tuple[str, str], int]) -> None:
    """Preempted: preemptible, for an admission on its class by another tenant, a higher priority, or (past its
    minimum run time) a job of its own tenant with less attained service; young jobs only when their tenant
    borrowed beyond its guarantee."""
    assert victim.preemptible and victim.allocation is not None
    cls = victim.allocation.gpu_class
    jobs = {j.key: j for j in snapshot.jobs}
    beneficiaries = [jobs[d.job_key] for d in result.decisions if isinstance(d, Admit) and d.gpu_class == cls]
    ran = now - victim.allocation.started_at >= CONFIG.min_run_seconds
    assert any(b.tenant != victim.tenant or b.priority > victim.priority
               or (ran and b.priority >= victim.priority and served_band(b, now) < served_band(victim, now))
               for b in beneficiaries)
    if now - victim.allocation.started_at < CONFIG.min_run_seconds:
        tenant = next(t for t in snapshot.tenants if t.name == victim.tenant)
        assert before[(victim.tenant, cls)] > tenant.guarantee(cls)


@examples(500)
@given(reachable(gpus=(1,), cordons=False, reclaim=True))
def test_a_tenant_under_its_guarantee_is_never_refused_while_another_borrows(state: tuple[Snapshot, float]) -> None:
    """With one GPU per worker (so any free GPU will do): if a waiting job fits its tenant's guarantee, then the free
    GPUs plus everything other tenants hold beyond their guarantees is less than it needs."""
    snapshot, now = state
    result = schedule(snapshot, now, CONFIG)
    after = apply(snapshot, result, now)
    _, held, _ = usage(after)
    tenants = {t.name: t for t in snapshot.tenants}
    capacity: dict[str, int] = defaultdict(int)
    for n in snapshot.nodes:
        capacity[n.gpu_class] += n.gpus
    jobs = {j.key: j for j in snapshot.jobs}
    for d in result.decisions:
        if not isinstance(d, Wait):
            continue
        job = jobs[d.job_key]
        tenant = tenants.get(job.tenant)
        if tenant is None or tenant.budget_exhausted:
            continue
        need = job.min_workers * job.gpus_per_worker
        for c in capacity:
            bid_ok = job.max_price_per_gpu_hour is None or job.max_price_per_gpu_hour >= result.prices[c]
            if not job.accepts(c) or not bid_ok or held[(tenant.name, c)] + need > tenant.guarantee(c):
                continue
            free = capacity[c] - sum(g for (_, cls), g in held.items() if cls == c)
            lent = sum(max(0, g - tenants[t].guarantee(cls)) for (t, cls), g in held.items()
                       if cls == c and t != tenant.name and t in tenants)
            assert free + lent < need, (d, c, free, lent)


@examples(300)
@given(reachable(), st.integers(0, 2**32 - 1))
def test_deterministic_and_independent_of_input_order(state: tuple[Snapshot, float], seed: int) -> None:
    snapshot, now = state
    rnd = random.Random(seed)
    first = schedule(snapshot, now, CONFIG)
    assert schedule(snapshot, now, CONFIG).decisions == first.decisions

    def shuffled(items: tuple) -> tuple:  # type: ignore[type-arg]
        out = list(items)
        rnd.shuffle(out)
        return tuple(out)

    mixed = replace(snapshot, classes=shuffled(snapshot.classes), nodes=shuffled(snapshot.nodes),
                    tenants=shuffled(snapshot.tenants), jobs=shuffled(snapshot.jobs),
                    throughputs=snapshot.throughputs)
    again = schedule(mixed, now, CONFIG)
    assert again.decisions == first.decisions
    assert dict(again.prices) == dict(first.prices)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_policies_are_registered_by_name(name: str) -> None:
    assert POLICIES[name].name == name
