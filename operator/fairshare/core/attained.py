"""Step 6b: least attained service within a tenant: a waiting job takes the GPUs of its own tenant's running jobs
that have held more GPU-hours (a later band), once those have run their minimum time.

Job lengths are unknown, but in training workloads the time a job has already run predicts how long it has left
(Tiresias, Gu et al., NSDI'19): serving the least-served first lets short jobs finish instead of queueing behind
long ones. Bands (cycle.service_band) grow geometrically, so a job is set aside only a few times over its life.
This only reorders a tenant's own work; what each tenant holds, and so fairness between tenants, is unchanged: the
newcomer never makes its tenant hold more of the class than its share or limit allows, and when the gang it
displaced was bigger than itself, the tenant's next waiting jobs take the rest of those GPUs at once (a long 8-GPU
job that makes way for a 1-GPU one does not hand 7 GPUs to other tenants).
"""

from __future__ import annotations

from fairshare.core import explain
from fairshare.core.admission import admit, commit
from fairshare.core.cycle import ClassState, Cycle, PendingJob, RunState, TenantState
from fairshare.core.decisions import PreemptCause
from fairshare.core.preemption import Plan, ran_long_enough, reclaim, undo
from fairshare.core.rules import bid_covers, can_ever_fit, choice_order, within_limit, within_share


def may_give_way(run: RunState, cycle: Cycle) -> bool:
    """A running job gives way by service order only if preemptible, past its minimum run time, untouched this cycle
    and served beyond the first band."""
    return (run.band > 0 and run.job.preemptible and run.preempted is None and run.resized is None
            and run.migrated is None and bool(run.nodes) and -1 not in run.nodes
            and ran_long_enough(run, cycle.now, cycle.config.min_run_seconds))


def served_more(run: RunState, p: PendingJob) -> bool:
    """The rule: a job yields to a job of its own tenant in an earlier band and of at least its priority."""
    return run.tenant is p.tenant and run.band > p.band and run.job.priority <= p.job.priority


def most_served_first(run: RunState) -> tuple[int, float, float, str]:
    """Most served first: latest band, then most GPU-hours held, then least work lost since the last checkpoint."""
    return (-run.band, -run.attained, run.lost_gpu_hours, run.job.key)


def _replace_on(cycle: Cycle, p: PendingJob, cs: ClassState, runs: list[RunState]) -> tuple[int, bool] | None:
    """Make room for `p` on `cs` from `runs` (most served first); keep the plan only if the tenant stays within its
    share and limit. Returns the GPUs freed beyond what `p` took and whether they were held on idle capacity (None:
    nothing done)."""
    candidates = [r for r in runs if r.cls is cs and r.preempted is None and served_more(r, p)]
    if not candidates or sum(r.gpus for r in candidates) + cs.pool.total_free < p.need:
        return None
    before = {r.job.key: list(r.nodes) for r in candidates}
    plan = reclaim(cs, p.workers, p.gpw, candidates, lambda run, gpus: True)
    if plan is None:
        return None
    ts = p.tenant
    freed = sum((len(before[r.job.key]) - len(r.nodes)) * r.gpw for r in [*plan.preempted, *plan.shrunk])
    grows = p.need - freed
    if not within_limit(ts, cs, p.need) or (grows > 0 and not within_share(ts, cs, grows)):
        undo(plan, before)
        return None
    opportunistic = all(r.opportunistic for r in _victims(plan))
    price = cs.floor if opportunistic else cs.price
    if not bid_covers(p, price):
        undo(plan, before)
        return None
    commit(plan, p, cs, explain.service_order, PreemptCause.SERVICE)
    admit(cycle, p, cs, price, opportunistic=opportunistic)
    return max(0, -grows), opportunistic


def _victims(plan: Plan) -> list[RunState]:
    return [*plan.preempted, *plan.shrunk]


def _refill(cycle: Cycle, ts: TenantState, cs: ClassState, spare: int, opportunistic: bool) -> None:
    """The tenant's next waiting jobs, in queue order, take the GPUs a replacement freed beyond its newcomer's gang,
    on the same terms as the job that held them."""
    price = cs.floor if opportunistic else cs.price
    for p in ts.queue:
        if spare <= 0:
            return
        if (p.admitted is None and p.job.preemptible and cs in p.options and p.need <= spare
                and can_ever_fit(cs, p) and bid_covers(p, price) and within_limit(ts, cs, p.need)
                and cs.pool.fits(p.workers, p.gpw)):
            admit(cycle, p, cs, price, opportunistic=opportunistic)
            spare -= p.need


def _by_class(runs: list[RunState]) -> dict[str, list[RunState]]:
    """The runs per class, keeping their order."""
    out: dict[str, list[RunState]] = {}
    for r in runs:
        out.setdefault(r.cls.name, []).append(r)
    return out


def _serve_tenant(cycle: Cycle, ts: TenantState, runs: list[RunState]) -> None:
    misses, lookahead = 0, cycle.config.lookahead
    runs.sort(key=most_served_first)  # once: each attempt filters this order instead of sorting again
    on_class = _by_class(runs)
    top = max(r.band for r in runs)
    for p in ts.queue:
        if misses >= lookahead or not runs:
            return
        if p.admitted is not None or not p.job.preemptible or p.band >= top:
            continue
        for cs in choice_order(cycle, p):
            here = on_class.get(cs.name)
            done = _replace_on(cycle, p, cs, here) if here and can_ever_fit(cs, p) else None
            if done is not None:
                _refill(cycle, ts, cs, *done)
                runs[:] = [r for r in runs if r.preempted is None and r.resized is None]
                on_class = _by_class(runs)
                top = max((r.band for r in runs), default=0)
                break
        else:
            misses += 1


def serve_least_attained(cycle: Cycle) -> None:
    """Each tenant's waiting jobs, in queue order, replace its running jobs of later bands where that fits."""
    if cycle.config.service_quantum_gpu_hours <= 0:
        return
    movable: dict[str, list[RunState]] = {}
    for run in cycle.running:
        if may_give_way(run, cycle):
            movable.setdefault(run.tenant.name, []).append(run)
    for ts in cycle.tenants.values():
        runs = movable.get(ts.name)
        if runs and ts.queue and ts.known and not ts.tenant.budget_exhausted:
            _serve_tenant(cycle, ts, runs)
