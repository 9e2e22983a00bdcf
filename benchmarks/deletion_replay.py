"""Status writes to TrainingJobs being deleted, replayed in memory: the real plan_cycle over an in-memory API server
(tests/unit/control/fakecluster.py), deterministic and free of the machine's timing, so that two versions of the
operator's code can be compared on exactly the same sequence.

N queued one-node jobs of 4 tenants on 2 nodes of 8 GPUs, plus S jobs in a namespace that belongs to no Tenant (they
wait with that reason). Once their statuses have settled, deletion runs as a foreground deletion does: every 2-s
cycle the next B jobs (by name) get a deletionTimestamp, and each leaves the store G cycles later (the garbage
collector). Counts the status PATCHes the cycles send meanwhile: all, and those to jobs being deleted. With
--no-settle, deletion starts before the first cycle, as when a burst of jobs is deleted before the operator has
written them.

    PYTHONPATH=operator:. .venv/bin/python benchmarks/deletion_replay.py                      # this code
    PYTHONPATH=../main/operator:. .venv/bin/python benchmarks/deletion_replay.py              # another checkout's
"""

from __future__ import annotations

import argparse
import json

from tests.unit.control.builders import NOW, gpu_class, node, store_of, tenant, training_job, ts
from tests.unit.control.fakecluster import FakeCluster

import fairshare
from fairshare.control.actions import PatchStatus
from fairshare.control.plan import plan_cycle
from fairshare.control.snapshot import build_world
from fairshare.control.store import TRAINING_JOBS
from fairshare.core.config import PolicyConfig
from fairshare.render import DEFAULT_SETTINGS

PERIOD = 2.0


def run(jobs: int, strays: int, batch: int, gc_cycles: int, settle_first: bool = True) -> dict[str, object]:
    tenants = [f"t{i}" for i in range(4)]
    bodies = [training_job(f"{tenants[i % 4]}/j-{i:05d}").gpus(8).created(3600 - i * 0.01) for i in range(jobs)]
    bodies += [training_job(f"stray/s-{i:05d}").gpus(8).created(3600) for i in range(strays)]
    store = store_of(gpu_class("a100").price(2.5).power(400), *[tenant(t) for t in tenants],
                     node("n0").gpu_class("a100").gpus(8), node("n1").gpu_class("a100").gpus(8), *bodies)
    cluster = FakeCluster(store)
    cycle = 0

    def one_cycle() -> list[PatchStatus]:
        nonlocal cycle
        cycle += 1
        now = NOW + cycle * PERIOD
        plan = plan_cycle(build_world(store, now), now, PolicyConfig(), DEFAULT_SETTINGS)
        cluster.apply(plan.actions)
        return [a for a in plan.actions if isinstance(a, PatchStatus) and a.kind == TRAINING_JOBS]

    settle = 0
    while settle_first and one_cycle() and settle < 50:
        settle += 1
    order = sorted(b.body()["metadata"]["namespace"] + "/" + b.body()["metadata"]["name"] for b in bodies)
    marked: dict[str, int] = {}  # job key -> the cycle it was marked in
    total = to_deleting = 0
    rewrites: dict[str, int] = {}  # job key -> queue rewrites of a job still waiting (its position or reason moved)
    start = cycle
    while order or marked:
        for key in order[:batch]:
            body = store.get(TRAINING_JOBS, key)
            assert body is not None
            body = {**body, "metadata": {**body["metadata"], "deletionTimestamp": ts(-cycle * PERIOD)}}
            cluster._bump(body)  # a new resourceVersion, as the API server gives it, or the store keeps the old body
            store.put(TRAINING_JOBS, body)
            marked[key] = cycle
        order = order[batch:]
        for key, since in list(marked.items()):
            if cycle - since >= gc_cycles:
                gone = store.get(TRAINING_JOBS, key)
                assert gone is not None
                store.delete(TRAINING_JOBS, gone)
                del marked[key]
        patches = one_cycle()
        total += len(patches)
        to_deleting += sum(1 for p in patches if p.key in marked)
        for p in patches:
            if p.status.get("phase") == "Queued" and isinstance(p.status.get("queue"), dict) and "allocation" \
                    not in p.status:
                rewrites[p.key] = rewrites.get(p.key, 0) + 1
    return {"jobs": jobs, "strays_of_no_tenant": strays, "settled_before_deletion": settle_first,
            "marked_per_cycle": batch, "gc_after_cycles": gc_cycles,
            "settle_cycles": settle, "deletion_cycles": cycle - start, "status_patches": total,
            "status_patches_to_jobs_being_deleted": to_deleting, "queue_rewrites": sum(rewrites.values()),
            "jobs_rewritten": len(rewrites), "most_rewrites_of_one_job": max(rewrites.values(), default=0),
            "operator_code": fairshare.__file__}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--strays", type=int, default=100)
    parser.add_argument("--batch", type=int, default=50, help="jobs given a deletionTimestamp per cycle")
    parser.add_argument("--gc-cycles", type=int, default=5, help="cycles a job being deleted stays in the store")
    parser.add_argument("--no-settle", action="store_true",
                        help="start deleting before the first cycle: jobs never written yet (a burst created and "
                             "deleted at once)")
    args = parser.parse_args()
    print(json.dumps(run(args.jobs, args.strays, args.batch, args.gc_cycles, settle_first=not args.no_settle)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
