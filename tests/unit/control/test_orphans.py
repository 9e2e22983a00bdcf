"""Jobs whose Tenant or GPUClass is gone are stopped, charged and requeued with a condition naming what went missing."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.actions import DeletePods, EnsureChildren, PatchStatus, RecordEvent
from fairshare.control.loop import failed
from fairshare.control.store import GPU_CLASSES, TENANTS, TRAINING_JOBS, Store
from tests.unit.control.builders import NOW, gpu_class, node, store_of, tenant, training_job, worker
from tests.unit.control.fakecluster import FakeCluster
from tests.unit.control.helpers import of_kind, plan, rows

KEY = "nlp/bert"
FLEET = [gpu_class("a100"), node("n0").gpu_class("a100").gpus(8), node("n1").gpu_class("a100").gpus(8)]


def running(key: str = KEY, phase: str = "Running", gpu_class: str = "a100", tenant_name: str = "nlp") -> list[Any]:
    """A job holding one 8-GPU worker on n0 (charged 30 s ago), with its pod."""
    job = (training_job(key).gpus(8).phase(phase).allocation(gpu_class, "n0", price=2.0)
           .cost(credits=10.0, gpu_hours=4.0, accrued_ago=30).status(tenant=tenant_name))
    return [job, worker(key, 0, node_name="n0", gpus=8)]


def conditions(patch: PatchStatus) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in patch.status["conditions"]}


def job_patch(actions: Any, key: str = KEY) -> PatchStatus:
    patches = [a for a in of_kind(actions, PatchStatus) if (a.kind, a.key) == (TRAINING_JOBS, key)]
    assert patches, f"no status patch of {key}"
    return patches[0]


NO_TENANT = ("stopped after checkpointing and requeued, as a job runs only charged to a Tenant (it was charged to "
             "Tenant nlp): namespace nlp belongs to no Tenant; an admin must add it to a Tenant's spec.namespaces")


@pytest.mark.parametrize(("bodies", "reason", "message"), [
    pytest.param([*FLEET, *running()], "NoTenant", NO_TENANT, id="its Tenant was deleted"),
    pytest.param([*FLEET, tenant("nlp").namespaces("nlp-dev"), *running()], "NoTenant", NO_TENANT,
                 id="its Tenant dropped the namespace"),
    pytest.param([*FLEET, tenant("nlp"), *running(gpu_class="h200")], "NoGPUClass",
                 "GPUClass h200, which this job's GPUs belong to, was deleted; stopped after checkpointing and "
                 "requeued for the classes that exist", id="its GPUClass was deleted"),
    pytest.param([*FLEET, tenant("nlp"), gpu_class("h200").price(-1), *running(gpu_class="h200")], "NoGPUClass",
                 "GPUClass h200, which this job's GPUs belong to, is invalid (spec.pricePerGPUHour: must be greater "
                 "than 0 (got -1)); stopped after checkpointing and requeued for the classes that exist",
                 id="its GPUClass is no longer valid"),
])
def test_a_job_that_lost_its_tenant_or_class_is_preempted_and_charged(bodies: list[Any], reason: str,
                                                                      message: str) -> None:
    result = plan(bodies)
    assert rows(result.releases, KEY) == [("patch", KEY, "Preempted", "1"), ("delete", KEY, ("bert-worker-0",)),
                                          ("event", KEY, "Warning", reason)]
    patch = job_patch(result.releases)
    assert conditions(patch) == {"Admitted": ("False", reason, message), "Preempted": ("True", reason, message),
                                 "Running": ("False", reason, message)}
    assert patch.status["cost"]["credits"] == pytest.approx(10.0 + 2.0 * 8 * 30 / 3600, abs=1e-6), \
        "charged up to the moment it stops, at the price it last paid"
    assert ("tenant" in patch.status and patch.status["tenant"] is None) == (reason == "NoTenant")
    assert of_kind(result.releases, RecordEvent)[0].message == message
    assert not of_kind(result.grants, EnsureChildren)


def test_an_admitted_job_without_pods_yet_is_requeued_too() -> None:
    job, _ = running(phase="Admitted")
    assert rows(plan([*FLEET, job]).releases, KEY) == [("patch", KEY, "Preempted", "1"),
                                                       ("event", KEY, "Warning", "NoTenant")]


@pytest.mark.parametrize("bodies", [
    pytest.param([*FLEET, tenant("nlp"), *running()], id="tenant and class exist"),
    pytest.param([*FLEET, training_job(KEY).gpus(8)], id="queued: held back as before, nothing to stop"),
])
def test_jobs_with_their_tenant_and_class_are_left_alone(bodies: list[Any]) -> None:
    assert not [r for r in rows(plan(bodies).releases, KEY) if r[0] == "delete" or r[2] == "Preempted"]


def test_a_finished_job_is_finished_not_requeued() -> None:
    job, _ = running()
    result = plan([*FLEET, job, worker(KEY, 0, phase="Succeeded", node_name="n0", gpus=8)])
    assert job_patch(result.releases).status["phase"] == "Succeeded"


def test_a_running_job_in_a_system_namespace_is_stopped_whatever_its_tenant_lists() -> None:
    key = "default/bert"
    result = plan([*FLEET, tenant("nlp").namespaces("nlp", "default"), *running(key)])
    patch = job_patch(result.releases, key)
    assert (patch.status["phase"], conditions(patch)["Preempted"][1]) == ("Preempted", "NoTenant")
    assert "namespace default is a system namespace" in conditions(patch)["Preempted"][2]


def test_the_orphans_gpus_stay_held_until_its_pods_are_gone() -> None:
    """Stopping it frees nothing before its workers have checkpointed and exited: no one is admitted onto n0."""
    other = training_job("cv/vit").gpus(8).classes("a100")
    store = store_of(gpu_class("a100"), node("n0").gpu_class("a100").gpus(8), tenant("cv"), other, *running())
    assert not of_kind(plan(store).grants, EnsureChildren)


class Cluster:
    """Cycles ten seconds apart against a fake API server, applied as the loop applies them."""

    def __init__(self, store: Store) -> None:
        self.store, self.api, self.now = store, FakeCluster(store), NOW

    def cycle(self) -> None:
        self.now += 10
        result = plan(self.store, self.now)
        if not failed(self.api.apply(result.releases)):
            self.api.apply(result.grants)
        self.api.apply(result.bookkeeping)

    def job(self) -> dict[str, Any]:
        body = self.store.get(TRAINING_JOBS, KEY)
        assert body is not None
        return body["status"]


def test_a_deleted_tenants_job_waits_with_no_tenant_until_a_tenant_owns_the_namespace_again() -> None:
    store = store_of(*FLEET, tenant("nlp"), *running())
    cluster = Cluster(store)
    nlp = store.get(TENANTS, "nlp")
    store.delete(TENANTS, nlp)
    cluster.cycle()
    assert cluster.job()["phase"] == "Preempted"
    cluster.api.settle()  # the worker checkpointed and exited
    for _ in range(3):
        cluster.cycle()
    status = cluster.job()
    admitted = next(c for c in status["conditions"] if c["type"] == "Admitted")
    assert (status["phase"], status.get("tenant"), admitted["status"], admitted["reason"]) == (
        "Queued", None, "False", "NoTenant")
    assert status["queue"]["reason"].startswith("namespace nlp belongs to no Tenant")
    assert not [p for p in store.all("pods")], "nothing launched meanwhile"

    store.put(TENANTS, tenant("cv").namespaces("cv", "nlp").body())
    cluster.cycle()
    assert (cluster.job()["phase"], cluster.job()["tenant"]) == ("Admitted", "cv")


def test_a_deleted_classs_job_is_requeued_and_admitted_on_a_class_that_exists() -> None:
    store = store_of(*FLEET, gpu_class("h100"), node("h0").gpu_class("h100").gpus(8), tenant("nlp"),
                     *running(gpu_class="h100"))
    cluster = Cluster(store)
    store.delete(GPU_CLASSES, store.get(GPU_CLASSES, "h100"))
    cluster.cycle()
    preempted = next(c for c in cluster.job()["conditions"] if c["type"] == "Preempted")
    assert (cluster.job()["phase"], preempted["reason"]) == ("Preempted", "NoGPUClass")
    assert "GPUClass h100" in preempted["message"]
    cluster.api.settle()
    cluster.cycle()
    cluster.cycle()
    assert (cluster.job()["phase"], cluster.job()["allocation"]["gpuClass"]) == ("Admitted", "a100")


def test_the_stop_is_written_once() -> None:
    store = store_of(*FLEET, *running())
    cluster = Cluster(store)
    cluster.cycle()
    again = plan(store, cluster.now + 10)
    assert not [a for a in again.actions if isinstance(a, DeletePods | RecordEvent)], "no second stop"
