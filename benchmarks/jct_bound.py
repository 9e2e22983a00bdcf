"""How low can any scheduler take the average JCT on issue 21's Gavel set-up: a certified LP lower bound.

Builds the same jobs and cluster as `fairshare simulate --workload gavel-philly --measured-sizes-only --cluster
gavel-36-node --arrival-rate 0.07 --seed 0 --max-jobs N` (the experiments gavel-ref-N of policy_comparison.py), with
the simulator's own true rates, and prints the per-job floor (every job alone on its fastest class from arrival),
the LP bound of fairshare.simulator.bound (capacity counted; any preemptive schedule, restart cost 0, one class at a
time, no tenant shares to hold), real Gavel's figure and issue 21's target (10 % below it).

Run from the repository root:
    PYTHONPATH=operator python benchmarks/jct_bound.py --max-jobs 1500 --interval-hours 1
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "operator"))

from fairshare.simulator.bound import BoundJob, lower_bound  # noqa: E402
from fairshare.simulator.datadir import resolve_data_dir  # noqa: E402
from fairshare.simulator.experiment import ExperimentSpec, load_cluster, load_workload, prepare  # noqa: E402
from fairshare.simulator.rates import OracleRates  # noqa: E402

# Real Gavel's average JCT (h), max_min_fairness_perf in its own simulator: ../shared/data/gavel/REFERENCE_RESULTS.md.
REAL_GAVEL_JCT_H = {1500: 90.5, 5000: 70.8}


def bound_jobs(max_jobs: int, data_dir: Path) -> tuple[list[BoundJob], list[float], list[str]]:
    """The gavel-ref-N jobs as the bound sees them, and the cluster's classes with their GPUs."""
    spec = ExperimentSpec(workload="gavel-philly", cluster="gavel-36-node", measured_sizes_only=True,
                          arrival_rate=0.07, seed=0, max_jobs=max_jobs)
    rng = random.Random(spec.seed)
    cluster = load_cluster(spec.cluster, data_dir, rng)
    workload = prepare(load_workload(spec, data_dir, rng), cluster, spec, rng)
    oracle = OracleRates(workload.matrix, cluster)
    capacity = cluster.capacity()
    classes = sorted(capacity)
    jobs = []
    for job in workload.jobs:
        if len(job.phases) != 1 or job.min_workers != job.max_workers:
            raise RuntimeError(f"{job.key}: the bound models fixed-size single-phase jobs only")
        rates = tuple(oracle.samples_per_second(job.phases[0].job_type, c, job.gpus) for c in classes)
        jobs.append(BoundJob(job.arrival_s, job.gpus, job.work_samples, rates))
    return jobs, [float(capacity[c]) for c in classes], classes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-jobs", type=int, default=1500)
    parser.add_argument("--interval-hours", type=float, default=1.0)
    parser.add_argument("--window-slack", type=float, default=2.0,
                        help="each job's first window: its fastest run time times this, plus a day")
    parser.add_argument("--rounds", type=int, default=6, help="column-generation rounds at most")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    jobs, capacity, classes = bound_jobs(args.max_jobs, resolve_data_dir(args.data_dir))
    started = time.monotonic()
    result = lower_bound(jobs, capacity, interval_s=args.interval_hours * 3600.0, window_slack=args.window_slack,
                         max_rounds=args.rounds)
    report = {
        "jobs": len(jobs), "classes": dict(zip(classes, capacity, strict=True)),
        "interval_hours": args.interval_hours, "floor_h": result.floor_s / 3600.0,
        "bound_h": result.average_jct_s / 3600.0, "lp_h": result.lp_average_jct_s / 3600.0,
        "rounds": result.rounds, "columns": result.columns,
        "history_h": [h / 3600.0 for h in result.history], "seconds": round(time.monotonic() - started, 1),
    }
    if args.max_jobs in REAL_GAVEL_JCT_H:
        report["real_gavel_h"] = REAL_GAVEL_JCT_H[args.max_jobs]
        report["target_h"] = round(REAL_GAVEL_JCT_H[args.max_jobs] * 0.9, 2)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
