"""The workload model: jobs with a tenant, an arrival time, an amount of work and a gang size, plus transforms."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable

from fairshare.simulator.throughput_matrix import ThroughputMatrix, batch_size_of


@dataclasses.dataclass(frozen=True)
class Phase:
    """From `start` (fraction of the job's work done) on, the job trains as Gavel template `job_type`."""

    start: float
    job_type: str

    @property
    def batch_size(self) -> int:
        return batch_size_of(self.job_type)


@dataclasses.dataclass(frozen=True)
class TraceJob:
    """One job to replay. Work is counted in samples (steps × batch size), so batch-size drift keeps it meaningful."""

    key: str
    tenant: str
    arrival_s: float
    work_samples: float
    phases: tuple[Phase, ...]
    min_workers: int
    max_workers: int
    gpus_per_worker: int = 1
    priority: int = 0
    preemptible: bool = True
    max_price_per_gpu_hour: float | None = None
    mode: str = "static"

    @property
    def gpus(self) -> int:
        """GPUs of the largest gang the job asks for (its trace scale factor when fixed-size)."""
        return self.max_workers * self.gpus_per_worker

    def phase_at(self, done_fraction: float) -> Phase:
        current = self.phases[0]
        for phase in self.phases[1:]:
            if done_fraction + 1e-12 >= phase.start:
                current = phase
        return current


@dataclasses.dataclass(frozen=True)
class Workload:
    """Jobs sorted by arrival, the tenants that submit them, and the throughput table that prices their work."""

    name: str
    jobs: tuple[TraceJob, ...]
    tenants: tuple[str, ...]
    matrix: ThroughputMatrix
    citation: str
    dropped: int = 0

    def replace_jobs(self, jobs: Iterable[TraceJob], dropped: int = 0) -> Workload:
        ordered = tuple(sorted(jobs, key=lambda j: (j.arrival_s, j.key)))
        tenants = tuple(t for t in self.tenants if any(j.tenant == t for j in ordered))
        return dataclasses.replace(self, jobs=ordered, tenants=tenants, dropped=self.dropped + dropped)


def first_jobs(workload: Workload, count: int | None) -> Workload:
    """The first `count` jobs by arrival time (all when None)."""
    if count is None or count >= len(workload.jobs):
        return workload
    return workload.replace_jobs(workload.jobs[:count])


def one_tenant(workload: Workload, name: str = "all") -> Workload:
    """Every job in one tenant: the same jobs without tenant fairness (to tell its cost from the scheduler's)."""
    return dataclasses.replace(workload, jobs=tuple(dataclasses.replace(j, tenant=name) for j in workload.jobs),
                               tenants=(name,) if workload.jobs else ())


def sample_jobs(workload: Workload, fraction: float, rng: random.Random) -> Workload:
    """A seeded random `fraction` of the jobs, keeping their arrival times."""
    if fraction >= 1.0:
        return workload
    return workload.replace_jobs(j for j in workload.jobs if rng.random() < fraction)


def scale_arrival_rate(workload: Workload, factor: float) -> Workload:
    """Arrivals `factor` times as frequent (times divided by `factor`), measured from the first arrival."""
    if factor == 1.0 or not workload.jobs:
        return workload
    origin = workload.jobs[0].arrival_s
    return workload.replace_jobs(
        dataclasses.replace(j, arrival_s=origin + (j.arrival_s - origin) / factor) for j in workload.jobs)


def drop_jobs_larger_than(workload: Workload, max_gang_gpus: int) -> Workload:
    """Remove jobs whose smallest gang cannot fit in any one GPU class of the cluster (counted in `dropped`)."""
    kept = [j for j in workload.jobs if j.min_workers * j.gpus_per_worker <= max_gang_gpus]
    return workload.replace_jobs(kept, dropped=len(workload.jobs) - len(kept))


def drop_jobs_that_cannot_run(workload: Workload, gpu_types: Iterable[str]) -> Workload:
    """Remove jobs that no GPU type of the cluster can run at their smallest gang (0 steps/s everywhere)."""
    types = tuple(gpu_types)
    matrix = workload.matrix

    def runs_somewhere(job: TraceJob) -> bool:
        gpus = job.min_workers * job.gpus_per_worker
        return all(any(matrix.steps_per_second(p.job_type, g, gpus) > 0 for g in types) for p in job.phases)

    kept = [j for j in workload.jobs if runs_somewhere(j)]
    return workload.replace_jobs(kept, dropped=len(workload.jobs) - len(kept))


def drop_unmeasured_sizes(workload: Workload) -> Workload:
    """Remove jobs whose gang size the matrix does not measure for their model (Gavel's simulator can run only
    measured (job_type, scale_factor) keys; docs/simulator.md, "Replaying Gavel's set-up")."""
    matrix = workload.matrix

    def measured(job: TraceJob) -> bool:
        gpus = job.min_workers * job.gpus_per_worker
        return all(gpus in matrix.measured_sizes(p.job_type) for p in job.phases)

    kept = [j for j in workload.jobs if measured(j)]
    return workload.replace_jobs(kept, dropped=len(workload.jobs) - len(kept))
