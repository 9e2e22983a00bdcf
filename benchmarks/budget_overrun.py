"""Benchmark: how far tenants spend past their budgets, with the operator's metering lag.

    .venv/bin/python benchmarks/budget_overrun.py
    PYTHONPATH=/tmp/wt-before/operator .venv/bin/python benchmarks/budget_overrun.py   # another tree, side by side

The churn workload of benchmarks/price_stability.py (the `make up` fleet, four tenants submitting jobs at random)
runs through the core as the operator runs it: a cycle every 10 s (sooner when the policy's wake asks for it), each
job charged continuously at the price the cycle gave it (CycleResult.charges), and every tenant's
`spent_this_period` refreshed from that metering only every 30 s, as the operator meters Tenant status. Every tenant
has a budget of `--budget` credits per period (one period spans the run), small enough that each spends it.

It reports per tenant, as a percentage of its budget, what it was charged after its spend reached the budget: at
full price (the overrun the budget rule is about) and in all (including jobs kept running on idle capacity at the
floor price, which the policy allows and charges).
"""

from __future__ import annotations

import argparse
import random
from dataclasses import replace

from price_stability import CLASSES, TENANTS, fleet

import fairshare
from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.types import Job, JobPhase, Snapshot, Tenant
from fairshare.simulator.replay import apply

CYCLE_S = 10.0
METER_S = 30.0


def run(seconds: float, budget: float, rate: float, seed: int) -> dict[str, tuple[float, float, float]]:
    """Tenant -> (credits charged in all, after the budget at full price, after it in all)."""
    rnd = random.Random(seed)
    tenants = tuple(Tenant(n, weight=w, budget_per_period=budget) for n, w in TENANTS)
    snapshot = Snapshot(CLASSES, fleet(), tenants, ())
    floors = {c.name: PolicyConfig().price_floor_fraction * c.price_per_gpu_hour for c in CLASSES}
    config = replace(PolicyConfig(), min_run_seconds=300.0)
    ends: dict[str, float] = {}
    spent = dict.fromkeys((n for n, _ in TENANTS), 0.0)
    over_full = dict.fromkeys(spent, 0.0)
    over_all = dict.fromkeys(spent, 0.0)
    charges: dict[str, float] = {}
    now, serial, last_meter, next_cycle = 0.0, 0, 0.0, 0.0
    step = 1.0  # metering resolution, seconds
    while now < seconds:
        if now >= next_cycle:
            arrivals = []
            for _ in range(rnd.choices([0, 1, 2], weights=[1 - rate, rate * 0.8, rate * 0.2])[0]):
                owner = rnd.choices([n for n, _ in TENANTS], weights=[3, 2, 2, 1])[0]
                key = f"{owner}/j{serial}"
                arrivals.append(Job(key, owner, 1, 1, rnd.choice([1, 1, 2, 4, 8]), submitted_at=now))
                ends[key] = rnd.expovariate(1 / 1800.0)
                serial += 1
            jobs = [j for j in snapshot.jobs if not (j.phase is JobPhase.RUNNING and j.allocation is not None
                                                       and now - j.allocation.started_at >= ends[j.key])]
            snapshot = replace(snapshot, jobs=tuple(jobs) + tuple(arrivals))
            result = schedule(snapshot, now, config)
            charges = dict(result.charges)
            snapshot = apply(snapshot, result, now)
            snapshot = replace(snapshot,
                               classes=tuple(replace(c, current_price=result.prices.get(c.name))
                                             for c in snapshot.classes),
                               tenants=tuple(replace(t, fair_share=dict(result.fair_shares.get(t.name, {})))
                                             for t in snapshot.tenants))
            wake = result.wake_at if result.wake_at is not None and result.wake_at > now else now + CYCLE_S
            next_cycle = min(now + CYCLE_S, wake)
        # Meter one step: every running job at the price the last cycle charged it.
        for j in snapshot.jobs:
            if j.phase is JobPhase.RUNNING and j.allocation is not None and j.key in charges:
                price = charges[j.key]
                credits = j.allocation.workers * j.gpus_per_worker * price * step / 3600.0
                if spent[j.tenant] >= budget:
                    over_all[j.tenant] += credits
                    if price > floors[j.allocation.gpu_class] + 1e-9:
                        over_full[j.tenant] += credits
                spent[j.tenant] += credits
        now += step
        if now - last_meter >= METER_S:  # the operator writes the tenant's spend every 30 s
            last_meter = now
            snapshot = replace(snapshot, tenants=tuple(replace(t, spent_this_period=spent[t.name])
                                                       for t in snapshot.tenants))
    return {t: (spent[t], over_full[t], over_all[t]) for t in spent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4 * 3600.0)
    parser.add_argument("--budget", type=float, default=100.0, help="credits per period, for every tenant")
    parser.add_argument("--rate", type=float, default=0.3, help="chance of an arrival per 10 s cycle")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"core from {fairshare.__file__}; {args.seconds / 3600:g} h, budget {args.budget:g} credits, "
          f"seed {args.seed}")
    print("| tenant | charged | after the budget, full price | after the budget, in all |")
    print("|---|---:|---:|---:|")
    for tenant, (charged, full, total) in run(args.seconds, args.budget, args.rate, args.seed).items():
        print(f"| {tenant} | {charged:.1f} | {full:.2f} ({full / args.budget:.2%}) | "
              f"{total:.2f} ({total / args.budget:.2%}) |")


if __name__ == "__main__":
    main()
