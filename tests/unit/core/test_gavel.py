"""Gavel's max-min LP, its round priorities and its round-based mechanism (core/gavel.py), as named cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fairshare.core.decisions import Migrate
from fairshare.core.types import Snapshot
from fairshare.simulator.policies import gavel
from fairshare.simulator.policies.registry import POLICIES, GavelPolicy
from tests.builders import cluster, job, tenant
from tests.unit.core.helpers import summary

NOW = 100_000.0


def normalised(jobs: list[gavel.LPJob], x: np.ndarray, capacity: list[int]) -> list[float]:
    """Each job's throughput under x over its throughput under the capacity-proportional equal share, per weight."""
    share = np.asarray(capacity, dtype=float) / sum(capacity)
    return [float(np.dot(j.rates, x[i]) / np.dot(j.rates, share) / j.weight) for i, j in enumerate(jobs)]


@pytest.mark.parametrize(("jobs", "capacity", "want_min"), [
    pytest.param([gavel.LPJob("a", 1, 1.0, (1.0,)), gavel.LPJob("b", 1, 1.0, (2.0,))], [1], 0.5,
                 id="one GPU, two jobs: half the time each"),
    pytest.param([gavel.LPJob("a", 1, 1.0, (1.0,)), gavel.LPJob("b", 1, 1.0, (1.0,))], [4], 1.0,
                 id="room for all: every job runs all the time"),
    pytest.param([gavel.LPJob("a", 1, 2.0, (1.0,)), gavel.LPJob("b", 1, 1.0, (1.0,))], [1], 1 / 3,
                 id="weights 2:1 on one GPU: 2/3 and 1/3 of the time, 1/3 per unit of weight"),
    pytest.param([gavel.LPJob("a", 2, 1.0, (1.0,)), gavel.LPJob("b", 2, 1.0, (1.0,))], [2], 0.5,
                 id="two 2-GPU gangs on 2 GPUs: time-sliced, half each"),
    pytest.param([gavel.LPJob("fast", 1, 1.0, (4.0, 1.0)), gavel.LPJob("flat", 1, 1.0, (1.2, 1.0))], [1, 1], 1.0,
                 id="two types, one GPU each: both jobs reach their equal-share rate"),
])
def test_max_min_allocation(jobs: list[gavel.LPJob], capacity: list[int], want_min: float) -> None:
    x = gavel.max_min_allocation(jobs, capacity)
    assert min(normalised(jobs, x, capacity)) == pytest.approx(want_min, rel=1e-4)
    assert np.all(x.sum(axis=1) <= 1 + 1e-6)
    gpus = np.array([j.gpus for j in jobs], dtype=float)
    assert np.all(gpus @ x <= np.asarray(capacity) + 1e-6)


def test_a_type_a_job_cannot_run_on_gets_none_of_its_time() -> None:
    jobs = [gavel.LPJob("v100-only", 1, 1.0, (3.0, 0.0)), gavel.LPJob("any", 1, 1.0, (3.0, 1.0))]
    x = gavel.max_min_allocation(jobs, [1, 1])
    assert x[0, 1] == 0.0 and x[0, 0] > 0


def test_no_jobs_no_allocation() -> None:
    assert gavel.max_min_allocation([], [4, 4]).shape == (0, 2)


@pytest.mark.parametrize(("x", "on_type", "rounds", "want"), [
    pytest.param(0.0, 0, 5, 0.0, id="no time on the type: never placed there"),
    pytest.param(0.5, 0, 5, math.inf, id="owed time and never ran there: first"),
    pytest.param(0.5, 1, 4, 2.0, id="ran 1 of 4 rounds for a half share: priority 2"),
    pytest.param(0.5, 3, 4, 2 / 3, id="ran 3 of 4 rounds for a half share: behind"),
])
def test_priority(x: float, on_type: int, rounds: int, want: float) -> None:
    assert gavel.priority(x, on_type, rounds) == pytest.approx(want)


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
    snapshot = cluster().gpus("v100", nodes=1, per_node=1).gpus("k80", nodes=1, per_node=1).tenants("a").jobs(
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
                 "k80", id="measured 5x faster on the K80: the K80"),
])
def test_without_an_oracle_it_reads_the_snapshot(snapshot: Snapshot, want: str) -> None:
    result = GavelPolicy().schedule(snapshot, NOW, None)  # type: ignore[arg-type]
    assert [(d.job_key, getattr(d, "gpu_class", None)) for d in result.decisions] == [("a/x", want)]
