"""The core's input types: frozen, hashable, validated."""

from __future__ import annotations

import dataclasses

import pytest

from fairshare.core.types import Allocation, FrozenMap, GPUClass, Job, JobPhase, Snapshot, Tenant


def test_values_are_frozen_and_hashable() -> None:
    t = Tenant("nlp", guaranteed={"a100": 4}, borrowing_limit={"a100": 2})
    assert isinstance(t.guaranteed, FrozenMap)
    assert hash(t) == hash(Tenant("nlp", guaranteed={"a100": 4}, borrowing_limit={"a100": 2}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.weight = 2.0  # type: ignore[misc]
    snap = Snapshot(classes=(GPUClass("a100", 4.0, 400),), tenants=(t,))
    assert hash(snap) == hash(Snapshot(classes=(GPUClass("a100", 4.0, 400),), tenants=(t,)))


@pytest.mark.parametrize(
    ("tenant", "gpu_class", "guarantee", "limit"),
    [
        pytest.param(Tenant("a"), "a100", 0, float("inf"), id="no limit by default"),
        pytest.param(Tenant("a", guaranteed={"a100": 4}, borrowing_limit={"a100": 2}), "a100", 4, 6,
                     id="guarantee plus borrowing limit"),
        pytest.param(Tenant("a", borrowing_limit={"a100": 0}), "v100", 0, float("inf"),
                     id="a class missing from the limits is unlimited, as in Kueue"),
        pytest.param(Tenant("a", borrowing_limit={"a100": 0}), "a100", 0, 0, id="a limit of zero never borrows"),
    ],
)
def test_limits(tenant: Tenant, gpu_class: str, guarantee: int, limit: float) -> None:
    assert tenant.guarantee(gpu_class) == guarantee
    assert tenant.limit(gpu_class) == limit


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: Job("a/x", "a", 0, 1, 1), id="no workers"),
        pytest.param(lambda: Job("a/x", "a", 2, 1, 1), id="max under min"),
        pytest.param(lambda: Job("a/x", "a", 1, 1, 0), id="no GPUs per worker"),
        pytest.param(lambda: Job("a/x", "a", 1, 1, 1, phase=JobPhase.RUNNING), id="running without allocation"),
        pytest.param(lambda: Allocation("a100", 2, ("n0",), 0.0), id="a node per worker"),
        pytest.param(lambda: GPUClass("a100", 0.0, 400), id="free GPUs have no price"),
    ],
)
def test_invalid_values_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_budget_exhausted() -> None:
    assert not Tenant("a").budget_exhausted
    assert Tenant("a", budget_per_period=10, spent_this_period=10).budget_exhausted
    assert not Tenant("a", budget_per_period=10, spent_this_period=9.5).budget_exhausted
