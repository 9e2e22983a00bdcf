"""Fairness yardsticks shared by every policy: weighted max-min entitlement, Jain's index, Themis's ρ.

Finish-time fairness (Themis, Mahajan et al., NSDI'20): ρ = T_shared / T_isolated, where T_shared is the job's
JCT in the shared cluster and T_isolated is its JCT had its tenant owned its own 1/N slice of the cluster
(N tenants, or weight/Σweights) with nothing else of that tenant running. We define T_isolated precisely as:
the tenant's slice holds S_c = capacity_c × w/Σw GPUs of each class c; a gang of g GPUs runs on class c at
rate r_c(g) (consolidated, from the throughput matrix) for a fraction x_c of the time with x_c ≤ min(1, S_c/g)
and Σ x_c ≤ 1, choosing x to maximise Σ x_c r_c(g) (fastest class first). T_isolated is the job's work at that
rate, phase by phase for drifting jobs, with no queueing. ρ ≤ 1 means the job did no worse than on its own slice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping


def water_fill(total: float, demands: Mapping[str, float], weights: Mapping[str, float]) -> dict[str, float]:
    """Weighted max-min split of `total` capped by each demand: raise every uncapped share in step with its weight."""
    shares = {name: 0.0 for name in demands}
    active = {n for n, d in demands.items() if d > 0 and weights.get(n, 0.0) > 0}
    left = float(total)
    while active and left > 1e-9:
        weight_sum = sum(weights[n] for n in active)
        per_weight = left / weight_sum
        capped = {n for n in active if demands[n] - shares[n] <= per_weight * weights[n] + 1e-12}
        if not capped:
            for n in active:
                shares[n] += per_weight * weights[n]
            break
        for n in capped:
            left -= demands[n] - shares[n]
            shares[n] = float(demands[n])
        active -= capped
    return shares


def jain_index(values: Iterable[float]) -> float:
    """Jain's fairness index (Σx)² / (n Σx²): 1 when all equal, 1/n when one takes everything."""
    xs = list(values)
    squares = sum(x * x for x in xs)
    return 1.0 if not xs or squares == 0 else sum(xs) ** 2 / (len(xs) * squares)


def isolated_rate(gang_gpus: int, slice_gpus: Mapping[str, float], rate_on: Callable[[str, int], float]) -> float:
    """Best time-averaged rate of a gang alone on a slice: fill the fastest class's time fraction first."""
    rates = sorted(((rate_on(c, gang_gpus), s) for c, s in slice_gpus.items()), reverse=True)
    time_left, total = 1.0, 0.0
    for rate, slice_size in rates:
        if rate <= 0 or time_left <= 0:
            continue
        fraction = min(time_left, slice_size / gang_gpus)
        total += fraction * rate
        time_left -= fraction
    return total


def tenant_slice(capacity: Mapping[str, int], weights: Mapping[str, float], tenant: str) -> dict[str, float]:
    """The tenant's own 1/N (by weight) slice of every class."""
    share = weights[tenant] / sum(weights.values())
    return {c: n * share for c, n in capacity.items()}


def finish_time_fairness(jct_s: float, isolated_s: float) -> float:
    return jct_s / isolated_s if isolated_s > 0 else float("inf")
