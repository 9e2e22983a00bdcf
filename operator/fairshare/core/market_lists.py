"""The market of `core/market.py`, solved on Python lists: for small markets (most clusters have a few classes and
tens of tenants) a compiled loop over a few dozen floats beats numpy's per-call overhead many times over.

Same algorithm, step by step, on goods x buyers lists; `market.solve` picks this one by size. The two agree to
rounding (tests/unit/core/test_market_lists.py); where numpy reduces a whole array at once, this loops per buyer
or per class, which is what numpy's broadcasting did element by element.
"""

from __future__ import annotations

import math

Grid = list[list[float]]  # goods x buyers

_INF = math.inf
# A class's room counts as covering its supply when it falls short by at most this fraction of the supply. Room is
# what a quantity leaves after the GPUs held of better classes, and those holdings are bids / prices: a room that
# is exactly the supply in the equilibrium comes out a few ulps either side of it, and short by any amount the
# highest clearing price drops to the floor. Both solvers share this margin so rounding does not decide the price.
SUPPLY_SLACK = 1e-9
# A class is capped in a buyer's offers only when its part of the budget beats the cap's cost by more than this
# fraction of the budget. A buyer whose budget buys exactly its caps is not capped everywhere (it has nothing left
# to offer in proportion): the last class to close must close with a margin, not by a rounding step of its cost.
BUDGET_SLACK = 1e-9
# Utility per credit is compared to this many bits of mantissa when a buyer over its budget picks what to give up
# first: two classes its utilities value alike at prices equal in the equilibrium come out a few ulps apart, the
# two solvers' sums in different orders put those ulps on different sides, and an unrounded sort then cut
# different classes (hypothesis: prices 1.33 against 1.17). Rounded, they are a tie, broken by class index in both.
PER_CREDIT_BITS = 30


def _ratio(change: float, base: float) -> float:
    if base > 0.0:
        return change / base
    return 0.0 if change == 0.0 else _INF


def _ranked(values: list[float]) -> list[int]:
    """Indices by value, highest first, ties in index order (numpy's stable argsort of the negated values)."""
    return sorted(range(len(values)), key=lambda i: -values[i])


class ListMarket:
    """A market as goods x buyers lists, with each buyer's classes ranked by utility (stable, highest first)."""

    __slots__ = ("a", "budgets", "caps", "explore", "floors", "goods", "buyers", "quantities", "ranking",
                 "satiable", "supply")

    def __init__(self, budgets: list[float], utilities: Grid, caps: Grid, quantities: list[float],
                 supply: list[float], floors: list[float], exploration: float) -> None:
        """`utilities` and `caps` come as buyers x goods, as in `market.Market`."""
        goods, buyers = len(supply), len(budgets)
        self.goods, self.buyers = goods, buyers
        self.budgets, self.quantities, self.supply, self.floors = budgets, quantities, supply, floors
        a: Grid = [[0.0] * buyers for _ in range(goods)]
        c: Grid = [[0.0] * buyers for _ in range(goods)]
        e: Grid = [[0.0] * buyers for _ in range(goods)]
        for t in range(buyers):
            urow, crow = utilities[t], caps[t]
            explore = exploration * max(quantities[t], 1.0)
            for g in range(goods):
                if urow[g] > 0.0 and crow[g] > 0.0 and supply[g] > 0.0:
                    a[g][t] = urow[g]
                    c[g][t] = crow[g]
                    e[g][t] = explore
        self.a, self.caps, self.explore = a, c, e
        self.ranking: list[list[int]] = [_ranked([a[g][t] for g in range(goods)]) for t in range(buyers)]
        # Buyers whose caps add up to more than their quantity: only they need the ranked pass in use_and_room.
        self.satiable: list[int] = [t for t in range(buyers) if sum(c[g][t] for g in range(goods)) > quantities[t]]

    def use_and_room(self, x: Grid, caps: Grid) -> tuple[Grid, Grid]:
        """(usable part of holdings x, room per class): see market._use_and_room."""
        use: Grid = [[min(xv, cv) for xv, cv in zip(xrow, crow, strict=True)] for xrow, crow in zip(x, caps,
                                                                                                    strict=True)]
        if not self.satiable:
            return use, caps
        room: Grid = [list(row) for row in caps]
        for t in self.satiable:
            before = 0.0
            q = self.quantities[t]
            for g in self.ranking[t]:
                held = use[g][t]
                left = q - before
                if left < 0.0:
                    left = 0.0
                if held > left:
                    use[g][t] = left
                if caps[g][t] > left:
                    room[g][t] = left
                before += held
        return use, room

    def clearing_prices(self, intended: Grid, caps: Grid) -> list[float]:
        """Per class, the highest price at which buyers, each buying at most its cap, take the whole supply."""
        prices: list[float] = []
        for g in range(self.goods):
            b, c, s, f = intended[g], caps[g], self.supply[g], self.floors[g]
            p = max(f, sum(b) / max(s, 1e-12))
            if any(bv > cv * p for bv, cv in zip(b, c, strict=True)):
                for _ in range(50):
                    excess = -s * p
                    slope = -s
                    for bv, cv in zip(b, c, strict=True):
                        taken = cv * p
                        if taken < bv:
                            excess += taken
                            slope += cv
                        else:
                            excess += bv
                    step = excess / slope if slope < -SUPPLY_SLACK * s else 0.0
                    new_p = max(f, p - step)
                    if _ratio(abs(new_p - p), p) < 1e-12:
                        break
                    p = new_p
            prices.append(p)
        return prices

    def offers(self, weights: Grid, cap_costs: Grid) -> Grid:
        """What each buyer offers per class: see market.offers (each buyer on its own, as numpy did per column)."""
        goods = self.goods
        out: Grid = [[0.0] * self.buyers for _ in range(goods)]
        for t in range(self.buyers):
            full = self.budgets[t]
            w = [weights[g][t] for g in range(goods)]
            costs = [cap_costs[g][t] for g in range(goods)]
            budget, capped = full, 0.0
            is_open = [wv > 0.0 for wv in w]
            total = level = 0.0
            for _ in range(goods + 1):
                total = 0.0
                for g in range(goods):
                    if is_open[g]:
                        total += w[g]
                level = budget / total if total > 0.0 else 0.0
                spent = 0.0
                closed = False
                for g in range(goods):
                    if is_open[g] and level * w[g] > costs[g] + BUDGET_SLACK * full:
                        spent += costs[g]
                        is_open[g] = False
                        closed = True
                if not closed:
                    break
                budget -= spent
                capped += spent
            total_weight = sum(w)
            if total <= 0.0 and total_weight > 0.0:
                spare = (full - capped) / total_weight
                for g in range(goods):
                    offer = (costs[g] if w[g] > 0.0 else 0.0) + spare * w[g]
                    out[g][t] = min(offer, full)
            else:
                for g in range(goods):
                    out[g][t] = min(level * w[g], full)
        return out

    def within_budget(self, bids: Grid, prices: list[float]) -> Grid:
        """Offers over a buyer's budget give up the least valuable spending first: see market._within_budget."""
        goods = self.goods
        for t in range(self.buyers):
            total = 0.0
            for g in range(goods):
                total += bids[g][t]
            budget = self.budgets[t]
            if not total > budget * (1.0 + 1e-12):
                continue
            over = total - budget
            a = self.a
            order = sorted(range(goods), key=lambda g: _per_credit(a[g][t], prices[g]))
            for g in order:
                cut = min(bids[g][t], over)
                bids[g][t] -= cut
                over -= cut
        return bids


def _per_credit(value: float, price: float) -> float:
    """Utility per credit, rounded to PER_CREDIT_BITS of mantissa (market._per_credit does the same on arrays)."""
    if price > 0.0:
        return rounded_mantissa(value / price)
    return _INF if value > 0.0 else math.nan


def rounded_mantissa(x: float) -> float:
    """`x` rounded to PER_CREDIT_BITS bits of mantissa, half to even (as numpy rounds): values a few ulps apart
    become equal unless a rounding boundary falls between them."""
    mantissa, exponent = math.frexp(x)
    return math.ldexp(round(mantissa * 2.0 ** PER_CREDIT_BITS), exponent - PER_CREDIT_BITS)


def solve_lists(m: ListMarket, iterations: int, tolerance: float, start: Grid | None, settle: float,
                damping: float) -> tuple[list[float], Grid, int, bool]:
    """(prices, allocation goods x buyers, rounds, converged): see market.solve; `start` is buyers x goods."""
    goods, buyers, a, caps, explore = m.goods, m.buyers, m.a, m.caps, m.explore
    scale = tolerance * max(max(m.budgets, default=0.0), 0.0, 1e-12)
    weights: Grid = [[a[g][t] * (min(caps[g][t], m.quantities[t]) + explore[g][t]) for t in range(buyers)]
                     for g in range(goods)]
    if start is not None:
        for t in range(buyers):
            warm = [max(start[t][g], 0.0) if a[g][t] > 0.0 else 0.0 for g in range(goods)]
            if sum(warm) > 0.0:
                for g in range(goods):
                    weights[g][t] = warm[g] + explore[g][t]
    offer: Grid = [[0.0] * buyers for _ in range(goods)]
    for t in range(buyers):
        total = 0.0
        for g in range(goods):
            total += weights[g][t]
        share = m.budgets[t] / total if total > 0.0 else 0.0
        for g in range(goods):
            offer[g][t] = share * weights[g][t]
    prices = m.clearing_prices(offer, caps)
    bids: Grid = [[min(ov, cv * prices[g]) for ov, cv in zip(offer[g], caps[g], strict=True)] for g in range(goods)]
    converged = False
    done = calm = 0
    last_offer: Grid | None = None
    for done in range(1, iterations + 1):  # noqa: B007 - the count is reported
        held, room = m.use_and_room(_per_gpu(bids, prices), caps)
        wants: Grid = [[a[g][t] * (held[g][t] + explore[g][t]) for t in range(buyers)] for g in range(goods)]
        room_costs: Grid = [[rv * prices[g] for rv in room[g]] for g in range(goods)]
        offer = m.offers(wants, room_costs)
        if last_offer is not None:
            offer = [[damping * ov + (1.0 - damping) * lv for ov, lv in zip(offer[g], last_offer[g], strict=True)]
                     for g in range(goods)]
        last_offer = offer
        new_prices = m.clearing_prices(offer, room)
        moved = 0.0
        for g in range(goods):
            moved = max(moved, _ratio(abs(new_prices[g] - prices[g]), prices[g]))
        prices = new_prices
        new_bids = m.within_budget([[min(ov, rv * prices[g]) for ov, rv in zip(offer[g], room[g], strict=True)]
                                    for g in range(goods)], prices)
        change = 0.0
        for g in range(goods):
            for nv, ov in zip(new_bids[g], bids[g], strict=True):
                change = max(change, abs(nv - ov))
        bids = new_bids
        calm = calm + 1 if moved <= settle else 0
        if change < scale or (settle > 0 and calm >= 2):
            converged = True
            break
    allocation = m.use_and_room(_per_gpu(bids, prices), caps)[0]
    return prices, allocation, done, converged


def _per_gpu(bids: Grid, prices: list[float]) -> Grid:
    return [[bv / p if p > 0.0 else 0.0 for bv in row] for row, p in zip(bids, prices, strict=True)]
