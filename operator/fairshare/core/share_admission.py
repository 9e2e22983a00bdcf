"""Step 5: tenants, least served first, admit work their entitlement pays for, on their best class that has room."""

from __future__ import annotations

from fairshare.core import explain
from fairshare.core.admission import admit, commit, forget_failures, known_to_fail, round_robin
from fairshare.core.cycle import Cause, ClassState, Cycle, PendingJob, RunState, TenantState
from fairshare.core.decisions import PreemptCause
from fairshare.core.fairsharing import FairShareReclaim
from fairshare.core.preemption import (
    idle_yield_order,
    keeps_own_guarantee,
    outranked_by,
    ran_long_enough,
    reclaim,
    victims,
)
from fairshare.core.rules import (
    EPS,
    bid_covers,
    can_ever_fit,
    choice_order,
    guarantee_room,
    ranked_options,
    within_limit,
    within_share,
)

# The caches below are keyed by what a rule reads of a job: its classes and its gang.
GangKey = tuple[tuple[ClassState, ...], int, int]
YieldMemo = tuple[str, int, str, int]  # class, GPUs per worker, tenant ("" = any), priority (0 = any)


def admit_within_shares(cycle: Cycle) -> None:
    """Step 5: tenants, least served first, admit work their entitlement pays for, on their best class that has room."""
    ShareAdmission(cycle).run()


def may_yield(run: RunState, now: float, min_run_seconds: float) -> bool:
    """A job on idle capacity may yield its GPUs to work within a share once it has run its minimum time."""
    return run.opportunistic and ran_long_enough(run, now, min_run_seconds)


def may_take_for_yield(run: RunState, gpus: int, preemptor: PendingJob) -> bool:
    """A job yields idle capacity only to a job that outranks it, and never below its own tenant's guarantee."""
    return outranked_by(run, preemptor) and keeps_own_guarantee(run, gpus)


def is_plain(p: PendingJob) -> bool:
    """A plain job (no bid, preemptible, some class) is decided without looking at each class when queues are long;
    a job with a bid takes the long way, because its bid is worth reporting."""
    return p.job.max_price_per_gpu_hour is None and p.job.preemptible and bool(p.options)


def roomiest(cs: ClassState) -> tuple[int, int, str]:
    """The class that comes closest to holding a gang too big for all: largest node, then most GPUs, then name."""
    return (cs.pool.max_node_gpus, cs.capacity, cs.name)


def blocked_before_classes(cycle: Cycle, p: PendingJob) -> bool:
    """A job waits, whatever its classes hold, when it names no class, its tenant is not defined, its tenant's
    budget is spent, or it is non-preemptible beyond its guarantee (step 4 ran what its guarantee holds).
    Notes the first of these that holds."""
    ts = p.tenant
    if not p.options:
        p.note(Cause.NO_CLASS, None)
    elif not ts.known:
        p.note(Cause.NO_TENANT, None)
    elif ts.tenant.budget_exhausted:
        p.note(Cause.BUDGET, ranked_options(cycle, p)[0])
    elif not p.job.preemptible:
        p.note(Cause.NONPREEMPTIBLE, ranked_options(cycle, p)[0])
    else:
        return False
    return True


class ShareAdmission:
    """Step 5's state for one cycle, and its rules as named predicates.

    - `yielders`: per class, the jobs on idle capacity that may yield now, ordered by share (idle_yield_order:
      priority orders only a tenant's own jobs, never which tenant yields); `yield_gpus` bounds what they free.
    - `failed`: per class, worker size and (for tenants with jobs among the yielders) tenant and priority, the
      smallest gang a yield could not make room for; any change on the class forgets it.
    - the turn's numbers (`headroom`, `room`, `plain`), set when a tenant's turn starts: while it scans its queue,
      only its own admission changes them, and that ends its turn.
    - per-tenant misses, against `lookahead`; `crowded`, the classes the last full check found lacking only room.
    """

    def __init__(self, cycle: Cycle) -> None:
        self.cycle = cycle
        now, min_run = cycle.now, cycle.config.min_run_seconds
        self.yielders = {cs.name: sorted((r for r in victims(cs) if may_yield(r, now, min_run)), key=idle_yield_order)
                         for cs in cycle.classes.values()}
        self.yield_gpus = {name: sum(r.gpus for r in runs) for name, runs in self.yielders.items()}
        self.own_yielders = {(name, r.tenant.name) for name, runs in self.yielders.items() for r in runs}
        self.failed: dict[YieldMemo, int] = {}
        self.cheapest = {options: min((c.price for c in options), default=0.0)
                         for options in {p.options for p in cycle.pending}}
        self.headroom = 0.0
        self.room = 0
        self.plain = False
        self.hopeless_at: dict[GangKey, tuple[tuple[int, int], bool]] = {}
        self.fair = FairShareReclaim(cycle)
        self.fits_somewhere: dict[GangKey, bool] = {}
        self.crowded: list[ClassState] = []
        self.misses: dict[str, int] = {}
        self.lookahead = cycle.config.lookahead

    def run(self) -> None:
        """Tenants take turns by share ratio, lowest first (round_robin), each admitting its next admissible job."""
        round_robin(self.cycle, self.cycle.tenants.values(), TenantState.share_ratio, self.attempt, self.start_turn)
        self.fair.release()

    def start_turn(self, ts: TenantState) -> bool:
        """A tenant's turn starts: its share headroom, guarantee room and whether its plain jobs take the short way."""
        self.headroom = 2.0 * (ts.budget - ts.spend) + EPS
        self.room = guarantee_room(ts)
        self.plain = ts.known and not ts.tenant.budget_exhausted
        return True

    # The rules, each a predicate.

    def never_fits(self, p: PendingJob) -> bool:
        """No class of the job's could hold its gang even when empty (sizes do not change within a cycle)."""
        key = (p.options, p.workers, p.gpw)
        verdict = self.fits_somewhere.get(key)
        if verdict is None:
            verdict = self.fits_somewhere[key] = any(can_ever_fit(cs, p) for cs in p.options)
        return not verdict

    def over_share_everywhere(self, p: PendingJob) -> bool:
        """A gang that costs more than the tenant's share headroom even on its cheapest class, and that no guarantee
        of the tenant's could hold, is over the tenant's share on every class."""
        return p.need * self.cheapest[p.options] > self.headroom and p.need > self.room

    def could_yield_room(self, cs: ClassState, p: PendingJob) -> bool:
        """A class could make room for a gang only if its free GPUs and those its idle-capacity jobs hold suffice."""
        return cs.pool.total_free + self.yield_gpus[cs.name] >= p.need

    def hopeless(self, p: PendingJob) -> bool:
        """No class has room for the gang, free or by a yield not already known to fail (a failure with every
        yielder allowed is a failure for anyone): skip the per-class checks."""
        key = (p.options, p.workers, p.gpw)
        stamp = (self.cycle.changes, len(self.failed))
        seen = self.hopeless_at.get(key)
        if seen is not None and seen[0] == stamp:
            return seen[1]
        failed = self.failed
        verdict = not any(cs.pool.fits(p.workers, p.gpw) or (
            self.could_yield_room(cs, p) and not known_to_fail(failed, (cs.name, p.gpw, "", 0), p.workers))
            for cs in p.options)
        self.hopeless_at[key] = (stamp, verdict)
        return verdict

    def past_lookahead(self, ts: TenantState) -> bool:
        """A tenant's jobs stop being tried this step once `lookahead` of them failed: the rest wait at depth."""
        return self.misses.get(ts.name, 0) >= self.lookahead

    # The actions.

    def attempt(self, p: PendingJob) -> bool:
        """Try to admit one job: the short way for plain jobs, then every class in its order of choice, then a yield
        of idle capacity, then fair-sharing preemption. Notes why it waits when nothing works."""
        ts = p.tenant
        no_yield = False  # no class would have room even if every job on idle capacity yielded
        # The common cases when queues are long, decided without looking at each class: a plain job of a
        # defined tenant with budget left, over its share or with no room anywhere. A gang that no class can
        # ever hold says so first: waiting for share or room would not help it.
        if self.plain and is_plain(p):
            if self.never_fits(p):
                p.note(Cause.TOO_BIG, max(p.options, key=roomiest))
                return False
            if self.over_share_everywhere(p):
                p.note(Cause.SHARE, None)
                return False
            if self.hopeless(p):
                if not self.fair.may_help(p):
                    p.note(Cause.CAPACITY, None)
                    return False
                no_yield = True  # only fair-sharing preemption can make room
        elif blocked_before_classes(self.cycle, p):
            return False
        if self.past_lookahead(ts):
            p.note(Cause.DEPTH, None)
            return False
        fair = self.fair
        if self.full_check(p) or (not no_yield and any(self.try_yield(p, cs) for cs in self.crowded)):
            fair.admitted(ts)
            return True
        if fair.may_try(ts):
            if any(self.take_fair_share(p, cs) for cs in self.crowded):
                fair.admitted(ts)
                return True
            fair.missed(ts)
        self.misses[ts.name] = self.misses.get(ts.name, 0) + 1
        return False

    def full_check(self, p: PendingJob) -> bool:
        """Every class in the job's order of choice; fills `crowded` with those that lack only room."""
        ts = p.tenant
        crowded = self.crowded
        crowded.clear()
        for cs in choice_order(self.cycle, p):
            if not can_ever_fit(cs, p):
                p.note(Cause.TOO_BIG, cs)
            elif not bid_covers(p, cs.price):
                p.note(Cause.BID, cs)
            elif not within_limit(ts, cs, p.need):
                p.note(Cause.LIMIT, cs)
            elif not within_share(ts, cs, p.need):
                p.note(Cause.SHARE, cs)
            elif cs.pool.fits(p.workers, p.gpw):
                admit(self.cycle, p, cs, cs.price, opportunistic=False)
                return True
            else:
                p.note(Cause.CAPACITY, cs)
                crowded.append(cs)
        return False

    def try_yield(self, p: PendingJob, cs: ClassState) -> bool:
        """Make room on `cs` by preempting jobs on idle capacity (may_take_for_yield), then admit the job there."""
        runs = self.yielders[cs.name]
        # Whether a job may yield depends on the preemptor only through its tenant's own jobs, so a failure
        # is remembered per class and worker size for every tenant with no job of its own among them.
        shared = (cs.name, p.tenant.name) not in self.own_yielders
        memo = (cs.name, p.gpw, "" if shared else p.tenant.name, 0 if shared else p.job.priority)
        if not self.could_yield_room(cs, p) or known_to_fail(self.failed, memo, p.workers):
            return False
        plan = reclaim(cs, p.workers, p.gpw, runs, lambda run, gpus: may_take_for_yield(run, gpus, p))
        if plan is None:
            self.failed[memo] = p.workers
            return False
        commit(plan, p, cs, explain.share_yield, PreemptCause.IDLE_YIELD)
        self.class_changed(cs)
        admit(self.cycle, p, cs, cs.price, opportunistic=False)
        return True

    def take_fair_share(self, p: PendingJob, cs: ClassState) -> bool:
        """Make room on `cs` by fair-sharing preemption (core/fairsharing.py), then admit the job there."""
        fair = self.fair
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
        self.class_changed(cs)
        reason = explain.admitted_by_fair_share([*plan.preempted, *plan.shrunk], p, cs, mine, ratios)
        admit(self.cycle, p, cs, cs.price, opportunistic=False, reason=reason)
        return True

    def class_changed(self, cs: ClassState) -> None:
        """After preemptions on a class: forget its remembered failures and drop the preempted from its yielders."""
        forget_failures(self.failed, cs)
        runs = self.yielders[cs.name]
        runs[:] = [r for r in runs if r.preempted is None]
        self.yield_gpus[cs.name] = sum(r.gpus for r in runs)
