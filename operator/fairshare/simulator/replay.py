"""The next snapshot as if a cycle's decisions had been carried out: for the simulator, tests and what-if questions."""

from __future__ import annotations

from dataclasses import replace

from fairshare.core.decisions import Admit, CycleResult, Migrate, Preempt, Resize
from fairshare.core.types import Allocation, Job, JobPhase, Snapshot


def apply(snapshot: Snapshot, result: CycleResult, now: float) -> Snapshot:
    """Admitted jobs run from `now`, preempted ones are pending again (their progress kept by their checkpoint),
    resized ones hold their new nodes; waits change nothing."""
    by_key = {d.job_key: d for d in result.decisions}
    jobs = []
    for job in snapshot.jobs:
        d = by_key.get(job.key)
        jobs.append(_applied(job, d, now) if d is not None else job)
    return replace(snapshot, jobs=tuple(jobs))


def _applied(job: Job, d: object, now: float) -> Job:
    if isinstance(d, Admit) and job.phase is JobPhase.PENDING:
        alloc = Allocation(d.gpu_class, d.workers, d.nodes, started_at=now, last_checkpoint_at=None,
                           opportunistic=d.opportunistic)
        return replace(job, phase=JobPhase.RUNNING, allocation=alloc)
    if isinstance(d, Preempt) and job.phase is JobPhase.RUNNING:
        return replace(job, phase=JobPhase.PENDING, allocation=None)
    if isinstance(d, Resize) and job.allocation is not None:
        # A resize restarts the job from its checkpoint on the new set of nodes.
        alloc = replace(job.allocation, workers=d.workers, nodes=d.nodes, last_checkpoint_at=now)
        return replace(job, allocation=alloc)
    if isinstance(d, Migrate) and job.allocation is not None:
        # A move restarts the job from its checkpoint on the other class; its minimum run time starts again.
        alloc = replace(job.allocation, gpu_class=d.gpu_class, workers=d.workers, nodes=d.nodes, started_at=now,
                        last_checkpoint_at=now)
        return replace(job, allocation=alloc)
    return job
