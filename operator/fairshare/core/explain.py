"""Reasons people can read: every Wait, Preempt and Resize says why, with the numbers behind it."""

from __future__ import annotations

from fairshare.core.cycle import Cause, ClassState, PendingJob, RunState, TenantState


def share_status(ts: TenantState) -> str:
    """Where a tenant stands, e.g. 'tenant nlp is at 1.40x its fair share (5.20 of 3.71 credits/h)'."""
    t = ts.tenant
    if not ts.known:
        return f"tenant {ts.name} is not defined"
    if t.budget_exhausted:
        return f"tenant {ts.name} has spent its budget ({t.spent_this_period:.1f} of {t.budget_per_period:.1f} credits)"
    if ts.budget <= 0:
        return f"tenant {ts.name} has no fair share (weight {t.weight:g}, spends {ts.spend:.2f} credits/h)"
    return (f"tenant {ts.name} is at {ts.share_ratio():.2f}x its fair share "
            f"({ts.spend:.2f} of {ts.budget:.2f} credits/h)")


def _largest_gap(cs: ClassState) -> int:
    pool = cs.pool
    return next((f for f in range(len(pool.count) - 1, -1, -1) if pool.count[f]), 0)


def cause_text(p: PendingJob) -> str:
    """The specific obstacle for a waiting job, about the class that came closest."""
    cs, job, ts = p.cause_class, p.job, p.tenant
    gang = f"{p.workers}x{p.gpw} GPUs"
    if p.cause is Cause.NO_TENANT:
        return "jobs of an undefined tenant are never admitted"
    if p.cause is Cause.ORDER:
        return "strict FIFO: an earlier job does not fit yet"
    if p.cause is Cause.DEPTH:
        return "not examined this cycle: earlier jobs of its tenant found no room"
    if p.cause is Cause.NO_CLASS or cs is None:
        if not job.gpu_classes:
            return "no GPU class in the cluster matches any: the cluster has no GPUClass yet"
        return (f"no GPU class in the cluster matches {', '.join(job.gpu_classes)}: change spec.gpuClasses to "
                f"classes the cluster has")
    used, guarantee = ts.used.get(cs.name, 0), ts.tenant.guarantee(cs.name)
    if p.cause is Cause.CAPACITY:
        return (f"no room on {cs.name}: {cs.pool.total_free} GPUs free, largest gap {_largest_gap(cs)}, "
                f"gang needs {gang}")
    if p.cause is Cause.SHARE:
        return (f"{p.need} {cs.name} GPUs at price {cs.price:.2f} cost {p.need * cs.price:.2f} credits/h, "
                f"more than its share leaves")
    if p.cause is Cause.BID:
        return f"bid {job.max_price_per_gpu_hour:.2f} < price {cs.price:.2f} of {cs.name}"
    if p.cause is Cause.LIMIT:
        return (f"at its limit on {cs.name}: holds {used} of {guarantee} guaranteed + "
                f"{ts.tenant.limit(cs.name) - guarantee:g} borrowable GPUs, needs {p.need}")
    if p.cause is Cause.BUDGET:
        return ("its budget is spent: it waits for the next budget period, or runs on idle capacity at the floor "
                "price and yields first")
    if p.cause is Cause.NONPREEMPTIBLE:
        return (f"non-preemptible jobs run only within the tenant's guarantee: {cs.name} guarantee {guarantee}, "
                f"holds {used}, needs {p.need}")
    return (f"gang of {gang} cannot fit {cs.name} ({len(cs.pool.names)} nodes, largest {cs.pool.max_node_gpus} GPUs, "
            f"{cs.capacity} GPUs in all): {_too_big_fix(p, cs)}")


def _too_big_fix(p: PendingJob, cs: ClassState) -> str:
    """The spec field to change for a gang that can never fit `cs`, and to what."""
    largest = cs.pool.max_node_gpus
    if largest == 0:
        return f"{cs.name} has no GPUs yet; add nodes or list other classes in spec.gpuClasses"
    if p.gpw > largest:
        return f"no node holds one worker; lower spec.gpusPerWorker to {largest} or less"
    most = sum(c // p.gpw for c in cs.pool.capacity)
    gang = f"{p.workers}x{p.gpw} GPUs"
    return (f"the gang needs {gang}, more than the class holds; lower spec.workers.min to {most} or less, "
            f"or list other classes in spec.gpuClasses")


def _victim(run: RunState) -> str:
    return f"priority {run.job.priority}, {run.lost_gpu_hours:.2f} GPU-hours since its last checkpoint"


def guarantee_reclaim(run: RunState, p: PendingJob, cs: ClassState, victim_held: int) -> str:
    """Why a borrower loses GPUs to a tenant reclaiming its guarantee (`victim_held`: its GPUs before the reclaim)."""
    t, u = p.tenant, run.tenant
    return (f"reclaimed for tenant {t.name}'s guarantee of {t.tenant.guarantee(cs.name)} {cs.name} GPUs "
            f"(it holds {t.used.get(cs.name, 0)}, {p.job.key} needs {p.need}); tenant {u.name} held {victim_held} "
            f"against a guarantee of {u.tenant.guarantee(cs.name)}; {_victim(run)}")


def fair_share_reclaim(run: RunState, p: PendingJob, cs: ClassState, victim_ratio: float,
                       preemptor_ratio: float) -> str:
    """Why a job loses GPUs to a tenant below its fair share (ratios as they stood before the move)."""
    return (f"preempted for fair share: tenant {run.tenant.name} is at {victim_ratio:.2f}x its fair share, tenant "
            f"{p.tenant.name} at {preemptor_ratio:.2f}x; {p.job.key} needs {p.need} {cs.name} GPUs; {_victim(run)}")


def admitted_by_fair_share(victims: list[RunState], p: PendingJob, cs: ClassState, preemptor_ratio: float,
                           victim_ratios: dict[str, float]) -> str:
    """Why a job was admitted by taking GPUs from tenants above their fair shares."""
    tenants = ", ".join(f"{name} at {victim_ratios[name]:.2f}x" for name in sorted({r.tenant.name for r in victims}))
    jobs = ", ".join(sorted(r.job.key for r in victims))
    return (f"admitted by fair-sharing preemption on {cs.name}: tenant {p.tenant.name} was at "
            f"{preemptor_ratio:.2f}x its fair share, below tenant {tenants}; took GPUs from {jobs}")


def share_yield(run: RunState, p: PendingJob, cs: ClassState, victim_held: int) -> str:
    """Why a job running on idle capacity gives it back."""
    return (f"ran on idle {cs.name} capacity beyond tenant {run.tenant.name}'s share; yields to {p.job.key}, "
            f"within tenant {p.tenant.name}'s share; {_victim(run)}")


def service_order(run: RunState, p: PendingJob, cs: ClassState, victim_held: int) -> str:
    """Why a running job gives its GPUs to a job of its own tenant that has held fewer GPU-hours."""
    return (f"gives way to {p.job.key} of the same tenant {run.tenant.name}: least attained service first "
            f"({run.attained:.1f} GPU-hours held, band {run.band}; {p.job.key} {p.job.attained_gpu_hours:.1f}, "
            f"band {p.band}); {_victim(run)}")


def upgrade(old: str, new: str, speedup: float) -> str:
    return f"moving from {old} to {new}: expected {speedup:.2f}x its measured throughput on {old}"


def swap(old: str, new: str, partner: str, product: float) -> str:
    return (f"swapping {old} for {new} with {partner}: measured throughputs say the two jobs together run "
            f"{product:.2f}x faster (product of speed-ups)")


def shrink(before: int, after: int, why: str) -> str:
    """A resize that frees workers."""
    return f"shrunk from {before} to {after} workers before anyone is preempted: {why}"


def grow(before: int, after: int, efficiency: float, price: float, list_price: float) -> str:
    """A resize that adds workers."""
    return (f"grew from {before} to {after} workers: marginal efficiency {efficiency:.2f} >= "
            f"price {price:.2f} / list {list_price:.2f}")
