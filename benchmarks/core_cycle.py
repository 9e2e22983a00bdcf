"""Benchmark: one full scheduling cycle of the market policy on large synthetic clusters.

    .venv/bin/python benchmarks/core_cycle.py            # the full matrix, a markdown table on stdout
    .venv/bin/python benchmarks/core_cycle.py --quick    # the two target cases only

Each case builds a deterministic (seeded) snapshot: 3-8 GPU classes, up to 10,000 nodes, tenants with weights,
guarantees, borrowing limits and budgets, running jobs filling ~60% of the GPUs (some borrowed, some
opportunistic), and the given number of pending jobs (gangs of 1-8 workers x 1-8 GPUs, some elastic, some
with bids, a tenth with throughput measured in an earlier run). Building the snapshot is not timed; each
cycle is, with the per-step durations the core records through its injected clock.
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import statistics
import subprocess
import time
from dataclasses import dataclass, replace

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Admit, Preempt, Resize, Wait
from fairshare.core.types import Allocation, GPUClass, Job, JobPhase, Node, Snapshot, Tenant, Throughput

CLASS_CATALOGUE = [  # name, list price per GPU-hour, watts, relative speed
    ("a100", 4.0, 400, 2.0),
    ("v100", 2.0, 300, 1.0),
    ("t4", 0.6, 70, 0.4),
    ("h100", 8.0, 700, 3.5),
    ("l4", 1.0, 72, 0.6),
    ("a10", 1.2, 150, 0.7),
    ("mi250", 3.5, 500, 1.8),
    ("l40s", 2.5, 350, 1.4),
]


@dataclass(frozen=True)
class Case:
    pending: int
    tenants: int
    classes: int
    nodes: int


def build(case: Case, seed: int = 7) -> Snapshot:
    rnd = random.Random(seed)
    classes = [GPUClass(n, p, w, s) for n, p, w, s in CLASS_CATALOGUE[: case.classes]]
    nodes = [
        Node(
            f"{classes[i % len(classes)].name}-{i:05d}",
            classes[i % len(classes)].name,
            rnd.choice([4, 8, 8, 8]),
            schedulable=rnd.random() > 0.01,
        )
        for i in range(case.nodes)
    ]
    capacity = {c.name: sum(n.gpus for n in nodes if n.gpu_class == c.name) for c in classes}
    tenants = []
    for t in range(case.tenants):
        guaranteed = {c.name: int(capacity[c.name] * 0.5 / case.tenants) for c in classes if rnd.random() < 0.5}
        limit = None if rnd.random() < 0.7 else {c.name: int(capacity[c.name] * 0.2) for c in classes}
        budget = 1e6 if rnd.random() < 0.3 else None
        tenants.append(
            Tenant(
                f"t{t:04d}",
                weight=rnd.choice([1.0, 1.0, 2.0, 3.0]),
                guaranteed=guaranteed,
                borrowing_limit=limit,
                budget_per_period=budget,
                spent_this_period=budget * rnd.choice([0.1, 0.5, 1.0]) if budget else 0.0,
                decayed_usage_gpu_hours=rnd.choice([0.0, 100.0, 1000.0]),
            )
        )
    jobs: list[Job] = []
    throughputs: list[Throughput] = []

    def make(key: str, tenant: str, submitted: float, bid: bool) -> Job:
        workers = rnd.choice([1, 1, 1, 2, 2, 4, 8])
        gpw = rnd.choice([1, 1, 2, 4, 8])
        wanted = tuple(c.name for c in classes if rnd.random() < 0.4) if rnd.random() < 0.5 else ()
        return Job(
            key,
            tenant,
            workers,
            workers * (2 if rnd.random() < 0.15 else 1),
            gpw,
            wanted,
            priority=rnd.choice([0, 0, 0, 1, 2]),
            preemptible=rnd.random() < 0.9,
            max_price_per_gpu_hour=rnd.choice([1.0, 3.0, 6.0]) if bid and rnd.random() < 0.1 else None,
            submitted_at=submitted,
        )

    # Running jobs: fill ~60% of the GPUs node by node, each gang on nodes of one class.
    free = {n.name: n.gpus for n in nodes}
    by_class: dict[str, list[str]] = {}
    for n in nodes:
        if n.schedulable:
            by_class.setdefault(n.gpu_class, []).append(n.name)
    target = 0.6 * sum(capacity.values())
    used, r = 0, 0
    while used < target and r < case.nodes * 4:
        tenant = f"t{rnd.randrange(case.tenants):04d}"
        job = make(f"{tenant}/run{r}", tenant, -rnd.uniform(0, 86_400), bid=False)
        r += 1
        cls = rnd.choice([c.name for c in classes if job.accepts(c.name)] or [classes[0].name])
        candidates = by_class.get(cls, [])
        placed: list[str] = []
        for name in rnd.sample(candidates, min(len(candidates), 16)):
            while free[name] >= job.gpus_per_worker and len(placed) < job.min_workers:
                free[name] -= job.gpus_per_worker
                placed.append(name)
        if len(placed) < job.min_workers:
            for name in placed:
                free[name] += job.gpus_per_worker
            continue
        started = rnd.uniform(-86_400, 0)
        alloc = Allocation(
            cls, len(placed), tuple(placed), started, started + rnd.uniform(0, 3600), opportunistic=rnd.random() < 0.05
        )
        jobs.append(replace(job, phase=JobPhase.RUNNING, allocation=alloc))
        used += len(placed) * job.gpus_per_worker
    for i in range(case.pending):
        tenant = f"t{rnd.randrange(case.tenants):04d}"
        jobs.append(make(f"{tenant}/job{i}", tenant, rnd.uniform(0, 3600), bid=True))
    # Measured throughput: every running job on its class at its size; a tenth of the pending jobs (run before,
    # then preempted) on one or two of their classes.
    for j in jobs:
        if j.allocation is not None:
            speed = rnd.uniform(50, 500) * next(c.relative_speed for c in classes if c.name == j.allocation.gpu_class)
            throughputs.append(
                Throughput(j.key, j.allocation.gpu_class, j.allocation.workers, speed * j.allocation.workers**0.9)
            )
        elif rnd.random() < 0.1:
            options = [c for c in classes if j.accepts(c.name)]
            for c in rnd.sample(options, min(len(options), rnd.choice([1, 2]))):
                base = rnd.uniform(50, 500) * c.relative_speed
                throughputs.append(Throughput(j.key, c.name, j.min_workers, base * j.min_workers**0.9))
    return Snapshot(tuple(classes), tuple(nodes), tuple(tenants), tuple(jobs), tuple(throughputs))


def run(case: Case, repeats: int) -> tuple[float, float, dict[str, float], dict[str, int]]:
    """(median wall seconds, median CPU seconds, median seconds per step, decision counts) over `repeats` cycles."""
    snapshot = build(case)
    config = PolicyConfig()
    walls, cpus, steps = [], [], []
    result = None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = schedule(snapshot, 10_000.0, config, clock=time.perf_counter)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        steps.append(dict(result.step_seconds))
    assert result is not None
    counts = {"running": sum(1 for j in snapshot.jobs if j.phase is JobPhase.RUNNING),
              "admit": len(result.by_kind(Admit)), "wait": len(result.by_kind(Wait)),
              "preempt": len(result.by_kind(Preempt)), "resize": len(result.by_kind(Resize))}
    median_steps = {k: statistics.median(s[k] for s in steps) for k in steps[0]}
    return statistics.median(walls), statistics.median(cpus), median_steps, counts


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        model = platform.processor() or "unknown"
    import fairshare.core
    built = "mypyc-compiled core" if fairshare.core.COMPILED_FROM else "core as Python"
    return f"{model}; Python {platform.python_version()}; {built}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the two target cases")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sizes = {1_000: (3, 250), 15_000: (5, 2_500), 60_000: (8, 10_000)}
    cases = [Case(n, t, *sizes[n]) for n in sizes for t in (30, 300, 2_000)]
    if args.quick:
        cases = [Case(15_000, 30, *sizes[15_000]), Case(60_000, 2_000, *sizes[60_000])]
    print(f"machine: {machine()}; load average before: {_load()}\n")
    step_names: list[str] = []
    rows = []
    for case in cases:
        wall, cpu, steps, counts = run(case, args.repeats)
        step_names = list(steps)
        rows.append((case, wall, cpu, steps, counts))
        print(f"# {case.pending} pending / {case.tenants} tenants: {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU",
              flush=True)
    print(f"\nload average after: {_load()}\n")
    print("| pending | tenants | classes | nodes | running | wall (ms) | CPU (ms) | " + " | ".join(step_names) +
          " | admit | wait | preempt | resize | wall us / (n log2 n) |")
    print("|" + "---|" * (12 + len(step_names)))
    for case, wall, cpu, steps, counts in rows:
        n = case.pending + counts["running"]
        per = wall / (n * math.log2(n)) * 1e6
        print(f"| {case.pending:,} | {case.tenants:,} | {case.classes} | {case.nodes:,} | {counts['running']:,} | "
              f"{wall * 1000:.0f} | {cpu * 1000:.0f} | " + " | ".join(f"{steps[s] * 1000:.1f}" for s in step_names) +
              f" | {counts['admit']:,} | {counts['wait']:,} | {counts['preempt']:,} | {counts['resize']:,} | "
              f"{per:.2f} |")


def _load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
