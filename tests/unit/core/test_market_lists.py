"""The list solver (small markets) and the numpy solver (large ones) reach the same equilibrium, round for round."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairshare.core.market import SMALL_MARKET, Market, _solve_small, solve, solve_numpy
from tests.unit.core.test_market import markets


def _warm_start(draw: st.DrawFn, m: Market) -> np.ndarray | None:
    if not draw(st.booleans()):
        return None
    rows, cols = m.utilities.shape
    return np.array([[draw(st.sampled_from([0.0, 0.5, 2.0, 7.0])) for _ in range(cols)] for _ in range(rows)])


@st.composite
def markets_and_starts(draw: st.DrawFn) -> tuple[Market, np.ndarray | None, float]:
    m = draw(markets())
    return m, _warm_start(draw, m), draw(st.sampled_from([0.0, 1e-3]))


@settings(max_examples=400, deadline=None)
@given(markets_and_starts())
def test_both_solvers_agree(case: tuple[Market, np.ndarray | None, float]) -> None:
    m, start, settle = case
    lists, arrays = _solve_small(m, 60, 1e-9, start, settle), solve_numpy(m, 60, 1e-9, start, settle)
    assert lists.prices == pytest.approx(arrays.prices, rel=1e-6)
    assert lists.allocation == pytest.approx(arrays.allocation, rel=1e-6, abs=1e-6)
    assert lists.spent == pytest.approx(arrays.spent, rel=1e-6, abs=1e-6)
    assert (lists.iterations, lists.converged) == (arrays.iterations, arrays.converged)


@pytest.mark.parametrize(("buyers", "goods", "solver"), [(64, 8, "lists"), (65, 8, "numpy"), (3, 3, "lists")])
def test_solve_picks_the_solver_by_size(buyers: int, goods: int, solver: str) -> None:
    assert SMALL_MARKET == 512
    rng = np.random.default_rng(buyers * goods)
    m = Market(budgets=rng.uniform(1, 10, buyers), utilities=rng.uniform(0.1, 1, (buyers, goods)),
               caps=np.full((buyers, goods), 8.0), quantities=np.full(buyers, 8.0), supply=np.full(goods, 16.0),
               floors=np.full(goods, 0.2))
    got = solve(m, 60, 1e-9)
    want = _solve_small(m, 60, 1e-9, None, 0.0) if solver == "lists" else solve_numpy(m, 60, 1e-9)
    assert got.prices.tolist() == want.prices.tolist()


def test_a_buyer_holding_its_whole_quantity_gets_the_same_prices_from_both_solvers() -> None:
    """Buyer 0 holds its cap of both classes (3 + 6 = its quantity 9): its room on the second class must come out as
    exactly 6, not a rounding step short of the supply, or numpy's solver drops that class's price to the floor
    where the list solver does not (hypothesis found this market)."""
    m = Market(budgets=np.array([7.0, 1.0]), utilities=np.array([[0.1, 0.1], [0.1, 0.1]]),
               caps=np.array([[3.0, 6.0], [1.0, 1.0]]), quantities=np.array([9.0, 1.0]), supply=np.array([5.0, 6.0]),
               floors=np.array([0.25, 1.0]))
    lists, arrays = _solve_small(m, 60, 1e-9, None, 0.0), solve_numpy(m, 60, 1e-9, None, 0.0)
    assert lists.prices == pytest.approx(arrays.prices, rel=1e-9)
    assert arrays.prices[1] == pytest.approx(7.0 / 6.0 - 0.25 * 3 / 6, rel=1e-6)
