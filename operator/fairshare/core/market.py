"""Equilibrium prices: a Fisher market with linear, capped utilities, solved by proportional response."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fairshare.core.market_lists import BUDGET_SLACK, PER_CREDIT_BITS, SUPPLY_SLACK, ListMarket, solve_lists

Array = NDArray[np.float64]

# Keeps every valued class faintly in each bid so a class dropped once can come back when prices move.
_EXPLORATION = 1e-7
_NEWTON_STEPS = 50
# Each round moves offers 70% of the way to the new response: undamped, a buyer capped on one class and
# quantity-bound on the others can swing between two bundles forever instead of settling between them.
_DAMPING = 0.7
# Up to this many buyers x goods, `solve` runs on Python lists (market_lists): numpy's per-call cost dominates there.
SMALL_MARKET = 512


@dataclass(frozen=True, slots=True)
class Market:
    """Buyers (tenants) x goods (GPU classes).

    - budgets[t]: credits per hour the buyer spends (its entitlement).
    - utilities[t, g]: value of one GPU of class g to the buyer (normalised throughput of its jobs).
    - caps[t, g]: most GPUs of class g the buyer can use (its demand there, within its limit).
    - quantities[t]: most GPUs in total the buyer can use (a job that accepts several classes runs on one).
    - supply[g]: GPUs of class g; floors[g]: the lowest price of class g.
    """

    budgets: Array
    utilities: Array
    caps: Array
    quantities: Array
    supply: Array
    floors: Array


@dataclass(frozen=True, slots=True)
class Equilibrium:
    """Prices per good, the fractional allocation per buyer and good, what each buyer spends, and how it settled
    (converged: the bids settled, or with `settle` the prices did)."""

    prices: Array
    allocation: Array
    spent: Array
    iterations: int
    converged: bool


def useful(market: Market, holdings: Array) -> Array:
    """The part of each bundle a buyer can use: within per-class caps, then its most valuable GPUs up to its quantity.
    """
    return _useful(holdings.T, market.caps.T, market.utilities.T, market.quantities).T


def utility(market: Market, holdings: Array) -> Array:
    """Each buyer's value of the given bundles (one row per buyer), counting only what it can use."""
    values: Array = np.einsum("tg,tg->t", market.utilities, useful(market, holdings))
    return values


# The solver works on goods x buyers (transposed) arrays: reductions over a handful of classes are then
# a few long vector operations instead of thousands of short ones.


class _Ranking:
    """Each buyer's classes, most valued first, as flat indices into a goods x buyers array (and back)."""

    __slots__ = ("forward", "shape")

    def __init__(self, a: Array) -> None:
        order = np.argsort(-a, axis=0, kind="stable")
        self.shape = a.shape
        self.forward = (order * a.shape[1] + np.arange(a.shape[1])).ravel()

    def sort(self, x: Array) -> Array:
        out: Array = x.ravel()[self.forward].reshape(self.shape)
        return out

    def unsort(self, xs: Array) -> Array:
        out = np.empty(xs.size)
        out[self.forward] = xs.ravel()
        return out.reshape(self.shape)


def _useful(x: Array, caps: Array, a: Array, quantities: Array) -> Array:
    return _use_and_room(x, caps, quantities, _Ranking(a))[0]


def _use_and_room(x: Array, caps: Array, quantities: Array, ranking: _Ranking) -> tuple[Array, Array]:
    """(usable part of holdings x, room per class). Room is the cap, less what the buyer's quantity leaves after
    the GPUs it holds of classes it values more (a job that runs on an a100 does not also want a v100)."""
    x = np.minimum(x, caps)
    if not (caps.sum(axis=0) > quantities).any():
        return x, caps
    xs = ranking.sort(x)
    # What the buyer holds of the classes it values more, summed in rank order as market_lists does: cumsum - xs
    # would round (3 + h) - h to a hair over 3 and leave a room a hair short of the supply, which drops a price to
    # its floor.
    before = np.zeros_like(xs)
    np.cumsum(xs[:-1], axis=0, out=before[1:])
    left = np.maximum(quantities - before, 0.0)
    return ranking.unsort(np.minimum(xs, left)), np.minimum(caps, ranking.unsort(left))


def clearing_prices(intended: Array, caps: Array, supply: Array, floors: Array) -> Array:
    """Per class, the highest price at which buyers, each buying at most its cap, take the whole supply.

    Buyer t offers intended[g, t] credits for class g but takes no more than caps[g, t] GPUs. Where even
    the floor does not sell the supply, the floor is the price (unsold GPUs stay idle at the floor); caps that
    fall short of the supply by at most SUPPLY_SLACK of it count as selling it (a rounding step must not drop
    the price to the floor).
    Solved exactly: excess spend is concave and piecewise linear in the price, so Newton's method from
    the price that ignores caps walks down to the highest root without overshooting.
    """
    prices: Array = np.maximum(floors, intended.sum(axis=1) / np.maximum(supply, 1e-12))
    rows = np.flatnonzero((intended > caps * prices[:, None]).any(axis=1))
    if rows.size:
        b, c, s, f, q = intended[rows], caps[rows], supply[rows], floors[rows], prices[rows]
        for _ in range(_NEWTON_STEPS):
            taken = c * q[:, None]
            excess = np.minimum(b, taken).sum(axis=1) - s * q
            slope = np.where(taken < b, c, 0.0).sum(axis=1) - s
            step = np.divide(excess, slope, out=np.zeros_like(excess), where=slope < -SUPPLY_SLACK * s)
            new_q = np.maximum(f, q - step)
            if float(np.max(np.abs(new_q - q) / q)) < 1e-12:
                break
            q = new_q
        prices[rows] = q
    return prices


def offers(budgets: Array, weights: Array, cap_costs: Array) -> Array:
    """What each buyer offers per class: its budget split in proportion to `weights`, except that a class whose
    cap costs less than its part (by more than BUDGET_SLACK of the budget) is capped and the difference flows to
    the buyer's other classes.

    The offer on a capped class stays at the buyer's level x weight (at least the cap's cost), so a price can
    still rise to meet it; a buyer capped everywhere offers its leftover in proportion, as it could pay more.
    """
    budget = budgets.copy()
    open_ = weights > 0
    capped = np.zeros_like(budgets)
    for _ in range(weights.shape[0] + 1):
        w = np.where(open_, weights, 0.0)
        total = w.sum(axis=0)
        level = np.divide(budget, total, out=np.zeros_like(total), where=total > 0)
        over = open_ & (level * weights > cap_costs + BUDGET_SLACK * budgets)
        if not over.any():
            break
        spent = np.where(over, cap_costs, 0.0).sum(axis=0)
        budget = budget - spent
        capped = capped + spent
        open_ &= ~over
    everywhere = (total <= 0) & (weights.sum(axis=0) > 0)
    total_weight = weights.sum(axis=0)
    spare = np.divide(budgets - capped, total_weight, out=np.zeros_like(budgets), where=everywhere)
    offer = np.where(everywhere, cap_costs * (weights > 0) + spare * weights, level * weights)
    # A level set by tiny weights elsewhere would offer without bound on a capped class: nobody offers more
    # than its whole budget for one class.
    bounded: Array = np.minimum(offer, budgets)
    return bounded


def _within_budget(bids: Array, budgets: Array, a: Array, prices: Array) -> Array:
    """While prices still move, offers made at last round's prices can add up to more than a budget: the buyer
    then gives up its least valuable spending first (lowest utility per credit)."""
    total = bids.sum(axis=0)
    cols = np.flatnonzero(total > budgets * (1.0 + 1e-12))
    if not cols.size:
        return bids
    sub = bids[:, cols]
    over = total[cols] - budgets[cols]
    order = np.argsort(_per_credit(a[:, cols], prices[:, None]), axis=0, kind="stable")
    rows = np.arange(cols.size)
    for rank in range(bids.shape[0]):
        g = order[rank]
        cut = np.minimum(sub[g, rows], over)
        sub[g, rows] -= cut
        over -= cut
    out = bids.copy()
    out[:, cols] = sub
    return out


def _per_credit(values: Array, prices: Array) -> Array:
    """Utility per credit rounded to PER_CREDIT_BITS of mantissa, as market_lists._per_credit (ties by class)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = values / prices
    mantissa, exponent = np.frexp(raw)
    rounded: Array = np.where(np.isfinite(raw), np.ldexp(np.round(mantissa * 2.0 ** PER_CREDIT_BITS),
                                                          exponent - PER_CREDIT_BITS), raw)
    return rounded


def solve(market: Market, iterations: int, tolerance: float, start: Array | None = None,
          settle: float = 0.0) -> Equilibrium:
    """Proportional response: each buyer re-splits its budget in proportion to the utility each class gave it.

    For linear utilities this converges to the Eisenberg-Gale (Fisher) equilibrium, which is envy-free and
    Pareto-efficient; caps and quantities make buyers stop spending where they are satiated, and floors act
    as reserve prices (unsold GPUs keep the floor price). Settled when no bid moves by more than
    `tolerance` x the largest budget or, with `settle` > 0, when no price moves by more than that fraction in two
    rounds running (buyers nearly indifferent between classes can shuffle their bids for hundreds of rounds at
    prices that no longer move).

    `start` (buyers x goods, credits) is where the bids begin, e.g. the last cycle's spending (its prices times its
    allocation): each buyer's row is scaled to its budget; a buyer with an empty row starts as if cold. A
    market that moved little since then settles in a few rounds instead of dozens.
    """
    if market.budgets.size * market.supply.size <= SMALL_MARKET:
        return _solve_small(market, iterations, tolerance, start, settle)
    return solve_numpy(market, iterations, tolerance, start, settle)


def solve_numpy(market: Market, iterations: int, tolerance: float, start: Array | None = None,
                settle: float = 0.0) -> Equilibrium:
    """`solve` on numpy arrays whatever the market's size (the one `solve` uses above SMALL_MARKET)."""
    supply, floors, budgets, quantities = market.supply, market.floors, market.budgets, market.quantities
    valued = (market.utilities.T > 0) & (market.caps.T > 0) & (supply[:, None] > 0)
    a = np.ascontiguousarray(np.where(valued, market.utilities.T, 0.0))
    caps = np.ascontiguousarray(np.where(valued, market.caps.T, 0.0))
    explore = _EXPLORATION * np.maximum(quantities, 1.0) * valued
    scale = tolerance * max(float(budgets.max(initial=0.0)), 1e-12)
    weights = a * (np.minimum(caps, quantities) + explore)
    if start is not None:
        warm = np.where(valued, np.maximum(start.T, 0.0), 0.0)
        weights = np.where((warm.sum(axis=0) > 0)[None, :], warm + explore, weights)
    total = weights.sum(axis=0)
    offer = np.divide(budgets, total, out=np.zeros_like(total), where=total > 0) * weights
    prices = clearing_prices(offer, caps, supply, floors)
    bids = np.minimum(offer, caps * prices[:, None])
    ranking = _Ranking(a)
    converged = False
    done = calm = 0
    last_offer: Array | None = None
    for done in range(1, iterations + 1):  # noqa: B007 - the count is reported
        held, room = _use_and_room(bids / prices[:, None], caps, quantities, ranking)
        offer = offers(budgets, a * (held + explore), room * prices[:, None])
        if last_offer is not None:
            offer = _DAMPING * offer + (1.0 - _DAMPING) * last_offer
        last_offer = offer
        new_prices = clearing_prices(offer, room, supply, floors)
        moved = float(np.max(np.abs(new_prices - prices) / prices, initial=0.0))
        prices = new_prices
        new_bids = _within_budget(np.minimum(offer, room * prices[:, None]), budgets, a, prices)
        change = float(np.max(np.abs(new_bids - bids), initial=0.0))
        bids = new_bids
        calm = calm + 1 if moved <= settle else 0
        if change < scale or (settle > 0 and calm >= 2):
            converged = True
            break
    allocation = _use_and_room(bids / prices[:, None], caps, quantities, ranking)[0]
    return Equilibrium(prices, allocation.T.copy(), (allocation * prices[:, None]).sum(axis=0), done, converged)


def _solve_small(market: Market, iterations: int, tolerance: float, start: Array | None,
                 settle: float) -> Equilibrium:
    """`solve` on lists: the same rounds, without numpy's per-call overhead."""
    lists = ListMarket(market.budgets.tolist(), market.utilities.tolist(), market.caps.tolist(),
                       market.quantities.tolist(), market.supply.tolist(), market.floors.tolist(), _EXPLORATION)
    prices, allocation, done, converged = solve_lists(lists, iterations, tolerance,
                                                      None if start is None else start.tolist(), settle, _DAMPING)
    goods, buyers = lists.goods, lists.buyers
    held = np.array(allocation, dtype=np.float64).reshape(goods, buyers)
    price = np.array(prices, dtype=np.float64)
    return Equilibrium(price, held.T.copy(), (held * price[:, None]).sum(axis=0), done, converged)


def build(
    budgets: Sequence[float], utilities: Sequence[Sequence[float]], caps: Sequence[Sequence[float]],
    quantities: Sequence[float], supply: Sequence[float], floors: Sequence[float],
) -> Market:
    """A market from plain sequences (tests and callers that do not hold arrays)."""
    n_goods = len(supply)
    return Market(
        np.asarray(budgets, dtype=np.float64),
        np.asarray(utilities, dtype=np.float64).reshape(len(budgets), n_goods),
        np.asarray(caps, dtype=np.float64).reshape(len(budgets), n_goods),
        np.asarray(quantities, dtype=np.float64),
        np.asarray(supply, dtype=np.float64),
        np.asarray(floors, dtype=np.float64),
    )
