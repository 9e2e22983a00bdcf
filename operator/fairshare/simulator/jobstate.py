"""One job's simulated progress: work done, the allocation it holds, restart delays and lost work on preemption."""

from __future__ import annotations

from collections.abc import Mapping

from fairshare.simulator.workload import TraceJob


class JobState:
    """Mutable run state of one job. Progress is piecewise linear: `rate` samples/s from `since` (or from
    `ready_at`, the end of a restart delay, if later); the engine re-rates it at every phase boundary."""

    __slots__ = ("job", "done", "gpu_class", "workers", "placement", "rate", "since", "ready_at", "run_start",
                 "first_start", "finish", "phase_index", "preemptions", "resizes", "version", "price",
                 "ever_ran", "core_job", "held_gpu_s")

    def __init__(self, job: TraceJob) -> None:
        self.job = job
        self.done = 0.0
        self.gpu_class: str | None = None
        self.workers = 0
        self.placement: dict[str, int] = {}
        self.rate = 0.0
        self.since = job.arrival_s
        self.ready_at = job.arrival_s
        self.run_start = job.arrival_s
        self.first_start: float | None = None
        self.finish: float | None = None
        self.phase_index = 0
        self.preemptions = 0
        self.resizes = 0
        self.version = 0
        self.price = 0.0
        self.ever_ran = False
        self.core_job: object | None = None  # the core's Job value, rebuilt only when this state changes
        self.held_gpu_s = 0.0  # GPU-seconds held in allocations that ended (attained service before this one)

    @property
    def running(self) -> bool:
        return self.gpu_class is not None

    @property
    def gpus(self) -> int:
        return self.workers * self.job.gpus_per_worker

    @property
    def consolidated(self) -> bool:
        return len(self.placement) <= 1

    @property
    def phase_job_type(self) -> str:
        return self.job.phases[self.phase_index].job_type

    def next_boundary_samples(self) -> float:
        """Samples done at which the next phase starts, or the job's total work when in its last phase."""
        following = self.phase_index + 1
        if following < len(self.job.phases):
            return self.job.phases[following].start * self.job.work_samples
        return self.job.work_samples

    def advance(self, now: float) -> None:
        """Credit the work done since the last update (nothing during a restart delay)."""
        if self.running and self.rate > 0:
            start = max(self.since, self.ready_at)
            if now > start:
                self.done = min(self.next_boundary_samples(), self.done + self.rate * (now - start))
        self.since = now

    def next_event_time(self) -> float | None:
        """When the job reaches its next phase boundary or finishes, at its current rate; None if not progressing."""
        if not self.running or self.rate <= 0:
            return None
        start = max(self.since, self.ready_at)
        return start + max(self.next_boundary_samples() - self.done, 0.0) / self.rate

    def start(self, now: float, gpu_class: str, workers: int, placement: Mapping[str, int], price: float,
              restart_s: float) -> None:
        """Take an allocation; a job that ran before restarts from its checkpoint and pays the restart delay."""
        self.gpu_class, self.workers, self.placement, self.price = gpu_class, workers, dict(placement), price
        self.ready_at = now + (restart_s if self.ever_ran else 0.0)
        self.run_start = self.since = now
        self.first_start = now if self.first_start is None else self.first_start
        self.ever_ran = True
        self.version += 1

    def resize(self, now: float, workers: int, placement: Mapping[str, int], price: float, restart_s: float,
               checkpoint_every_s: float) -> None:
        """Change the worker count: checkpoint, restart at the new size, pay the restart delay."""
        self.done -= self.lost_work(now, checkpoint_every_s)
        self.held_gpu_s += max(0.0, now - self.run_start) * self.gpus
        self.workers, self.placement, self.price = workers, dict(placement), price
        self.ready_at = now + restart_s
        self.run_start = self.since = now
        self.resizes += 1
        self.version += 1

    def stop(self, now: float, checkpoint_every_s: float) -> None:
        """Preempted: give the GPUs back and roll back to the last checkpoint."""
        self.done -= self.lost_work(now, checkpoint_every_s)
        self.held_gpu_s += max(0.0, now - self.run_start) * self.gpus
        self.gpu_class, self.workers, self.placement, self.rate = None, 0, {}, 0.0
        self.since = now
        self.preemptions += 1
        self.version += 1

    def lost_work(self, now: float, checkpoint_every_s: float) -> float:
        """Work since the last periodic checkpoint; with `checkpoint_every_s` 0 the job checkpoints on SIGTERM."""
        if checkpoint_every_s <= 0 or now <= self.ready_at:
            return 0.0
        since_checkpoint = (now - self.ready_at) % checkpoint_every_s
        return min(self.rate * since_checkpoint, self.done - self.job.phases[self.phase_index].start
                   * self.job.work_samples)

    def last_checkpoint_at(self, now: float, checkpoint_every_s: float) -> float:
        if checkpoint_every_s <= 0 or now <= self.ready_at:
            return now if self.running else self.run_start
        return now - (now - self.ready_at) % checkpoint_every_s
