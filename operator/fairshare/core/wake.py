"""When the policy can next act without an event: at once after freeing GPUs or while a guarantee may reclaim from
a borrower, or when a gang's age or attained service opens a step.

Between events (arrivals, completions, reports), five rules of the market policy read the clock:
- a job on idle capacity may yield to a waiting job once it has run `min_run_seconds` (step 5);
- a job gives way to a waiting job of its own tenant in an earlier service band once it has run `min_run_seconds`
  and its attained service has reached a later band (step 6b);
- a measured job may move or swap class once it has run `min_run_seconds` (step 8);
- a full-price job may be taken for another tenant's fair share once it has run `min_run_seconds` (step 5);
- a tenant with a budget spends the rest of it at the rate its gangs are charged (steps 4-6 then treat it as spent).
next_wake() returns the earliest time one of these could fire for a gang holding GPUs after this cycle, judged on
this cycle's state: whatever else changes that state is an event, and the caller runs a cycle for it anyway (which
computes a new wake). The test for each rule is necessary, not sufficient: share, limit, bid, budget and placement
are left out, so the wake may come early but never late. Job lengths are not read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from fairshare.core.cycle import ClassState, Cycle, TenantState, service_band
from fairshare.core.fairsharing import below_fair_share
from fairshare.core.rules import EPS, guarantee_room, within_guarantee
from fairshare.core.throughput import estimate, interpolate
from fairshare.core.types import GPUClass, Job


class Holder:
    """A gang holding GPUs after the cycle, as the next cycle will see it (`band`: its service band now)."""

    __slots__ = ("job", "tenant", "cls", "workers", "gpus", "started_at", "attained_at_start", "opportunistic",
                 "band")

    def __init__(self, job: Job, tenant: TenantState, cls: ClassState, workers: int, started_at: float,
                 attained_at_start: float, opportunistic: bool, band: int) -> None:
        self.job = job
        self.tenant = tenant
        self.cls = cls
        self.workers = workers
        self.gpus = workers * job.gpus_per_worker
        self.started_at = started_at
        self.attained_at_start = attained_at_start  # GPU-hours held before this allocation
        self.opportunistic = opportunistic
        self.band = band

    def attained(self, t: float) -> float:
        """GPU-hours held by time `t`."""
        return self.attained_at_start + max(0.0, t - self.started_at) / 3600.0 * self.gpus


def holders(cycle: Cycle) -> list[Holder]:
    """Every gang holding GPUs once the cycle's decisions apply; a new, moved or resized gang starts now."""
    out = []
    now, config = cycle.now, cycle.config
    for run in cycle.running:
        alloc = run.job.allocation
        if run.preempted is not None or not run.nodes or alloc is None:
            continue
        if run.migrated is not None or run.resized is not None:
            out.append(Holder(run.job, run.tenant, run.cls, len(run.nodes), now, run.attained, run.opportunistic,
                              run.band))
        else:
            out.append(Holder(run.job, run.tenant, run.cls, len(run.nodes), alloc.started_at,
                              run.job.attained_gpu_hours, run.opportunistic, run.band))
    for p in cycle.pending:
        a = p.admitted
        if a is not None:
            out.append(Holder(p.job, p.tenant, cycle.classes[a.gpu_class], a.workers, now, p.job.attained_gpu_hours,
                              a.opportunistic, service_band(p.job.attained_gpu_hours, config)))
    return out


def speedup(cycle: Cycle, h: Holder, to: ClassState, classes: Mapping[str, GPUClass]) -> float:
    """Expected throughput on `to` over measured throughput where the gang runs (migration._speedup), once it has
    reported there; a gang measured only elsewhere could report anything (inf)."""
    curves = cycle.curves.get(h.job.key)
    if not curves:
        # Its first report fixes no ratio: every other class is then scaled from it by relative speed.
        return to.gpu_class.relative_speed / h.cls.gpu_class.relative_speed
    curve = curves.get(h.cls.name)
    if not curve or all(w != h.workers for w, _ in curve):
        return math.inf
    now = interpolate(curve, h.workers)
    return estimate(curves, to.gpu_class, h.workers, classes) / now if now > 0 else 0.0


def first_band_above(h: Holder, band: int, after: float, cycle: Cycle) -> float:
    """The earliest time from `after` at which the gang's service band exceeds `band` (inf: never)."""
    config = cycle.config
    if service_band(h.attained(after), config) > band:
        return after
    if h.gpus <= 0:
        return math.inf
    # Band b + 1 begins at quantum x growth^b GPU-hours; step past float rounding at the boundary.
    threshold = config.service_quantum_gpu_hours * config.service_band_growth ** band
    t = h.started_at + (threshold - h.attained_at_start) * 3600.0 / h.gpus
    step = 1e-9 * max(1.0, abs(t))
    while service_band(h.attained(t), config) <= band:
        t, step = t + step, step * 2
    return max(t, after)


class Waiting:
    """The jobs still waiting after the cycle, read lazily and cached: most cycles ask about a few tenants only."""

    def __init__(self, cycle: Cycle, free: dict[str, int], gangs: list[Holder]) -> None:
        self.cycle = cycle
        self.free = free
        self.gangs = gangs
        self._lowest: dict[tuple[str, int, str], int | None] = {}
        self._yielded: dict[tuple[str, str, int], bool] = {}
        self._groups: dict[tuple[TenantState, tuple[ClassState, ...]], tuple[int, int]] | None = None
        self._on_idle: dict[str, int] | None = None

    def lowest_band(self, ts: TenantState, priority: int, cs: ClassState) -> int | None:
        """The earliest service band among the tenant's waiting preemptible jobs of at least `priority` that accept
        `cs` and could fit there on what the tenant holds of it plus what is free."""
        key = (ts.name, priority, cs.name)
        if key not in self._lowest:
            room = ts.used.get(cs.name, 0) + self.free.get(cs.name, 0)
            bands = [p.band for p in ts.queue if p.admitted is None and p.job.preemptible
                     and p.job.priority >= priority and p.need <= room and cs in p.options]
            self._lowest[key] = min(bands) if bands else None
        return self._lowest[key]

    def _group(self) -> dict[tuple[TenantState, tuple[ClassState, ...]], tuple[int, int]]:
        """(tenant, classes) -> (highest priority, smallest gang) over waiting preemptible jobs."""
        if self._groups is None:
            self._groups = {}
            for p in self.cycle.pending:
                if p.admitted is None and p.job.preemptible:  # a bid is left aside: the price may fall
                    key = (p.tenant, p.options)
                    top, least = self._groups.get(key, (p.job.priority, p.need))
                    self._groups[key] = (max(top, p.job.priority), min(least, p.need))
        return self._groups

    def yielded_to(self, h: Holder) -> bool:
        """Whether some waiting job could take the GPUs of a gang on idle capacity: another tenant's (or its own of
        higher priority), accepting the class, within its share or guarantee there, and small enough to fit on
        what is free plus what jobs on idle capacity hold there."""
        key = (h.tenant.name, h.cls.name, h.job.priority)
        known = self._yielded.get(key)
        if known is None:
            known = self._yielded[key] = self._yielded_to(h)
        return known

    def taken_for_fair_share(self, h: Holder) -> bool:
        """Whether a full-price gang could be taken for fair share once past its minimum run time (step 5,
        fairsharing.py): a tenant below its share, further below it than the gang's tenant is by the minimum gain,
        waits with a preemptible job accepting the class."""
        if not h.job.preemptible:
            return False
        key = (h.tenant.name, h.cls.name, -1)
        known = self._yielded.get(key)
        if known is None:
            known = self._yielded[key] = self._taken_for_fair_share(h)
        return known

    def _taken_for_fair_share(self, h: Holder) -> bool:
        cs, gain = h.cls, self.cycle.config.fair_sharing_min_gain
        above = h.tenant.share_ratio()
        for (ts, options), _ in self._group().items():
            if ts is h.tenant or cs not in options or not below_fair_share(ts):
                continue
            if ts.share_ratio() + gain <= above + EPS:
                return True
        return False

    def _yielded_to(self, h: Holder) -> bool:
        cs = h.cls
        if self._on_idle is None:
            self._on_idle = {}
            for g in self.gangs:
                if g.opportunistic:
                    self._on_idle[g.cls.name] = self._on_idle.get(g.cls.name, 0) + g.gpus
        room = self.free.get(cs.name, 0) + self._on_idle.get(cs.name, 0)
        for (ts, options), (top, least) in self._group().items():
            if cs not in options or least > room or not ts.known or ts.tenant.budget_exhausted:
                continue
            if ts is h.tenant and top <= h.job.priority:
                continue
            if least * cs.price <= 2.0 * (ts.budget - ts.spend) + EPS or within_guarantee(ts, cs, least):
                return True
        return False


def freed_more(cycle: Cycle) -> bool:
    """Whether the cycle freed GPUs it could not hand out itself: a preemption or shrink frees more than its
    preemptor may need, a move's old nodes are busy until its pods are gone, and a preempted job waits again."""
    return any(r.preempted is not None or r.resized is not None or r.migrated is not None for r in cycle.running)


def reclaim_may_follow(cycle: Cycle) -> bool:
    """Whether a waiting job within its tenant's guarantee shares a class with another tenant's borrower (a job of a
    tenant beyond its guarantee there, including one admitted this cycle). The guarantee step reclaims from
    borrowers in an order that reads the clock (work lost since the last checkpoint), and which victims it may take
    depends on that order: a reclaim that failed can succeed a tick later with nothing else changed."""
    borrowed: dict[ClassState, set[str]] = {}
    for cs in cycle.classes.values():
        for run in cs.running:
            ts = run.tenant
            if (run.preempted is None and run.job.preemptible and run.nodes
                    and ts.used.get(cs.name, 0) > ts.tenant.guarantee(cs.name)):
                borrowed.setdefault(cs, set()).add(ts.name)
    for p in cycle.pending:
        a = p.admitted
        if a is not None and p.job.preemptible:
            cs = cycle.classes[a.gpu_class]
            if p.tenant.used.get(cs.name, 0) > p.tenant.tenant.guarantee(cs.name):
                borrowed.setdefault(cs, set()).add(p.tenant.name)
    if not borrowed:
        return False
    for ts in cycle.tenants.values():
        if not ts.known or not ts.tenant.guaranteed or ts.tenant.budget_exhausted or guarantee_room(ts) <= 0:
            continue
        for p in ts.queue:
            if p.admitted is None and any(
                    borrowed.get(cs, {ts.name}) - {ts.name} and within_guarantee(ts, cs, p.need) for cs in p.options):
                return True
    return False


def follow_up(cycle: Cycle) -> bool:
    """Whether the next cycle may act on this one's outcome alone (freed GPUs, a new borrower to reclaim from, or a
    damped price still on its way to the equilibrium: each cycle moves it one bounded step)."""
    return cycle.prices_settling or freed_more(cycle) or reclaim_may_follow(cycle)


def next_wake(cycle: Cycle) -> float:
    """The earliest time at which time alone can let a step act: `cycle.now` when the next cycle should follow at
    once (follow_up), inf when only an event can."""
    config, now = cycle.config, cycle.now
    if follow_up(cycle):
        return now
    min_run = config.min_run_seconds
    gangs = holders(cycle)
    classes = {name: cs.gpu_class for name, cs in cycle.classes.items()}
    free = {cs.name: cs.pool.total_free for cs in cycle.classes.values()}
    for run in cycle.running:  # a moved gang's old nodes are free once its pods are gone
        if run.migrated is not None and run.job.allocation is not None:
            old = run.job.allocation.gpu_class
            free[old] = free.get(old, 0) + run.job.allocation.workers * run.gpw
    waiting = Waiting(cycle, free, gangs)
    migrating = config.migration_gain > 0
    by_shape: dict[tuple[int, int], list[Holder]] = {}
    if migrating:
        for h in gangs:
            if not h.opportunistic:
                by_shape.setdefault((h.workers, h.job.gpus_per_worker), []).append(h)
    serving = config.service_quantum_gpu_hours > 0
    fair_sharing = config.fair_sharing_preemption
    wake = budget_runs_out(cycle, gangs)
    for h in gangs:
        eligible = h.started_at + min_run
        if eligible > now:
            if h.opportunistic and _may_be_yielded(h, waiting):
                wake = min(wake, eligible)
                continue
            if migrating and not h.opportunistic and _may_move(cycle, h, free, by_shape, classes):
                wake = min(wake, eligible)
                continue
            if fair_sharing and not h.opportunistic and waiting.taken_for_fair_share(h):
                wake = min(wake, eligible)
                continue
        if serving:
            wake = min(wake, _service_wake(cycle, h, waiting, max(eligible, now)))
    return wake if wake > now else math.inf


def budget_runs_out(cycle: Cycle, gangs: list[Holder]) -> float:
    """When the first tenant with a budget spends the rest of it at the rate its gangs are charged from now (full
    price, or the floor on idle capacity): from then on it keeps no full-price claim, so the next cycle should come
    then rather than at the next event (inf: no budget runs out while holdings stay as they are)."""
    rates: dict[str, float] = {}
    for h in gangs:
        t = h.tenant.tenant
        if h.tenant.known and t.budget_per_period is not None and not t.budget_exhausted:
            price = h.cls.floor if h.opportunistic else h.cls.price
            rates[h.tenant.name] = rates.get(h.tenant.name, 0.0) + h.gpus * price
    wake = math.inf
    for name, rate in rates.items():
        t = cycle.tenants[name].tenant
        if rate > 0 and t.budget_per_period is not None:
            wake = min(wake, cycle.now + (t.budget_per_period - t.spent_this_period) / rate * 3600.0)
    return wake


def _may_be_yielded(h: Holder, waiting: Waiting) -> bool:
    """Step 5: a gang on idle capacity yields to a waiting job within its share (ShareAdmission.try_yield)."""
    return h.job.preemptible and waiting.yielded_to(h)


def _may_move(cycle: Cycle, h: Holder, free: dict[str, int], by_shape: dict[tuple[int, int], list[Holder]],
              classes: Mapping[str, GPUClass]) -> bool:
    """Step 8: an upgrade to a class with room that is fast enough, or a swap with a partner where both gain."""
    gain = cycle.config.migration_gain
    for cs in cycle.classes.values():
        if (cs is not h.cls and h.job.accepts(cs.name) and free.get(cs.name, 0) >= h.gpus
                and speedup(cycle, h, cs, classes) >= gain):
            return True
    for b in by_shape.get((h.workers, h.job.gpus_per_worker), ()):
        if b.cls is h.cls or not h.job.accepts(b.cls.name) or not b.job.accepts(h.cls.name):
            continue
        s_h, s_b = speedup(cycle, h, b.cls, classes), speedup(cycle, b, h.cls, classes)
        if s_h >= 1.0 / gain and s_b >= 1.0 / gain and s_h * s_b >= gain:
            return True
    return False


def _service_wake(cycle: Cycle, h: Holder, waiting: Waiting, at: float) -> float:
    """Step 6b: when, from `at`, the gang's band first exceeds that of a waiting job of its tenant it would yield to.
    A gang already past both thresholds now gets no wake: what holds it back is not time."""
    ts = h.tenant
    if not h.job.preemptible or not ts.known or ts.tenant.budget_exhausted:
        return math.inf
    lowest = waiting.lowest_band(ts, h.job.priority, h.cls)
    if lowest is None or (at <= cycle.now and h.band > lowest):
        return math.inf
    t = first_band_above(h, lowest, at, cycle)
    return t if t > cycle.now else math.inf
