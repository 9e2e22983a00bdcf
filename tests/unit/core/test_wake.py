"""When the policy can next act without an event (core/wake.py): the wake each rule sets, and a property that a
cycle re-run before the wake, on the applied outcome, changes nothing."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import CycleResult, Wait
from fairshare.core.types import Snapshot
from fairshare.simulator.policies import POLICIES
from fairshare.simulator.replay import apply
from tests.builders import cluster, job, tenant
from tests.unit.core.helpers import examples
from tests.unit.core.strategies import reachable

NOW = 100_000.0
CONFIG = PolicyConfig(price_iterations=30)  # min_run_seconds 600, service quantum 1 GPU-hour, growth 10
LONG_AGO = NOW - 7200.0


@pytest.mark.parametrize(("snapshot", "want"), [
    pytest.param(cluster().gpus("a100", nodes=1, per_node=8).tenants("a").obj(), math.inf, id="an empty cluster"),
    pytest.param(cluster().gpus("a100", nodes=1, per_node=8).tenants("a").jobs(job("a/x").gpus(8)).obj(),
                 math.inf, id="a lone job admitted: nobody waits for it"),
    pytest.param(cluster().gpus("a100", nodes=1, per_node=8).tenants("a").jobs(
        job("a/old").gpus(8).attained(50).running("a100", *["a100-0"], started=NOW - 60)
        .workers(1), job("a/new").gpus(8)).obj(),
        NOW - 60 + 600, id="a served job gives way to its own tenant's newcomer once it has run 10 minutes"),
    pytest.param(cluster().gpus("a100", nodes=1, per_node=1).tenants("a").jobs(
        job("a/old").running("a100", "a100-0", started=NOW - 1800), job("a/new")).obj(),
        NOW + 1800, id="a job in the first band wakes when its attained service reaches the second"),
    pytest.param(cluster().gpus("a100", nodes=1, per_node=8).tenants("a").jobs(
        job("a/old").gpus(8).attained(50).priority(1).running("a100", "a100-0", started=LONG_AGO),
        job("a/new").gpus(8)).obj(),
        math.inf, id="a waiting job of lower priority: time alone changes nothing"),
    pytest.param(cluster().gpus("a100", nodes=1, per_node=8).tenants("a", "b").jobs(
        job("a/old").gpus(8).attained(50).running("a100", "a100-0", started=NOW - 60),
        job("b/new").gpus(8)).obj(),
        NOW - 60 + 600, id="another tenant below its share waits: the holder may be taken for fair share"),
    pytest.param(cluster().gpus("a100", nodes=2, per_node=8).tenants("a", "b").jobs(
        job("a/old").gpus(8).attained(50).running("a100", "a100-0", started=NOW - 60),
        job("b/running").gpus(8).priority(1).running("a100", "a100-1", started=NOW - 60),
        job("b/new").gpus(8)).obj(),
        math.inf, id="a job of a tenant already at its share waits: no rule fires"),
    pytest.param(cluster().gpus("a100", nodes=1, per_node=8).tenants(tenant("a").budget(10, spent=2)).jobs(
        job("a/x").gpus(8).running("a100", "a100-0", started=NOW - 60)).obj(),
        NOW + 3600, id="8 credits left at 8 GPUs x 1.0 credits/h: the budget runs out in an hour"),
    pytest.param(cluster().gpus("a100", nodes=1, per_node=8).tenants(tenant("a").budget(10, spent=10)).jobs(
        job("a/x").gpus(8).running("a100", "a100-0", started=NOW - 60)).obj(),
        math.inf, id="a budget already spent: nothing left to run out"),
])
def test_the_wake_each_rule_sets(snapshot: Snapshot, want: float) -> None:
    result = schedule(snapshot, NOW, CONFIG)
    assert result.wake_at == pytest.approx(want)


def test_a_cycle_that_preempts_asks_for_the_next_cycle_at_once() -> None:
    snapshot = cluster().gpus("a100", nodes=1, per_node=8).tenants(tenant("a").guarantee(a100=8), "b").jobs(
        job("b/borrower").gpus(8).running("a100", "a100-0", started=LONG_AGO), job("a/owner").gpus(4)).obj()
    result = schedule(snapshot, NOW, CONFIG)
    assert [type(d).__name__ for d in result.decisions] == ["Preempt", "Admit"]
    assert result.wake_at == NOW


def test_a_guarantee_that_may_reclaim_from_a_borrower_asks_again_at_the_next_tick() -> None:
    """Its bid keeps the job from reclaiming now; the rule does not read bids, so it wakes early, never late."""
    snapshot = cluster().gpus("a100", nodes=1, per_node=8).tenants(tenant("a").guarantee(a100=8), "b").jobs(
        job("b/borrower").gpus(8).running("a100", "a100-0", started=LONG_AGO),
        job("a/owner").gpus(4).bid(1e-4)).obj()
    result = schedule(snapshot, NOW, CONFIG)
    assert [type(d).__name__ for d in result.decisions] == ["Wait"]
    assert result.wake_at == NOW


@pytest.mark.parametrize(("name", "want"), [
    pytest.param("fifo", math.inf, id="fifo"),
    pytest.param("weighted-max-min", math.inf, id="weighted max-min"),
    pytest.param("greedy-hetero", math.inf, id="greedy-hetero"),
    pytest.param("static-quota", None, id="static quotas give none: the replay keeps its older rules"),
])
def test_baselines_wake_only_for_events(name: str, want: float | None) -> None:
    snapshot = cluster().gpus("a100", nodes=1, per_node=8).tenants("a", "b").jobs(
        job("a/old").gpus(8).attained(50).running("a100", "a100-0", started=NOW - 60), job("b/new").gpus(8)).obj()
    assert POLICIES[name].schedule(snapshot, NOW, CONFIG).wake_at == want


def _as_next_cycle_sees_it(snapshot: Snapshot, result: CycleResult, now: float) -> Snapshot:
    """The applied outcome with the prices and fair shares the cycle set, as the operator keeps them in status."""
    after = apply(snapshot, result, now)
    classes = tuple(replace(c, current_price=result.prices.get(c.name)) for c in after.classes)
    tenants = tuple(replace(t, fair_share=result.fair_shares.get(t.name)) for t in after.tenants)
    return replace(after, classes=classes, tenants=tenants)


@given(reachable())
@examples(60)
def test_time_alone_changes_nothing_before_the_wake(state: tuple[Snapshot, float]) -> None:
    """The wake is never late: on the outcome of a cycle, a cycle just after it that only waits (re-running can
    still settle prices further, which is not time's doing) still only waits just before the wake."""
    snapshot, now = state
    first = schedule(snapshot, now, CONFIG)
    if first.wake_at is None or first.wake_at <= now:
        return
    after = _as_next_cycle_sees_it(snapshot, first, now)
    soon, later = now + 1e-3, min(first.wake_at - 1e-3, now + 30 * 86_400.0)
    if later <= soon or any(not isinstance(d, Wait) for d in schedule(after, soon, CONFIG).decisions):
        return
    acted = [d for d in schedule(after, later, CONFIG).decisions if not isinstance(d, Wait)]
    assert acted == [], (first.wake_at, later, acted)
