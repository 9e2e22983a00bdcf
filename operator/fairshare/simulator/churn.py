"""How much a policy churns: preemptions per 100 GPU-hours held (by cause), and cycle-to-cycle price changes."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

from fairshare.simulator.results import RunResult

HOUR = 3600.0
PRICE_THRESHOLDS = (0.10, 0.25, 0.50)
# A change counts as above a threshold x when it exceeds x by more than this: the core rounds prices to 4 decimals
# and a class's floor is at least 0.18 credits here, so a step exactly at a damping bound (x = price_max_step) can
# read up to ~3e-4 above it.
ROUNDING_SLACK = 1e-3
ALL_CLASSES = "all"


@dataclasses.dataclass(frozen=True)
class PreemptionRate:
    """Applied Preempt decisions over the GPU-hours the jobs held (restart delays included), per 100 GPU-hours;
    NaN when no GPU was ever held. `by_cause` is the same rate split by the cause the policy gave."""

    count: int
    gpu_hours: float
    per_100_gpu_hours: float
    by_cause: Mapping[str, float]


def preemption_rate(result: RunResult) -> PreemptionRate:
    gpu_hours = sum(result.gpu_seconds_by_class.values()) / HOUR
    count = sum(result.preemptions_by_cause.values())

    def per_100(n: int) -> float:
        return 100.0 * n / gpu_hours if gpu_hours > 0 else math.nan

    return PreemptionRate(count, gpu_hours, per_100(count),
                          {cause: per_100(n) for cause, n in sorted(result.preemptions_by_cause.items())})


@dataclasses.dataclass(frozen=True)
class PriceSteps:
    """Relative price changes |p_t − p_{t−1}| / p_{t−1} between consecutive cycles the replay ran.

    - changes: consecutive cycle pairs in which the class had a price both times (unchanged prices included);
    - moved: of those, pairs in which the price changed;
    - above: threshold -> fraction of `changes` above it (by more than ROUNDING_SLACK); NaN with no pair;
    - max_change: the largest change (0 with no pair).
    A change from a price of 0 is infinite unless the price stays 0."""

    changes: int
    moved: int
    above: Mapping[float, float]
    max_change: float


def relative_change(before: float, after: float) -> float:
    if before > 0:
        return abs(after - before) / before
    return 0.0 if after == before else math.inf


def _steps(changes: Sequence[float]) -> PriceSteps:
    n = len(changes)
    above = {x: (sum(1 for r in changes if r > x + ROUNDING_SLACK) / n) if n else math.nan for x in PRICE_THRESHOLDS}
    return PriceSteps(n, sum(1 for r in changes if r > 0), above, max(changes, default=0.0))


def price_changes(cycle_prices: Sequence[tuple[float, Mapping[str, float]]]) -> dict[str, list[float]]:
    """Class -> its relative change between every two consecutive cycles that both priced it."""
    out: dict[str, list[float]] = {}
    for (_, before), (_, after) in zip(cycle_prices, cycle_prices[1:], strict=False):
        for gpu_class, price in after.items():
            if gpu_class in before:
                out.setdefault(gpu_class, []).append(relative_change(before[gpu_class], price))
    return out


def price_stability(result: RunResult) -> dict[str, PriceSteps]:
    """Class -> its PriceSteps, plus ALL_CLASSES pooling every class's changes; empty when no cycle set prices."""
    changes = price_changes(result.cycle_prices)
    stats = {gpu_class: _steps(values) for gpu_class, values in sorted(changes.items())}
    if stats:
        stats[ALL_CLASSES] = _steps([r for values in changes.values() for r in values])
    return stats
