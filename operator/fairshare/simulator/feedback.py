"""Throughput as running jobs report it: only (job, class, workers) pairs that have run, smoothed, optionally noisy.

The policy never sees the oracle matrix. A pair is measured at a scheduling cycle when the job has trained
on it since the previous one (past its restart delay); the stored value is an exponential moving average of
the measured samples/s (the core's `throughput.smooth`, weight `smoothing` on the newest), each measurement
multiplied by (1 + N(0, noise)).
A pair the job no longer holds keeps its last value, which goes stale when the job's throughput drifts.
"""

from __future__ import annotations

import random

from fairshare.core.throughput import smooth


class MeasuredThroughput:
    """Per job, the smoothed measured samples/s of each (gpu_class, workers) it has run on."""

    def __init__(self, rng: random.Random, noise: float = 0.0, smoothing: float = 0.5) -> None:
        self.rng, self.noise, self.smoothing = rng, noise, smoothing
        self._by_job: dict[str, dict[tuple[str, int], float]] = {}

    def observe(self, job_key: str, gpu_class: str, workers: int, true_rate: float) -> float:
        """Record one measurement; returns how far the stored value moved, relative (inf for a first one)."""
        measured = true_rate * max(0.0, 1.0 + self.rng.gauss(0.0, self.noise)) if self.noise > 0 else true_rate
        pairs = self._by_job.setdefault(job_key, {})
        previous = pairs.get((gpu_class, workers))
        value = smooth(previous, measured, self.smoothing)
        pairs[(gpu_class, workers)] = value
        if previous is None:
            return float("inf")
        return abs(value - previous) / previous if previous > 0 else float(value != previous)

    def pairs(self, job_key: str) -> dict[tuple[str, int], float]:
        return dict(self._by_job.get(job_key, {}))

    def forget(self, job_key: str) -> None:
        self._by_job.pop(job_key, None)
