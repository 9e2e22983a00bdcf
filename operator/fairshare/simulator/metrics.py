"""Metrics of a replay: JCT (mean, p99, CDF), makespan, Themis ρ, tenant share error and Jain index, utilisation,
credits and energy. Pure functions over a RunResult."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

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


def share_error(result: RunResult) -> ShareError:
    """Compare each active tenant's GPUs held with its weighted max-min entitlement (demand-capped, all classes
    pooled) at every sample, weighting samples by how long they lasted."""
    total = sum(result.capacity.values())
    samples = result.timeline
    err_sum = jain_sum = weight_sum = 0.0
    for sample, until in zip(samples, [s.t for s in samples[1:]] + [result.end_s], strict=True):
        duration = until - sample.t
        active = {t for t, d in sample.demand_by_tenant.items() if d > 0}
        if duration <= 0 or not active:
            continue
        demands = {t: float(sample.demand_by_tenant[t]) for t in active}
        entitled = water_fill(total, demands, {t: result.weights.get(t, 1.0) for t in active})
        held = {t: float(sample.held_by_tenant.get(t, 0)) for t in active}
        err_sum += duration * sum(abs(held[t] - entitled[t]) for t in active) / (len(active) * total)
        jain_sum += duration * jain_index(held[t] / entitled[t] for t in active if entitled[t] > 0)
        weight_sum += duration
    if weight_sum == 0:
        return ShareError(0.0, 1.0)
    return ShareError(err_sum / weight_sum, jain_sum / weight_sum)


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
    jain: float
    utilisation: float
    credits: float
    energy_kwh: float
    preemptions: int
    cycles: int
    wall_s: float
    scheduler_wall_s: float
    violations: int


def summarize(result: RunResult) -> PolicySummary:
    finished = [j for j in result.jobs if j.finish_s is not None]
    jcts = [j.jct_s for j in finished if j.jct_s is not None]
    rhos = [finish_time_fairness(j.jct_s, j.isolated_s) for j in finished if j.jct_s is not None]
    first_arrival = min((j.arrival_s for j in result.jobs), default=0.0)
    makespan = max((j.finish_s for j in finished if j.finish_s is not None), default=result.end_s) - first_arrival
    span = result.end_s - first_arrival
    capacity = sum(result.capacity.values())
    shares = share_error(result)
    return PolicySummary(
        policy=result.policy, jobs=len(result.jobs), finished=len(finished),
        avg_jct_h=(sum(jcts) / len(jcts) / HOUR) if jcts else math.nan,
        p99_jct_h=percentile(jcts, 99) / HOUR, makespan_h=makespan / HOUR,
        max_rho=max(rhos, default=math.nan), p99_rho=percentile(rhos, 99),
        share_rho_above_1=(sum(1 for r in rhos if r > 1.0) / len(rhos)) if rhos else math.nan,
        share_mae=shares.mean_abs_error, jain=shares.jain,
        utilisation=(sum(result.gpu_seconds_by_class.values()) / (capacity * span)) if span > 0 else 0.0,
        credits=sum(result.credits_by_tenant.values()), energy_kwh=result.energy_joules / 3.6e6,
        preemptions=sum(j.preemptions for j in result.jobs), cycles=result.cycles, wall_s=result.wall_s,
        scheduler_wall_s=result.scheduler_wall_s, violations=len(result.violations))


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
