"""Step 1: index a snapshot into the cycle's scratch state (core/cycle.py): node pools, tenant usage, queues, curves."""

from __future__ import annotations

from fairshare.core.config import PolicyConfig
from fairshare.core.cycle import ClassState, Cycle, PendingJob, RunState, TenantState, service_band, sort_queue
from fairshare.core.placement import NodePool
from fairshare.core.throughput import Curve, index_throughputs
from fairshare.core.types import Job, JobPhase, Snapshot, Tenant, Throughput

# The measurements a caller passes are often the very same tuple as last cycle (the simulator keeps it until a job
# reports something new): their index is then reused. The tuple is held, so its identity cannot be recycled, and
# the index is only read, never changed, by the steps.
_last_indexed: list[tuple[tuple[Throughput, ...], dict[str, dict[str, Curve]]]] = []


def _indexed_throughputs(measurements: tuple[Throughput, ...]) -> dict[str, dict[str, Curve]]:
    if _last_indexed and _last_indexed[0][0] is measurements:
        return _last_indexed[0][1]
    curves = index_throughputs(measurements)
    _last_indexed[:] = [(measurements, curves)]
    return curves


def build(snapshot: Snapshot, now: float, config: PolicyConfig) -> Cycle:
    """Index the snapshot: nodes into per-class pools, running jobs into usage, pending jobs into tenant queues."""
    cycle = Cycle(now, config)
    cycle.curves = _indexed_throughputs(snapshot.throughputs)
    by_class: dict[str, list[tuple[str, int, bool]]] = {}
    class_names = {c.name for c in snapshot.classes}
    for node in sorted(snapshot.nodes, key=lambda n: n.name):
        if node.gpu_class in class_names:
            by_class.setdefault(node.gpu_class, []).append((node.name, node.gpus, node.schedulable))
    running_jobs = [j for j in snapshot.jobs if j.phase is JobPhase.RUNNING and j.allocation is not None]
    used_on: dict[str, dict[str, int]] = {}
    for job in running_jobs:
        assert job.allocation is not None
        per_node = used_on.setdefault(job.allocation.gpu_class, {})
        for n in job.allocation.nodes:
            per_node[n] = per_node.get(n, 0) + job.gpus_per_worker
    for gc in sorted(snapshot.classes, key=lambda c: c.name):
        nodes = by_class.get(gc.name, [])
        used = used_on.get(gc.name, {})
        names = [n for n, _, _ in nodes]
        capacities, cordons = [g for _, g, _ in nodes], [s for _, _, s in nodes]
        pool = NodePool(gc.name, names, capacities, [used.get(n, 0) for n in names], cordons)
        capacity = sum(g for _, g, _ in nodes)
        cycle.classes[gc.name] = ClassState(gc, pool, capacity, config.price_floor_fraction * gc.price_per_gpu_hour)
    for tenant in sorted(snapshot.tenants, key=lambda t: t.name):
        cycle.tenants[tenant.name] = TenantState(tenant, known=True)

    def tenant_of(job: Job) -> TenantState:
        ts = cycle.tenants.get(job.tenant)
        if ts is None:
            ts = cycle.tenants[job.tenant] = TenantState(Tenant(job.tenant, weight=0.0), known=False)
        return ts

    for job in sorted(running_jobs, key=lambda j: j.key):
        assert job.allocation is not None
        cs = cycle.classes.get(job.allocation.gpu_class)
        ts = tenant_of(job)
        if cs is None:
            continue
        index = cs.node_index
        run = RunState(job, ts, cs, [index.get(n, -1) for n in job.allocation.nodes], now, config)
        if ts.tenant.budget_exhausted:
            # A spent budget keeps no full-price claim: its jobs run on as if on idle capacity (floor price, first
            # to yield to work within a share) until the next period.
            run.opportunistic = True
        cs.running.append(run)
        cycle.running.append(run)
        ts.used[cs.name] = ts.used.get(cs.name, 0) + run.gpus
    option_cache: dict[tuple[str, ...], tuple[ClassState, ...]] = {}
    all_classes = tuple(cycle.classes.values())
    tenants, curves_of, pending = cycle.tenants, cycle.curves, JobPhase.PENDING
    quantum = config.service_quantum_gpu_hours
    placeable_cache: dict[tuple[tuple[ClassState, ...], int, int], tuple[ClassState, ...]] = {}
    # The one pass over every pending job; it also sums demand per tenant and set of classes for step 2.
    for job in snapshot.jobs:
        if job.phase is not pending:
            continue
        options = option_cache.get(job.gpu_classes)
        if options is None:
            wanted = set(job.gpu_classes)
            options = all_classes if not wanted else tuple(c for c in all_classes if c.name in wanted)
            option_cache[job.gpu_classes] = options
        ts = tenants.get(job.tenant) or tenant_of(job)
        curves = curves_of.get(job.key)
        if curves is not None and len(curves) < 2:
            curves = None  # see informative()
        attained = job.attained_gpu_hours
        p = PendingJob(job, ts, options, curves, service_band(attained, config) if quantum and attained else 0)
        ts.queue.append(p)
        # Only demand that can be placed bids in the market: a gang no class can ever hold raises no price.
        shape = (options, job.min_workers, job.gpus_per_worker)
        where = placeable_cache.get(shape)
        if where is None:
            where = placeable_cache[shape] = tuple(c for c in options if c.ever_holds(job.min_workers,
                                                                                        job.gpus_per_worker))
        if not where:
            continue
        if curves is None:
            ts.wants[where] = ts.wants.get(where, 0) + job.max_workers * job.gpus_per_worker
        else:
            cycle.measured.append(p)
    for ts in cycle.tenants.values():
        sort_queue(ts.queue)
        cycle.pending.extend(ts.queue)
    return cycle
