"""The oracle: a job's true samples/s on a class and gang size. Only the engine reads it; policies see measurements."""

from __future__ import annotations

from collections.abc import Mapping

from fairshare.simulator.cluster import ClusterSpec
from fairshare.simulator.fairness import isolated_rate
from fairshare.simulator.throughput_matrix import ThroughputMatrix, batch_size_of
from fairshare.simulator.workload import TraceJob


class OracleRates:
    """True samples/s = matrix steps/s of (template, class's matrix row, GPUs, consolidated) × speed × batch size."""

    def __init__(self, matrix: ThroughputMatrix, cluster: ClusterSpec) -> None:
        self.matrix = matrix
        self.infos = {c.name: c.info for c in cluster.classes}
        self._cache: dict[tuple[str, str, int, bool], float] = {}

    def samples_per_second(self, job_type: str, gpu_class: str, gpus: int, consolidated: bool = True) -> float:
        key = (job_type, gpu_class, gpus, consolidated)
        rate = self._cache.get(key)
        if rate is None:
            info = self.infos[gpu_class]
            steps = self.matrix.steps_per_second(job_type, info.matrix_type, gpus, consolidated)
            rate = self._cache[key] = steps * info.speed_factor * batch_size_of(job_type)
        return rate

    def classes_that_run(self, job: TraceJob) -> tuple[str, ...]:
        """Classes on which every phase of the job runs at its smallest gang (the job's acceptable classes)."""
        gpus = job.min_workers * job.gpus_per_worker
        return tuple(c for c in self.infos
                     if all(self.samples_per_second(p.job_type, c, gpus) > 0 for p in job.phases))

    def isolated_seconds(self, job: TraceJob, slice_gpus: Mapping[str, float]) -> float:
        """The job's run time alone on `slice_gpus` (Themis's T_isolated, defined in fairness.py), phase by phase."""
        total = 0.0
        bounds = [p.start for p in job.phases[1:]] + [1.0]
        for phase, end in zip(job.phases, bounds, strict=True):
            rate = isolated_rate(job.gpus, slice_gpus,
                                 lambda c, g, jt=phase.job_type: self.samples_per_second(jt, c, g))
            if rate <= 0:
                return float("inf")
            total += (end - phase.start) * job.work_samples / rate
        return total
