"""Benchmark: how much class prices move from one cycle to the next under steady churn.

    .venv/bin/python benchmarks/price_stability.py                      # this checkout
    PYTHONPATH=/tmp/wt-before/operator .venv/bin/python benchmarks/price_stability.py   # another tree, side by side

A seeded churn workload runs through the core's `schedule` cycle after cycle, as the operator runs it: each cycle's
decisions applied (simulator.replay.apply), its prices carried into GPUClass.current_price and its fair shares into
Tenant.fair_share for the next. Jobs arrive at random (Poisson) from four tenants with unequal weights, ask for 1-8
GPUs on one or several of the `make up` fleet's classes (4 x 8 h100, 8 x 8 a100, 8 x 4 l4), and finish after an
exponential run time; a few ask for gangs no node can hold. It reports, over every class and consecutive pair of
cycles, the distribution of |p_t - p_(t-1)| / p_(t-1): the share of changes above 10%, 25% and 50%, the median and
p99 of the changes that moved, and the largest; and the prices' range per class. Only the public core API is used,
so the same script measures older trees.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from dataclasses import replace

import fairshare
from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.types import GPUClass, Job, JobPhase, Node, Snapshot, Tenant
from fairshare.simulator.replay import apply

CLASSES = (GPUClass("h100", 4.0, 700.0, 3.0), GPUClass("a100", 2.5, 400.0, 2.0), GPUClass("l4", 0.8, 72.0, 0.6))
FLEET = (("h100", 4, 8), ("a100", 8, 8), ("l4", 8, 4))
TENANTS = (("nlp", 2.0), ("vision", 1.0), ("speech", 1.0), ("rl", 1.0))


def fleet() -> tuple[Node, ...]:
    return tuple(Node(f"{cls}-{i:03d}", cls, gpus) for cls, count, gpus in FLEET for i in range(count))


def churn(cycles: int, period_s: float, seed: int, rate: float) -> list[list[float]]:
    """Run `cycles` cycles of churn; returns every cycle's prices, in CLASSES order."""
    rnd = random.Random(seed)
    snapshot = Snapshot(CLASSES, fleet(), tuple(Tenant(n, weight=w) for n, w in TENANTS), ())
    config = replace(PolicyConfig(), min_run_seconds=300.0)
    ends: dict[str, float] = {}
    prices: list[list[float]] = []
    now, serial = 0.0, 0
    for _ in range(cycles):
        arrivals = []
        for _ in range(_poisson(rnd, rate)):
            owner = rnd.choices([n for n, _ in TENANTS], weights=[3, 2, 2, 1])[0]
            gpus = rnd.choice([1, 1, 2, 4, 8, 16]) if rnd.random() < 0.03 else rnd.choice([1, 1, 2, 4, 8])
            classes = tuple(rnd.sample([c.name for c in CLASSES], rnd.randint(1, 3))) if rnd.random() < 0.5 else ()
            arrivals.append(Job(f"{owner}/j{serial}", owner, 1, 1, gpus, gpu_classes=classes, submitted_at=now))
            ends[f"{owner}/j{serial}"] = rnd.expovariate(1 / 1800.0)  # seconds of running it needs
            serial += 1
        jobs = []
        for job in snapshot.jobs:
            alloc = job.allocation
            if job.phase is JobPhase.RUNNING and alloc is not None and now - alloc.started_at >= ends[job.key]:
                continue  # finished: it leaves the snapshot, as a terminal job does
            jobs.append(job)
        snapshot = replace(snapshot, jobs=tuple(jobs) + tuple(arrivals))
        result = schedule(snapshot, now, config)
        prices.append([result.prices[c.name] for c in CLASSES])
        snapshot = apply(snapshot, result, now)
        snapshot = replace(snapshot,
                           classes=tuple(replace(c, current_price=result.prices.get(c.name)) for c in snapshot.classes),
                           tenants=tuple(replace(t, fair_share=dict(result.fair_shares.get(t.name, {})))
                                         for t in snapshot.tenants))
        now += period_s
    return prices


def _poisson(rnd: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, rnd.random()
    while p > limit:
        k += 1
        p *= rnd.random()
    return k


def report(prices: list[list[float]], warmup: int) -> str:
    changes = [abs(b - a) / a for before, after in zip(prices[warmup:], prices[warmup + 1:], strict=False)
               for a, b in zip(before, after, strict=True) if a > 0]
    moved = sorted(c for c in changes if c > 0)
    lines = [f"consecutive changes: {len(changes)} ({len(moved)} moved)"]
    for x in (0.10, 0.25, 0.50):
        lines.append(f"  above {x:.0%}: {sum(1 for c in changes if c > x + 1e-3) / len(changes):.2%}")
    if moved:
        lines.append(f"  of those that moved: median {statistics.median(moved):.1%}, "
                     f"p99 {moved[min(len(moved) - 1, int(0.99 * len(moved)))]:.1%}, max {moved[-1]:.1%}")
    for j, cls in enumerate(CLASSES):
        series = [p[j] for p in prices[warmup:]]
        lines.append(f"  {cls.name}: list {cls.price_per_gpu_hour:g}, price {min(series):.2f}..{max(series):.2f}, "
                     f"mean {statistics.fmean(series):.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=2000)
    parser.add_argument("--period", type=float, default=10.0, help="seconds between cycles (the operator's timer)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.2,
                        help="mean arrivals per cycle (0.2: about the fleet's capacity on average, so classes swing "
                             "between idle and contended)")
    parser.add_argument("--warmup", type=int, default=100, help="cycles left out while the cluster fills")
    args = parser.parse_args()
    print(f"core from {fairshare.__file__}; {args.cycles} cycles every {args.period:g} s, {args.rate:g} arrivals a "
          f"cycle, seed {args.seed}")
    print(report(churn(args.cycles, args.period, args.seed, args.rate), args.warmup))


if __name__ == "__main__":
    main()
