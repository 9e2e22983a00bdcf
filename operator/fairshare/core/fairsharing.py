"""Fair-sharing preemption: a tenant below its fair share takes GPUs from tenants above theirs, and never in a loop.

The share ratio of a tenant is what its full-price holdings cost per hour at this cycle's prices over its entitlement
(TenantState.share_ratio): the number the wait reasons, Tenant status and the metrics all report. Its list ratio is
the same holdings valued at list prices, the unit entitlements are computed in (TenantState.list_ratio).

Why it cannot loop (Kueue's LessThanOrEqualToFinalShare argument). A move takes GPUs from victim tenants V and gives
a gang to the preemptor A only if, after the move, A's ratio plus `fair_sharing_min_gain` is at most each victim's
(`ends_no_higher`), both as share ratios and as list ratios. Take the list ratios. Let M be the highest among A and V
before the move. Every victim ends below its own list ratio before, so below M; A ends at most at a victim's final
list ratio, so below M too. The tenants' list ratios, sorted from highest down, therefore decrease lexicographically
with every move. Entitlements do not depend on where jobs run (core/demand.py) nor on market prices, and list
prices are fixed, so while demand stands still this order is a fixed potential: holdings are whole GPUs, there are
finitely many states, and no run of moves revisits one, whatever market prices do from cycle to cycle. (Asking the
same of the share ratio keeps every move one the reasons, written at market prices, also call fair.) No
A-takes-from-B-takes-from-A cycle exists: B taking back would need B's final ratio at most A's, below which it ended
the first move. tests/unit/core/test_fairsharing.py checks this over generated multi-cycle runs.
"""

from __future__ import annotations

import heapq
import math

from fairshare.core.cycle import ClassState, Cycle, PendingJob, RunState, TenantState
from fairshare.core.preemption import Plan, keeps_own_guarantee, ran_long_enough, reclaim, share_victim_order, victims
from fairshare.core.rules import EPS


def ratio_after(ts: TenantState, credits_per_hour: float) -> float:
    """A tenant's share ratio once its full-price holdings cost `credits_per_hour` more (or less, if negative)."""
    spend = ts.spend + credits_per_hour
    if ts.budget <= 0:
        return math.inf if spend > EPS else 0.0
    return spend / ts.budget


def list_ratio_after(ts: TenantState, list_credits_per_hour: float) -> float:
    """A tenant's list ratio once its full-price holdings are worth `list_credits_per_hour` more at list prices."""
    value = ts.held_value + list_credits_per_hour
    if ts.budget <= 0:
        return math.inf if value > EPS else 0.0
    return value / ts.budget


# The rules. Each is one sentence of policy.


def below_fair_share(ts: TenantState) -> bool:
    """Only a tenant below its fair share (share ratio under 1), with budget left, preempts for fair share."""
    return ts.known and not ts.tenant.budget_exhausted and ts.budget > 0 and ts.share_ratio() < 1.0


def ends_no_higher(preemptor_after: float, victim_after: float, min_gain: float) -> bool:
    """A victim's tenant gives up GPUs only while, after the move, the preemptor's ratio plus the minimum gain is
    still at most the victim tenant's ratio (LessThanOrEqualToFinalShare, with a margin)."""
    return preemptor_after + min_gain <= victim_after + EPS


def fair_share_candidate(run: RunState, cycle: Cycle) -> bool:
    """A job may be taken for another tenant's fair share only if preemptible, holding GPUs at the full price (jobs
    on idle capacity yield by their own rule), past its minimum run time and not already preempted this cycle (an
    elastic job shrunk this cycle may shrink further)."""
    return (run.job.preemptible and not run.opportunistic and run.preempted is None and run.migrated is None
            and bool(run.nodes)
            and ran_long_enough(run, cycle.now, cycle.config.min_run_seconds))


def _remember(failed: dict[int, list[tuple[float, float]]], workers: int, target: float, list_target: float) -> None:
    """Record a failure at these targets, keeping only the failures no other one implies (a short Pareto front)."""
    pairs = failed.setdefault(workers, [])
    if any(t <= target and lt <= list_target for t, lt in pairs):
        return
    pairs[:] = [(t, lt) for t, lt in pairs if not (target <= t and list_target <= lt)]
    pairs.append((target, list_target))


MAX_MISSES = 2  # jobs per tenant and cycle that may try fair-sharing preemption in vain


class FairShareReclaim:
    """Fair-sharing preemption within one cycle: who may be taken on each class, grouped by tenant, and the highest
    share ratio among them, kept in a lazy heap so that an attempt that cannot succeed costs O(log tenants)."""

    def __init__(self, cycle: Cycle) -> None:
        self.cycle = cycle
        self.enabled = cycle.config.fair_sharing_preemption
        self.min_gain = cycle.config.fair_sharing_min_gain
        # class -> tenant -> its candidate jobs there; built on first use of the class.
        self._by_tenant: dict[str, dict[str, list[RunState]]] = {}
        self._tenants: dict[str, TenantState] = {}
        self._gpus: dict[str, dict[str, int]] = {}  # class -> tenant -> GPUs its candidates there hold
        self._top: dict[str, list[tuple[float, str]]] = {}  # class -> heap of (-ratio when pushed, tenant)
        self._on: dict[str, list[str]] = {}  # tenant -> classes where it has candidates
        # (class, worker GPUs) -> (workers, target ratio, target list ratio) of gangs that found no room: a gang as
        # big with targets as high or higher fails too this cycle (the rules only get harder to meet as the cycle
        # goes on, except when a victim's tenant admits more, which the next cycle sees).
        self._failed: dict[tuple[str, int], dict[int, list[tuple[float, float]]]] = {}
        self._misses: dict[str, int] = {}  # tenant -> its jobs that found no room by fair-sharing preemption

    def release(self) -> None:
        """Drop the cycle's jobs (compiled, the step's closures keep this object alive in a reference loop)."""
        self._by_tenant.clear()
        self._tenants.clear()
        self._gpus.clear()
        self._top.clear()
        self._on.clear()
        self._failed.clear()
        self._misses.clear()

    def _index(self, cs: ClassState) -> dict[str, list[RunState]]:
        known = self._by_tenant.get(cs.name)
        if known is None:
            known = self._by_tenant[cs.name] = {}
            gpus = self._gpus[cs.name] = {}
            for r in sorted(victims(cs), key=share_victim_order):  # within a tenant, its own victim order
                if fair_share_candidate(r, self.cycle):
                    known.setdefault(r.tenant.name, []).append(r)
                    self._tenants[r.tenant.name] = r.tenant
                    gpus[r.tenant.name] = gpus.get(r.tenant.name, 0) + r.gpus
            heap = [(-self._tenants[name].share_ratio(), name) for name in known]
            heapq.heapify(heap)
            self._top[cs.name] = heap
            for name in known:
                self._on.setdefault(name, []).append(cs.name)
        return known

    def _highest_ratio(self, cs: ClassState) -> float:
        """The highest share ratio among tenants that still have candidates on `cs` (-inf: none)."""
        index, heap = self._index(cs), self._top[cs.name]
        while heap:
            negated, name = heap[0]
            if name not in index:
                heapq.heappop(heap)
                continue
            now = self._tenants[name].share_ratio()
            if now == -negated:
                return now
            heapq.heapreplace(heap, (-now, name))
        return -math.inf

    def admitted(self, ts: TenantState) -> None:
        """A tenant admitted a job: its ratio rose, so it may now be worth taking from on its classes."""
        classes = self._on.get(ts.name)
        if classes:
            ratio = ts.share_ratio()
            for name in classes:
                heapq.heappush(self._top[name], (-ratio, ts.name))

    def may_try(self, ts: TenantState) -> bool:
        """Whether the tenant may preempt for fair share at all this turn: below its share, and fewer than
        MAX_MISSES of its jobs found no room that way this cycle (like Kueue, which tries a queue's head only; the
        next cycle tries again)."""
        return self.enabled and self._misses.get(ts.name, 0) < MAX_MISSES and below_fair_share(ts)

    def may_help(self, p: PendingJob) -> bool:
        """A quick necessary test: on some class of the job's, a tenant with candidates stands above the ratio the
        job's tenant would reach."""
        if not self.may_try(p.tenant):
            return False
        ts = p.tenant
        return any(self._highest_ratio(cs) + EPS >= ratio_after(ts, p.need * cs.price) + self.min_gain
                   for cs in p.options)

    def take_for(self, p: PendingJob, cs: ClassState) -> Plan | None:
        """Room for `p`'s gang on `cs` taken from tenants above their shares, or None (nothing changed)."""
        ts = p.tenant
        preemptor_after = ratio_after(ts, p.need * cs.price)
        preemptor_list_after = list_ratio_after(ts, p.need * cs.list_price)
        target, list_target = preemptor_after + self.min_gain, preemptor_list_after + self.min_gain
        failed = self._failed.setdefault((cs.name, p.gpw), {})
        if any(w <= p.workers and any(t <= target + EPS and lt <= list_target + EPS for t, lt in pairs)
               for w, pairs in failed.items()):
            return None
        if self._highest_ratio(cs) + EPS < target:
            return None
        index, held = self._index(cs), self._gpus[cs.name]
        givers: list[tuple[float, str]] = []
        room = cs.pool.total_free
        for name in index:
            victim = self._tenants[name]
            ratio = victim.share_ratio()
            if ratio + EPS >= target and victim.list_ratio() + EPS >= list_target and name != ts.name:
                givers.append((-ratio, name))
                if room < p.need:
                    room += self._most_given(victim, cs, held.get(name, 0), target, list_target)
        if room < p.need:
            _remember(failed, p.workers, target, list_target)
            return None
        givers.sort()
        # Each tenant's candidates are kept in share_victim_order within the tenant; tenants go furthest above first.
        runs = [r for _, name in givers for r in index[name]]
        held_before = {name: self._tenants[name].used.get(cs.name, 0) for _, name in givers}
        price, list_price, min_gain = cs.price, cs.list_price, self.min_gain

        def may_take(run: RunState, gpus: int) -> bool:
            victim = run.tenant
            removed = held_before[victim.name] - victim.used.get(cs.name, 0) + gpus
            return (keeps_own_guarantee(run, gpus)
                    and ends_no_higher(preemptor_after, ratio_after(victim, -removed * price), min_gain)
                    and ends_no_higher(preemptor_list_after, list_ratio_after(victim, -removed * list_price),
                                       min_gain))

        plan = reclaim(cs, p.workers, p.gpw, runs, may_take)
        if plan is None:
            _remember(failed, p.workers, target, list_target)
            return None
        gpus = self._gpus[cs.name]
        for name in {r.tenant.name for r in [*plan.preempted, *plan.shrunk]}:
            left = [r for r in index.get(name, []) if r.preempted is None and r.nodes]
            if left:
                index[name] = left
                gpus[name] = sum(r.gpus for r in left)
            else:
                index.pop(name, None)
                gpus.pop(name, None)
        return plan

    def missed(self, ts: TenantState) -> None:
        """A job of the tenant found no room by fair-sharing preemption on any class: after MAX_MISSES such jobs,
        the tenant's queue is scanned this cycle as if fair sharing were off."""
        self._misses[ts.name] = self._misses.get(ts.name, 0) + 1

    @staticmethod
    def _most_given(victim: TenantState, cs: ClassState, gpus: int, target: float, list_target: float) -> int:
        """An upper bound on the GPUs the rules let a tenant's candidates (holding `gpus`) give up on `cs`: no more
        than takes it down to its guarantee or to either target ratio."""
        over_guarantee = victim.used.get(cs.name, 0) - victim.tenant.guarantee(cs.name)
        if victim.budget > 0 and cs.price > 0:
            by_ratio = (victim.spend - target * victim.budget) / cs.price + EPS
            by_list = (victim.held_value - list_target * victim.budget) / cs.list_price + EPS
            gpus = min(gpus, max(0, math.floor(min(by_ratio, by_list))))
        return max(0, min(gpus, over_guarantee))
