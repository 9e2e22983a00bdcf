"""The scheduling cycle: snapshot (+ time) in, decisions out, in numbered steps that each record their duration."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from fairshare.core import demand, explain, index, outcome
from fairshare.core.admission import admit_on_idle_capacity, admit_within_guarantees
from fairshare.core.attained import serve_least_attained
from fairshare.core.config import PolicyConfig
from fairshare.core.cycle import Cycle
from fairshare.core.decisions import CycleResult
from fairshare.core.elastic import grow_elastic_jobs
from fairshare.core.fairshare import entitlements
from fairshare.core.market import solve
from fairshare.core.migration import migrate_running_jobs
from fairshare.core.share_admission import admit_within_shares
from fairshare.core.types import Snapshot
from fairshare.core.wake import next_wake

Clock = Callable[[], float]
PRICE_DECIMALS = 4
PRICE_DEADBAND = 0.005  # a move of at most 0.5% of the last price leaves the price as it was


class StepTimer:
    """Durations of named steps, read from an injected clock (tests pass a fake one)."""

    __slots__ = ("clock", "seconds", "_name", "_start")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.seconds: dict[str, float] = {}
        self._name = ""
        self._start = 0.0

    def step(self, name: str) -> StepTimer:
        """Time the body of `with timer.step(name):` as step `name` (steps do not nest)."""
        self._name = name
        return self

    # A plain context manager: a generator-based one costs more than some steps of a small cycle.
    def __enter__(self) -> None:
        self._start = self.clock()

    def __exit__(self, *exc: object) -> None:
        self.seconds[self._name] = self.seconds.get(self._name, 0.0) + self.clock() - self._start


def schedule(snapshot: Snapshot, now: float, config: PolicyConfig | None = None, *,
             clock: Clock = time.perf_counter) -> CycleResult:
    """Run one cycle of the market policy.

    1. index: node pools, usage, queues and throughput curves from the snapshot.
    2. entitlements: guarantees, then usage-discounted weighted water-filling, capped by demand and limits.
    3. prices: the budget-weighted equilibrium over classes; fair shares are its allocation.
    4. guarantees: work within a tenant's guarantee runs, reclaiming (shrink, then preempt) from borrowers.
    5. shares: least-served tenant first, work its entitlement pays for runs on its best class with room.
    6. idle: leftover GPUs go to held-back jobs, preemptibly, at the floor price.
    6b. service: a tenant's waiting job replaces its own running job that has held far more GPU-hours (LAS).
    7. elastic: elastic jobs grow while a worker's marginal throughput beats its price.
    8. migration: measured jobs move (or swap) to the class where they run much faster.
    9. decisions: waits with reasons and positions; everything in a deterministic order.
    10. wake: when time alone can next let a step act (see core/wake.py).
    """
    config = config or PolicyConfig()
    with _collector_paused(config.pause_gc):
        return _schedule(snapshot, now, config, clock)


@contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    was_enabled = gc.isenabled()
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if pause and was_enabled:
            gc.enable()


def _schedule(snapshot: Snapshot, now: float, config: PolicyConfig, clock: Clock) -> CycleResult:
    timer = StepTimer(clock)
    with timer.step("index"):
        cycle = index.build(snapshot, now, config)
    with timer.step("entitlements"):
        demands = demand.tenant_demands(cycle)
        budgets = entitlements(demand.capacity_value(cycle), demand.claims(cycle, demands))
    with timer.step("prices"):
        fair_shares = _settle_prices(cycle, demands, budgets)
    with timer.step("guarantees"):
        admit_within_guarantees(cycle)
    with timer.step("shares"):
        admit_within_shares(cycle)
    with timer.step("idle"):
        admit_on_idle_capacity(cycle)
    with timer.step("service"):
        serve_least_attained(cycle)
    with timer.step("elastic"):
        grow_elastic_jobs(cycle)
    with timer.step("migration"):
        migrate_running_jobs(cycle)
    with timer.step("decisions"):
        decisions = outcome.decisions(cycle, explain.share_status)
        charges = outcome.charges(cycle)
        share_ratios = {name: ts.share_ratio() for name, ts in cycle.tenants.items() if ts.known}
    with timer.step("wake"):
        wake_at = next_wake(cycle)
    result = CycleResult(
        decisions=decisions,
        prices=MappingProxyType({name: cs.price for name, cs in cycle.classes.items()}),
        fair_shares=MappingProxyType({t: MappingProxyType(s) for t, s in fair_shares.items()}),
        step_seconds=MappingProxyType(dict(timer.seconds)),
        budgets=MappingProxyType({t: budgets.get(t, 0.0) for t in cycle.tenants}),
        charges=MappingProxyType(charges),
        share_ratios=MappingProxyType(share_ratios),
        wake_at=wake_at,
    )
    cycle.dismantle()
    return result


def _last_spending(cycle: Cycle, names: list[str]) -> NDArray[np.float64] | None:
    """What each tenant spent per class at the last cycle's equilibrium (its fair share x that cycle's price), to
    start this cycle's market from; None unless every class carries its last price."""
    last = [cs.gpu_class.current_price for cs in cycle.classes.values()]
    if not last or any(p is None for p in last):
        return None
    spending = np.zeros((len(names), len(last)))
    for i, name in enumerate(names):
        share = cycle.tenants[name].tenant.fair_share
        if share:
            spending[i] = [share.get(cs.name, 0.0) * (p or 0.0) for cs, p in zip(cycle.classes.values(), last,
                                                                                 strict=True)]
    return spending if spending.any() else None


def damped_price(equilibrium: float, last: float | None, floor: float, list_price: float, max_step: float) -> float:
    """The price a class charges this cycle: the equilibrium price, moved at most `max_step` (a fraction) away from
    the last cycle's price, and kept between the floor and the list price.

    The equilibrium itself can jump between cycles when a few jobs arrive or end (a class that one tenant alone
    wants sits at its floor, and one more bidder can lift it several-fold); following it at a bounded pace keeps a
    waiting job's cheapest class, its reason and its position from flipping every cycle, while a lasting change of
    demand still reaches the price within a few cycles (x(1 + max_step) per cycle). A price never exceeds the list
    price: the list price is what the platform team advertises as the most a GPU-hour costs.

    Within PRICE_DEADBAND of the last price it keeps the last price: a market restarted from the last
    equilibrium settles only to a tolerance, and prices creeping by a few hundredths of a percent every cycle would
    otherwise rewrite every class's status and, over many cycles, shift tenants' share ratios and move GPUs.
    """
    price = equilibrium
    if last is not None and last > 0:
        if abs(price - last) <= PRICE_DEADBAND * last:
            price = last
        elif max_step > 0:
            price = min(max(price, last * (1.0 - max_step)), last * (1.0 + max_step))
    return min(max(price, floor), max(list_price, floor))


def _settle_prices(cycle: Cycle, demands: demand.Demand,
                   budgets: dict[str, float]) -> dict[str, dict[str, float]]:
    """Solve the market, set class prices, and charge running jobs: returns tenant -> class -> fair share."""
    names, market = demand.market(cycle, demands, budgets)
    classes = list(cycle.classes.values())
    shares = {t: {cs.name: 0.0 for cs in classes} for t in cycle.tenants}
    equilibrium = [cs.floor for cs in classes]  # no buyer: prices walk down toward the floor, at the damped pace
    if names:
        # From scratch the bids may dwell on a plateau before prices move again, so only a market started from the
        # last cycle's equilibrium stops as soon as its prices stand still.
        start = _last_spending(cycle, names)
        eq = solve(market, cycle.config.price_iterations, cycle.config.price_tolerance, start=start,
                   settle=cycle.config.price_settle if start is not None else 0.0)
        equilibrium = eq.prices.tolist()
        for i, name in enumerate(names):
            shares[name] = {cs.name: v for cs, v in zip(classes, eq.allocation[i].tolist(), strict=True)}
    for cs, price in zip(classes, equilibrium, strict=True):
        # The solver settles to ~1e-5; four decimals keep decisions and reports free of that noise.
        cs.price = max(cs.floor, round(damped_price(price, cs.gpu_class.current_price, cs.floor, cs.list_price,
                                                    cycle.config.price_max_step), PRICE_DECIMALS))
        target = max(cs.floor, round(damped_price(price, None, cs.floor, cs.list_price, 0.0), PRICE_DECIMALS))
        if abs(target - cs.price) > PRICE_DEADBAND * cs.price:  # the next cycle would move it again
            cycle.prices_settling = True
    for ts in cycle.tenants.values():
        ts.budget = budgets.get(ts.name, 0.0)
        ts.entitled = shares[ts.name]
    for run in cycle.running:
        if not run.opportunistic:
            run.charged = run.gpus
            run.tenant.spend += run.gpus * run.cls.price
            run.tenant.held_value += run.gpus * run.cls.list_price
    return shares
