"""Idempotence under takeover: the old leader's last cycle stops after any number of its writes (killed, or its gate
shut at the renew deadline); the new leader lists what landed and runs its own cycles (real core, fake API server).
Whatever the cut, nothing is admitted twice, preempted again or charged twice, and what was left half done is
finished.

The old leader's cycle here does every kind of write at once: a finished job (its final charge and pod deletion),
a guarantee reclaimed by preempting a borrower, admissions with their pods, periodic charges, queue positions and
Tenant and GPUClass status.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest

from fairshare.control.actions import Action, PatchStatus, RecordEvent
from fairshare.control.loop import failed
from fairshare.control.store import GPU_CLASSES, NODES, PODS, TENANTS, TRAINING_JOBS, Store
from tests.support.invariants import InvariantWatch, Observation, pod_gpus, timestamp
from tests.unit.control.builders import NOW, gpu_class, node, store_of, tenant, training_job, worker
from tests.unit.control.fakecluster import FakeCluster
from tests.unit.control.helpers import plan

TAKEOVER_SECONDS = 15.0  # the new leader's first cycle comes a lease duration after the old one's
CYCLES = 8
GPUS = 8


def borrower(name: str, node_name: str, rank0: str = "Running") -> list[Any]:
    """A running 8-GPU job of tenant b, admitted an hour ago and charged until a minute ago."""
    key = f"b/{name}"
    return [training_job(key).gpus(GPUS).phase("Running").allocation("a100", node_name, price=1.0).started(3500)
            .cost(credits=(3600 - 60) / 3600 * GPUS, gpu_hours=(3600 - 60) / 3600 * GPUS, accrued_ago=60),
            worker(key, 0, phase=rank0, node_name=node_name, gpus=GPUS)]


def fleet() -> Store:
    return store_of(gpu_class("a100"), tenant("g").guaranteed(a100=16), tenant("b"),
                    *(node(f"n{i}").gpu_class("a100").gpus(GPUS) for i in range(4)),
                    *borrower("r1", "n0"), *borrower("r2", "n1"), *borrower("r3", "n2"),
                    *borrower("done", "n3", rank0="Succeeded"),
                    training_job("g/new1").gpus(GPUS), training_job("g/new2").gpus(GPUS),
                    training_job("g/extra").gpus(GPUS))


def old_leaders_writes() -> list[Action]:
    """The old leader's last cycle, in the order the loop applies it (no race here, so the grants go out)."""
    result = plan(fleet(), NOW)
    return [*result.releases, *result.grants, *result.bookkeeping]


WRITES = old_leaders_writes()


def observation(store: Store, at: float) -> Observation:
    def raw(kind: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(b) for b in store.all(kind)]
    return Observation(raw(GPU_CLASSES), raw(TENANTS), raw(TRAINING_JOBS), raw(PODS), raw(NODES), at)


class Run:
    """The fake API server, every Event recorded on it, and the invariant checker reading it after each step."""

    def __init__(self) -> None:
        self.cluster = FakeCluster(fleet())
        self.watch = InvariantWatch(partial_grace_seconds=3 * 10.0)
        self.costs: list[dict[str, dict[str, Any]]] = [self.cost_now()]  # each job's status.cost, per observation
        self.phases: list[dict[str, str | None]] = [self.phase_now()]  # and its phase

    def cost_now(self) -> dict[str, dict[str, Any]]:
        return {key: copy.deepcopy((b.get("status") or {}).get("cost") or {})
                for key, b in self.cluster.store.objects[TRAINING_JOBS].items()}

    @property
    def store(self) -> Store:
        return self.cluster.store

    def phase_now(self) -> dict[str, str | None]:
        return {key: (b.get("status") or {}).get("phase") for key, b in self.store.objects[TRAINING_JOBS].items()}

    def observe(self, at: float) -> None:
        self.watch.observe(observation(self.store, at))
        self.costs.append(self.cost_now())
        self.phases.append(self.phase_now())

    def times_entered(self, key: str, phase: str) -> int:
        seen = [p[key] for p in self.phases]
        return sum(1 for before, after in zip(seen, seen[1:], strict=False) if after == phase != before)

    def kubelet(self) -> None:
        """Between cycles: deleted pods finish their grace period, then kube-scheduler binds a new pod only to a node
        with room for it (the fake API server binds at creation), and the kubelet starts it."""
        self.cluster.settle()
        used: Counter[str] = Counter()
        for pod in self.store.all(PODS):
            if pod["spec"].get("nodeName") and pod["status"].get("phase") in ("Running", "Pending"):
                used[pod["spec"]["nodeName"]] += pod_gpus(pod)
        for pod in self.store.all(PODS):
            if pod["status"].get("phase") == "Pending" and not pod["spec"].get("nodeName"):
                target = pod["spec"]["nodeSelector"]["kubernetes.io/hostname"]
                if used[target] + pod_gpus(pod) <= GPUS:
                    used[target] += pod_gpus(pod)
                    self.cluster.set_pod_phase(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}",
                                               "Running")
                    bound = self.store.get(PODS, f"{pod['metadata']['namespace']}/{pod['metadata']['name']}")
                    assert bound is not None
                    bound["spec"]["nodeName"] = target

    def apply(self, actions: list[Action]) -> Any:
        summary = self.cluster.apply(actions)
        for pod in self.store.all(PODS):  # created pods wait for kube-scheduler
            if pod["status"].get("phase") == "Pending":
                pod["spec"].pop("nodeName", None)
        return summary

    def leader_cycle(self, now: float) -> None:
        result = plan(self.store, now)  # the store is the API server's: a fresh LIST
        if not failed(self.apply(list(result.releases))):
            self.apply(list(result.grants))
        self.apply(list(result.bookkeeping))

    def events(self, reason: str) -> Counter[str]:
        return Counter(e.job_key for e in self.cluster.events if e.reason == reason)


@pytest.mark.parametrize("cut", range(len(WRITES) + 1))
def test_a_new_leader_after_the_old_one_stopped_after_any_write(cut: int) -> None:
    run = Run()
    run.apply(WRITES[:cut])  # what landed; the rest died with the old leader or was refused by its gate
    run.observe(NOW)
    for i in range(CYCLES):
        now = NOW + TAKEOVER_SECONDS + 10.0 * i
        run.kubelet()
        run.leader_cycle(now)
        run.observe(now + 1)

    assert [str(v) for v in run.watch.violations] == [], f"cut after {cut}: {WRITES[cut - 1] if cut else None}"
    preempted, admitted = run.events("Preempted"), run.events("Admitted")
    assert all(n == 1 for n in preempted.values()), f"preempted again: {preempted}"
    for key in run.phases[0]:
        entered = run.times_entered(key, "Preempted")
        assert entered <= 1 and preempted[key] <= entered, f"{key} preempted {entered} times, {preempted[key]} Events"
        assert admitted[key] <= 1 + entered, f"{key} admitted twice: {admitted[key]} admissions, {entered} preemptions"
    for key in ("b/r1", "b/r2", "b/r3", "b/done"):
        held = all(p[key] in ("Running", "Succeeded") for p in run.phases)
        assert_never_charged_twice(run, key, held_throughout=held)
    settled = run.phase_now()
    assert settled["b/done"] == "Succeeded"
    assert set(settled.values()) <= {"Running", "Queued", "Succeeded"}, f"left half done: {settled}"
    assert not [p for p in run.store.all(PODS) if (p.get("status") or {}).get("phase") == "Pending"], "stuck pods"


def assert_never_charged_twice(run: Run, key: str, held_throughout: bool) -> None:
    """An 8-GPU job's GPU-hours grow, from one observation to the next, by at most 8 x the hours its charge mark
    (cost.accruedAt) moved: a second charge of any interval would add more. One that held its GPUs from the first
    observation to its last charge grew by exactly 8 x the hours between its first and last charge."""
    marks = [(c["gpuHours"], timestamp(c["accruedAt"])) for costs in run.costs if (c := costs[key]).get("accruedAt")]
    for (hours, mark), (later_hours, later_mark) in zip(marks, marks[1:], strict=False):
        assert mark is not None and later_mark is not None and later_mark >= mark, (key, marks)
        assert later_hours - hours <= GPUS * (later_mark - mark) / 3600 + 2e-6, (key, marks)
    if held_throughout:
        (first_hours, first), (last_hours, last) = marks[0], marks[-1]
        assert first is not None and last is not None
        assert last_hours - first_hours == pytest.approx(GPUS * (last - first) / 3600, abs=2e-6), (key, marks)


def test_the_old_leaders_cycle_does_every_kind_of_write() -> None:
    """So that the cuts above fall between every kind of write and the next."""
    kinds = Counter(type(a).__name__ for a in WRITES)
    reasons = {a.reason for a in WRITES if isinstance(a, RecordEvent)}
    patched = {(a.kind, a.status.get("phase")) for a in WRITES if isinstance(a, PatchStatus)}
    assert {"PatchStatus", "EnsureChildren", "DeletePods", "RecordEvent"} <= set(kinds)
    assert {"Admitted", "Preempted", "Succeeded"} <= reasons
    assert {(TRAINING_JOBS, "Admitted"), (TRAINING_JOBS, "Preempted"), (TRAINING_JOBS, "Succeeded"),
            (TRAINING_JOBS, "Queued"), (TRAINING_JOBS, None), (TENANTS, None), (GPU_CLASSES, None)} <= patched, (
        "and a queue position, a charge, Tenants and classes")
