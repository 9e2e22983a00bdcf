"""The admission rules, one small function each: where a job may go, and in which order tenants take turns."""

from __future__ import annotations

from fairshare.core.cycle import ClassState, Cycle, PendingJob, TenantState
from fairshare.core.throughput import normalized_speeds

EPS = 1e-9  # slack for float sums of prices


def ranked_options(cycle: Cycle, p: PendingJob) -> tuple[ClassState, ...]:
    """A job's classes, best first: the most normalised throughput per credit at this cycle's prices, then by name."""
    # Prices are set before any step ranks a class, and stay put for the rest of the cycle: rank each once.
    known = cycle.ranked.get(p.options) if p.curves is None else cycle.ranked_jobs.get(p.job.key)
    if known is not None:
        return known
    by_name = {c.name: c.gpu_class for c in p.options}
    speeds = normalized_speeds(p.curves, [c.gpu_class for c in p.options], p.workers, by_name)
    order = sorted(zip(p.options, speeds, strict=True), key=lambda cv: (-per_credit(cv[1], cv[0].price), cv[0].name))
    ranked = tuple(c for c, _ in order)
    if p.curves is None:
        cycle.ranked[p.options] = ranked
    else:
        cycle.ranked_jobs[p.job.key] = ranked
    return ranked


def per_credit(speed: float, price: float) -> float:
    """Speed per credit; a class whose price is 0 (a list price so small that its floor rounds to 0) is worth
    everything to a job that runs on it, and nothing to one that does not."""
    if price > 0:
        return speed / price
    return float("inf") if speed > 0 else 0.0


def choice_order(cycle: Cycle, p: PendingJob) -> tuple[ClassState, ...]:
    """Where a tenant places a job: first the classes its equilibrium share still covers, then the rest; each
    group by throughput per credit. Rounding thus follows the market's allocation where it can."""
    base = ranked_options(cycle, p)
    if len(base) < 2:
        return base
    ts = p.tenant
    covered = tuple(c for c in base if ts.entitled.get(c.name, 0.0) - ts.used.get(c.name, 0) + 0.5 >= p.need)
    if not covered or len(covered) == len(base):
        return base
    return covered + tuple(c for c in base if c not in covered)


def bid_covers(p: PendingJob, price: float) -> bool:
    """A job with a bid runs only where the price per GPU-hour is at most its bid."""
    bid = p.job.max_price_per_gpu_hour
    return bid is None or bid + EPS >= price


def within_limit(ts: TenantState, cs: ClassState, gpus: int) -> bool:
    """A tenant never holds more of a class than its guarantee plus its borrowing limit."""
    return ts.used.get(cs.name, 0) + gpus <= ts.tenant.limit(cs.name)


def within_guarantee(ts: TenantState, cs: ClassState, gpus: int) -> bool:
    """Work that keeps a tenant within its guarantee of a class is always entitled to run there."""
    return ts.used.get(cs.name, 0) + gpus <= ts.tenant.guarantee(cs.name)


def within_share(ts: TenantState, cs: ClassState, gpus: int) -> bool:
    """A tenant admits work while that brings its spend per hour nearer its entitlement (rounding to whole gangs),
    and always within its guarantee."""
    return gpus * cs.price <= 2.0 * (ts.budget - ts.spend) + EPS or within_guarantee(ts, cs, gpus)


def can_ever_fit(cs: ClassState, p: PendingJob) -> bool:
    """A gang fits a class at all only if one node holds a worker and the class holds the whole gang."""
    return p.gpw <= cs.pool.max_node_gpus and p.need <= cs.capacity


def guarantee_room(ts: TenantState) -> int:
    """The most GPUs one job could take within the tenant's guarantee of any single class."""
    return max((g - ts.used.get(c, 0) for c, g in ts.tenant.guaranteed.items()), default=0)


def guarantee_use(ts: TenantState) -> float:
    """Order for the guarantee step: the tenant using the smallest fraction of its guarantees goes first."""
    used, guaranteed = 0, 0
    for cls, gpus in ts.tenant.guaranteed.items():
        used += ts.used.get(cls, 0)
        guaranteed += gpus
    return used / guaranteed if guaranteed else 0.0


def held_per_weight(ts: TenantState) -> float:
    """Order for idle capacity: the tenant holding the fewest GPUs per unit of weight goes first."""
    return sum(ts.used.values()) / max(ts.tenant.weight, 1e-6)
