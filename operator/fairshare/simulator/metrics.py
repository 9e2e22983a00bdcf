"""Metrics of a replay: JCT (mean, p99, CDF), makespan, Themis ρ, tenant share error (overall and over time) and
Jain index, utilisation, credits, energy, preemptions per GPU-hour and price stability. Pure functions over a
RunResult."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

from fairshare.simulator.churn import ALL_CLASSES, PRICE_THRESHOLDS, PriceSteps, preemption_rate, price_stability
from fairshare.simulator.fairness import finish_time_fairness, jain_index, water_fill
from fairshare.simulator.results import RunResult

HOUR = 3600.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    xs = sorted(values)
    position = (len(xs) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(xs) - 1)
    return xs[low] + (xs[high] - xs[low]) * (position - low)


def cdf(values: Sequence[float]) -> list[tuple[float, float]]:
    """Empirical CDF points (x, fraction ≤ x), x ascending and fraction rising to 1."""
    xs = sorted(values)
    return [(x, (i + 1) / len(xs)) for i, x in enumerate(xs)]


@dataclasses.dataclass(frozen=True)
class ShareError:
    """Time-weighted tenant share error: mean |received − entitled| as a fraction of the cluster, and mean Jain."""

    mean_abs_error: float
    jain: float


@dataclasses.dataclass(frozen=True)
class ShareSegment:
    """A stretch of time [start, end) with constant holdings and demand, at least one tenant with demand, and the
    share error and Jain index over it."""

    start: float
    end: float
    error: float
    jain: float


def share_segments(result: RunResult) -> list[ShareSegment]:
    """The share error of every timeline sample with a positive duration and a tenant with demand: each active
    tenant's GPUs held against its weighted max-min entitlement (demand-capped, all classes pooled)."""
    total = sum(result.capacity.values())
    samples = result.timeline
    segments: list[ShareSegment] = []
    ends = [s.t for s in samples[1:]] + [result.end_s] if samples else []
    for sample, until in zip(samples, ends, strict=True):
        active = {t for t, d in sample.demand_by_tenant.items() if d > 0}
        if until <= sample.t or not active:
            continue
        demands = {t: float(sample.demand_by_tenant[t]) for t in active}
        entitled = water_fill(total, demands, {t: result.weights.get(t, 1.0) for t in active})
        held = {t: float(sample.held_by_tenant.get(t, 0)) for t in active}
        segments.append(ShareSegment(
            sample.t, until, sum(abs(held[t] - entitled[t]) for t in active) / (len(active) * total),
            jain_index(held[t] / entitled[t] for t in active if entitled[t] > 0)))
    return segments


def share_error(result: RunResult, segments: Sequence[ShareSegment] | None = None) -> ShareError:
    """Compare each active tenant's GPUs held with its weighted max-min entitlement (demand-capped, all classes
    pooled) at every sample, weighting samples by how long they lasted."""
    err_sum = jain_sum = weight_sum = 0.0
    for seg in share_segments(result) if segments is None else segments:
        duration = seg.end - seg.start
        err_sum += duration * seg.error
        jain_sum += duration * seg.jain
        weight_sum += duration
    if weight_sum == 0:
        return ShareError(0.0, 1.0)
    return ShareError(err_sum / weight_sum, jain_sum / weight_sum)


TAIL_FRACTION = 0.1  # "the run's last part": the last tenth of the span from the first arrival to the end
SERIES_MAX_POINTS = 500


@dataclasses.dataclass(frozen=True)
class ShareErrorOverTime:
    """The tenant share error as a function of simulated time, over the time some tenant has demand.

    - mean: time-weighted mean (the share MAE);
    - p95: the smallest e such that the error is ≤ e for at least 95 % of that time (time-weighted, no
      interpolation);
    - tail: time-weighted mean over the last TAIL_FRACTION of the span (first arrival to the run's end);
    - points: (hours, mean error over [hours, hours + step_h)) on a grid from the first arrival, for every
      interval in which some tenant has demand.
    All three numbers are 0 when no tenant has demand in the time they cover."""

    mean: float
    p95: float
    tail: float
    step_h: float
    points: tuple[tuple[float, float], ...]


def series_step_h(span_h: float, max_points: int = SERIES_MAX_POINTS) -> float:
    """The grid step: the smallest 1, 2 or 5 × 10^k hours that covers `span_h` in at most `max_points` steps."""
    if span_h <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(span_h / max_points))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if span_h / (factor * magnitude) <= max_points + 1e-9:
            return factor * magnitude
    return 10.0 * magnitude


def weighted_quantile(pairs: Sequence[tuple[float, float]], q: float) -> float:
    """The smallest value v such that pairs of (value, weight) with value ≤ v carry at least q of the weight."""
    total = sum(w for _, w in pairs)
    if total <= 0:
        return 0.0
    acc = 0.0
    for value, weight in sorted(pairs):
        acc += weight
        if acc >= q * total * (1 - 1e-12):
            return value
    return max(v for v, _ in pairs)


def _mean_over(segments: Sequence[ShareSegment], start: float, end: float) -> tuple[float, float]:
    """(error × seconds, seconds) of the segments' overlap with [start, end)."""
    weighted = seconds = 0.0
    for seg in segments:
        overlap = min(seg.end, end) - max(seg.start, start)
        if overlap > 0:
            weighted += seg.error * overlap
            seconds += overlap
    return weighted, seconds


def share_error_over_time(result: RunResult, segments: Sequence[ShareSegment] | None = None,
                          step_h: float | None = None, tail_fraction: float = TAIL_FRACTION) -> ShareErrorOverTime:
    segments = share_segments(result) if segments is None else segments
    start = min((j.arrival_s for j in result.jobs), default=segments[0].start if segments else 0.0)
    span = max(result.end_s - start, 0.0)
    step_h = series_step_h(span / HOUR) if step_h is None else step_h
    step = step_h * HOUR
    buckets: dict[int, list[float]] = {}
    for seg in segments:
        first, last = int((seg.start - start) // step), int(math.ceil((seg.end - start) / step)) - 1
        for k in range(max(first, 0), max(last, first) + 1):
            overlap = min(seg.end, start + (k + 1) * step) - max(seg.start, start + k * step)
            if overlap > 0:
                acc = buckets.setdefault(k, [0.0, 0.0])
                acc[0] += seg.error * overlap
                acc[1] += overlap
    points = tuple(((start + k * step) / HOUR, acc[0] / acc[1]) for k, acc in sorted(buckets.items()))
    weighted, seconds = _mean_over(segments, -math.inf, math.inf)
    tail_weighted, tail_seconds = _mean_over(segments, result.end_s - tail_fraction * span, math.inf)
    return ShareErrorOverTime(
        mean=weighted / seconds if seconds > 0 else 0.0,
        p95=weighted_quantile([(s.error, s.end - s.start) for s in segments], 0.95),
        tail=tail_weighted / tail_seconds if tail_seconds > 0 else 0.0,
        step_h=step_h, points=points)


@dataclasses.dataclass(frozen=True)
class PolicySummary:
    policy: str
    jobs: int
    finished: int
    avg_jct_h: float
    p99_jct_h: float
    makespan_h: float
    max_rho: float
    p99_rho: float
    share_rho_above_1: float
    share_mae: float
    share_p95: float
    share_tail: float
    jain: float
    utilisation: float
    credits: float
    energy_kwh: float
    preemptions: int  # every stop (preemptions and moves), counted on the jobs
    preempt_per_100_gpu_h: float  # applied Preempt decisions per 100 GPU-hours held
    price_changes: int  # consecutive cycle-to-cycle price changes, all classes pooled
    price_above_10: float
    price_above_25: float
    price_above_50: float
    price_change_max: float
    cycles: int
    wall_s: float
    scheduler_wall_s: float
    violations: int
    preemptions_by_cause: Mapping[str, int] = dataclasses.field(default_factory=dict)
    preempt_per_100_gpu_h_by_cause: Mapping[str, float] = dataclasses.field(default_factory=dict)
    # class (and "all") -> {changes, moved, above_10, above_25, above_50, max}
    price_stability_by_class: Mapping[str, Mapping[str, float]] = dataclasses.field(default_factory=dict)
    share_error_step_h: float = math.nan
    share_error_series: tuple[tuple[float, float], ...] = ()  # (hours, mean share error over the step)


def _price_fields(steps: PriceSteps | None) -> dict[str, float]:
    if steps is None:
        return {"changes": 0, "moved": 0, **{f"above_{round(x * 100)}": math.nan for x in PRICE_THRESHOLDS},
                "max": math.nan}
    return {"changes": steps.changes, "moved": steps.moved,
            **{f"above_{round(x * 100)}": v for x, v in steps.above.items()}, "max": steps.max_change}


def summarize(result: RunResult) -> PolicySummary:
    finished = [j for j in result.jobs if j.finish_s is not None]
    jcts = [j.jct_s for j in finished if j.jct_s is not None]
    rhos = [finish_time_fairness(j.jct_s, j.isolated_s) for j in finished if j.jct_s is not None]
    first_arrival = min((j.arrival_s for j in result.jobs), default=0.0)
    makespan = max((j.finish_s for j in finished if j.finish_s is not None), default=result.end_s) - first_arrival
    span = result.end_s - first_arrival
    capacity = sum(result.capacity.values())
    segments = share_segments(result)
    shares = share_error(result, segments)
    over_time = share_error_over_time(result, segments)
    preempts = preemption_rate(result)
    stability = {c: _price_fields(steps) for c, steps in price_stability(result).items()}
    pooled = stability.get(ALL_CLASSES) or _price_fields(None)
    return PolicySummary(
        policy=result.policy, jobs=len(result.jobs), finished=len(finished),
        avg_jct_h=(sum(jcts) / len(jcts) / HOUR) if jcts else math.nan,
        p99_jct_h=percentile(jcts, 99) / HOUR, makespan_h=makespan / HOUR,
        max_rho=max(rhos, default=math.nan), p99_rho=percentile(rhos, 99),
        share_rho_above_1=(sum(1 for r in rhos if r > 1.0) / len(rhos)) if rhos else math.nan,
        share_mae=shares.mean_abs_error, share_p95=over_time.p95, share_tail=over_time.tail, jain=shares.jain,
        utilisation=(sum(result.gpu_seconds_by_class.values()) / (capacity * span)) if span > 0 else 0.0,
        credits=sum(result.credits_by_tenant.values()), energy_kwh=result.energy_joules / 3.6e6,
        preemptions=sum(j.preemptions for j in result.jobs), preempt_per_100_gpu_h=preempts.per_100_gpu_hours,
        price_changes=int(pooled["changes"]), price_above_10=pooled["above_10"], price_above_25=pooled["above_25"],
        price_above_50=pooled["above_50"], price_change_max=pooled["max"], cycles=result.cycles,
        wall_s=result.wall_s, scheduler_wall_s=result.scheduler_wall_s, violations=len(result.violations),
        preemptions_by_cause=dict(sorted(result.preemptions_by_cause.items())),
        preempt_per_100_gpu_h_by_cause=dict(preempts.by_cause), price_stability_by_class=stability,
        share_error_step_h=over_time.step_h, share_error_series=over_time.points)


def utilisation_series(result: RunResult) -> list[tuple[float, float]]:
    """(hours, fraction of GPUs allocated) at every sample."""
    capacity = sum(result.capacity.values())
    return [(s.t / HOUR, sum(s.held_by_class.values()) / capacity) for s in result.timeline]


def tenant_share_series(result: RunResult) -> dict[str, list[tuple[float, float]]]:
    """Per tenant, (hours, fraction of all GPUs held) at every sample."""
    capacity = sum(result.capacity.values())
    series: dict[str, list[tuple[float, float]]] = {t: [] for t in result.weights}
    for s in result.timeline:
        for tenant, points in series.items():
            points.append((s.t / HOUR, s.held_by_tenant.get(tenant, 0) / capacity))
    return series
