"""Kueue's scheduler-performance generator config, expanded into queues and timed job arrivals (pure, no I/O).

Kueue's runner (test/performance/scheduler/runner/generator) builds, for every cohort set, `count` cohorts; in
each, every queues set's `count` ClusterQueues (nominal quota and borrowing limit of one resource); for every
queue, every workloads set creates `count` workloads one `creationIntervalMs` after another, each workload set
in its own goroutine. Here the same shape is kept, and mapped to this operator's API:

- ClusterQueue -> Tenant (one namespace each, weight 1);
- cohort -> a shared pool: one GPU class whose kwok nodes hold exactly the cohort's summed nominal quota, so the
  queues of a cohort lend and borrow among themselves only, as in a Kueue cohort;
- nominalQuota -> spec.guaranteed[class]; borrowingLimit -> spec.borrowingLimit[class];
- Kueue's CPU units -> GPUs of that one class (a request of 1 CPU is one GPU);
- a workload of request r -> one TrainingJob of one worker with r GPUs, or, where r exceeds a node, of
  r / gpusPerNode workers (all-or-nothing, as one Kueue workload of r units is);
- runtimeMs -> the pods' simulated run time (a kwok stage moves them to Succeeded after it);
- priority -> spec.priority.

`scale` multiplies every workloads set's count (at least 1 each): 0.1 turns the baseline's 15,000 workloads
over 30 queues into 1,500 over the same 30 queues. Creation intervals stay Kueue's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any


class ShapeError(ValueError):
    """A generator config this harness cannot map; the message names the field."""


@dataclasses.dataclass(frozen=True)
class Queue:
    """One ClusterQueue: its Tenant / namespace name, cohort, class (for usage), quota and borrowing limit."""

    name: str
    cohort: str
    queue_class: str
    nominal: int
    borrowing_limit: int


@dataclasses.dataclass(frozen=True)
class Arrival:
    """One workload: when (seconds after the start) it is created, in which queue, and what it asks for."""

    at: float
    name: str
    queue: str
    size_class: str
    runtime_ms: int
    priority: int
    request: int


@dataclasses.dataclass(frozen=True)
class Plan:
    """Every queue and every arrival of one generator config at one scale."""

    queues: tuple[Queue, ...]
    arrivals: tuple[Arrival, ...]

    def cohorts(self) -> dict[str, int]:
        """Cohort -> its summed nominal quota (the capacity of its pool)."""
        out: dict[str, int] = {}
        for q in self.queues:
            out[q.cohort] = out.get(q.cohort, 0) + q.nominal
        return out


def _int(raw: Any, field: str) -> int:
    try:
        value = int(str(raw).replace("_", ""))
    except ValueError as exc:
        raise ShapeError(f"{field}: must be a whole number of units, got {raw!r}") from exc
    if value < 0:
        raise ShapeError(f"{field}: must not be negative, got {raw!r}")
    return value


def scaled_count(count: int, scale: float) -> int:
    """A workloads set's count at `scale`: rounded, and never below one workload."""
    return max(1, round(count * scale))


def expand(config: Mapping[str, Any], scale: float = 1.0) -> Plan:
    """Every queue and timed arrival Kueue's generator would create from `config`, with counts times `scale`."""
    if not 0 < scale <= 1:
        raise ShapeError(f"scale: must be in (0, 1], got {scale}")
    cohort_sets = config.get("cohorts")
    if not isinstance(cohort_sets, list) or not cohort_sets:
        raise ShapeError("cohorts: the generator config must list at least one cohort set")
    queues: list[Queue] = []
    arrivals: list[Arrival] = []
    for cs in cohort_sets:
        if cs.get("topology") or any(w.get("tasLevel") for qs in cs.get("queuesSets", [])
                                     for ws in qs.get("workloadsSets", []) for w in ws.get("workloads", [])):
            raise ShapeError("cohorts[].queuesSets[].workloadsSets[].workloads[].tasLevel: topology-aware "
                             "workloads are not mapped; use the baseline config")
        for ci in range(_int(cs.get("count", 1), "cohorts[].count")):
            cohort = f"{cs['className']}-{ci}"
            for qsi, qs in enumerate(cs.get("queuesSets", [])):
                for qi in range(_int(qs.get("count", 1), "queuesSets[].count")):
                    name = f"{qs['className']}-{qsi}-{qi}-{cohort}"
                    queues.append(Queue(name, cohort, qs["className"], _int(qs["nominalQuota"], "nominalQuota"),
                                        _int(qs.get("borrowingLimit", 0), "borrowingLimit")))
                    for wsi, ws in enumerate(qs.get("workloadsSets", [])):
                        interval = _int(ws.get("creationIntervalMs", 0), "creationIntervalMs") / 1000
                        step = 0
                        for si in range(scaled_count(_int(ws["count"], "workloadsSets[].count"), scale)):
                            for wi, w in enumerate(ws["workloads"]):
                                step += 1
                                arrivals.append(Arrival(
                                    at=round(step * interval, 3), name=f"{w['className']}-{wsi}-{si}-{wi}",
                                    queue=name, size_class=w["className"], runtime_ms=_int(w["runtimeMs"], "runtimeMs"),
                                    priority=_int(w.get("priority", 0), "priority"),
                                    request=_int(w["request"], "request")))
    arrivals.sort(key=lambda a: (a.at, a.queue, a.name))
    return Plan(tuple(queues), tuple(arrivals))


def split(request: int, gpus_per_node: int) -> tuple[int, int]:
    """(workers, GPUs per worker) for a workload of `request` GPUs on nodes of `gpus_per_node`: one worker when it
    fits a node, else the fewest equal workers that each fit one."""
    if request <= gpus_per_node:
        return 1, request
    for workers in range(math.ceil(request / gpus_per_node), request + 1):
        if request % workers == 0:
            return workers, request // workers
    raise AssertionError("unreachable: request workers of one GPU always split evenly")


def nodes_for(capacity: int, gpus_per_node: int) -> int:
    """kwok nodes of `gpus_per_node` that hold a pool of `capacity` GPUs (the pool must fill them exactly)."""
    if capacity % gpus_per_node:
        raise ShapeError(f"--gpus-per-node: a cohort's quota of {capacity} GPUs does not fill nodes of "
                         f"{gpus_per_node}; pick a divisor of it")
    return capacity // gpus_per_node


def deep_queue(depth: int, capacity: int, runtime_ms: int) -> Plan:
    """One tenant whose `depth` one-GPU jobs all arrive at once on a pool of `capacity` GPUs (its quota): the queue
    can only drain as fast as running jobs finish, capacity / runtime jobs a second (issue #19, deep queues)."""
    if depth < 1 or capacity < 1 or runtime_ms < 1:
        raise ShapeError(f"--deep-queue: depth, capacity and runtime must be positive, got {depth}, {capacity}, "
                         f"{runtime_ms}")
    queue = Queue("deep-0-0-pool-0", "pool-0", "deep", capacity, 0)
    return Plan((queue,), tuple(Arrival(0.0, f"job-{i:04d}", queue.name, "deep", runtime_ms, 0, 1)
                                for i in range(depth)))
