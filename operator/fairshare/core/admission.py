"""Steps 4-6: admit whole gangs, within guarantees (reclaiming), then within fair shares, then onto idle capacity."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable

from fairshare.core import explain
from fairshare.core.decisions import Admit, Preempt, PreemptCause, Resize
from fairshare.core.fairsharing import FairShareReclaim
from fairshare.core.index import Cause, ClassState, Cycle, PendingJob, RunState, TenantState
from fairshare.core.preemption import (
    Plan,
    borrows_beyond_guarantee,
    idle_yield_order,
    keeps_own_guarantee,
    outranked_by,
    ran_long_enough,
    reclaim,
    share_victim_order,
    victims,
)
from fairshare.core.rules import (
    EPS,
    bid_covers,
    can_ever_fit,
    choice_order,
    guarantee_room,
    guarantee_use,
    held_per_weight,
    ranked_options,
    within_guarantee,
    within_limit,
    within_share,
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
            if failed.get((cs.name, p.gpw), 1 << 30) <= p.workers:
                continue
            plan = reclaim(cs, p.workers, p.gpw, sorted(victims(cs), key=share_victim_order),
                           lambda run, gpus: run.tenant is not ts and borrows_beyond_guarantee(run, gpus))
            if plan is None:
                failed[(cs.name, p.gpw)] = p.workers
                continue
            commit(plan, p, cs, explain.guarantee_reclaim, PreemptCause.GUARANTEE)
            for key in [k for k in failed if k[0] == cs.name]:
                del failed[key]
            admit(cycle, p, cs, cs.price, opportunistic=False)
            return True
        if eligible:
            p.note(Cause.CAPACITY, eligible[0])
        return False

    tenants = [ts for ts in cycle.tenants.values() if ts.known and ts.tenant.guaranteed and ts.queue]
    round_robin(cycle, tenants, guarantee_use, attempt, prepare)


def roomiest(cs: ClassState) -> tuple[int, int, str]:
    """The class that comes closest to holding a gang too big for all: largest node, then most GPUs, then name."""
    return (cs.pool.max_node_gpus, cs.capacity, cs.name)


def admit_within_shares(cycle: Cycle) -> None:
    """Step 5: tenants, least served first, admit work their entitlement pays for, on their best class that has room."""
    now, min_run = cycle.now, cycle.config.min_run_seconds
    # Jobs on idle capacity that may yield now, per class, and an upper bound on the GPUs they could free.
    # Ordered by share (idle_yield_order): priority orders only a tenant's own jobs, never which tenant yields.
    yielders = {cs.name: sorted((r for r in victims(cs) if r.opportunistic and ran_long_enough(r, now, min_run)),
                                key=idle_yield_order) for cs in cycle.classes.values()}
    yield_gpus = {name: sum(r.gpus for r in runs) for name, runs in yielders.items()}
    own_yielders = {(name, r.tenant.name) for name, runs in yielders.items() for r in runs}
    failed: dict[tuple[str, int, str, int], int] = {}
    cheapest = {options: min((c.price for c in options), default=0.0) for options in {p.options for p in cycle.pending}}
    turn: dict[str, float] = {"headroom": 0.0, "room": 0, "plain": False}
    hopeless_at: dict[tuple[tuple[ClassState, ...], int, int], tuple[tuple[int, int], bool]] = {}

    def prepare(ts: TenantState) -> bool:
        turn["headroom"] = 2.0 * (ts.budget - ts.spend) + EPS
        turn["room"] = guarantee_room(ts)
        turn["plain"] = ts.known and not ts.tenant.budget_exhausted
        return True

    def hopeless(p: PendingJob) -> bool:
        """No class has room for the gang, free or by a yield not already known to fail (a failure with every
        yielder allowed is a failure for anyone): skip the per-class checks."""
        key = (p.options, p.workers, p.gpw)
        stamp = (cycle.changes, len(failed))
        seen = hopeless_at.get(key)
        if seen is not None and seen[0] == stamp:
            return seen[1]
        verdict = not any(cs.pool.fits(p.workers, p.gpw) or (
            cs.pool.total_free + yield_gpus[cs.name] >= p.need
            and failed.get((cs.name, p.gpw, "", 0), 1 << 30) > p.workers) for cs in p.options)
        hopeless_at[key] = (stamp, verdict)
        return verdict

    def try_yield(p: PendingJob, cs: ClassState) -> bool:
        runs = yielders[cs.name]
        # Whether a job may yield depends on the preemptor only through its tenant's own jobs, so a failure
        # is remembered per class and worker size for every tenant with no job of its own among them.
        shared = (cs.name, p.tenant.name) not in own_yielders
        memo = (cs.name, p.gpw, "" if shared else p.tenant.name, 0 if shared else p.job.priority)
        if cs.pool.total_free + yield_gpus[cs.name] < p.need or failed.get(memo, 1 << 30) <= p.workers:
            return False
        plan = reclaim(cs, p.workers, p.gpw, runs,
                       lambda run, gpus: outranked_by(run, p) and keeps_own_guarantee(run, gpus))
        if plan is None:
            failed[memo] = p.workers
            return False
        commit(plan, p, cs, explain.share_yield, PreemptCause.IDLE_YIELD)
        for key in [k for k in failed if k[0] == cs.name]:
            del failed[key]
        runs[:] = [r for r in runs if r.preempted is None]
        yield_gpus[cs.name] = sum(r.gpus for r in runs)
        admit(cycle, p, cs, cs.price, opportunistic=False)
        return True

    fair = FairShareReclaim(cycle)

    def take_fair_share(p: PendingJob, cs: ClassState) -> bool:
        if not fair.may_try(p.tenant):
            return False
        plan = fair.take_for(p, cs)
        if plan is None:
            return False
        # The plan moved GPUs but no spend yet (commit does): these are the ratios before the move.
        involved = {r.tenant for r in [*plan.preempted, *plan.shrunk]} | {p.tenant}
        ratios = {t.name: t.share_ratio() for t in involved}
        mine = ratios[p.tenant.name]
        commit(plan, p, cs, lambda run, job, where, held: explain.fair_share_reclaim(
            run, job, where, ratios[run.tenant.name], mine), PreemptCause.FAIR_SHARE)
        for key in [k for k in failed if k[0] == cs.name]:
            del failed[key]
        runs = yielders[cs.name]
        runs[:] = [r for r in runs if r.preempted is None]
        yield_gpus[cs.name] = sum(r.gpus for r in runs)
        reason = explain.admitted_by_fair_share([*plan.preempted, *plan.shrunk], p, cs, mine, ratios)
        admit(cycle, p, cs, cs.price, opportunistic=False, reason=reason)
        return True

    share, capacity, depth = Cause.SHARE, Cause.CAPACITY, Cause.DEPTH  # enum lookups cost, per job
    fits_somewhere: dict[tuple[tuple[ClassState, ...], int, int], bool] = {}

    def never_fits(p: PendingJob) -> bool:
        """No class of the job's could hold its gang even when empty (sizes do not change within a cycle)."""
        key = (p.options, p.workers, p.gpw)
        verdict = fits_somewhere.get(key)
        if verdict is None:
            verdict = fits_somewhere[key] = any(can_ever_fit(cs, p) for cs in p.options)
        return not verdict

    def attempt(p: PendingJob) -> bool:
        ts, job = p.tenant, p.job
        no_yield = False  # no class would have room even if every job on idle capacity yielded
        # The common cases when queues are long, decided without looking at each class: a plain job of a
        # defined tenant with budget left, over its share or with no room anywhere. (A bid is worth reporting,
        # so jobs with one take the long way.) A gang that no class can ever hold says so first: waiting for
        # share or room would not help it.
        if turn["plain"] and job.max_price_per_gpu_hour is None and job.preemptible and p.options:
            if never_fits(p):
                p.note(Cause.TOO_BIG, max(p.options, key=roomiest))
                return False
            if p.need * cheapest[p.options] > turn["headroom"] and p.need > turn["room"]:
                if p.cause is None or share < p.cause:
                    p.cause, p.cause_class = share, None
                return False
            if hopeless(p):
                if not fair.may_help(p):
                    if p.cause is None or capacity < p.cause:
                        p.cause, p.cause_class = capacity, None
                    return False
                no_yield = True  # only fair-sharing preemption can make room
        elif not p.options:
            p.note(Cause.NO_CLASS, None)
            return False
        elif not ts.known:
            p.note(Cause.NO_TENANT, None)
            return False
        elif ts.tenant.budget_exhausted:
            p.note(Cause.BUDGET, ranked_options(cycle, p)[0])
            return False
        elif not job.preemptible:
            p.note(Cause.NONPREEMPTIBLE, ranked_options(cycle, p)[0])
            return False
        if misses.get(ts.name, 0) >= lookahead:
            p.note(depth, None)
            return False
        if full_check(p) or (not no_yield and any(try_yield(p, cs) for cs in crowded)):
            fair.admitted(ts)
            return True
        if fair.may_try(ts):
            if any(take_fair_share(p, cs) for cs in crowded):
                fair.admitted(ts)
                return True
            fair.missed(ts)
        misses[ts.name] = misses.get(ts.name, 0) + 1
        return False

    def full_check(p: PendingJob) -> bool:
        """Every class in the job's order of choice; fills `crowded` with those that lack only room."""
        ts = p.tenant
        crowded.clear()
        for cs in choice_order(cycle, p):
            if not can_ever_fit(cs, p):
                p.note(Cause.TOO_BIG, cs)
            elif not bid_covers(p, cs.price):
                p.note(Cause.BID, cs)
            elif not within_limit(ts, cs, p.need):
                p.note(Cause.LIMIT, cs)
            elif not within_share(ts, cs, p.need):
                p.note(Cause.SHARE, cs)
            elif cs.pool.fits(p.workers, p.gpw):
                admit(cycle, p, cs, cs.price, opportunistic=False)
                return True
            else:
                p.note(Cause.CAPACITY, cs)
                crowded.append(cs)
        return False

    crowded: list[ClassState] = []
    misses: dict[str, int] = {}
    lookahead = cycle.config.lookahead
    round_robin(cycle, cycle.tenants.values(), TenantState.share_ratio, attempt, prepare)
    fair.release()


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
