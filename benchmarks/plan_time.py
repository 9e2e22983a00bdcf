"""The time of plan_cycle (no API I/O) on a seeded world whose first cycle writes thousands of statuses: every waiting
job's queue entry, every running job's charge and every Tenant's and GPUClass's status.

J TrainingJobs of T tenants, 8 GPUs each, on N nodes of 8 GPUs (one class): N of them Running (charged an hour ago,
so each gets a charge), the rest waiting (no status yet, so each gets a queue entry). Prints the median and the
minimum of R runs of plan_cycle on the same World, in seconds, the median of its time outside the core's steps (the
translation into actions, status included), the number of status patches it plans, and the SHA-256 of every action it
plans, in order (equal on two checkouts: the same writes, in the same order). Run it on
two checkouts in turn to compare them (the core is the same on both):

    PYTHONPATH=operator:. .venv/bin/python benchmarks/plan_time.py                  # this checkout
    PYTHONPATH=../main/operator:. .venv/bin/python benchmarks/plan_time.py          # another one's operator
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import statistics
import time

from tests.unit.control.builders import NOW, gpu_class, node, store_of, tenant, training_job, worker

from fairshare.control.actions import PatchStatus
from fairshare.control.plan import plan_cycle
from fairshare.control.snapshot import build_world
from fairshare.core.config import PolicyConfig
from fairshare.render import DEFAULT_SETTINGS


def world_of(jobs: int, tenants: int, nodes: int) -> object:
    names = [f"t{i:03d}" for i in range(tenants)]
    items: list[object] = [gpu_class("a100").price(2.5).power(400), *[tenant(t).budget(1e6) for t in names]]
    items += [node(f"n{i:05d}").gpu_class("a100").gpus(8) for i in range(nodes)]
    for i in range(jobs):
        key = f"{names[i % tenants]}/j-{i:06d}"
        job = training_job(key).gpus(8).created(7200 - i * 0.001)
        if i < nodes:
            items += [job.phase("Running").allocation("a100", f"n{i:05d}").started(3600).cost(accrued_ago=3600),
                      worker(key, 0, node_name=f"n{i:05d}", gpus=8)]
        else:
            items.append(job)
    return build_world(store_of(*items), NOW)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--tenants", type=int, default=30)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    world = world_of(args.jobs, args.tenants, args.nodes)
    times, outside, patches = [], [], 0
    for _ in range(args.runs):
        start = time.perf_counter()
        plan = plan_cycle(world, NOW, PolicyConfig(), DEFAULT_SETTINGS)  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
        outside.append(times[-1] - sum(plan.result.step_seconds.values()))
        patches = sum(1 for a in plan.actions if isinstance(a, PatchStatus))
    digest = hashlib.sha256()
    for action in plan.actions:
        digest.update(json.dumps([type(action).__name__, dataclasses.asdict(action)], sort_keys=True).encode())
    print(json.dumps({"jobs": args.jobs, "tenants": args.tenants, "nodes": args.nodes, "patches": patches,
                      "median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4),
                      "outside_core_median_s": round(statistics.median(outside), 4),
                      "actions_sha256": digest.hexdigest()}))


if __name__ == "__main__":
    main()
