"""A seeded synthetic workload: Poisson arrivals, Gavel templates, Gavel's duration distribution, optional drift."""

from __future__ import annotations

import dataclasses
import random

from fairshare.simulator.drift import phases_for
from fairshare.simulator.throughput_matrix import ThroughputMatrix, batch_size_of
from fairshare.simulator.workload import TraceJob, Workload

SYNTHETIC_CITATION = ("synthetic: Poisson arrivals; durations as in Gavel's simulator (10^U(1.5,3) minutes with "
                      "probability 0.8, else 10^U(3,4)); throughput from Gavel's matrix")
DEFAULT_GANG_SIZES = ((1, 0.7), (2, 0.1), (4, 0.15), (8, 0.05))


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """What to generate; `reference_gpu` is the GPU type on which a job's sampled duration holds."""

    jobs: int = 200
    tenants: int = 4
    jobs_per_hour: float = 20.0
    gang_sizes: tuple[tuple[int, float], ...] = DEFAULT_GANG_SIZES
    elastic_fraction: float = 0.0
    drift_fraction: float = 0.0
    reference_gpu: str = "v100"
    min_minutes: float = 10 ** 1.5
    max_minutes: float = 10 ** 4


def _duration_s(rng: random.Random, spec: SyntheticSpec) -> float:
    exponent = rng.uniform(1.5, 3.0) if rng.random() < 0.8 else rng.uniform(3.0, 4.0)
    return 60.0 * min(max(10 ** exponent, spec.min_minutes), spec.max_minutes)


def _gang(rng: random.Random, sizes: tuple[tuple[int, float], ...]) -> int:
    return rng.choices([s for s, _ in sizes], weights=[w for _, w in sizes])[0]


def generate(spec: SyntheticSpec, matrix: ThroughputMatrix, rng: random.Random) -> Workload:
    """`spec.jobs` jobs spread round-robin over `spec.tenants` tenants; every job can run on `reference_gpu`."""
    tenants = tuple(f"tenant-{i}" for i in range(spec.tenants))
    now = 0.0
    jobs = []
    for index in range(spec.jobs):
        gpus = _gang(rng, spec.gang_sizes)
        candidates = [j for j in matrix.job_types()
                      if matrix.steps_per_second(j, spec.reference_gpu, gpus) > 0
                      and (gpus == 1 or max(matrix.measured_sizes(j)) > 1)]
        job_type = rng.choice(candidates)
        mode = rng.choice(("gns", "accordion")) if rng.random() < spec.drift_fraction else "static"
        elastic = gpus > 1 and rng.random() < spec.elastic_fraction
        steps = _duration_s(rng, spec) * matrix.steps_per_second(job_type, spec.reference_gpu, gpus)
        tenant = tenants[index % len(tenants)]
        jobs.append(TraceJob(key=f"{tenant}/g{index:05d}", tenant=tenant, arrival_s=now,
                             work_samples=steps * batch_size_of(job_type),
                             phases=phases_for(mode, job_type, matrix), min_workers=1 if elastic else gpus,
                             max_workers=gpus, mode=mode))
        now += rng.expovariate(spec.jobs_per_hour / 3600.0)
    return Workload("synthetic", (), tenants, matrix, SYNTHETIC_CITATION).replace_jobs(jobs)
