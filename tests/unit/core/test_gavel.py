"""Gavel's max-min LP, its round priorities and its round-based mechanism (simulator/policies/gavel.py)."""

from __future__ import annotations

import numpy as np
import pytest

from fairshare.core.decisions import Migrate
from fairshare.core.types import Snapshot
from fairshare.simulator.policies import gavel
from fairshare.simulator.policies.registry import POLICIES, GavelPolicy
from tests.builders import cluster, job, tenant
from tests.unit.core.helpers import summary

NOW = 100_000.0


@pytest.mark.parametrize(("jobs", "capacity", "want_min"), [
    pytest.param([gavel.LPJob("a", 1, 1.0, (1.0,)), gavel.LPJob("b", 1, 1.0, (2.0,))], [1], 1.0,
                 id="one GPU, two jobs: half the time each, what each gets alone"),
    pytest.param([gavel.LPJob("a", 1, 1.0, (1.0,)), gavel.LPJob("b", 1, 1.0, (1.0,))], [4], 1.0,
                 id="room for all: every job runs all the time"),
    pytest.param([gavel.LPJob("a", 1, 2.0, (1.0,)), gavel.LPJob("b", 1, 1.0, (1.0,))], [1], 2 / 3,
                 id="weights 2:1 on one GPU: 2/3 and 1/3 of the time (alone: half each, no weights)"),
    pytest.param([gavel.LPJob("a", 2, 1.0, (1.0,)), gavel.LPJob("b", 2, 1.0, (1.0,))], [2], 2.0,
                 id="two 2-GPU gangs on 2 GPUs: half the time each, times the gang size"),
    pytest.param([gavel.LPJob("fast", 1, 1.0, (4.0, 1.0)), gavel.LPJob("flat", 1, 1.0, (1.2, 1.0))], [1, 1], 1.0,
                 id="two types, one GPU each: the type-blind job gives up half the fast GPU"),
])
def test_max_min_allocation(jobs: list[gavel.LPJob], capacity: list[int], want_min: float) -> None:
    x = gavel.max_min_allocation(jobs, capacity)
    isolated = gavel.isolated_allocation(jobs, capacity)
    assert min(gavel.normalised_throughput(jobs, x, isolated)) == pytest.approx(want_min, rel=1e-4)
    assert np.all(x.sum(axis=1) <= 1 + 1e-6)
    gpus = np.array([j.gpus for j in jobs], dtype=float)
    assert np.all(gpus @ x <= np.asarray(capacity) + 1e-6)


@pytest.mark.parametrize(("jobs", "capacity", "want"), [
    pytest.param([gavel.LPJob("a", 1, 1.0, (1.0,)), gavel.LPJob("b", 1, 1.0, (3.0,)),
                  gavel.LPJob("ab", 2, 1.0, (2.0,))], [2], [2 / 3, 2 / 3, 1 / 3],
                 id="two 1-GPU jobs and a 2-GPU gang on 2 GPUs: 2/3 GPU each"),
    pytest.param([gavel.LPJob("a", 1, 5.0, (1.0,)), gavel.LPJob("b", 1, 1.0, (1.0,))], [1], [0.5, 0.5],
                 id="weights do not enter the isolated allocation"),
])
def test_isolated_allocation_gives_every_job_the_same_gpu_time(jobs: list[gavel.LPJob], capacity: list[int],
                                                              want: list[float]) -> None:
    assert gavel.isolated_allocation(jobs, capacity).sum(axis=1) == pytest.approx(want, rel=1e-4)


def test_a_type_a_job_cannot_run_on_gets_none_of_its_time() -> None:
    jobs = [gavel.LPJob("v100-only", 1, 1.0, (3.0, 0.0)), gavel.LPJob("any", 1, 1.0, (3.0, 1.0))]
    x = gavel.max_min_allocation(jobs, [1, 1])
    assert x[0, 1] == 0.0 and x[0, 0] > 0


def test_no_jobs_no_allocation() -> None:
    assert gavel.max_min_allocation([], [4, 4]).shape == (0, 2)


@pytest.mark.parametrize(("x", "job_s", "type_s", "want"), [
    pytest.param(0.0, 180.0, 1000.0, 0.0, id="no time on the type: priority 0, only leftovers"),
    pytest.param(0.5, 0.0, 0.0, 0.5e9, id="owed time and no time counted yet: first"),
    pytest.param(0.5, 250.0, 1000.0, 2.0, id="a quarter of the type's time for a half share: priority 2"),
    pytest.param(0.5, 750.0, 1000.0, 2 / 3, id="three quarters of it for a half share: behind"),
])
def test_priority(x: float, job_s: float, type_s: float, want: float) -> None:
    assert gavel.priority(x, job_s, type_s) == pytest.approx(want)


def rate(job_key: str, gpu_class: str, gpus: int) -> float:
    return {"v100": 3.0, "k80": 1.0}[gpu_class] * gpus


ONE_GPU = cluster().gpus("v100", nodes=1, per_node=1).tenants("a").jobs(
    job("a/first").gpus(1), job("a/second").gpus(1).submitted(1)).obj()


def test_rounds_time_slice_two_jobs_on_one_gpu() -> None:
    policy = POLICIES["gavel"]
    assert isinstance(policy, GavelPolicy)
    policy = policy.with_oracle(rate)
    first = policy.schedule(ONE_GPU, NOW, None)  # type: ignore[arg-type]
    assert summary(first) == [("admit", "a/first", "v100", ("v100-0",)), ("wait", "a/second", 0)]
    assert first.wake_at == NOW
    running = cluster().gpus("v100", nodes=1, per_node=1).tenants("a").jobs(
        job("a/first").gpus(1).running("v100", "v100-0", started=NOW), job("a/second").gpus(1).submitted(1)).obj()
    second = policy.schedule(running, NOW + 360, None)  # type: ignore[arg-type]
    assert summary(second) == [("preempt", "a/first"), ("admit", "a/second", "v100", ("v100-0",))]


def test_a_job_placed_on_another_type_moves() -> None:
    snapshot = cluster().gpus("v100", nodes=1, per_node=1, speed=3).gpus("k80", nodes=1, per_node=1).tenants("a").jobs(
        job("a/x").gpus(1).running("k80", "k80-0", started=NOW)).obj()
    result = GavelPolicy().with_oracle(rate).schedule(snapshot, NOW, None)  # type: ignore[arg-type]
    assert [(type(d), d.job_key, getattr(d, "gpu_class", None)) for d in result.decisions] == [
        (Migrate, "a/x", "v100")]


def tenants_share(snapshot: Snapshot, hierarchical: bool) -> dict[str, float]:
    result = GavelPolicy(hierarchical=hierarchical).with_oracle(rate).schedule(snapshot, NOW, None)  # type: ignore
    return {t: round(sum(s.values()), 3) for t, s in result.fair_shares.items()}


UNEQUAL = cluster().gpus("v100", nodes=1, per_node=2).tenants(tenant("a"), tenant("b")).jobs(
    [job(f"a/j{i}").gpus(1).submitted(i) for i in range(3)], job("b/j0").gpus(1)).obj()


@pytest.mark.parametrize(("hierarchical", "want"), [
    pytest.param(False, {"a": 1.5, "b": 0.5}, id="flat: every job half a GPU, so the tenant with 3 jobs gets 3x"),
    pytest.param(True, {"a": 1.0, "b": 1.0}, id="hierarchical: tenants of equal weight get equal GPUs"),
])
def test_hierarchical_weights_hold_tenants_to_shares(hierarchical: bool, want: dict[str, float]) -> None:
    assert tenants_share(UNEQUAL, hierarchical) == pytest.approx(want, abs=1e-3)


@pytest.mark.parametrize(("snapshot", "want"), [
    pytest.param(cluster().gpus("v100", nodes=1, per_node=1, speed=3).gpus("k80", nodes=1, per_node=1).tenants("a")
                 .jobs(job("a/x").gpus(1)).obj(), "v100", id="no measurement: the class speed prior, V100 first"),
    pytest.param(cluster().gpus("v100", nodes=1, per_node=1, speed=3).gpus("k80", nodes=1, per_node=1).tenants("a")
                 .jobs(job("a/x").gpus(1)).throughput("a/x", "v100", 1, 1.0).throughput("a/x", "k80", 1, 5.0).obj(),
                 "k80", id="measured 5x faster on the K80: its allocation is the K80"),
])
def test_without_an_oracle_it_reads_the_snapshot(snapshot: Snapshot, want: str) -> None:
    result = GavelPolicy().schedule(snapshot, NOW, None)  # type: ignore[arg-type]
    assert max(result.fair_shares["a"].items(), key=lambda kv: kv[1]) == (want, pytest.approx(1.0))


def test_a_job_without_allocation_takes_only_what_allocated_jobs_leave() -> None:
    policy = GavelPolicy().with_oracle(rate)
    two = cluster().gpus("v100", nodes=1, per_node=2, speed=3).tenants("a").jobs(job("a/old").gpus(1)).obj()
    policy.schedule(two, NOW, None)  # type: ignore[arg-type]
    later = cluster().gpus("v100", nodes=1, per_node=2, speed=3).tenants("a").jobs(
        job("a/old").gpus(1).running("v100", "v100-0", started=NOW), job("a/new").gpus(2).submitted(NOW + 1),
        job("a/small").gpus(1).submitted(NOW + 2)).obj()
    result = policy.schedule(later, NOW + 360, None)  # type: ignore[arg-type]
    # Within the reset interval the allocation still knows only a/old: it keeps its GPU, the gang of 2 cannot
    # fit in the one left, the 1-GPU job takes it.
    assert summary(result) == [("admit", "a/small", "v100", ("v100-0",)), ("wait", "a/new", 0)]
    assert policy.state.solves == 1
