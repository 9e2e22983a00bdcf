"""The market: equilibrium prices and allocations for named cases, and envy-freeness on random markets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fairshare.core.market import Market, build, clearing_prices, solve, utility
from tests.unit.core.helpers import examples

ITERATIONS, TOLERANCE = 2000, 1e-9
ENVY_TOLERANCE = 1e-4  # relative: a settled solver stops within 1e-9 of the budgets' scale


@pytest.mark.parametrize(
    ("market", "prices", "allocation"),
    [
        pytest.param(build([2, 4, 6], [[1], [1], [1]], [[99], [99], [99]], [99, 99, 99], [12], [0.2]),
                     [1.0], [[2], [4], [6]], id="one class: price is budgets over supply, GPUs by budget"),
        pytest.param(build([32], [[1]], [[8]], [8], [16], [1.6]), [1.6], [[8]],
                     id="demand under supply: the floor"),
        pytest.param(build([32], [[1]], [[8]], [8], [8], [1.6]), [4.0], [[8]],
                     id="demand exactly the supply: the buyer's budget sets the price"),
        pytest.param(build([32, 32], [[1], [1]], [[8], [8]], [8, 8], [8], [1.6]), [8.0], [[4], [4]],
                     id="two buyers chasing one class bid it up"),
        pytest.param(build([32], [[1, 0.5]], [[8, 8]], [8], [8, 8], [1.6, 0.8]), [4.0, 0.8], [[8, 0]],
                     id="a job runs on one class: the buyer takes its best and leaves the rest idle"),
        pytest.param(build([10, 10], [[1, 1 / 3], [1, 1 / 1.2]], [[99, 99], [99, 99]], [99, 99], [8, 8], [0.4, 0.2]),
                     [1.3636, 1.1364], [[7.3333, 0], [0.6667, 8]],
                     id="heterogeneity: the tenant that gains most on a100 gets it"),
        pytest.param(build([6, 6], [[1, 1 / 3], [1, 1 / 3]], [[99, 99], [99, 99]], [99, 99], [4, 4], [0.4, 0.2]),
                     [2.25, 0.75], [[2, 2], [2, 2]], id="equal buyers: the fast class costs three times as much"),
    ],
)
def test_equilibrium(market: Market, prices: list[float], allocation: list[list[float]]) -> None:
    eq = solve(market, ITERATIONS, TOLERANCE)
    assert eq.converged
    assert eq.prices == pytest.approx(prices, rel=1e-3)
    assert eq.allocation == pytest.approx(np.array(allocation), abs=1e-3)


@pytest.mark.parametrize(
    ("offers", "caps", "supply", "floors", "want"),
    [
        pytest.param([[8.0]], [[9.0]], [4.0], [0.1], [2.0], id="uncapped: offers over supply"),
        pytest.param([[8.0]], [[2.0]], [4.0], [0.1], [0.1], id="caps under supply: the floor"),
        pytest.param([[8.0, 8.0]], [[2.0, 9.0]], [4.0], [0.1], [4.0], id="one buyer capped, one pays the rest"),
        pytest.param([[8.0]], [[4.0]], [4.0], [0.1], [2.0], id="cap equals supply: highest clearing price"),
    ],
)
def test_clearing_prices(offers: list[list[float]], caps: list[list[float]], supply: list[float],
                         floors: list[float], want: list[float]) -> None:
    got = clearing_prices(np.array(offers), np.array(caps), np.array(supply), np.array(floors))
    assert got == pytest.approx(want)


@st.composite
def markets(draw: st.DrawFn) -> Market:
    buyers = draw(st.integers(1, 5))
    goods = draw(st.integers(1, 4))
    budgets = draw(st.lists(st.floats(0.1, 10), min_size=buyers, max_size=buyers))
    utilities = [[draw(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.8, 1.0])) for _ in range(goods)] for _ in range(buyers)]
    caps = [[float(draw(st.integers(0, 20))) for _ in range(goods)] for _ in range(buyers)]
    quantities = [float(draw(st.integers(1, 30))) for _ in range(buyers)]
    supply = [float(draw(st.integers(0, 20))) for _ in range(goods)]
    floors = [draw(st.floats(0.05, 2.0)) for _ in range(goods)]
    return build(budgets, utilities, caps, quantities, supply, floors)


def _row(m: Market, i: int) -> Market:
    return Market(m.budgets[i:i + 1], m.utilities[i:i + 1], m.caps[i:i + 1], m.quantities[i:i + 1], m.supply,
                  m.floors)


@examples(400)
@given(markets())
def test_a_settled_equilibrium_is_envy_free(m: Market) -> None:
    """No buyer prefers another's bundle scaled to its own budget (weighted envy-freeness), valuing only what it
    can use (caps, quantity), before rounding to gangs and nodes.

    Checked where the solver settled. On random tiny markets ~12% do not settle within 300 rounds: a buyer
    indifferent between classes makes proportional response wander; their last iterate is still feasible (next
    test) but only approximately envy-free. Also left out: a buyer bound by its budget and its quantity at once
    (~1 in 15 buyers here). Its best bundle is a corner of a two-constraint LP that proportional response does
    not find; it can end a few percent short of it (6% in the worst case seen).
    """
    eq = solve(m, 300, 1e-9)
    assume(eq.converged)
    for i in range(len(m.budgets)):
        if eq.spent[i] >= m.budgets[i] * (1 - 1e-6) and eq.allocation[i].sum() >= m.quantities[i] * (1 - 1e-6):
            continue
        mine = float(utility(_row(m, i), eq.allocation[i:i + 1])[0])
        for j in range(len(m.budgets)):
            scale = min(1.0, m.budgets[i] / m.budgets[j])
            theirs = float(utility(_row(m, i), scale * eq.allocation[j:j + 1])[0])
            assert mine >= theirs - ENVY_TOLERANCE * max(1.0, theirs), (i, j, mine, theirs, eq.prices)


@examples(300)
@given(markets())
def test_the_equilibrium_is_feasible(m: Market) -> None:
    """Settled or not: prices at or above floors, no class oversold, no buyer past its caps, quantity or budget."""
    eq = solve(m, 60, 1e-5)
    assert np.all(eq.prices >= m.floors - 1e-12)
    assert np.all(eq.allocation.sum(axis=0) <= m.supply + 1e-6)
    assert np.all(eq.allocation <= m.caps + 1e-6)
    assert np.all(eq.allocation.sum(axis=1) <= m.quantities + 1e-6)
    assert np.all(eq.spent <= m.budgets * (1 + 1e-6) + 1e-9)
