"""The market started from the last cycle's equilibrium: same prices, far fewer rounds; and the allocator's hints."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.market import Market, build, solve, utility
from tests.builders import cluster, job, tenant
from tests.unit.core.helpers import examples
from tests.unit.core.test_market import markets

NOW = 100_000.0

HETEROGENEOUS = build([10, 10], [[1, 1 / 3], [1, 1 / 1.2]], [[99, 99], [99, 99]], [99, 99], [8, 8], [0.4, 0.2])
CHASE = build([32, 32], [[1], [1]], [[8], [8]], [8, 8], [8], [1.6])


def spending(market: Market) -> np.ndarray:
    """Each buyer's spending per good at the settled equilibrium (what the last cycle's status records)."""
    eq = solve(market, 2000, 1e-9)
    assert eq.converged
    return eq.allocation * eq.prices[None, :]


@pytest.mark.parametrize("market", [pytest.param(HETEROGENEOUS, id="heterogeneous buyers"),
                                    pytest.param(CHASE, id="two buyers chasing one class")])
def test_a_market_started_at_its_equilibrium_stays_there_and_settles_at_once(market: Market) -> None:
    cold = solve(market, 2000, 1e-9)
    warm = solve(market, 2000, 1e-9, start=spending(market), settle=1e-3)
    assert warm.iterations <= 3
    assert warm.prices == pytest.approx(cold.prices, rel=1e-6)
    assert warm.allocation == pytest.approx(cold.allocation, abs=1e-4)


def test_from_scratch_the_same_market_takes_many_rounds() -> None:
    assert solve(HETEROGENEOUS, 2000, 1e-9).iterations > 10


def test_a_wrong_start_still_reaches_the_equilibrium() -> None:
    start = np.array([[0.0, 10.0], [10.0, 0.0]])  # each buyer starts on the class the other prefers
    warm = solve(HETEROGENEOUS, 2000, 1e-9, start=start)
    assert warm.converged
    assert warm.prices == pytest.approx([1.3636, 1.1364], rel=1e-3)


def test_an_empty_start_row_starts_that_buyer_cold() -> None:
    start = spending(HETEROGENEOUS)
    start[1] = 0.0
    assert solve(HETEROGENEOUS, 2000, 1e-9, start=start).prices == pytest.approx([1.3636, 1.1364], rel=1e-3)


@examples(200)
@given(markets())
def test_a_warm_start_from_a_settled_equilibrium_keeps_what_everyone_gets(m: Market) -> None:
    """Restarting a settled market from its own spending stays feasible and gives every buyer about the same value.
    Prices need not repeat: a class that buyers take exactly to their caps clears at any price in a range. Values
    can differ by a few percent where a buyer is bound by its budget and its quantity at once, the corner that
    proportional response settles short of (see test_market: up to 6 %)."""
    eq = solve(m, 300, 1e-9)
    assume(eq.converged)
    again = solve(m, 300, 1e-9, start=eq.allocation * eq.prices[None, :], settle=1e-3)
    assert np.all(again.prices >= m.floors - 1e-12)
    assert np.all(again.allocation.sum(axis=0) <= m.supply + 1e-6)
    assert np.all(again.spent <= m.budgets * (1 + 1e-6) + 1e-9)
    assert utility(m, again.allocation) == pytest.approx(utility(m, eq.allocation), rel=0.07, abs=1e-6)


TWO_TENANTS = cluster().gpus("a100", nodes=1, per_node=8, price=4, speed=2).gpus("t4", nodes=1, per_node=8, price=1)


def test_the_allocator_starts_from_the_last_prices_and_fair_shares() -> None:
    """Given the last cycle's prices and fair shares the cycle settles on the same prices as from scratch."""
    jobs = [job(f"{t}/j{i}").gpus(2).submitted(i) for t in "ab" for i in range(8)]
    cold = schedule(TWO_TENANTS.tenants("a", "b").jobs(*jobs).obj(), NOW, PolicyConfig())
    hinted = cluster().gpus("a100", nodes=1, per_node=8, price=4, speed=2).gpus("t4", nodes=1, per_node=8, price=1)
    snapshot = hinted.tenants(*[tenant(t).obj() for t in "ab"]).jobs(*jobs).obj()
    classes = tuple(type(c)(c.name, c.price_per_gpu_hour, c.power_watts, c.relative_speed,
                            current_price=cold.prices[c.name]) for c in snapshot.classes)
    tenants = tuple(type(t)(t.name, fair_share=dict(cold.fair_shares[t.name])) for t in snapshot.tenants)
    warm = schedule(type(snapshot)(classes, snapshot.nodes, tenants, snapshot.jobs, ()), NOW, PolicyConfig())
    assert dict(warm.prices) == pytest.approx(dict(cold.prices), rel=2e-3)
    assert [d for d in warm.decisions if type(d).__name__ == "Admit"] == \
        [d for d in cold.decisions if type(d).__name__ == "Admit"]
