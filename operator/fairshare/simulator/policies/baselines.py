"""Baselines for the simulator, on the same snapshot and decisions: FIFO, static quotas, weighted max-min and a
greedy heterogeneity-aware admission. (Gavel itself, LP and rounds, is gavel.py beside it.)

They know nothing of prices, budgets or bids: every GPU costs its list price and bids are ignored. FIFO, static
quotas and weighted max-min are heterogeneity-agnostic: they choose a class without regard to speed, the one with
the most free GPUs (`most_free_first`). All of them admit a gang whole on one class, never time-slice, and never
move a job; a stop (static quotas' reclaim) pays the replay's restart cost like any other.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from types import MappingProxyType

from fairshare.core import index, outcome
from fairshare.core.admission import admit, admit_within_guarantees, round_robin
from fairshare.core.allocator import Clock, StepTimer
from fairshare.core.config import PolicyConfig
from fairshare.core.cycle import Cause, ClassState, Cycle, PendingJob, TenantState, queue_order, sort_by_submission
from fairshare.core.decisions import CycleResult
from fairshare.core.fairshare import water_fill
from fairshare.core.rules import can_ever_fit, within_limit
from fairshare.core.throughput import normalized_speeds
from fairshare.core.types import JobPhase, Snapshot
from fairshare.core.wake import freed_more


def _without_market(snapshot: Snapshot) -> Snapshot:
    tenants = tuple(dataclasses.replace(t, budget_per_period=None) for t in snapshot.tenants)
    jobs = tuple(dataclasses.replace(j, max_price_per_gpu_hour=None) if j.max_price_per_gpu_hour is not None else j
                 for j in snapshot.jobs)
    return dataclasses.replace(snapshot, tenants=tenants, jobs=jobs)


def _start(snapshot: Snapshot, now: float, config: PolicyConfig) -> Cycle:
    # The systems they stand for queue first come, first served within a priority (Kueue's StrictFIFO, Gavel's
    # FIFO within an entity): no least-attained-service order.
    cycle = index.build(_without_market(snapshot), now, dataclasses.replace(config, service_quantum_gpu_hours=0.0))
    for cs in cycle.classes.values():
        cs.price = cs.floor = cs.list_price
    return cycle


def _result(cycle: Cycle, timer: StepTimer, status: Callable[[TenantState], str],
            shares: dict[str, dict[str, float]], wakes: bool = True) -> CycleResult:
    with timer.step("decisions"):
        decisions = outcome.decisions(cycle, status)
        charges = outcome.charges(cycle)
    # FIFO, weighted max-min and Gavel read no clock, never preempt and hand out all they can in one cycle: only
    # an event changes what they decide. Static quotas give no wake time (wakes=False): the replay keeps its
    # older rules for them (see static_quota).
    wake_at = (cycle.now if freed_more(cycle) else math.inf) if wakes else None
    cycle.dismantle()
    return CycleResult(
        decisions=decisions,
        prices=MappingProxyType({n: cs.list_price for n, cs in cycle.classes.items()}),
        fair_shares=MappingProxyType({t: MappingProxyType(s) for t, s in shares.items()}),
        step_seconds=MappingProxyType(dict(timer.seconds)),
        charges=MappingProxyType(charges),
        wake_at=wake_at,
    )


def _first_fit(p: PendingJob, order: tuple[ClassState, ...]) -> ClassState | None:
    """The first class in `order` where the gang fits now; notes why not otherwise."""
    for cs in order:
        if not can_ever_fit(cs, p):
            p.note(Cause.TOO_BIG, cs)
        elif cs.pool.fits(p.workers, p.gpw):
            return cs
        else:
            p.note(Cause.CAPACITY, cs)
    if not order:
        p.note(Cause.NO_CLASS, None)
    return None


def most_free_first(options: tuple[ClassState, ...]) -> tuple[ClassState, ...]:
    """A heterogeneity-agnostic class choice: the class with the most free GPUs first (ties by name), blind to
    speed, as a spreading scorer does (kube-scheduler's LeastAllocated; Gavel's agnostic policies pick a type
    without regard to throughput). Not alphabetical: that put most GPU-hours on the slowest class."""
    return tuple(sorted(options, key=lambda cs: (-cs.pool.total_free, cs.name)))


def _held(ts: TenantState) -> int:
    return sum(ts.used.values())


def fifo(snapshot: Snapshot, now: float, config: PolicyConfig, clock: Clock = time.perf_counter) -> CycleResult:
    """Strict FIFO over the whole cluster: jobs in submission order, the first that does not fit blocks the rest;
    each on the class with the most free GPUs. Models a FIFO batch queue (Kueue's StrictFIFO ClusterQueue; Gavel's
    `fifo`, which picks a type without regard to throughput)."""
    timer = StepTimer(clock)
    with timer.step("index"):
        cycle = _start(snapshot, now, config)
    with timer.step("admission"):
        blocked = False
        order = list(cycle.pending)
        sort_by_submission(order)
        for p in order:
            if blocked:
                p.note(Cause.ORDER, p.options[0] if p.options else None)
                continue
            if not p.options or not any(can_ever_fit(cs, p) for cs in p.options):
                _first_fit(p, p.options)  # can never run: noted, and it does not block the queue
                continue
            cs = _first_fit(p, most_free_first(p.options))
            if cs is None:
                blocked = True
            else:
                admit(cycle, p, cs, cs.list_price, opportunistic=False)
    return _result(cycle, timer, lambda ts: f"FIFO: tenant {ts.name} holds {_held(ts)} GPUs",
                   {t: {} for t in cycle.tenants})


def static_quota(snapshot: Snapshot, now: float, config: PolicyConfig,
                 clock: Clock = time.perf_counter) -> CycleResult:
    """Kueue: nominal quota (the guarantee) first, reclaiming from borrowers; then borrow idle GPUs up to the limit,
    on the class with the most free GPUs. Models Kueue's ClusterQueue nominalQuota / borrowingLimit with a cohort
    and reclaimWithinCohort."""
    timer = StepTimer(clock)
    with timer.step("index"):
        cycle = _start(snapshot, now, config)
    with timer.step("nominal"):
        admit_within_guarantees(cycle)
    with timer.step("borrowing"):
        for p in sorted(cycle.pending, key=queue_order):
            if p.admitted is not None or not p.tenant.known:
                continue
            allowed = tuple(cs for cs in p.options if within_limit(p.tenant, cs, p.need))
            if len(allowed) < len(p.options):
                p.note(Cause.LIMIT, next(cs for cs in p.options if cs not in allowed))
            cs = _first_fit(p, most_free_first(allowed))
            if cs is not None:
                admit(cycle, p, cs, cs.list_price, opportunistic=False)

    def status(ts: TenantState) -> str:
        return f"static quota: tenant {ts.name} holds {_held(ts)} GPUs, nominal {sum(ts.tenant.guaranteed.values())}"

    shares = {t: {c: float(ts.tenant.guarantee(c)) for c in cycle.classes} for t, ts in cycle.tenants.items()}
    # No wake time: its reclaim reads the clock (victims in order of work lost since their last checkpoint), and
    # with a wake computed like the market's (core/wake.py) the full Gavel Philly replay diverged from the one with
    # a cycle at every timer and follow-up, for a reason not yet found; the older rules keep its results exact.
    return _result(cycle, timer, status, shares, wakes=False)


def weighted_max_min(snapshot: Snapshot, now: float, config: PolicyConfig,
                     clock: Clock = time.perf_counter) -> CycleResult:
    """DRF over one resource, GPUs of any class alike: water-fill by weight, then backfill what is left; each job on
    the class with the most free GPUs. Models weighted max-min / DRF (Ghodsi et al., NSDI'11) as YARN's and
    Kueue's fair sharing apply it to a GPU count, and Gavel's agnostic `max_min_fairness`, without time-slicing."""
    timer = StepTimer(clock)
    with timer.step("index"):
        cycle = _start(snapshot, now, config)
    with timer.step("shares"):
        names = list(cycle.tenants)
        demand = [_held(cycle.tenants[n]) + sum(p.need for p in cycle.tenants[n].queue) for n in names]
        weights = [cycle.tenants[n].tenant.weight if cycle.tenants[n].known else 0.0 for n in names]
        total = sum(cs.capacity for cs in cycle.classes.values())
        share = dict(zip(names, water_fill(total, weights, demand), strict=True))

    def key(ts: TenantState) -> float:
        return _held(ts) / max(ts.tenant.weight, 1e-6)

    def attempt(p: PendingJob, capped: bool) -> bool:
        if not p.tenant.known:
            p.note(Cause.NO_TENANT, None)
            return False
        if capped and _held(p.tenant) + p.need > share[p.tenant.name] + 1e-9:
            p.note(Cause.SHARE, p.options[0] if p.options else None)
            return False
        cs = _first_fit(p, most_free_first(p.options))
        if cs is not None:
            admit(cycle, p, cs, cs.list_price, opportunistic=False)
        return cs is not None

    with timer.step("admission"):
        round_robin(cycle, cycle.tenants.values(), key, lambda p: attempt(p, capped=True))
        round_robin(cycle, cycle.tenants.values(), key, lambda p: attempt(p, capped=False))
    capacity = {n: cs.capacity for n, cs in cycle.classes.items()}
    shares = {t: {c: share[t] * cap / total if total else 0.0 for c, cap in capacity.items()} for t in names}
    return _result(cycle, timer, lambda ts: f"weighted max-min: tenant {ts.name} holds {_held(ts)} of its "
                   f"{share.get(ts.name, 0.0):.1f}-GPU share", shares)


def greedy_hetero(snapshot: Snapshot, now: float, config: PolicyConfig,
                  clock: Clock = time.perf_counter) -> CycleResult:
    """Gavel's objective without Gavel's mechanism: the tenant with the least normalised throughput per weight
    admits next, each job on the fastest class (for that job) with room; no LP, no time-slicing, no moves. Named
    `greedy-hetero`: it is not Gavel (gavel.py is), and runs well behind it (docs/benchmarks/policies.md)."""
    timer = StepTimer(clock)
    with timer.step("index"):
        cycle = _start(snapshot, now, config)
    classes = {n: cs.gpu_class for n, cs in cycle.classes.items()}

    def speeds(job_key: str, options: tuple[ClassState, ...], workers: int) -> list[float]:
        return normalized_speeds(cycle.curves.get(job_key), [c.gpu_class for c in options], workers, classes)

    effective = {t: 0.0 for t in cycle.tenants}
    for run in cycle.running:
        options = tuple(c for c in cycle.classes.values() if run.job.accepts(c.name)) or (run.cls,)
        if run.cls in options and run.job.phase is JobPhase.RUNNING:
            effective[run.tenant.name] += speeds(run.job.key, options, max(1, len(run.nodes)))[
                options.index(run.cls)] * run.gpus

    def attempt(p: PendingJob) -> bool:
        if not p.tenant.known:
            p.note(Cause.NO_TENANT, None)
            return False
        rs = speeds(p.job.key, p.options, p.workers)
        order = sorted(zip(p.options, rs, strict=True), key=lambda cr: (-cr[1], cr[0].name))
        cs = _first_fit(p, tuple(c for c, _ in order))
        if cs is None:
            return False
        admit(cycle, p, cs, cs.list_price, opportunistic=False)
        effective[p.tenant.name] += dict((c.name, r) for c, r in order)[cs.name] * p.need
        return True

    with timer.step("admission"):
        round_robin(cycle, cycle.tenants.values(),
                    lambda ts: effective[ts.name] / max(ts.tenant.weight, 1e-6), attempt)
    shares = {t: {c: float(ts.used.get(c, 0)) for c in cycle.classes} for t, ts in cycle.tenants.items()}
    return _result(cycle, timer, lambda ts: f"greedy-hetero: tenant {ts.name} has {effective[ts.name]:.1f} "
                   f"throughput-normalised GPUs", shares)
