"""One cohort of Kueue's baseline at a tenth, replayed in memory: the real plan_cycle over an in-memory API server
(tests/unit/control/fakecluster.py), deterministic and free of the machine's timing, so that two versions of the
operator's code can be compared on exactly the same sequence of cycles by the writes they send.

Six tenants (guarantee 20, borrowing limit 100) on 12 nodes of 10 GPUs; each creates 35 small (1 GPU, priority 50)
jobs one per 0.1 s, 10 medium (5 GPUs, priority 100) one per 0.5 s and 5 large (2 workers x 10 GPUs, priority 200)
one per 1.2 s, as kueue_harness.py --scale 0.1 does per queue. A cycle every PERIOD seconds applies all its actions
at once; between cycles the kubelet starts the pods that were pending and the pods that were running finish, so
every job is seen Running once. Counts the API calls the cycles send, and the TrainingJob status writes by what
they changed (kueue_harness.status_change).

    PYTHONPATH=operator:.:benchmarks $V/python benchmarks/kueue_replay.py                  # this code
    PYTHONPATH=../main/operator:.:benchmarks $V/python benchmarks/kueue_replay.py          # another checkout's
"""

from __future__ import annotations

import argparse
import json

from kueue_harness import status_change
from tests.unit.control.builders import NOW, gpu_class, node, store_of, tenant, training_job
from tests.unit.control.fakecluster import FakeCluster

import fairshare
from fairshare.control.actions import DeletePods, EnsureChildren, PatchStatus, RecordEvent
from fairshare.control.plan import plan_cycle
from fairshare.control.snapshot import build_world
from fairshare.control.store import PODS, TRAINING_JOBS
from fairshare.core.config import PolicyConfig
from fairshare.render import DEFAULT_SETTINGS

CLASS = "pool"
SIZES = (("small", 35, 0.1, 1, 1, 50), ("medium", 10, 0.5, 1, 5, 100), ("large", 5, 1.2, 2, 10, 200))


def run(period: float, max_cycles: int) -> dict[str, object]:
    tenants = [f"cq-{i}" for i in range(6)]
    arrivals = sorted((k * every, f"{t}/{size}-{k}", workers, gpus, priority)
                      for t in tenants for size, count, every, workers, gpus, priority in SIZES for k in range(count))
    store = store_of(gpu_class(CLASS), *[tenant(t).guaranteed(**{CLASS: 20}).borrowing(**{CLASS: 100})
                                         for t in tenants],
                     *[node(f"n{i:02d}").gpu_class(CLASS).gpus(10) for i in range(12)])
    cluster = FakeCluster(store)
    calls: dict[str, int] = {}
    changes: dict[str, int] = {}
    admitted_at: dict[str, int] = {}
    cycle = 0
    while cycle < max_cycles:
        t = 0.2 + cycle * period
        while arrivals and arrivals[0][0] <= t:
            at, key, workers, gpus, priority = arrivals.pop(0)
            store.put(TRAINING_JOBS, training_job(key).classes(CLASS).workers(workers).gpus(gpus)
                      .priority(priority).created(-at).body())
        now = NOW + t
        plan = plan_cycle(build_world(store, now), now, PolicyConfig(), DEFAULT_SETTINGS)
        before = {a.key: (store.get(TRAINING_JOBS, a.key) or {}).get("status") for a in plan.actions
                  if isinstance(a, PatchStatus) and a.kind == TRAINING_JOBS}
        cluster.apply(plan.actions)
        for a in plan.actions:
            name = (f"patch {a.kind}" if isinstance(a, PatchStatus) else "create pods"
                    if isinstance(a, EnsureChildren) else "delete pods" if isinstance(a, DeletePods)
                    else "create events" if isinstance(a, RecordEvent) else type(a).__name__)
            count = len(a.pods) if isinstance(a, EnsureChildren) else 1
            calls[name] = calls.get(name, 0) + count
        for key, was in before.items():
            change = status_change(was, (store.get(TRAINING_JOBS, key) or {}).get("status") or {})
            if change:
                changes[change] = changes.get(change, 0) + 1
            if change == "admission":
                admitted_at.setdefault(key, cycle)
        cycle += 1
        kubelet(cluster)
        if not arrivals and all((b.get("status") or {}).get("phase") == "Succeeded"
                                for b in store.all(TRAINING_JOBS)):
            break
    admitted = len(admitted_at)
    return {"cycles": cycle, "period_s": period, "jobs_admitted": admitted,
            "api_calls": dict(sorted(calls.items())), "api_calls_total": sum(calls.values()),
            "per_admission": round(sum(calls.values()) / admitted, 2) if admitted else None,
            "status_changes": dict(sorted(changes.items())), "operator_code": fairshare.__file__}


def kubelet(cluster: FakeCluster) -> None:
    """Between two cycles: running pods finish (exit 0), pending ones start."""
    for body in list(cluster.store.all(PODS)):
        key = f"{body['metadata']['namespace']}/{body['metadata']['name']}"
        phase = (body.get("status") or {}).get("phase")
        if phase == "Running":
            cluster.set_pod_phase(key, "Succeeded", exit_code=0)
        elif phase == "Pending" and not body["metadata"].get("deletionTimestamp"):
            cluster.set_pod_phase(key, "Running")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--period", type=float, default=2.0, help="seconds between cycles (default %(default)s)")
    parser.add_argument("--max-cycles", type=int, default=400)
    args = parser.parse_args()
    print(json.dumps(run(args.period, args.max_cycles)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
