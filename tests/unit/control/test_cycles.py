"""Several cycles against a fake API server: a job's whole life, restarts, resizes and preemption, no write storms."""

from __future__ import annotations

from typing import Any

from fairshare.control.loop import failed
from fairshare.control.plan import CyclePlan, Scheduler
from fairshare.control.store import PODS, TENANTS, TRAINING_JOBS, Store
from fairshare.core.decisions import Admit, Preempt, Resize
from tests.unit.control.builders import NOW, gpu_class, node, store_of, tenant, training_job, worker
from tests.unit.control.fakecluster import FakeCluster
from tests.unit.control.helpers import plan, rows, told

KEY = "nlp/j"


class Driver:
    """Runs cycles ten seconds apart, applying each plan to a fake cluster the way the loop does."""

    def __init__(self, *bodies: Any) -> None:
        self.store: Store = store_of(gpu_class("a100"), tenant("nlp").guaranteed(a100=16),
                                     node("n0").gpu_class("a100").gpus(8), node("n1").gpu_class("a100").gpus(8),
                                     *bodies)
        self.cluster = FakeCluster(self.store)
        self.now = NOW
        self.store.wall_clock = lambda: self.now  # deletions are seen at the driver's time

    def cycle(self, scheduler: Scheduler | None = None, seconds: float = 10.0) -> CyclePlan:
        self.now += seconds
        result = plan(self.store, self.now, scheduler)
        self.apply(result)
        return result

    def apply(self, result: CyclePlan) -> None:
        """As SchedulingLoop.run_cycle does: releases, then grants only if every release went through, then the rest."""
        if not failed(self.cluster.apply(result.releases)):
            self.cluster.apply(result.grants)
        self.cluster.apply(result.bookkeeping)

    def written_by_someone_else(self, key: str) -> None:
        body = self.store.get(TRAINING_JOBS, key)
        assert body is not None
        self.cluster._bump(body)
        self.store.put(TRAINING_JOBS, body)

    def job(self) -> dict[str, Any]:
        body = self.store.get(TRAINING_JOBS, KEY)
        assert body is not None
        return body["status"]

    def pods(self) -> list[tuple[str, str, str]]:
        """(name, generation, phase) of the job's pods; terminating ones are marked."""
        return sorted((b["metadata"]["name"], b["metadata"]["labels"]["fairshare.dev/generation"],
                       b["status"]["phase"] + (" (terminating)" if b["metadata"].get("deletionTimestamp") else ""))
                      for b in self.store.all(PODS))

    def state(self) -> tuple[Any, ...]:
        status = self.job()
        return (status.get("phase"), status.get("restarts"), (status.get("allocation") or {}).get("generation"),
                self.pods())


def test_admitted_job_runs_and_a_steady_state_writes_only_cost() -> None:
    d = Driver(training_job(KEY).workers(2).gpus(8))
    d.cycle()
    assert d.state() == ("Admitted", None, 1, [("j-worker-0", "1", "Pending"), ("j-worker-1", "1", "Pending")])
    d.cluster.run_all_pods()
    d.cycle()
    assert d.state() == ("Running", None, 1, [("j-worker-0", "1", "Running"), ("j-worker-1", "1", "Running")])
    steady = [[(r[0], r[1]) for r in rows(d.cycle().actions)] for _ in range(6)]
    assert steady == [[], [("patch", "nlp")], [("patch", KEY), ("patch", "nlp")], [], [("patch", "nlp")],
                      [("patch", KEY), ("patch", "nlp")]], (
        "every 30 s the tenant's decayed usage, and the job's cost from when it started running with its tenant's "
        "spend in the same cycle; nothing else")
    assert d.job()["cost"]["gpuHours"] > 0
    tenant = d.store.get(TENANTS, "nlp")
    assert tenant is not None and tenant["status"]["decayedUsageGPUHours"] > 0


def test_a_failed_worker_restarts_the_gang_once_its_pods_are_gone() -> None:
    d = Driver(training_job(KEY).workers(2).gpus(8).backoff_limit(3))
    d.cycle()
    d.cluster.run_all_pods()
    d.cycle()
    d.cluster.set_pod_phase("nlp/j-worker-1", "Failed", exit_code=1)
    d.cycle()
    assert d.state() == ("Queued", 1, None, [("j-worker-0", "1", "Running (terminating)"),
                                             ("j-worker-1", "1", "Failed (terminating)")])
    d.cycle()
    assert d.state()[:3] == ("Queued", 1, None), "not admitted while the old pods hold their names"
    d.cluster.settle()
    d.cycle()
    assert d.state() == ("Admitted", 1, 1, [("j-worker-0", "1", "Pending"), ("j-worker-1", "1", "Pending")])
    d.cluster.run_all_pods()
    d.cycle()
    assert d.state()[:2] == ("Running", 1)


def test_a_resize_recreates_the_gang_after_the_old_pods_are_gone() -> None:
    d = Driver(training_job(KEY).workers(1, 2).gpus(8).phase("Running").allocation("a100", "n0").started(600),
               worker(KEY, 0, node_name="n0", gpus=8))
    d.cycle(told(Resize(KEY, 2, ("n0", "n1"), 1.0)))
    assert d.state() == ("Admitted", None, 2, [("j-worker-0", "1", "Running (terminating)"),
                                               ("j-worker-1", "2", "Pending")])
    d.cluster.settle()
    d.cycle(told())
    assert d.state() == ("Admitted", None, 2, [("j-worker-0", "2", "Pending"), ("j-worker-1", "2", "Pending")])
    d.cluster.run_all_pods()
    d.cycle(told())
    assert d.state()[:3] == ("Running", None, 2)


def test_a_preempted_job_drains_requeues_and_is_admitted_again() -> None:
    d = Driver(training_job(KEY).workers(2).gpus(8))
    d.cycle()
    d.cluster.run_all_pods()
    d.cycle()
    d.cycle(told(Preempt(KEY, "tenant cv reclaims a100")))
    assert d.state() == ("Preempted", None, 1, [("j-worker-0", "1", "Running (terminating)"),
                                                ("j-worker-1", "1", "Running (terminating)")])
    d.cycle()
    assert d.state()[0] == "Preempted", "still draining"
    d.cluster.settle()
    d.cycle()
    assert d.state()[:3] == ("Queued", None, None)
    d.cycle()
    assert d.state() == ("Admitted", None, 1, [("j-worker-0", "1", "Pending"), ("j-worker-1", "1", "Pending")])


def test_a_lost_race_creates_no_pods() -> None:
    """The admission write is conditional: when someone wrote the job since the snapshot, nothing else happens."""
    d = Driver(training_job(KEY).gpus(8))
    result = plan(d.store, d.now)
    d.written_by_someone_else(KEY)
    d.apply(result)
    job = d.store.get(TRAINING_JOBS, KEY)
    assert (rows(result.actions, KEY)[0][:3], d.pods(), d.cluster.conflicts, job and job.get("status")) == (
        ("patch", KEY, "Admitted"), [], 1, None)


def test_a_preemption_that_loses_a_race_admits_nobody_onto_its_gpus() -> None:
    d = Driver(training_job("nlp/victim").gpus(8).phase("Running").allocation("a100", "n0").started(600),
               worker("nlp/victim", 0, node_name="n0", gpus=8), training_job("nlp/new").gpus(8))
    result = plan(d.store, d.now, told(Preempt("nlp/victim", "reclaim"), Admit("nlp/new", "a100", 1, ("n0",), 1.0)))
    d.written_by_someone_else("nlp/victim")
    d.apply(result)
    new = d.store.get(TRAINING_JOBS, "nlp/new")
    assert (d.cluster.conflicts, new and new.get("status"), [p[0] for p in d.pods()]) == (1, None, ["victim-worker-0"])
