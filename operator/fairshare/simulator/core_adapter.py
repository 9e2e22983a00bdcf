"""Translation between the simulator's state and the scheduling core's values (the only module naming core types)."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Mapping, Sequence

from fairshare.core import decisions as cd
from fairshare.core import types as ct
from fairshare.simulator.cluster import ClusterSpec
from fairshare.simulator.jobstate import JobState
from fairshare.simulator.tenants import TenantSpec


@dataclasses.dataclass(frozen=True)
class Start:
    job_key: str
    gpu_class: str
    workers: int
    placement: Mapping[str, int]
    price: float
    opportunistic: bool = False


@dataclasses.dataclass(frozen=True)
class Grow:
    """A resize, growing or shrinking: `placement` is the complete new GPU count per node."""

    job_key: str
    workers: int
    placement: Mapping[str, int]
    price: float


@dataclasses.dataclass(frozen=True)
class Stop:
    """A job gives its GPUs back: preempted (`cause`, a PreemptCause value) or moving (`cause` None)."""

    job_key: str
    reason: str
    cause: str | None = None


Action = Start | Grow | Stop

UNSPECIFIED_CAUSE = "unspecified"  # the cause counted for a Preempt that names none
PREEMPT_CAUSES: tuple[str, ...] = tuple(cd.PreemptCause.ALL)


def core_classes(cluster: ClusterSpec, speeds: Mapping[str, float]) -> tuple[ct.GPUClass, ...]:
    return tuple(ct.GPUClass(c.name, c.info.price_per_gpu_hour, c.info.power_watts, speeds.get(c.name, 1.0))
                 for c in cluster.classes)


def core_nodes(cluster: ClusterSpec) -> tuple[ct.Node, ...]:
    return tuple(ct.Node(n.name, n.gpu_class, n.gpus) for n in cluster.nodes)


def core_tenant(spec: TenantSpec, spent: float, decayed_usage_gpu_hours: float) -> ct.Tenant:
    return ct.Tenant(name=spec.name, weight=spec.weight, guaranteed=dict(spec.guaranteed),
                     borrowing_limit=dict(spec.borrowing_limit) if spec.borrowing_limit is not None else None,
                     budget_per_period=spec.budget_per_period, spent_this_period=spent,
                     decayed_usage_gpu_hours=decayed_usage_gpu_hours)


def with_usage(tenant: ct.Tenant, spent: float, decayed_usage_gpu_hours: float,
               fair_share: Mapping[str, float] | None = None) -> ct.Tenant:
    # The constructor, not dataclasses.replace: this runs for every tenant at every cycle.
    return ct.Tenant(tenant.name, tenant.weight, tenant.guaranteed, tenant.borrowing_limit, tenant.budget_per_period,
                     spent, decayed_usage_gpu_hours, fair_share)


def with_prices(classes: Sequence[ct.GPUClass], prices: Mapping[str, float]) -> tuple[ct.GPUClass, ...]:
    """The classes carrying the prices the last cycle set, as the operator keeps them in GPUClass status
    (`currentPricePerGPUHour`): a class the cycle gave no price gets its list price."""
    return tuple(ct.GPUClass(c.name, c.price_per_gpu_hour, c.power_watts, c.relative_speed,
                             prices.get(c.name, c.price_per_gpu_hour))
                 for c in classes)


def _worker_nodes(placement: Mapping[str, int], gpus_per_worker: int) -> tuple[str, ...]:
    return tuple(node for node, gpus in sorted(placement.items()) for _ in range(gpus // gpus_per_worker))


def core_job(state: JobState, gpu_classes: Sequence[str], checkpoint_at: float | None,
             opportunistic: bool = False) -> ct.Job:
    """The core's view of one job: pending, or running with one node name per worker."""
    job = state.job
    allocation = None
    if state.running and state.gpu_class is not None:
        allocation = ct.Allocation(gpu_class=state.gpu_class, workers=state.workers,
                                   nodes=_worker_nodes(state.placement, job.gpus_per_worker),
                                   started_at=state.run_start, last_checkpoint_at=checkpoint_at,
                                   opportunistic=opportunistic)
    return ct.Job(key=job.key, tenant=job.tenant, min_workers=job.min_workers, max_workers=job.max_workers,
                  gpus_per_worker=job.gpus_per_worker, gpu_classes=tuple(gpu_classes), priority=job.priority,
                  preemptible=job.preemptible, max_price_per_gpu_hour=job.max_price_per_gpu_hour,
                  submitted_at=job.arrival_s,
                  phase=ct.JobPhase.RUNNING if allocation else ct.JobPhase.PENDING, allocation=allocation,
                  attained_gpu_hours=state.held_gpu_s / 3600.0)


def core_throughput(job_key: str, gpu_class: str, workers: int, samples_per_second: float) -> ct.Throughput:
    return ct.Throughput(job_key, gpu_class, workers, samples_per_second)


def snapshot(classes: tuple[ct.GPUClass, ...], nodes: tuple[ct.Node, ...], tenants: Sequence[ct.Tenant],
             jobs: Sequence[ct.Job], throughputs: Sequence[ct.Throughput]) -> ct.Snapshot:
    return ct.Snapshot(classes=classes, nodes=nodes, tenants=tuple(tenants), jobs=tuple(jobs),
                       throughputs=tuple(throughputs))


def placement_of(nodes: Sequence[str], gpus_per_worker: int) -> dict[str, int]:
    """GPUs per node from the core's one-node-per-worker list."""
    return {node: count * gpus_per_worker for node, count in collections.Counter(nodes).items()}


def actions(decisions: Sequence[cd.Decision], gpus_per_worker: Mapping[str, int]) -> list[Action]:
    """The simulator's actions in the core's order (preemptions, shrinks, admissions, grows, then moves); waits change
    nothing. A move is a stop and a start on the other class (restart cost and work since the last checkpoint are
    paid, as in a preemption); every moving job stops before any starts, since a swap's partners trade nodes."""
    result: list[Action] = []
    moves: list[Action] = []
    for d in decisions:
        if isinstance(d, cd.Migrate):
            result.append(Stop(d.job_key, d.reason))
            moves.append(Start(d.job_key, d.gpu_class, d.workers,
                               placement_of(d.nodes, gpus_per_worker.get(d.job_key, 1)), d.price_per_gpu_hour))
        if isinstance(d, cd.Admit):
            result.append(Start(d.job_key, d.gpu_class, d.workers,
                                placement_of(d.nodes, gpus_per_worker.get(d.job_key, 1)), d.price_per_gpu_hour,
                                d.opportunistic))
        elif isinstance(d, cd.Resize):
            result.append(Grow(d.job_key, d.workers, placement_of(d.nodes, gpus_per_worker.get(d.job_key, 1)),
                               d.price_per_gpu_hour))
        elif isinstance(d, cd.Preempt):
            # A policy that gives no cause (a baseline, an older core) still preempted: its preemption counts.
            result.append(Stop(d.job_key, d.reason, getattr(d, "cause", None) or UNSPECIFIED_CAUSE))
    return result + moves
