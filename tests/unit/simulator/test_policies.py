"""Baselines behind the same interface, as named scenarios; and the Policy protocol itself."""

from __future__ import annotations

import pytest

from fairshare.core.config import PolicyConfig
from fairshare.core.types import Snapshot
from fairshare.simulator.policies.registry import POLICIES, MarketPolicy, Policy
from tests.builders import cluster, job, tenant
from tests.unit.core.helpers import Row, reason, summary

NOW = 100_000.0

HEAD_OF_LINE = cluster().gpus("a100", nodes=1, per_node=8).tenants("a", "b").jobs(
    job("a/first").gpus(4), job("b/big").gpus(8).submitted(1), job("a/small").gpus(2).submitted(2)).obj()
BORROWED = cluster().gpus("a100", nodes=1, per_node=8).tenants(tenant("a").guarantee(a100=4),
                                                              tenant("b").guarantee(a100=4)).jobs(
    job("a/x").gpus(4).running("a100", "a100-0", started=NOW - 1000),
    job("a/y").gpus(4).running("a100", "a100-0", started=NOW - 500), job("b/z").gpus(4)).obj()
TWO_CLASSES = cluster().gpus("a100", nodes=1, per_node=4, speed=2).gpus("h100", nodes=1, per_node=4, speed=3).tenants(
    tenant("a").weight(3), "b").jobs([job(f"a/j{i}").submitted(i) for i in range(8)],
                                     [job(f"b/j{i}").submitted(i) for i in range(8)]).obj()


@pytest.mark.parametrize(
    ("policy", "snapshot", "want"),
    [
        pytest.param("fifo", HEAD_OF_LINE,
                     [("admit", "a/first", "a100", ("a100-0",)), ("wait", "a/small", 0), ("wait", "b/big", 0)],
                     id="strict FIFO: the head that does not fit blocks everyone behind it"),
        pytest.param("static-quota", HEAD_OF_LINE,
                     [("admit", "a/first", "a100", ("a100-0",)), ("admit", "a/small", "a100", ("a100-0",)),
                      ("wait", "b/big", 0)],
                     id="static quota: best-effort FIFO borrows around a big job"),
        pytest.param("static-quota", BORROWED,
                     [("preempt", "a/y"), ("admit", "b/z", "a100", ("a100-0",))],
                     id="static quota: nominal quota reclaimed from the borrower, least work lost first"),
        pytest.param("static-quota",
                     cluster().gpus("a100", nodes=1, per_node=8).tenants(tenant("a").guarantee(a100=4)
                                                                         .borrowing(a100=0)).jobs(
                         job("a/x").gpus(4), job("a/y").gpus(4).submitted(1)).obj(),
                     [("admit", "a/x", "a100", ("a100-0",)), ("wait", "a/y", 0)],
                     id="static quota: no borrowing beyond the limit"),
        pytest.param("weighted-max-min", BORROWED, [("wait", "b/z", 0)],
                     id="weighted max-min never preempts"),
    ],
)
def test_baseline(policy: str, snapshot: Snapshot, want: list[Row]) -> None:
    assert summary(POLICIES[policy].schedule(snapshot, NOW, PolicyConfig())) == want


@pytest.mark.parametrize(
    ("policy", "first_class"),
    [pytest.param("weighted-max-min", "a100", id="weighted max-min: 6:2 by weight 3:1, blind to class speed"),
     pytest.param("greedy-hetero", "h100", id="greedy-hetero: 6:2 by weight 3:1, the fastest class filled first")],
)
def test_max_min_baselines(policy: str, first_class: str) -> None:
    result = POLICIES[policy].schedule(TWO_CLASSES, NOW, PolicyConfig())
    admits = [row for row in summary(result) if row[0] == "admit"]
    assert sum(1 for row in admits if row[1].startswith("a/")) == 6
    assert sum(1 for row in admits if row[1].startswith("b/")) == 2
    # a/j0 is the first job admitted: it shows which class the policy reaches for.
    assert admits[0][1:3] == ("a/j0", first_class)


ROOMIER_LATER = cluster().gpus("a100", nodes=1, per_node=4, speed=3).gpus("k80", nodes=1, per_node=8).tenants(
    "a").jobs(job("a/x").gpus(1)).obj()


@pytest.mark.parametrize("policy", ["fifo", "static-quota", "weighted-max-min"])
def test_agnostic_baselines_take_the_class_with_most_free_gpus(policy: str) -> None:
    """Blind to speed and not alphabetical: the 8-GPU K80 node before the 4-GPU A100 one, though the A100 is 3x
    faster and first by name."""
    assert summary(POLICIES[policy].schedule(ROOMIER_LATER, NOW, PolicyConfig())) == [
        ("admit", "a/x", "k80", ("k80-0",))]


def test_baselines_explain_waits() -> None:
    result = POLICIES["fifo"].schedule(HEAD_OF_LINE, NOW, PolicyConfig())
    assert reason(result, "a/small") == "FIFO: tenant a holds 4 GPUs; 0 jobs ahead; strict FIFO: an earlier job " \
                                        "does not fit yet"


def test_baselines_ignore_prices_bids_and_budgets() -> None:
    snapshot = cluster().gpus("a100", nodes=1, per_node=8, price=3).tenants(tenant("a").budget(1, spent=5)).jobs(
        job("a/x").bid(0.01)).obj()
    for name in ("fifo", "static-quota", "weighted-max-min", "greedy-hetero"):
        result = POLICIES[name].schedule(snapshot, NOW, PolicyConfig())
        assert summary(result) == [("admit", "a/x", "a100", ("a100-0",))]
        assert dict(result.prices) == {"a100": 3.0} and dict(result.charges) == {"a/x": 3.0}


def test_policies_satisfy_the_protocol_and_take_an_injected_clock() -> None:
    ticks = iter(range(1000))
    market = MarketPolicy(clock=lambda: float(next(ticks)))
    assert isinstance(market, Policy) and market.name == "market"
    assert all(isinstance(p, Policy) for p in POLICIES.values())
    result = market.schedule(HEAD_OF_LINE, NOW, PolicyConfig())
    assert set(result.step_seconds.values()) == {1.0}
