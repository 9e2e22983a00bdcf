"""Several cycles against the fake API server: an operator stopped between a status write and the pod changes that
follow it, lost nodes and pods, workers that never start or are refused, and what each is charged."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.actions import PatchStatus, action_key
from fairshare.control.plan import CyclePlan
from fairshare.control.podstate import terminating
from fairshare.control.reconcile import belongs
from fairshare.control.snapshot import build_world
from fairshare.control.store import GPU_CLASSES, NODES, PODS, TENANTS, TRAINING_JOBS, Store
from fairshare.core.decisions import Migrate, Preempt, Resize
from tests.unit.control.builders import NOW, gpu_class, node, store_of, tenant, training_job, worker
from tests.unit.control.fakecluster import FakeCluster
from tests.unit.control.helpers import plan, told
from tests.unit.control.test_cycles import KEY, Driver

NO_PVC = '0/3 nodes are available: persistentvolumeclaim "nlp-checkpoints" not found. not found'


class Fleet(Driver):
    """A Driver over any bodies: three a100 nodes of 8 GPUs unless told otherwise."""

    def __init__(self, *bodies: Any, nodes: int = 3) -> None:
        self.store: Store = store_of(gpu_class("a100"), *[node(f"n{i}").gpu_class("a100").gpus(8)
                                                         for i in range(nodes)], *bodies)
        self.cluster = FakeCluster(self.store)
        self.now = NOW

    def crash_after_status_write(self, result: CyclePlan, key: str) -> None:
        """Apply only the first status write about `key`, as an operator killed right after it would have."""
        [first] = [a for a in result.actions if isinstance(a, PatchStatus) and action_key(a) == key][:1]
        self.cluster.apply([first])

    def disagreeing_live_pods(self) -> list[str]:
        """Live pods (not being deleted) that their job's status does not hold."""
        world = build_world(self.store, self.now)
        out = []
        for pod in self.store.all(PODS):
            key = f"{pod['metadata']['namespace']}/{pod['metadata']['labels']['fairshare.dev/job']}"
            view = world.jobs.get(key)
            if not terminating(pod) and (view is None or not belongs(view, pod)):
                out.append(pod["metadata"]["name"])
        return sorted(out)

    def status(self, key: str = KEY) -> dict[str, Any]:
        body = self.store.get(TRAINING_JOBS, key)
        assert body is not None
        return dict(body.get("status") or {})


def running_gang(key: str = KEY, nodes: tuple[str, ...] = ("n0", "n1"), generation: int = 1) -> list[Any]:
    job = (training_job(key).workers(1, 3).gpus(8).phase("Running").started(3600)
           .allocation("a100", *nodes, generation=generation, admitted_ago=3600).cost(accrued_ago=0))
    return [job, *[worker(key, r, generation=generation, node_name=n, gpus=8) for r, n in enumerate(nodes)]]


# --- an operator stopped between the status write and the pods --------------------------------------------------

@pytest.mark.parametrize(("decision", "want_phase"), [
    pytest.param(Preempt(KEY, "tenant cv reclaims a100"), "Preempted", id="preempt"),
    pytest.param(Resize(KEY, 1, ("n0",), 1.0), "Admitted", id="resize (shrink)"),
    pytest.param(Resize(KEY, 3, ("n0", "n1", "n2"), 1.0), "Admitted", id="resize (grow)"),
    pytest.param(Migrate(KEY, "a100", 2, ("n2", "n1"), 1.0, "faster"), "Admitted", id="migrate"),
])
def test_a_crash_after_a_release_write_converges_in_one_cycle(decision: Any, want_phase: str) -> None:
    d = Fleet(tenant("nlp").guaranteed(a100=24), *running_gang())
    d.now += 10
    d.crash_after_status_write(plan(d.store, d.now, told(decision)), KEY)
    assert d.status()["phase"] == want_phase and len(d.disagreeing_live_pods()) == 2, "the crash window"

    d.cycle(told())  # the restarted operator's first cycle, deciding nothing new
    assert d.disagreeing_live_pods() == [], "every pod the status does not hold is being deleted"
    d.cluster.settle()
    d.cycle(told())
    d.cluster.run_all_pods()
    d.cycle(told())
    if want_phase == "Admitted":
        alloc = d.status()["allocation"]
        assert (d.status()["phase"], d.pods()) == ("Running", sorted(
            (f"j-worker-{r}", "2", "Running") for r in range(len(alloc["nodes"]))))
    else:
        assert d.status()["phase"] in ("Queued", "Admitted", "Running") and d.disagreeing_live_pods() == []


def test_a_crash_after_a_failed_workers_restart_write_converges_in_one_cycle() -> None:
    d = Fleet(tenant("nlp").guaranteed(a100=24), *running_gang())
    d.cluster.set_pod_phase("nlp/j-worker-1", "Failed", exit_code=1)
    d.now += 10
    d.crash_after_status_write(plan(d.store, d.now), KEY)
    assert (d.status()["phase"], d.status()["restarts"], d.disagreeing_live_pods()) == (
        "Queued", 1, ["j-worker-0", "j-worker-1"])
    d.cycle()
    assert d.disagreeing_live_pods() == []
    d.cluster.settle()
    d.cycle()
    assert d.state()[:3] == ("Admitted", 1, 1), "admitted again after the back-off, as generation 1 from the queue"


def test_a_crash_mid_preemption_costs_no_extra_preemption() -> None:
    """cv reclaims its guarantee from nlp, which borrows all 16 GPUs; the operator stops right after the victim's
    status write (no pod deleted, the beneficiary not admitted). Restarted, it must not preempt a second nlp job for
    the room the first one is already giving back."""
    bodies = [tenant("nlp"), tenant("cv").guaranteed(a100=8), *running_gang("nlp/a", ("n0",)),
              *running_gang("nlp/b", ("n1",)), training_job("cv/new").gpus(8)]
    d = Fleet(*bodies, nodes=2)
    d.now += 10
    first = plan(d.store, d.now)
    [victim] = [x.job_key for x in first.result.decisions if isinstance(x, Preempt)]
    d.crash_after_status_write(first, victim)

    d.now += 10
    again = plan(d.store, d.now)
    d.apply(again)
    assert [x for x in again.result.decisions if isinstance(x, Preempt)] == [], "no second victim"
    assert d.status("cv/new")["phase"] == "Admitted"
    assert d.disagreeing_live_pods() == []
    other = "nlp/b" if victim == "nlp/a" else "nlp/a"
    assert d.status(other)["phase"] == "Running"


# --- lost nodes and pods ------------------------------------------------------------------------------------------

def test_a_deleted_node_requeues_the_gang_which_runs_elsewhere() -> None:
    d = Fleet(tenant("nlp").guaranteed(a100=24), *running_gang())
    node_body = d.store.get(NODES, "n1")
    assert node_body is not None
    d.store.delete(NODES, node_body)
    result = d.cycle()
    assert (result.node_losses, d.status()["phase"], d.status()["lastFailure"]["reason"]) == (
        frozenset({KEY}), "Preempted", "NodeLost")
    assert d.pods() == [("j-worker-0", "1", "Running (terminating)")], "the lost node's pod deleted at once"
    assert d.status().get("restarts") is None, "a lost node is not the job's fault"
    gpu_class_status = (d.store.get(GPU_CLASSES, "a100") or {}).get("status") or {}
    assert (gpu_class_status["capacity"], gpu_class_status["allocated"]) == (16, 0)
    d.cluster.settle()
    d.cycle()
    d.cycle()
    d.cluster.run_all_pods()
    d.cycle()
    assert d.status()["phase"] == "Running" and sorted(d.status()["allocation"]["nodes"]) == ["n0", "n2"]


def test_a_node_not_ready_past_its_grace_requeues_the_gang() -> None:
    d = Fleet(tenant("nlp").guaranteed(a100=24), *running_gang())
    body = d.store.get(NODES, "n1")
    assert body is not None
    body["status"]["conditions"] = [{"type": "Ready", "status": "Unknown",
                                     "lastTransitionTime": "2025-06-15T15:06:40Z"}]  # NOW
    d.store.put(NODES, body)
    d.cycle(told(), seconds=30)
    assert d.status()["phase"] == "Running", "within the grace (60 s): it runs on"
    gpu_class_status = (d.store.get(GPU_CLASSES, "a100") or {}).get("status") or {}
    assert gpu_class_status["capacity"] == 24, "its GPUs still held by the gang count"
    d.cycle(told(), seconds=31)
    assert (d.status()["phase"], d.status()["lastFailure"]["reason"]) == ("Preempted", "NodeLost")
    assert "has not been Ready for 61s" in d.status()["lastFailure"]["message"]


def test_a_cordoned_node_keeps_its_gang_and_takes_no_new_one() -> None:
    d = Fleet(tenant("nlp").guaranteed(a100=16), tenant("cv"), *running_gang(), training_job("cv/new").gpus(8))
    body = d.store.get(NODES, "n2")
    assert body is not None
    body["spec"]["unschedulable"] = True
    d.store.put(NODES, body)
    body = d.store.get(NODES, "n1")
    assert body is not None
    body["spec"]["unschedulable"] = True
    d.store.put(NODES, body)
    d.cycle()
    assert d.status()["phase"] == "Running" and d.status("cv/new")["phase"] == "Queued"
    gpu_class_status = (d.store.get(GPU_CLASSES, "a100") or {}).get("status") or {}
    assert (gpu_class_status["capacity"], gpu_class_status["allocated"]) == (16, 16)


def test_a_worker_pod_deleted_by_hand_restarts_the_gang_after_its_back_off() -> None:
    d = Fleet(tenant("nlp").guaranteed(a100=24), *running_gang())
    gone = d.store.get(PODS, "nlp/j-worker-1")
    assert gone is not None
    d.store.delete(PODS, gone)
    d.cycle(seconds=10)
    status = d.status()
    assert (status["phase"], status["restarts"], status["lastFailure"]["reason"]) == ("Queued", 1, "WorkerLost")
    assert status["cost"]["gpuHours"] > 0, "it ran until then, and is charged for it"
    d.cluster.settle()
    d.cycle(seconds=5)
    assert d.status()["phase"] == "Queued", "backing off (10 s)"
    d.cycle(seconds=5)
    d.cluster.run_all_pods()
    d.cycle(seconds=1)
    assert d.state()[:2] == ("Running", 1)


# --- workers that never start -------------------------------------------------------------------------------------

def _stuck_on_a_missing_pvc(d: Fleet) -> None:
    for pod in list(d.store.all(PODS)):
        if not pod["metadata"].get("deletionTimestamp"):
            pod["status"] = {"phase": "Pending", "conditions": [{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": NO_PVC,
                "lastTransitionTime": "2025-06-15T15:06:40Z"}]}  # long before the cycles below
            d.store.put(PODS, pod)


def test_a_gang_that_never_starts_fails_after_its_backoff_limit_and_is_never_charged() -> None:
    d = Fleet(tenant("nlp").guaranteed(a100=24), training_job(KEY).workers(2).gpus(8).backoff_limit(2))
    reasons = []
    for _ in range(80):
        d.cycle(seconds=30)
        _stuck_on_a_missing_pvc(d)
        d.cluster.settle()
        reasons.append((d.status()["phase"], d.status().get("restarts")))
        if d.status()["phase"] == "Failed":
            break
    status = d.status()
    assert (status["phase"], status["restarts"], status["lastFailure"]["reason"]) == ("Failed", 2, "PVCNotFound")
    finished = next(c for c in status["conditions"] if c["type"] == "Finished")
    assert finished["reason"] == "BackoffLimitExceeded" and "PVC nlp-checkpoints not found" in finished["message"]
    assert not (status.get("cost") or {}).get("credits"), "never ran: never charged"
    assert not (status.get("cost") or {}).get("gpuHours")
    tenant_status = (d.store.get(TENANTS, "nlp") or {}).get("status") or {}
    assert tenant_status.get("spendThisPeriod", 0) == 0 and tenant_status.get("decayedUsageGPUHours", 0) > 0, (
        "its tenant spent nothing, but the GPUs it held count in its usage")
    assert ("Queued", 1) in reasons and ("Queued", 2) in reasons


def test_pods_the_api_server_refuses_fail_the_job_with_its_words() -> None:
    d = Fleet(tenant("nlp").guaranteed(a100=24), training_job(KEY).gpus(8))
    d.cluster.refuse[KEY] = 'pods "j-worker-0" is invalid: metadata.annotations: Too long: may not be more than 262144'
    d.cycle()
    assert d.status()["phase"] == "Admitted" and d.pods() == []
    d.cycle()
    status = d.status()
    finished = next(c for c in status["conditions"] if c["type"] == "Finished")
    assert (status["phase"], finished["reason"]) == ("Failed", "PodRejected")
    assert "metadata.annotations: Too long" in finished["message"]
    d.cycle()
    assert d.status()["phase"] == "Failed" and d.pods() == [], "not retried"


def test_a_gang_is_charged_from_when_all_its_workers_run() -> None:
    d = Fleet(tenant("nlp").guaranteed(a100=24), training_job(KEY).workers(2).gpus(8))
    d.cycle()
    for _ in range(10):  # 100 s of pods starting (an image pull)
        d.cycle()
    assert not (d.status().get("cost") or {}).get("gpuHours"), "nothing charged while starting"
    d.cluster.run_all_pods()
    d.cycle()
    assert d.status()["phase"] == "Running"
    for _ in range(3):  # a periodic charge is due 30 s after the start
        d.cycle()
    assert d.status()["cost"]["gpuHours"] == pytest.approx(16 * 30 / 3600, abs=1e-5), "charged from the start only"
