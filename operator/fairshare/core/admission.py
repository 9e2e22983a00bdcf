"""Steps 4 and 6: admit whole gangs within guarantees (reclaiming), and onto idle capacity; what steps 4-6 share.

Step 5, admission within fair shares, is core/share_admission.py.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import TypeVar

from fairshare.core import explain
from fairshare.core.cycle import Cause, ClassState, Cycle, PendingJob, RunState, TenantState
from fairshare.core.decisions import Admit, Preempt, PreemptCause, Resize
from fairshare.core.preemption import (
    Plan,
    borrows_beyond_guarantee,
    reclaim,
    share_victim_order,
    victims,
)
from fairshare.core.rules import (
    bid_covers,
    can_ever_fit,
    choice_order,
    guarantee_room,
    guarantee_use,
    held_per_weight,
    ranked_options,
    within_guarantee,
    within_limit,
)


def admit(cycle: Cycle, p: PendingJob, cs: ClassState, price: float, opportunistic: bool, reason: str = "") -> None:
    """Place the gang best-fit and record the admission (the caller checked that it fits)."""
    nodes = cs.pool.place(p.workers, p.gpw)
    assert nodes is not None
    cycle.changes += 1
    ts = p.tenant
    ts.used[cs.name] = ts.used.get(cs.name, 0) + p.need
    if not opportunistic:
        ts.spend += p.need * price
        ts.held_value += p.need * cs.list_price
    p.admitted = Admit(p.job.key, cs.name, p.workers, tuple(cs.pool.names[i] for i in nodes), price, opportunistic,
                      reason)


def _charge(run: RunState) -> None:
    """Keep the tenant's spend in step with what the job still holds after a reclaim."""
    given_up = run.charged - (0 if run.opportunistic else run.gpus)
    run.tenant.spend -= given_up * run.cls.price
    run.tenant.held_value -= given_up * run.cls.list_price
    run.charged = 0 if run.opportunistic else run.gpus


Why = Callable[[RunState, PendingJob, ClassState, int], str]
FailureKey = TypeVar("FailureKey", bound=tuple[object, ...])  # (class name, gang shape...)


def known_to_fail(failed: dict[FailureKey, int], key: FailureKey, workers: int) -> bool:
    """A gang at least as large as one that already found no room the same way on a class fails too, until that
    class changes (forget_failures)."""
    return failed.get(key, 1 << 30) <= workers


def forget_failures(failed: dict[FailureKey, int], cs: ClassState) -> None:
    """Preemptions on a class void the failures remembered for it: room may now be made there."""
    for key in [k for k in failed if k[0] == cs.name]:
        del failed[key]


def commit(plan: Plan, p: PendingJob, cs: ClassState, why: Why, cause: str) -> None:
    """Turn a reclaim plan into Preempt and Resize decisions, with reasons and the preemption's cause."""
    held: dict[str, int] = {}
    for run in [*plan.preempted, *plan.shrunk]:
        held.setdefault(run.tenant.name, run.tenant.used.get(cs.name, 0))
    removed: dict[str, int] = {}
    for run in [*plan.preempted, *plan.shrunk]:
        before = run.job.allocation.workers if run.job.allocation else 0
        removed[run.tenant.name] = removed.get(run.tenant.name, 0) + (before - len(run.nodes)) * run.gpw
    for run in plan.preempted:
        run.resized = None
        run.preempted = Preempt(run.job.key, why(run, p, cs, held[run.tenant.name] + removed[run.tenant.name]), cause)
        _charge(run)
    for run in plan.shrunk:
        before = run.job.allocation.workers if run.job.allocation else 0
        held_before = held[run.tenant.name] + removed[run.tenant.name]
        reason = explain.shrink(before, len(run.nodes), why(run, p, cs, held_before))
        price = run.cls.floor if run.opportunistic else run.cls.price
        run.resized = Resize(run.job.key, len(run.nodes), tuple(cs.pool.names[i] for i in run.nodes), price, reason)
        _charge(run)


def round_robin(cycle: Cycle, tenants: Iterable[TenantState], key: Callable[[TenantState], float],
                attempt: Callable[[PendingJob], bool], prepare: Callable[[TenantState], bool] | None = None) -> None:
    """Fair interleaving: the tenant with the lowest key admits its next admissible job, then is re-ranked.

    Each job is tried at most once per step; a job that cannot be admitted is skipped, not blocking its queue.
    `prepare` runs when a tenant's turn starts (False skips the rest of its queue): while it scans, only its
    own admission changes its state, and that ends its turn.
    """
    heap = []
    for ts in tenants:
        ts.cursor = 0
        heap.append((key(ts), ts.name, ts))
    heapq.heapify(heap)
    while heap:
        _, name, ts = heapq.heappop(heap)
        queue = ts.queue
        if prepare is not None and not prepare(ts):
            continue
        i, end = ts.cursor, len(queue)
        while i < end:
            p = queue[i]
            i += 1
            if p.admitted is None and attempt(p):
                heapq.heappush(heap, (key(ts), name, ts))
                break
        ts.cursor = i


def admit_within_guarantees(cycle: Cycle) -> None:
    """Step 4: work that fits a tenant's guarantee runs, reclaiming from tenants beyond theirs if it must."""
    failed: dict[tuple[str, int], int] = {}  # (class, gpus per worker) -> smallest gang that could not be made room for
    turn = {"room": 0}

    def prepare(ts: TenantState) -> bool:
        turn["room"] = guarantee_room(ts)
        return turn["room"] > 0 and not ts.tenant.budget_exhausted

    def attempt(p: PendingJob) -> bool:
        if p.need > turn["room"]:
            return False
        ts = p.tenant
        guaranteed = ts.tenant.guaranteed
        eligible = [cs for cs in choice_order(cycle, p) if cs.name in guaranteed
                    and within_guarantee(ts, cs, p.need) and bid_covers(p, cs.price) and can_ever_fit(cs, p)]
        for cs in eligible:
            if cs.pool.fits(p.workers, p.gpw):
                admit(cycle, p, cs, cs.price, opportunistic=False)
                return True
        for cs in eligible:
            if known_to_fail(failed, (cs.name, p.gpw), p.workers):
                continue
            plan = reclaim(cs, p.workers, p.gpw, sorted(victims(cs), key=share_victim_order),
                           lambda run, gpus: run.tenant is not ts and borrows_beyond_guarantee(run, gpus))
            if plan is None:
                failed[(cs.name, p.gpw)] = p.workers
                continue
            commit(plan, p, cs, explain.guarantee_reclaim, PreemptCause.GUARANTEE)
            forget_failures(failed, cs)
            admit(cycle, p, cs, cs.price, opportunistic=False)
            return True
        if eligible:
            p.note(Cause.CAPACITY, eligible[0])
        return False

    tenants = [ts for ts in cycle.tenants.values() if ts.known and ts.tenant.guaranteed and ts.queue]
    round_robin(cycle, tenants, guarantee_use, attempt, prepare)


# Held back by something other than the job itself: share, price, budget, or room on its preferred classes.
_IDLE_CAUSES = (Cause.CAPACITY, Cause.DEPTH, Cause.SHARE, Cause.BID, Cause.BUDGET, Cause.LIMIT)


def admit_on_idle_capacity(cycle: Cycle) -> None:
    """Step 6: GPUs still idle go, at the floor price and preemptibly, to jobs held back by share, bid, budget or
    room on the classes they were entitled to."""
    if not any(cs.pool.total_free for cs in cycle.classes.values()):
        return

    misses: dict[str, int] = {}

    def attempt(p: PendingJob) -> bool:
        if p.cause not in _IDLE_CAUSES or not p.job.preemptible:
            return False
        if misses.get(p.tenant.name, 0) >= cycle.config.lookahead or not any(
                cs.pool.total_free >= p.need for cs in p.options):
            return False
        for cs in ranked_options(cycle, p):
            if (cs.pool.total_free >= p.need and bid_covers(p, cs.floor) and within_limit(p.tenant, cs, p.need)
                    and cs.pool.fits(p.workers, p.gpw)):
                admit(cycle, p, cs, cs.floor, opportunistic=True)
                return True
        misses[p.tenant.name] = misses.get(p.tenant.name, 0) + 1
        return False

    round_robin(cycle, [ts for ts in cycle.tenants.values() if ts.known], held_per_weight, attempt)
