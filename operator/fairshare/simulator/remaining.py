"""Remaining work as the operator could estimate it: work left from the progress a job reported, over its measured
throughput, in GPU-hours (unknown until the job has reported on some class, or from arrival with oracle throughput).
"""

from __future__ import annotations

from collections.abc import Mapping

from fairshare.simulator.jobstate import JobState


def samples_done(state: JobState, now: float) -> float:
    """Work done by `now`, as the trainer would report it (the state itself is credited only at events)."""
    done = state.done
    if state.running and state.rate > 0:
        start = max(state.since, state.ready_at)
        if now > start:
            done = min(state.next_boundary_samples(), done + state.rate * (now - start))
    return done


def remaining_gpu_hours(state: JobState, measured: Mapping[tuple[str, int], float], now: float) -> float | None:
    """GPU-hours left at the measured throughput of the (class, workers) it runs on, or, while it waits (or before
    its current pair is measured), of the pair that would finish it in the fewest GPU-hours; None when unmeasured."""
    job = state.job
    left = max(0.0, job.work_samples - samples_done(state, now))
    here = measured.get((state.gpu_class, state.workers)) if state.gpu_class is not None else None
    pairs = [((state.gpu_class or "", state.workers), here)] if here else list(measured.items())
    hours = [left / rate * workers * job.gpus_per_worker / 3600.0 for (_, workers), rate in pairs if rate > 0]
    return min(hours) if hours else None
