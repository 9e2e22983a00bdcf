"""Entitlements: guarantees first, then weighted max-min (water-filling) over the rest, capped by demand and limits."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def water_fill(capacity: float, weights: Sequence[float], caps: Sequence[float]) -> list[float]:
    """Weighted max-min: raise a common level; each claimant gets min(cap, level x weight) until capacity runs out.

    Claimants with weight 0 get nothing; caps may be inf; the result never exceeds capacity or any cap.
    """
    n = len(weights)
    shares = [0.0] * n
    active = [i for i in range(n) if weights[i] > 0 and caps[i] > 0]
    remaining = max(0.0, capacity)
    # Sorting by the level at which each claimant saturates makes this one pass: O(n log n).
    active.sort(key=lambda i: (caps[i] / weights[i], i))
    total_weight = math.fsum(weights[i] for i in active)
    for pos, i in enumerate(active):
        if remaining <= 0 or total_weight <= 0:
            break
        level = remaining / total_weight
        if caps[i] <= level * weights[i]:
            shares[i] = caps[i]
            remaining -= caps[i]
            total_weight -= weights[i]
            continue
        # Nobody left saturates below this level: everyone from here on gets level x weight.
        for j in active[pos:]:
            shares[j] = level * weights[j]
        remaining = 0.0
        break
    return shares


def usage_discounted_weights(weights: Sequence[float], usages: Sequence[float], full_usage: float) -> list[float]:
    """A tenant that used the cluster recently yields, in proportion to how much it used:

        weight_i x 2^(-e_i / s_i),   e_i = usage_i / full_usage,   s_i = weight_i / sum(weights)

    `usage_i` is tenant i's decayed usage (GPU-hours, halving every half-life) and `full_usage` is the cluster's
    capacity over one half-life (GPUs x half-life hours), so e_i is the fraction of the cluster the tenant's recent
    use amounts to. This is Slurm's fair-share factor 2^(-U/S), with U measured against what the cluster could have
    delivered rather than against the other tenants' usage: there, U is a fraction of all usage, so 36 GPU-seconds
    of history weigh as much as a year's. Here the limits are:
    - no history (or no capacity): the weights as given;
    - a tiny history e << s: weight x (1 - ln2 x e / s), so shares move by about e (a fraction of the cluster);
    - one tenant holding the whole cluster for ever (e = 1/ln2 ~ 1.44): its weight x 2^(-1.44 / s), a strong but
      finite discount; tenants each using their own share of the cluster (e_i proportional to s_i) are discounted
      alike, which leaves their shares as they were.
    A weight of 0 stays 0.
    """
    total_weight = sum(weights)
    if full_usage <= 0 or not math.isfinite(full_usage) or not (0 < total_weight < math.inf):
        return list(weights)
    out = []
    for w, u in zip(weights, usages, strict=True):
        share = w / total_weight
        if share <= 0:
            out.append(0.0 if w <= 0 else w)
            continue
        out.append(w * 2.0 ** (-max(0.0, u) / full_usage / share))
    return out


@dataclass(frozen=True, slots=True)
class Claim:
    """One tenant's claim on the cluster, in credits per hour at list prices."""

    weight: float
    guarantee: float
    demand: float
    limit: float


def entitlements(capacity: float, claims: Mapping[str, Claim]) -> dict[str, float]:
    """Entitlement: the guarantee (up to demand) plus a water-filled share of the rest, up to demand and limit.

    Oversubscribed guarantees are themselves water-filled by weight, so the total never exceeds capacity.
    """
    names = sorted(claims)
    weights = [claims[n].weight for n in names]
    ceilings = [max(0.0, min(claims[n].demand, claims[n].limit)) for n in names]
    floors = [min(claims[n].guarantee, c) for n, c in zip(names, ceilings, strict=True)]
    if math.fsum(floors) > capacity:
        # Guarantees are promises; when they cannot all be kept, keep them in proportion to weight.
        base = water_fill(capacity, [w if w > 0 else 1.0 for w in weights], floors)
        return dict(zip(names, base, strict=True))
    rest = capacity - math.fsum(floors)
    extra = water_fill(rest, weights, [c - f for c, f in zip(ceilings, floors, strict=True)])
    return {n: f + e for n, f, e in zip(names, floors, extra, strict=True)}
