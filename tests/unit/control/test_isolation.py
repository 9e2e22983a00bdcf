"""One bad object is set aside alone: the others are scheduled, and it is reported once, on itself where the operator
may write, in the log and in fairshare_objects_set_aside."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from kubernetes import client

import fairshare.control.job_status as job_status_module
import fairshare.control.plan as plan_module
from fairshare.control.actions import PatchStatus, RecordEvent
from fairshare.control.isolation import SCHEDULING_ERROR, schedule_isolating
from fairshare.control.plan import default_scheduler
from fairshare.control.store import GPU_CLASSES, NODES, TENANTS, Store
from fairshare.core import types as core
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Admit, CycleResult, Preempt, PreemptCause
from fairshare.k8s.applier import Applier
from fairshare.metrics import OperatorMetrics
from tests.unit.control.builders import NOW, gpu_class, node, pod, store_of, tenant, training_job, worker
from tests.unit.control.fakecluster import FakeCluster
from tests.unit.control.helpers import of_kind, plan, rows, told
from tests.unit.control.test_loop import make_loop, sample

FLEET = [gpu_class("a100"), gpu_class("l4"), tenant("nlp").created(3600), tenant("cv").created(3600),
         node("a100-0").gpu_class("a100").gpus(8).allocatable(cpu="64", memory="512Gi"),
         node("l4-0").gpu_class("l4").gpus(4).allocatable(cpu="64", memory="512Gi")]
GOOD = training_job("nlp/good").classes("a100").gpus(8)


def foreign_pod(node_name: str, gpus: str) -> dict[str, Any]:
    body = pod(f"other/hog-on-{node_name}").on(node_name).phase("Running").body()
    body["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": gpus},
                                                  "requests": {"nvidia.com/gpu": gpus}}
    return body


def node_reporting(name: str, gpu_class_name: str, **allocatable: str) -> dict[str, Any]:
    body = node(name).gpu_class(gpu_class_name).body()
    body["status"]["allocatable"] = {k.replace("_", "-"): v for k, v in allocatable.items()}
    return body


def admitted(result: Any) -> list[str]:
    return sorted(r[1] for r in rows(result.actions) if r[0] == "patch" and r[2] == "Admitted")


def set_aside(result: Any) -> dict[str, tuple[str, str]]:
    return {ref: (e.reason, e.message) for ref, e in result.set_aside.items()}


GPU_FIELD = "spec.containers[0].resources.limits[nvidia.com/gpu]"


@pytest.mark.parametrize(("bad", "admits", "aside"), [
    pytest.param(training_job("nlp/huge").resources(memory="1Ei"), ["nlp/good"], {},
                 id="a job asking for 1Ei of memory waits (NoNodeFits), the others run"),
    pytest.param(training_job("orphan/huge").resources(memory="1Ei"), ["nlp/good"], {},
                 id="the same job in a namespace no Tenant owns"),
    pytest.param(foreign_pod("l4-0", "1Ei"), ["nlp/good"], {"pod/other/hog-on-l4-0": (
        "InvalidQuantity", f"{GPU_FIELD}: '1Ei' is more than 4096; it is taken to hold every GPU of node l4-0")},
        id="a foreign pod asking for 1Ei GPUs holds its node, and only its node"),
    pytest.param(foreign_pod("a100-0", "1Ei"), [], {"pod/other/hog-on-a100-0": (
        "InvalidQuantity", f"{GPU_FIELD}: '1Ei' is more than 4096; it is taken to hold every GPU of node a100-0")},
        id="on the only a100 node: nothing is placed there"),
    pytest.param(foreign_pod("a100-0", "1.5"), [], {"pod/other/hog-on-a100-0": (
        "InvalidQuantity", f"{GPU_FIELD}: '1.5' is not a whole number; it is taken to hold every GPU of node "
                           f"a100-0")}, id="a fraction of a GPU is unreadable: the whole node is taken"),
    pytest.param(node_reporting("a100-1", "a100", **{"nvidia.com/gpu": "1Ei"}), ["nlp/good"], {"node/a100-1": (
        "InvalidQuantity", "status.allocatable[nvidia.com/gpu]: '1Ei' is more than 4096 (at most 4096 GPUs a node are "
                           "counted); the node counts no GPUs until it reports a whole number")},
        id="a node reporting 1Ei GPUs counts none"),
    pytest.param(node_reporting("a100-1", "a100", **{"nvidia.com/gpu": "8", "memory": "lots"}), ["nlp/good"],
                 {"node/a100-1": ("InvalidQuantity", "status.allocatable[memory]: 'lots' is not a Kubernetes quantity "
                                                     "(such as \"8\", \"500m\" or \"64Gi\")")},
                 id="a node whose memory cannot be read counts no GPUs"),
    pytest.param(tenant("heavy").namespaces("heavy").weight("a lot"), ["nlp/good"], {"tenant/heavy": (
        "InvalidSpec", "spec.weight: must be a valid number, unable to parse string as a number (got 'a lot')")},
        id="a tenant whose weight is not a number"),
    pytest.param(gpu_class("h100").price(-1), ["nlp/good"], {"gpuclass/h100": (
        "InvalidSpec", "spec.pricePerGPUHour: must be greater than 0 (got -1)")}, id="a class with a negative price"),
])
def test_a_bad_object_is_set_aside_and_the_others_are_scheduled(bad: Any, admits: list[str],
                                                                 aside: dict[str, tuple[str, str]]) -> None:
    result = plan([*FLEET, GOOD, bad])
    assert (admitted(result), set_aside(result)) == (admits, aside)


def test_a_job_asking_for_1ei_of_memory_waits_naming_the_field_and_the_largest_node() -> None:
    result = plan([*FLEET, GOOD, training_job("nlp/huge").resources(memory="1Ei")])
    (patch,) = [a for a in of_kind(result.actions, PatchStatus) if a.key == "nlp/huge"]
    assert (patch.status["phase"], patch.status["conditions"][0]["reason"], patch.status["queue"]["reason"]) == (
        "Queued", "NoNodeFits", "no node of classes a100, l4 can hold one worker: spec.resources.memory 1Ei exceeds "
        "the largest node allocatable memory (512Gi); lower spec.resources, or list a class with bigger nodes in "
        "spec.gpuClasses")
    assert not [a for a in result.grants if getattr(a, "job_key", None) == "nlp/huge"]


def test_a_node_set_aside_adds_no_capacity_to_its_class() -> None:
    result = plan([*FLEET, GOOD, node_reporting("a100-1", "a100", **{"nvidia.com/gpu": "99999999999999999999"})])
    (status,) = [a.status for a in of_kind(result.actions, PatchStatus) if (a.kind, a.key) == (GPU_CLASSES, "a100")]
    (decision,) = [d for d in result.result.decisions if isinstance(d, Admit)]
    assert (status["capacity"], decision.nodes) == (8, ("a100-0",))


# --- reported once, on the object -------------------------------------------------------------------------------------

def ready(store: Store, kind: str, name: str) -> list[tuple[str, str, str]]:
    body = store.get(kind, name) or {}
    return [(c["status"], c["reason"], c["message"]) for c in (body.get("status") or {}).get("conditions") or []
            if c["type"] == "Ready"]


@pytest.mark.parametrize(("kind", "bad", "fixed", "message"), [
    pytest.param(TENANTS, tenant("t").weight(0), tenant("t").weight(2),
                 "spec.weight: must be greater than 0 (got 0)", id="tenant"),
    pytest.param(GPU_CLASSES, gpu_class("h100").power(0), gpu_class("h100").power(700),
                 "spec.powerWatts: must be greater than 0 (got 0)", id="GPU class"),
])
def test_a_tenant_or_class_set_aside_is_told_once_and_ready_again_once_fixed(kind: str, bad: Any, fixed: Any,
                                                                               message: str) -> None:
    store = store_of(*FLEET, bad)
    cluster = FakeCluster(store)
    name = bad.body()["metadata"]["name"]
    first = plan(store)
    cluster.apply(first.actions)
    events = [(a.kind, a.job_key, a.reason) for a in of_kind(first.actions, RecordEvent) if a.kind == kind]
    assert (ready(store, kind, name), events) == ([("False", "InvalidSpec", message)], [(kind, name, "InvalidSpec")])

    again = plan(store)  # the same problem: nothing more is written about it
    assert [a for a in again.actions if getattr(a, "key", getattr(a, "job_key", None)) == name] == []

    body = fixed.body()
    body["status"] = store.get(kind, name)["status"]  # type: ignore[index]
    store.put(kind, body)
    cluster.apply(plan(store).actions)
    assert ready(store, kind, name) == [("True", "InUse", "the operator reads and uses this object again")]


def test_objects_never_set_aside_get_no_ready_condition() -> None:
    store = store_of(*FLEET, GOOD)
    FakeCluster(store).apply(plan(store).actions)
    assert [ready(store, k, n) for k, n in ((TENANTS, "nlp"), (GPU_CLASSES, "a100"))] == [[], []]


def test_an_event_about_a_tenant_is_recorded_in_default_naming_the_tenant() -> None:
    created: list[tuple[str, dict[str, Any]]] = []

    class Core:
        def create_namespaced_event(self, namespace: str, body: dict[str, Any], **_: Any) -> Any:
            created.append((namespace, body))
            return type("Response", (), {"drain_conn": lambda self: None, "release_conn": lambda self: None})()

    store = store_of(tenant("t"))
    store.objects[TENANTS]["t"]["metadata"]["uid"] = "uid-t"
    applier = Applier(client.ApiClient(client.Configuration()), store, OperatorMetrics())
    applier.core = Core()  # type: ignore[assignment]
    applier._record_event(RecordEvent("t", "Warning", "InvalidSpec", "spec.weight: ...", kind=TENANTS))
    ((namespace, event),) = created
    assert (namespace, event["metadata"]["namespace"], event["involvedObject"]) == ("default", "default", {
        "apiVersion": "fairshare.dev/v1alpha1", "kind": "Tenant", "name": "t", "uid": "uid-t", "resourceVersion": None})


# --- the scheduling core, and the plan's own steps --------------------------------------------------------------------

def raising_on(predicate: Any) -> Any:
    """The real core, except that it raises on any snapshot where `predicate(snapshot)` holds."""
    def scheduler(snapshot: core.Snapshot, now: float, config: PolicyConfig) -> CycleResult:
        if predicate(snapshot):
            raise ZeroDivisionError("float division by zero")
        return default_scheduler(snapshot, now, config)
    return scheduler


@pytest.mark.parametrize(("predicate", "ref", "admits"), [
    pytest.param(lambda s: any(j.key == "cv/poison" for j in s.jobs), "trainingjob/cv/poison", ["nlp/good"],
                 id="a job"),
    pytest.param(lambda s: any(t.name == "cv" for t in s.tenants), "tenant/cv", ["nlp/good"], id="a tenant"),
    pytest.param(lambda s: any(n.name == "l4-0" for n in s.nodes), "node/l4-0", ["nlp/good"], id="a node"),
    pytest.param(lambda s: any(c.name == "l4" for c in s.classes), "gpuclass/l4", ["nlp/good"], id="a class"),
])
def test_an_object_the_core_raises_on_is_found_and_set_aside(predicate: Any, ref: str, admits: list[str]) -> None:
    result = plan([*FLEET, GOOD, training_job("cv/poison").classes("l4")], scheduler=raising_on(predicate))
    assert admitted(result) == admits
    assert {r: e.reason for r, e in result.set_aside.items()} == {ref: SCHEDULING_ERROR}
    assert "the scheduling core raised ZeroDivisionError (float division by zero) on a snapshot holding this" in \
        result.set_aside[ref].message


def test_a_job_set_aside_by_the_core_waits_with_the_reason() -> None:
    result = plan([*FLEET, GOOD, training_job("cv/poison").classes("l4")],
                  scheduler=raising_on(lambda s: any(j.key == "cv/poison" for j in s.jobs)))
    (patch,) = [a for a in of_kind(result.actions, PatchStatus) if a.key == "cv/poison"]
    assert (patch.status["phase"], patch.status["conditions"][0]["reason"]) == ("Queued", SCHEDULING_ERROR)
    assert ("event", "cv/poison", "Warning", SCHEDULING_ERROR) in rows(result.actions)


def test_a_core_that_raises_on_everything_still_fails_the_cycle() -> None:
    with pytest.raises(ZeroDivisionError):
        plan([*FLEET, GOOD], scheduler=raising_on(lambda s: True))


def test_the_bisection_takes_about_log2_runs_of_the_core() -> None:
    calls: list[int] = []
    jobs = tuple(core.Job(f"t/j{i}", "t", 1, 1, 1) for i in range(64))
    snapshot = core.Snapshot(classes=(core.GPUClass("a", 1.0, 300.0),), nodes=(core.Node("n", "a", 8),),
                             tenants=(core.Tenant("t"),), jobs=jobs)

    def scheduler(s: core.Snapshot, now: float, config: PolicyConfig) -> CycleResult:
        calls.append(len(s.jobs))
        if any(j.key == "t/j40" for j in s.jobs):
            raise ValueError("j40")
        return default_scheduler(s, now, config)

    from fairshare.control.isolation import SetAsideLog
    log = SetAsideLog()
    _, used = schedule_isolating(scheduler, snapshot, NOW, PolicyConfig(), log)
    assert (list(log.entries), len(used.jobs), len(calls) <= 2 + 8 + 1) == (["trainingjob/t/j40"], 63, True)


def test_a_job_whose_planning_raises_is_set_aside_and_keeps_its_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """cv/run holds a100-0; planning it raises, so it is left out, and nlp/good is not placed on its GPUs."""
    real = plan_module.observe

    def observe(view: Any, now: float, *rest: Any) -> Any:
        if view.key == "cv/run":
            raise KeyError("exitCode")
        return real(view, now, *rest)

    monkeypatch.setattr(plan_module, "observe", observe)
    running = training_job("cv/run").classes("a100").gpus(8).phase("Running").allocation(
        "a100", "a100-0", price=1.5).cost(10.0, 5.0, 1.0, accrued_ago=3600)
    result = plan([*FLEET, GOOD, running])
    assert (admitted(result), set_aside(result)) == ([], {"trainingjob/cv/run": ("Unreadable", "KeyError: 'exitCode'")})
    # Still charged at the price it last paid (a job one breaks must not run for free), and its tenant metered.
    (charge,) = [a.status["cost"] for a in of_kind(result.actions, PatchStatus) if a.key == "cv/run"]
    assert (charge["credits"], charge["gpuHours"]) == (10.0 + 1.5 * 8, 5.0 + 8)
    (cv,) = [a.status for a in of_kind(result.actions, PatchStatus) if (a.kind, a.key) == (TENANTS, "cv")]
    assert cv["allocated"] == {"a100": 8}


def test_a_pod_labelled_as_a_running_jobs_worker_off_its_nodes_holds_its_gpus() -> None:
    """Anyone who may create pods in cv's namespace can label one as a worker of cv/run; no TrainingJob controls it
    (no controller owner reference), so its GPUs are counted as taken like any other pod's."""
    running = training_job("cv/run").classes("l4").gpus(1).phase("Running").allocation("l4", "l4-0")
    impostor = worker("cv/run", 1, node_name="a100-0", gpus=8).owned_by(None)
    assert admitted(plan([*FLEET, GOOD, running, worker("cv/run", 0, node_name="l4-0")]))[0] == "nlp/good"
    assert admitted(plan([*FLEET, GOOD, running, worker("cv/run", 0, node_name="l4-0"), impostor])) == []


def test_a_decision_that_cannot_be_written_sets_its_job_aside_alone() -> None:
    scheduler = told(Admit("nlp/good", "ghost", 1, ("a100-0",), 1.0), Admit("cv/ok", "l4", 1, ("l4-0",), 1.0))
    result = plan([*FLEET, GOOD, training_job("cv/ok").classes("l4")], scheduler=scheduler)
    assert (admitted(result), set_aside(result)) == (["cv/ok"], {"trainingjob/nlp/good": (
        "Unreadable", "KeyError: 'ghost'")})


def test_a_release_that_cannot_be_written_defers_every_grant(monkeypatch: pytest.MonkeyPatch) -> None:
    def preempt_actions(*_: Any) -> Any:
        raise RuntimeError("broken")

    monkeypatch.setattr(job_status_module, "preempt_actions", preempt_actions)
    running = training_job("cv/run").classes("a100").gpus(8).phase("Running").allocation("a100", "a100-0")
    scheduler = told(Preempt("cv/run", "for nlp", PreemptCause.GUARANTEE), Admit("nlp/good", "a100", 1, ("a100-0",),
                                                                                1.0))
    result = plan([*FLEET, GOOD, running], scheduler=scheduler)
    assert (result.grants, list(result.set_aside)) == ((), ["trainingjob/cv/run"])


# --- the loop: logged once, counted by kind and reason ---------------------------------------------------------------

def test_the_loop_logs_each_object_set_aside_once_and_counts_them(caplog: pytest.LogCaptureFixture) -> None:
    metrics = OperatorMetrics()
    store = store_of(*FLEET, GOOD, node_reporting("a100-1", "a100", **{"nvidia.com/gpu": "1Ei"}))
    loop = make_loop(store, lambda actions: None, metrics)

    def gauge(kind: str, reason: str) -> float | None:
        return sample(metrics, "fairshare_objects_set_aside", kind=kind, reason=reason)

    with caplog.at_level(logging.INFO, logger="fairshare.control.loop"):
        asyncio.run(loop.run_cycle("event"))
        asyncio.run(loop.run_cycle("event"))
        counted = (gauge("Node", "InvalidQuantity"), gauge("Tenant", "InvalidSpec"))
        store.delete(NODES, {"metadata": {"name": "a100-1"}})
        asyncio.run(loop.run_cycle("event"))
    said = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    assert counted == (1.0, 0.0) and gauge("Node", "InvalidQuantity") == 0.0
    assert said == ["set aside Node a100-1 (InvalidQuantity): status.allocatable[nvidia.com/gpu]: '1Ei' is more than "
                    "4096 (at most 4096 GPUs a node are counted); the node counts no GPUs until it reports a whole "
                    "number", "Node a100-1 is no longer set aside"]


def test_a_job_failed_for_its_spec_is_counted_once_failed_no_more() -> None:
    """It is set aside (and counted, and logged) in the cycle that fails it; a terminal job is done with."""
    broken = training_job("nlp/broken").spec(gpusPerWorker=0)
    first = plan([*FLEET, GOOD, broken])
    failed = plan([*FLEET, GOOD, broken.phase("Failed")])
    assert (list(first.set_aside), list(failed.set_aside)) == (["trainingjob/nlp/broken"], [])


def test_a_job_on_which_pod_reconciling_raises_is_set_aside_and_a_deleted_jobs_pods_are_deleted_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The fall-back takes the jobs one at a time and then the pods of each deleted job alone (World.orphans), so
    the others' deletions are kept and none is sent twice."""
    real = plan_module.unwanted_pod_actions

    def unwanted_pod_actions(world: Any, *args: Any, **kwargs: Any) -> Any:
        if "cv/run" in world.jobs:
            raise KeyError("exitCode")
        return real(world, *args, **kwargs)

    monkeypatch.setattr(plan_module, "unwanted_pod_actions", unwanted_pod_actions)
    running = training_job("cv/run").classes("l4").gpus(1).phase("Running").allocation("l4", "l4-0")
    gone = worker("nlp/gone", 0, node_name="a100-0", gpus=8)
    result = plan([*FLEET, GOOD, running, worker("cv/run", 0, node_name="l4-0"), gone])
    assert [r for r in rows(result.actions) if r[0] == "delete"] == [("delete", "nlp/gone", ("gone-worker-0",))]
    assert set_aside(result) == {"trainingjob/cv/run": ("Unreadable", "KeyError: 'exitCode'")}
