"""Throughput estimates: measured, else scaled from another measured class, else the class relative_speed prior."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from fairshare.core.types import GPUClass, Throughput

# (workers, samples per second), sorted by workers.
Curve = tuple[tuple[int, float], ...]
Curves = Mapping[str, Curve]


def smooth(previous: float | None, sample: float, alpha: float) -> float:
    """Exponentially weighted mean: the operator stores the result and passes it back as the next `previous`."""
    if previous is None:
        return sample
    return alpha * sample + (1.0 - alpha) * previous


def index_throughputs(measurements: Iterable[Throughput]) -> dict[str, dict[str, Curve]]:
    """job key -> class -> measured curve; a later duplicate (same job, class, workers) replaces an earlier one."""
    points: dict[tuple[str, str], dict[int, float]] = {}
    for m in measurements:
        if m.workers < 1 or m.samples_per_second <= 0:
            continue
        key = (m.job_key, m.gpu_class)
        curve = points.get(key)
        if curve is None:
            points[key] = {m.workers: m.samples_per_second}
        else:
            curve[m.workers] = m.samples_per_second
    out: dict[str, dict[str, Curve]] = {}
    for (job, cls), curve in points.items():
        out.setdefault(job, {})[cls] = tuple(sorted(curve.items())) if len(curve) > 1 else tuple(curve.items())
    return out


def interpolate(curve: Curve, workers: int) -> float:
    """Total throughput at `workers`: linear between measured sizes, proportional to size outside them."""
    lo_w, lo_t = curve[0]
    if workers <= lo_w:
        return lo_t * workers / lo_w
    for hi_w, hi_t in curve[1:]:
        if workers <= hi_w:
            return lo_t + (hi_t - lo_t) * (workers - lo_w) / (hi_w - lo_w)
        lo_w, lo_t = hi_w, hi_t
    # Beyond the largest measured size, assume linear scaling: optimistic, so elastic jobs get to explore.
    return lo_t * workers / lo_w


def estimate(curves: Curves | None, gpu_class: GPUClass, workers: int, classes: Mapping[str, GPUClass]) -> float:
    """Estimated total throughput of a job on `workers` workers of `gpu_class`.

    Rule: a measured class uses its curve; an unmeasured class is scaled from the first measured class (by
    name) by the ratio of relative speeds; a job never measured gets relative_speed x workers (prior units).
    """
    if curves:
        curve = curves.get(gpu_class.name)
        if curve:
            return interpolate(curve, workers)
        for other in sorted(curves):
            ref = classes.get(other)
            if ref is not None and curves[other]:
                return interpolate(curves[other], workers) * gpu_class.relative_speed / ref.relative_speed
    return gpu_class.relative_speed * workers


def normalized_speeds(
    curves: Curves | None, options: Sequence[GPUClass], workers: int, classes: Mapping[str, GPUClass]
) -> list[float]:
    """Per-GPU speed on each option relative to the best one (1.0): what a GPU of each class is worth to the job."""
    per_worker = [estimate(curves, c, workers, classes) / workers for c in options]
    best = max(per_worker, default=0.0)
    if best <= 0:
        return [0.0] * len(options)
    return [v / best for v in per_worker]


def marginal_efficiency(
    curves: Curves | None, gpu_class: GPUClass, workers: int, classes: Mapping[str, GPUClass]
) -> float:
    """Throughput gained by worker `workers + 1`, as a fraction of the average per-worker throughput at `workers`."""
    now = estimate(curves, gpu_class, workers, classes)
    if now <= 0:
        return 0.0
    after = estimate(curves, gpu_class, workers + 1, classes)
    return (after - now) / (now / workers)


# Readings outside these bounds are not physical: a trainer that lies, or a broken one (docs/feedback.md).
MAX_RATIO_TO_EXPECTED = 100.0
MAX_JUMP = 10.0
NOT_A_RATE = "invalid"
ABOVE_EXPECTED = "above-expected"
JUMP = "jump"


def implausible_throughput(sample: float, smoothed: float | None, expected: float | None,
                           max_ratio: float = MAX_RATIO_TO_EXPECTED, max_jump: float = MAX_JUMP) -> str | None:
    """Rule: a throughput reading is outside physical bounds, and dropped, when it is not a finite number above 0
    (`invalid`); more than `max_ratio` (100) times what the job's other measurements predict for this class and
    size, scaled by the classes' relative speeds (`above-expected`); or more than `max_jump` (10) times above or
    below the smoothed value of the same class and size, a jump in one window (`jump`). Returns the reason, or None
    for a reading to keep. A job's first reading has nothing to compare with but itself: only `invalid` applies."""
    if not math.isfinite(sample) or sample <= 0:
        return NOT_A_RATE
    if expected is not None and expected > 0 and sample > max_ratio * expected:
        return ABOVE_EXPECTED
    if smoothed is not None and smoothed > 0 and (sample > max_jump * smoothed or sample * max_jump < smoothed):
        return JUMP
    return None
