"""Offered load: the work a workload brings per hour, over the work the cluster can do per hour.

Work is counted in GPU-hours on each job's fastest class (a gang of g GPUs for its isolated run time there). The
cluster's capacity is counted in the same unit: each class's GPUs times its work-weighted speed relative to every
job's fastest class (over the jobs that can run there; 0 for those that cannot). A load of 1.0 keeps every GPU busy
with each job on a class of that average speed; above 1.0 the queue grows without end. Because real traces come in
bursts, the load of the busiest stretch (a tenth of the arrival span) is reported beside the overall one.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools

from fairshare.simulator.cluster import ClusterSpec
from fairshare.simulator.rates import OracleRates
from fairshare.simulator.workload import TraceJob, Workload

BUSIEST_FRACTION = 0.1


@dataclasses.dataclass(frozen=True)
class OfferedLoad:
    """Overall load, the load of the busiest window (`window_h` long), and the capacity both are measured against."""

    overall: float
    busiest: float
    window_h: float
    capacity_gpus: float  # in GPUs of each job's fastest class


def _phase_hours(job: TraceJob, oracle: OracleRates, gpu_class: str) -> float | None:
    """Hours the job's work takes on `gpu_class` at its full gang, consolidated; None where it cannot run."""
    hours = 0.0
    bounds = [p.start for p in job.phases[1:]] + [1.0]
    for phase, end in zip(job.phases, bounds, strict=True):
        rate = oracle.samples_per_second(phase.job_type, gpu_class, job.gpus)
        if rate <= 0:
            return None
        hours += (end - phase.start) * job.work_samples / rate / 3600.0
    return hours


def offered_load(workload: Workload, cluster: ClusterSpec, oracle: OracleRates | None = None,
                 busiest_fraction: float = BUSIEST_FRACTION) -> OfferedLoad:
    """The workload's offered load on the cluster (see the module docstring)."""
    oracle = oracle or OracleRates(workload.matrix, cluster)
    capacity = cluster.capacity()
    weighted = dict.fromkeys(capacity, 0.0)
    demand: list[tuple[float, float]] = []  # (arrival h, best-class GPU-hours)
    total = 0.0
    for job in workload.jobs:
        hours = {c: _phase_hours(job, oracle, c) for c in capacity}
        runnable = [h for h in hours.values() if h is not None]
        if not runnable:
            continue
        best = min(runnable)
        work = best * job.gpus
        demand.append((job.arrival_s / 3600.0, work))
        total += work
        for c, h in hours.items():
            if h is not None:
                weighted[c] += work * best / h
    if total <= 0 or not demand:
        return OfferedLoad(0.0, 0.0, 0.0, 0.0)
    gpus = sum(capacity[c] * weighted[c] / total for c in capacity)
    times = [t for t, _ in demand]
    span = times[-1] - times[0]
    if span <= 0 or gpus <= 0:
        return OfferedLoad(float("inf"), float("inf"), 0.0, gpus)
    window = busiest_fraction * span
    cumulative = [0.0, *itertools.accumulate(w for _, w in demand)]
    busiest = max(cumulative[bisect.bisect_right(times, t + window)] - cumulative[i] for i, t in enumerate(times))
    return OfferedLoad(total / span / gpus, busiest / window / gpus, window, gpus)
