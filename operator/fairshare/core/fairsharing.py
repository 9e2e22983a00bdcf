"""Fair-sharing preemption: a tenant below its fair share takes GPUs from tenants above theirs, and never in a loop.

The share ratio of a tenant is what its full-price holdings cost per hour at this cycle's prices over its entitlement
(TenantState.share_ratio): the number the wait reasons, Tenant status and the metrics all report.

Why it cannot loop (Kueue's LessThanOrEqualToFinalShare argument). A move takes GPUs from victim tenants V and gives
a gang to the preemptor A only if, after the move, A's ratio plus `fair_sharing_min_gain` is at most each victim's
(`ends_no_higher`). Let M be the highest ratio among A and V before the move. Every victim ends below its own
ratio before, so below M; A ends at most at a victim's final ratio, so below M too. The tenants' ratios, sorted
from highest down, therefore decrease lexicographically with every move while prices and entitlements stay put;
holdings are whole GPUs, so there are finitely many states, and a run of such moves ends without revisiting one.
No A-takes-from-B-takes-from-A cycle exists: B taking back would need B's final ratio at most A's, below which it
ended the first move. tests/unit/core/test_fairsharing.py checks this over generated multi-cycle runs.
"""

from __future__ import annotations

import math

from fairshare.core.index import ClassState, Cycle, PendingJob, RunState, TenantState
from fairshare.core.preemption import Plan, keeps_own_guarantee, ran_long_enough, reclaim, share_victim_order, victims
from fairshare.core.rules import EPS


def ratio_after(ts: TenantState, credits_per_hour: float) -> float:
    """A tenant's share ratio once its full-price holdings cost `credits_per_hour` more (or less, if negative)."""
    spend = ts.spend + credits_per_hour
    if ts.budget <= 0:
        return math.inf if spend > EPS else 0.0
    return spend / ts.budget


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


class FairShareReclaim:
    """Fair-sharing preemption within one cycle: who may be taken on each class, and attempts known to fail."""

    def __init__(self, cycle: Cycle) -> None:
        self.cycle = cycle
        self.enabled = cycle.config.fair_sharing_preemption
        self.min_gain = cycle.config.fair_sharing_min_gain
        self._candidates: dict[str, list[RunState]] = {}
        self._failed: dict[tuple[str, int, str], tuple[int, int]] = {}  # (class, gpw, tenant) -> (workers, changes)

    def release(self) -> None:
        """Drop the cycle's jobs (compiled, the step's closures keep this object alive in a reference loop)."""
        self._candidates.clear()
        self._failed.clear()

    def candidates(self, cs: ClassState) -> list[RunState]:
        """The jobs on `cs` that fair-sharing preemption may take (computed once per class, pruned as they go)."""
        known = self._candidates.get(cs.name)
        if known is None:
            known = self._candidates[cs.name] = [r for r in victims(cs) if fair_share_candidate(r, self.cycle)]
        return known

    def may_try(self, ts: TenantState) -> bool:
        """Whether the tenant may preempt for fair share at all this turn."""
        return self.enabled and below_fair_share(ts)

    def take_for(self, p: PendingJob, cs: ClassState) -> Plan | None:
        """Room for `p`'s gang on `cs` taken from tenants above their shares, or None (nothing changed)."""
        ts, cycle = p.tenant, self.cycle
        memo = (cs.name, p.gpw, ts.name)
        failed = self._failed.get(memo)
        if failed is not None and failed[1] == cycle.changes and failed[0] <= p.workers:
            return None
        preemptor_after = ratio_after(ts, p.need * cs.price)
        target = preemptor_after + self.min_gain
        runs = [r for r in self.candidates(cs) if r.tenant is not ts and r.tenant.share_ratio() + EPS >= target]
        if not runs or self._most_available(cs, runs, target) + cs.pool.total_free < p.need:
            self._failed[memo] = (p.workers, cycle.changes)
            return None
        runs.sort(key=share_victim_order)
        held_before = {r.tenant.name: r.tenant.used.get(cs.name, 0) for r in runs}
        price, min_gain = cs.price, self.min_gain

        def may_take(run: RunState, gpus: int) -> bool:
            victim = run.tenant
            removed = held_before[victim.name] - victim.used.get(cs.name, 0) + gpus
            return (keeps_own_guarantee(run, gpus)
                    and ends_no_higher(preemptor_after, ratio_after(victim, -removed * price), min_gain))

        plan = reclaim(cs, p.workers, p.gpw, runs, may_take)
        if plan is None:
            self._failed[memo] = (p.workers, cycle.changes)
            return None
        self._candidates[cs.name] = [r for r in self.candidates(cs) if r.preempted is None and r.nodes]
        return plan

    @staticmethod
    def _most_available(cs: ClassState, runs: list[RunState], target: float) -> int:
        """An upper bound on the GPUs the rules let `runs` give up: per tenant, what it holds among them, but no
        more than takes it down to its guarantee or to the target ratio."""
        held: dict[str, int] = {}
        tenants: dict[str, TenantState] = {}
        for r in runs:
            held[r.tenant.name] = held.get(r.tenant.name, 0) + r.gpus
            tenants[r.tenant.name] = r.tenant
        total = 0
        for name, gpus in held.items():
            victim = tenants[name]
            over_guarantee = victim.used.get(cs.name, 0) - victim.tenant.guarantee(cs.name)
            if victim.budget > 0 and cs.price > 0:
                by_ratio = (victim.spend - target * victim.budget) / cs.price + EPS
                gpus = min(gpus, max(0, math.floor(by_ratio)))
            total += max(0, min(gpus, over_guarantee))
        return total
