"""The list solver (small markets) and the numpy solver (large ones) reach the same equilibrium, round for round."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairshare.core.market import SMALL_MARKET, Equilibrium, Market, _solve_small, build, solve, solve_numpy
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


def _both(m: Market) -> tuple[Equilibrium, Equilibrium]:
    return _solve_small(m, 60, 1e-9, None, 0.0), solve_numpy(m, 60, 1e-9, None, 0.0)


@pytest.mark.parametrize("m", [
    build([3.0, 3.0, 1.0], [[0.25, 0.5], [0.0, 0.1], [0.1, 0.0]], [[5, 9], [0, 7], [1, 0]], [13, 7, 1], [6, 15],
          [0.125, 0.25]),
    build([3.0, 2.0, 2.0], [[0.5, 0.8], [0.0, 0.1], [0.1, 0.0]], [[5, 9], [0, 7], [9, 0]], [13, 7, 9], [14, 15],
          [0.125, 0.25]),
], ids=["settles", "settled-at-the-floor"])
def test_a_room_a_rounding_step_short_of_the_supply_keeps_its_clearing_price(m: Market) -> None:
    """Buyer 0 holds 8 of the class it values more (the other 7 go to buyer 1), which leaves it a room of exactly 5 on
    the first class, and 5 + buyer 2's cap is exactly that class's supply. Holdings are bids / prices, so the room
    came out as 5 or a few ulps under it; under it, Newton's method in the clearing price found no root and dropped
    the price to its floor, and which solver did so depended on the order each summed the excess. The first market
    then never settled and ended at prices 3% apart; the second settled at the floor in 28 rounds (lists) and 49
    (numpy). Rooms within SUPPLY_SLACK of the supply now cover it in both (hypothesis found both markets)."""
    lists, arrays = _both(m)
    assert lists.prices == pytest.approx(arrays.prices, rel=1e-9)
    assert (lists.iterations, lists.converged) == (arrays.iterations, True)
    assert arrays.prices[0] > m.floors[0] * 1.1
    assert arrays.allocation[0] == pytest.approx([5.0, 8.0], rel=1e-6)


def test_a_budget_that_buys_exactly_its_caps_leaves_the_buyer_uncapped_in_both_solvers() -> None:
    """In round 1 buyer 0's caps cost 3 x 0.2667 + 8 x 0.4 = its whole budget of 4. Its share of the first class
    equals that cap's cost, give or take a rounding step: the list solver rounded it over and capped the buyer
    everywhere (offering 3.2 for the second class), numpy's rounded it under and offered its level there (its whole
    budget, 4), and the two ended at prices 7% apart. A class now caps only when its share beats the cap's cost by
    BUDGET_SLACK of the budget, so the buyer is uncapped in both, as the strict rule says (hypothesis found this
    market)."""
    m = build([4.0, 3.0, 1.0], [[0.1, 0.25], [0.0, 0.1], [0.0, 0.1]], [[5, 8], [0, 7], [0, 1]], [11, 7, 1], [3, 16],
              [0.25, 0.25])
    lists, arrays = _both(m)
    assert lists.prices == pytest.approx(arrays.prices, rel=1e-9)
    assert (lists.iterations, lists.converged) == (arrays.iterations, arrays.converged)
    assert arrays.prices == pytest.approx([0.25, 3.0 / 7.0], rel=1e-9)


def test_a_class_whose_room_is_exactly_its_supply_keeps_its_price_in_the_first_round() -> None:
    """A market from the simulator's end-to-end run, started warm: the three buyers take all 8 GPUs of class 1,
    which leaves 4 + 6 + 6 - 8 = 8 of their quantities, exactly class 0's supply. Holdings are bids / prices, so that
    room came out a hair under 8 and round 1 dropped class 0's price to its floor (0.18, from about 0.40); the
    solver took 12 rounds to climb back instead of 8. Both solvers now keep the price."""
    m = build([10.578104704609041, 10.666967175622336, 10.434928119768625],
              [[0.2031020468470083, 1.0], [0.1636125654450262, 1.0], [0.11353510199831711, 1.0]],
              [[2.0, 4.0], [6.0, 6.0], [6.0, 6.0]], [4.0, 6.0, 6.0], [8.0, 8.0],
              [0.18000000000000002, 0.6120000000000001])
    start = np.array([[0.4697911571846653, 8.700081406094371], [1.3744924201323314, 8.00307607583124],
                      [1.4043466636935933, 7.776351617934361]])
    for solver in (_solve_small, solve_numpy):
        first = solver(m, 1, 1e-9, start, 1e-3)
        assert first.prices[0] == pytest.approx(0.4032, rel=1e-3)
        settled = solver(m, 60, 1e-9, start, 1e-3)
        assert (settled.iterations, settled.converged) == (8, True)


@pytest.mark.parametrize("m", [
    build([1.0, 7.0, 2.0], [[0, 0], [0.1, 0.1], [0, 0.1]], [[0, 0], [3, 4], [0, 1]], [1, 7, 1], [3, 4], [1, 1]),
    build([1.0, 7.0, 2.0], [[0, 0], [0.1, 0.1], [0, 0.1]], [[0, 0], [3, 4], [0, 2]], [1, 6, 1], [3, 4], [1, 1]),
], ids=["prices-apart", "rounds-apart"])
def test_a_buyer_over_budget_between_classes_it_values_alike_cuts_the_same_class_in_both_solvers(m: Market) -> None:
    """Buyer 1 values both classes alike and both clear at 4/3 credits; summed in different orders, one solver's
    price came out 2 ulps above the other's. Over its budget, buyer 1 gives up the class with the least utility per
    credit, and the unrounded sort then cut the first class in one solver and the second in the other: prices 1.33
    against 1.17 in the end, or 58 rounds against 60 (hypothesis found both markets). Rounded to PER_CREDIT_BITS,
    the two are a tie, broken by class index in both."""
    lists, arrays = _both(m)
    assert lists.prices == pytest.approx(arrays.prices, rel=1e-9)
    assert lists.allocation == pytest.approx(arrays.allocation, rel=1e-9, abs=1e-9)
    assert (lists.iterations, lists.converged) == (arrays.iterations, arrays.converged)
