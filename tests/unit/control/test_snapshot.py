"""build_world: raw bodies in, the core's Snapshot (and the parsed objects behind it) out."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.nodes import NodeState
from fairshare.control.snapshot import build_world
from fairshare.core.types import Allocation, GPUClass, Job, JobPhase, Node, Tenant, Throughput
from tests.unit.control.builders import (
    NOW,
    gpu_class,
    node,
    pod,
    store_of,
    tenant,
    training_job,
    ts,
    worker,
)

Bodies = list[Any]


# --- namespaces and tenants ---------------------------------------------------------------------------------------

def _tenancy(bodies: Bodies) -> tuple[dict[str, str], dict[str, tuple[str | None, str | None]], dict[str, str]]:
    world = build_world(store_of(*bodies), NOW)
    views = {key: (view.tenant, view.tenant_problem) for key, view in world.jobs.items()}
    return dict(world.namespace_tenant), views, dict(world.problems)


@pytest.mark.parametrize(("bodies", "want"), [
    pytest.param(
        [tenant("nlp").namespaces("nlp", "nlp-dev"), training_job("nlp/a"), training_job("nlp-dev/b")],
        ({"nlp": "nlp", "nlp-dev": "nlp"}, {"nlp/a": ("nlp", None), "nlp-dev/b": ("nlp", None)}, {}),
        id="a tenant owns every namespace it lists"),
    pytest.param(
        [tenant("b").namespaces("shared", "b").created(60), tenant("a").namespaces("shared").created(30),
         training_job("shared/x"), training_job("b/y")],
        ({"shared": "b", "b": "b"}, {"shared/x": ("b", None), "b/y": ("b", None)}, {}),
        id="two tenants claim a namespace: the older keeps it"),
    pytest.param(
        [tenant("b").namespaces("shared", "b").created(60), tenant("a").namespaces("shared").created(60),
         training_job("shared/x")],
        ({"shared": "a", "b": "b"}, {"shared/x": ("a", None)}, {}),
        id="two tenants created in the same second: the first by name keeps it"),
    pytest.param(
        [tenant("b").namespaces("shared").created(60), tenant("a").namespaces("shared"), training_job("shared/x")],
        ({"shared": "b"}, {"shared/x": ("b", None)}, {}),
        id="a tenant without a creation time (not stored yet) counts as the newest"),
    pytest.param(
        [tenant("nlp"), training_job("vision/x")],
        ({"nlp": "nlp"}, {"vision/x": (None, "namespace vision belongs to no Tenant; an admin must add it to a "
                                             "Tenant's spec.namespaces")}, {}),
        id="a namespace no tenant lists"),
    pytest.param(
        [tenant("nlp").namespaces("nlp", "nlp"), training_job("nlp/x")],
        ({}, {"nlp/x": (None, "namespace nlp belongs to no valid Tenant: Tenant nlp, which lists it, is invalid "
                               "(spec.namespaces[1]: namespace 'nlp' is listed twice; remove the copy); an admin must "
                               "fix that Tenant")},
         {"tenant/nlp": "spec.namespaces[1]: namespace 'nlp' is listed twice; remove the copy"}),
        id="an invalid tenant is reported and binds nothing"),
    pytest.param(
        [gpu_class("A100"), tenant("nlp")],
        ({"nlp": "nlp"}, {}, {"gpuclass/A100": "metadata.name: a GPUClass name must be a DNS-1123 label of at most 63 "
                                               "characters (lowercase letters, digits, '-'); got 'A100'"}),
        id="an invalid GPU class is reported"),
])
def test_namespaces_map_to_tenants(bodies: Bodies, want: Any) -> None:
    assert _tenancy(bodies) == want


@pytest.mark.parametrize(("tenants", "want"), [
    pytest.param([tenant("a").namespaces("a"), tenant("b").namespaces("b")], {}, id="no namespace claimed twice"),
    pytest.param([tenant("new").namespaces("new", "shared").created(10), tenant("old").namespaces("shared")
                  .created(20), tenant("newest").namespaces("shared", "x").created(5)],
                 {"new": {"shared": "old"}, "newest": {"shared": "old"}},
                 id="every later claim is lost to the oldest, naming it"),
])
def test_namespaces_lost_to_an_older_tenant_are_recorded(tenants: Bodies, want: dict[str, dict[str, str]]) -> None:
    assert build_world(store_of(*tenants), NOW).namespace_conflicts == want


def test_a_job_in_a_namespace_claimed_twice_runs_as_the_older_tenant() -> None:
    world = build_world(store_of(tenant("a").namespaces("shared").created(5), tenant("b").namespaces("shared")
                                 .created(50), training_job("shared/x")), NOW)
    assert [(j.key, j.tenant) for j in world.snapshot.jobs] == [("shared/x", "b")]


SYSTEM = ("namespace {} is a system namespace, which belongs to no Tenant: the operator runs no job there; create the "
          "TrainingJob in one of your Tenant's namespaces")


@pytest.mark.parametrize(("protected", "namespace", "owned"), [
    pytest.param(frozenset({"default"}), "default", False, id="default, by default"),
    pytest.param(frozenset({"default", "fairshare-system"}), "fairshare-system", False, id="the operator's own"),
    pytest.param(frozenset({"default", "monitoring"}), "monitoring", False, id="the site's list"),
    pytest.param(frozenset(), "default", True, id="default, once the site clears the list"),
    pytest.param(frozenset({"default"}), "team", True, id="an ordinary namespace"),
])
def test_system_namespaces_a_tenant_lists_belong_to_no_tenant(protected: frozenset[str], namespace: str,
                                                              owned: bool) -> None:
    world = build_world(store_of(tenant("nlp").namespaces("nlp", namespace), training_job(f"{namespace}/x")), NOW,
                        protected_namespaces=protected)
    view = world.jobs[f"{namespace}/x"]
    assert (view.tenant, view.tenant_problem) == (("nlp", None) if owned else (None, SYSTEM.format(namespace)))
    assert [j.key for j in world.snapshot.jobs] == ([f"{namespace}/x"] if owned else [])
    assert dict(world.system_namespace_claims) == ({} if owned else {"nlp": (namespace,)})


def test_kube_namespaces_belong_to_no_tenant_whatever_the_settings() -> None:
    """A stored Tenant listing kube-system (past an older CRD) is refused whole, and kube-* stays without a tenant."""
    listing = tenant("ops").namespaces("ops", "kube-system")
    world = build_world(store_of(listing, tenant("nlp"), training_job("kube-system/x")), NOW,
                        protected_namespaces=frozenset())
    assert "tenant/ops" in world.problems
    assert (world.jobs["kube-system/x"].tenant, world.jobs["kube-system/x"].tenant_problem) == (
        None, SYSTEM.format("kube-system"))


def test_a_job_whose_tenant_is_invalid_is_told_which_tenant_to_fix() -> None:
    world = build_world(store_of(tenant("nlp").weight(0), training_job("nlp/x")), NOW)
    assert world.jobs["nlp/x"].tenant_problem == (
        "namespace nlp belongs to no valid Tenant: Tenant nlp, which lists it, is invalid (spec.weight: must be "
        "greater than 0 (got 0)); an admin must fix that Tenant")


def test_tenants_become_core_tenants() -> None:
    body = (tenant("nlp").weight(2).guaranteed(a100=8, h100=2).borrowing(a100=4).budget(500)
            .status(spendThisPeriod=120.5, decayedUsageGPUHours=33.0).body())
    world = build_world(store_of(body, tenant("cv")), NOW)
    assert world.snapshot.tenants == (
        Tenant("cv"),
        Tenant("nlp", weight=2.0, guaranteed={"a100": 8, "h100": 2}, borrowing_limit={"a100": 4},
               budget_per_period=500.0, spent_this_period=120.5, decayed_usage_gpu_hours=33.0),
    )


def test_gpu_classes_become_core_classes() -> None:
    world = build_world(store_of(gpu_class("h100").price(4).power(700).speed(2), gpu_class("a100").price(2.5)), NOW)
    assert world.snapshot.classes == (GPUClass("a100", 2.5, 300.0, 1.0), GPUClass("h100", 4.0, 700.0, 2.0))


def test_last_cycle_prices_and_fair_shares_carry_into_the_snapshot() -> None:
    """The market starts from the equilibrium the operator wrote to status last cycle."""
    world = build_world(store_of(gpu_class("a100").price(2.5).status(currentPricePerGPUHour=3.1),
                                 tenant("nlp").status(fairShare={"a100": 6.5})), NOW)
    assert ([c.current_price for c in world.snapshot.classes], [t.fair_share for t in world.snapshot.tenants]) == (
        [3.1], [{"a100": 6.5}])


# --- nodes ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("nodes", "want"), [
    pytest.param([node("n").gpu_class("a100").gpus(8).ready()], [Node("n", "a100", 8, True)],
                 id="a ready node of a class"),
    pytest.param([node("n").gpu_class("a100").gpus(8).not_ready()], [Node("n", "a100", 0, False)],
                 id="not ready: kept, unschedulable, its idle GPUs no capacity"),
    pytest.param([node("n").gpu_class("a100").gpus(8).cordoned()], [Node("n", "a100", 0, False)],
                 id="cordoned: kept, unschedulable, its idle GPUs no capacity"),
    pytest.param([node("n").gpu_class("a100").gpus(8).status(conditions=[])], [Node("n", "a100", 0, False)],
                 id="no Ready condition at all: unschedulable"),
    pytest.param([node("n").gpu_class("a100").gpus(0)], [], id="no GPUs: left out"),
    pytest.param([node("n").gpu_class("a100")], [], id="no nvidia.com/gpu allocatable: left out"),
    pytest.param([node("n").gpu_class("t4").gpus(8)], [], id="no class selects it: left out"),
    pytest.param([node("n").labels(pool="big").gpus(8)], [], id="class selector needs every label"),
    pytest.param([node("n").gpu_class("h100").labels(pool="big").gpus(4)], [Node("n", "h100", 4, True)],
                 id="extra labels do not matter"),
    pytest.param([node("b").gpu_class("a100").gpus(8), node("a").gpu_class("h100").gpus(4)],
                 [Node("a", "h100", 4, True), Node("b", "a100", 8, True)], id="sorted by name"),
])
def test_nodes_are_matched_to_classes_by_selector(nodes: Bodies, want: list[Node]) -> None:
    classes = [gpu_class("a100"), gpu_class("h100").selector(**{"fairshare.dev/gpu-class": "h100"}),
               gpu_class("big").selector(**{"fairshare.dev/gpu-class": "a100", "pool": "big"})]
    world = build_world(store_of(*classes, *nodes), NOW)
    assert (list(world.snapshot.nodes), dict(world.node_class)) == (want, {n.name: n.gpu_class for n in want})
    assert set(world.node_capacity) == {n.name for n in want}


RUN_ON_N = training_job("nlp/run").gpus(4).phase("Running").allocation("a100", "n")


@pytest.mark.parametrize(("node_body", "want_gpus"), [
    pytest.param(node("n").gpu_class("a100").gpus(8), 8, id="ready: all its GPUs"),
    pytest.param(node("n").gpu_class("a100").gpus(8).cordoned(), 4,
                 id="cordoned: only what the gang on it holds (it runs on, undisturbed)"),
    pytest.param(node("n").gpu_class("a100").gpus(8).not_ready(), 4, id="NotReady: only what the gang on it holds"),
])
def test_an_unusable_node_offers_only_what_its_gangs_hold(node_body: Any, want_gpus: int) -> None:
    world = build_world(store_of(gpu_class("a100"), tenant("nlp"), node_body, RUN_ON_N), NOW)
    assert [(n.name, n.gpus, n.schedulable) for n in world.snapshot.nodes] == [("n", want_gpus, want_gpus == 8)]
    assert [j.key for j in world.snapshot.jobs] == ["nlp/run"], "the gang on it stays"


@pytest.mark.parametrize(("node_body", "want"), [
    pytest.param(node("n").ready(), NodeState(True, None, False), id="ready, no transition time"),
    pytest.param(node("n").status(conditions=[{"type": "Ready", "status": "False", "lastTransitionTime": ts(90)}]),
                 NodeState(False, NOW - 90, False), id="NotReady for 90 s"),
    pytest.param(node("n").status(conditions=[{"type": "Ready", "status": "Unknown",
                                               "lastTransitionTime": ts(5)}]).cordoned(),
                 NodeState(False, NOW - 5, True), id="Unknown (no heartbeat) and cordoned"),
    pytest.param(node("n").status(conditions=[]), NodeState(False, None, False), id="no Ready condition"),
])
def test_every_node_state_is_kept(node_body: Any, want: NodeState) -> None:
    assert build_world(store_of(node_body), NOW).node_states == {"n": want}


@pytest.mark.parametrize(("classes", "holder"), [
    pytest.param([gpu_class("b-class").selector(zone="x").created(60), gpu_class("a-class").selector(zone="x")
                  .created(10)], "b-class", id="the older class keeps the node"),
    pytest.param([gpu_class("b-class").selector(zone="x").created(10), gpu_class("a-class").selector(zone="x")
                  .created(60)], "a-class", id="whatever the names"),
    pytest.param([gpu_class("b-class").selector(zone="x").created(60), gpu_class("a-class").selector(zone="x")
                  .created(60)], "a-class", id="same age: by name"),
])
def test_a_node_two_classes_select_belongs_to_the_oldest_and_both_know(classes: Bodies, holder: str) -> None:
    world = build_world(store_of(*classes, node("n").labels(zone="x").gpus(2), node("m").labels(zone="x").gpus(2),
                                 node("o").labels(zone="y").gpus(2)), NOW)
    assert dict(world.node_class) == {"m": holder, "n": holder}
    assert {name: dict(others) for name, others in world.class_conflicts.items()} == {
        "a-class": {"b-class": ("m", "n")}, "b-class": {"a-class": ("m", "n")}}


# --- foreign pods ----------------------------------------------------------------------------------------------------

RUNNING_JOB = training_job("nlp/run").gpus(4).phase("Running").allocation("a100", "n0")
PREEMPTED_JOB = training_job("nlp/pre").gpus(4).phase("Preempted").allocation("a100", "n0")
RESTARTING_JOB = training_job("nlp/rst").gpus(4).phase("Queued").restarts(1)


@pytest.mark.parametrize(("bodies", "want_gpus"), [
    pytest.param([], 8, id="nothing on the node"),
    pytest.param([pod("default/other").on("n0").gpus(2).phase("Running")], 6,
                 id="a pod with no fairshare job label holds GPUs"),
    pytest.param([pod("default/other").on("n0").gpus(2).phase("Pending")], 6, id="a bound pending pod counts"),
    pytest.param([pod("default/other").on("n0").gpus(2).phase("Unknown")], 6, id="a pod in Unknown counts"),
    pytest.param([pod("default/other").on("n0").gpus(2).phase("Succeeded")], 8, id="a finished pod holds nothing"),
    pytest.param([pod("default/other").on("n0").gpus(2).phase("Failed")], 8, id="a failed pod holds nothing"),
    pytest.param([pod("default/other").gpus(2).phase("Pending")], 8, id="an unbound pod holds nothing"),
    pytest.param([pod("default/other").on("cpu-0").gpus(2).phase("Running")], 8, id="a pod on a node without GPUs"),
    pytest.param([pod("default/a").on("n0").gpus(3).phase("Running"), pod("default/b").on("n0").gpus(3)
                  .phase("Running"), pod("default/c").on("n0").gpus(3).phase("Running")], 0,
                 id="never below zero"),
    pytest.param([PREEMPTED_JOB, worker("nlp/pre", 0, node_name="n0", gpus=4)], 8,
                 id="pods of a preempted job still draining: on their way back, not counted"),
    pytest.param([RESTARTING_JOB, worker("nlp/rst", 0, node_name="n0", gpus=4)], 8,
                 id="pods of a restarting gang still terminating: on their way back"),
    pytest.param([RUNNING_JOB, worker("nlp/run", 0, node_name="n0", gpus=4)], 8,
                 id="pods of a running job are the job's own allocation: not counted twice"),
    pytest.param([worker("nlp/gone", 0, node_name="n0", gpus=4)], 8,
                 id="pods of a job that no longer exists: being deleted, not counted"),
    pytest.param([RUNNING_JOB, worker("nlp/run", 0, node_name="n0", gpus=4).owned_by(None)], 4,
                 id="a pod with a running job's labels that no TrainingJob controls is someone else's"),
])
def test_foreign_pods_reduce_node_capacity(bodies: Bodies, want_gpus: int) -> None:
    world = build_world(store_of(gpu_class("a100"), tenant("nlp"), node("n0").gpu_class("a100").gpus(8),
                                 node("n1").gpu_class("a100").gpus(8), *bodies), NOW)
    gpus = {n.name: n.gpus for n in world.snapshot.nodes}
    assert (gpus, dict(world.node_capacity)) == ({"n0": want_gpus, "n1": 8}, {"n0": 8, "n1": 8})


def test_gpu_requests_count_when_limits_are_absent() -> None:
    other = pod("default/x").on("n0").phase("Running").body()
    other["spec"]["containers"] = [{"name": "a", "resources": {"requests": {"nvidia.com/gpu": "1"}}},
                                   {"name": "b", "resources": {"limits": {"nvidia.com/gpu": "2"}}},
                                   {"name": "c"}]
    world = build_world(store_of(gpu_class("a100"), node("n0").gpu_class("a100").gpus(8), other), NOW)
    assert world.snapshot.nodes == (Node("n0", "a100", 5, True),)


# --- jobs ----------------------------------------------------------------------------------------------------------

def _job(**fields: Any) -> Job:
    base: dict[str, Any] = dict(key="nlp/j", tenant="nlp", min_workers=1, max_workers=1, gpus_per_worker=1,
                                submitted_at=NOW - 3600)
    return Job(**{**base, **fields})


@pytest.mark.parametrize(("job", "want"), [
    pytest.param(training_job("nlp/j"), _job(), id="no status: pending"),
    pytest.param(training_job("nlp/j").phase("Queued"), _job(), id="Queued: pending"),
    pytest.param(training_job("nlp/j").workers(2, 6).gpus(4).classes("a100", "h100").priority(5).bid(3.5)
                 .spec(preemptible=False),
                 _job(min_workers=2, max_workers=6, gpus_per_worker=4, gpu_classes=("a100", "h100"), priority=5,
                      preemptible=False, max_price_per_gpu_hour=3.5),
                 id="spec fields carried over"),
    pytest.param(training_job("nlp/j").created(120), _job(submitted_at=NOW - 120),
                 id="submitted at its creation time"),
    pytest.param(training_job("nlp/j").phase("Admitted").allocation("a100", "n0", "n1", admitted_ago=600),
                 _job(phase=JobPhase.RUNNING, allocation=Allocation("a100", 2, ("n0", "n1"), NOW - 600)),
                 id="Admitted with an allocation: running"),
    pytest.param(training_job("nlp/j").phase("Running").allocation("a100", "n0", opportunistic=True)
                 .status(lastCheckpointTime=ts(60)),
                 _job(phase=JobPhase.RUNNING,
                      allocation=Allocation("a100", 1, ("n0",), NOW - 3600, NOW - 60, opportunistic=True)),
                 id="Running, opportunistic, with a checkpoint"),
    pytest.param(training_job("nlp/j").phase("Queued").cost(gpu_hours=12.5), _job(attained_gpu_hours=12.5),
                 id="Queued after a run: the GPU-hours it held are its attained service"),
    pytest.param(training_job("nlp/j").phase("Running").allocation("a100", "n0", "n1", admitted_ago=1800)
                 .cost(gpu_hours=3.0, accrued_ago=0),
                 _job(phase=JobPhase.RUNNING, allocation=Allocation("a100", 2, ("n0", "n1"), NOW - 1800),
                      attained_gpu_hours=2.0),
                 id="Running: attained service before this allocation (3 GPU-hours less 2 x 0.5 h accrued since)"),
    pytest.param(training_job("nlp/j").phase("Admitted"), None, id="Admitted without an allocation: left out"),
    pytest.param(training_job("nlp/j").phase("Preempted").allocation("a100", "n0"), None,
                 id="Preempted: draining, left out"),
    pytest.param(training_job("nlp/j").phase("Succeeded").allocation("a100", "n0"), None, id="Succeeded: left out"),
    pytest.param(training_job("nlp/j").phase("Failed"), None, id="Failed: left out"),
    pytest.param(training_job("nlp/j").workers(3, 2), None, id="invalid spec: left out"),
    pytest.param(training_job("nlp/j").deleting(5), None, id="being deleted: left out"),
])
def test_jobs_map_to_core_jobs(job: Any, want: Job | None) -> None:
    world = build_world(store_of(tenant("nlp"), gpu_class("a100"), job), NOW)
    assert world.snapshot.jobs == ((want,) if want else ())


def test_job_without_creation_timestamp_is_submitted_now() -> None:
    body = training_job("nlp/j").body()
    del body["metadata"]["creationTimestamp"]
    world = build_world(store_of(tenant("nlp"), body), NOW)
    assert world.snapshot.jobs == (_job(submitted_at=NOW),)


def test_queued_job_waits_until_its_old_pods_are_gone() -> None:
    """A restarted gang's pods keep their names until they terminate; admitting it earlier would collide."""
    bodies = [tenant("nlp"), training_job("nlp/j").phase("Queued").restarts(1)]
    before = build_world(store_of(*bodies, worker("nlp/j", 0, phase="Running")), NOW)
    after = build_world(store_of(*bodies), NOW)
    assert (before.snapshot.jobs, after.snapshot.jobs) == ((), (_job(),))


@pytest.mark.parametrize(("job", "want_path"), [
    pytest.param(training_job("nlp/j").workers(3, 2), "spec.workers.min", id="min above max"),
    pytest.param(training_job("nlp/j").spec(colour="blue"), "spec.colour", id="unknown field"),
    pytest.param(training_job("nlp/j").gpus(0), "spec.gpusPerWorker", id="zero GPUs per worker"),
])
def test_invalid_spec_is_kept_with_its_error(job: Any, want_path: str) -> None:
    world = build_world(store_of(tenant("nlp"), job), NOW)
    view = world.jobs["nlp/j"]
    assert (view.model, view.error.field_path if view.error else None, view.tenant) == (None, want_path, "nlp")


def test_throughput_status_becomes_core_throughput() -> None:
    world = build_world(store_of(
        tenant("nlp"),
        training_job("nlp/a").throughput("a100", 2, 410.5).throughput("h100", 1, 300.0),
        training_job("nlp/b").throughput("a100", 4, 800.0)), NOW)
    assert world.snapshot.throughputs == (Throughput("nlp/a", "a100", 2, 410.5), Throughput("nlp/a", "h100", 1, 300.0),
                                          Throughput("nlp/b", "a100", 4, 800.0))


def test_current_pods_are_those_of_the_current_generation_by_rank() -> None:
    pods = [worker("nlp/j", r, generation=2) for r in (10, 2, 0)] + [worker("nlp/j", 1, generation=1),
                                                                      worker("nlp/other", 3, generation=2)]
    world = build_world(store_of(tenant("nlp"), training_job("nlp/j").phase("Admitted")
                                 .allocation("a100", *[f"n{i}" for i in range(11)], generation=2), *pods), NOW)
    view = world.jobs["nlp/j"]
    assert ([p["metadata"]["name"] for p in view.current_pods()], len(view.pods), view.generation) == (
        ["j-worker-0", "j-worker-2", "j-worker-10"], 4, 2)


@pytest.mark.parametrize(("raw", "count"), [
    ("8", 8), ("1k", 1000), ("2Ki", 2048), ("1e3", 1000), (None, 0), ("4096", 4096),
])
def test_gpu_quantities_in_any_form_the_api_server_writes(raw: object, count: int) -> None:
    from fairshare.control.snapshot import gpu_count

    assert gpu_count(raw) == count


@pytest.mark.parametrize("raw", ["", "lots", "-1", "500m", "1.5", "4097", "1Ei", "1e308", "99999999999999999999"])
def test_gpu_quantities_no_node_can_have_raise(raw: object) -> None:
    from fairshare.api.quantity import QuantityError
    from fairshare.control.snapshot import gpu_count

    with pytest.raises(QuantityError):
        gpu_count(raw)


@pytest.mark.parametrize(("job", "want"), [
    pytest.param(training_job("nlp/j").priority(1000), 1000, id="queued: its spec.priority"),
    pytest.param(training_job("nlp/j").priority(1000).phase("Running").allocation("a100", "n0").status(
        allocation={"gpuClass": "a100", "workers": 1, "gpus": 1, "nodes": ["n0"], "admittedAt": ts(600),
                    "generation": 1, "priority": 5}), 5,
                 id="running: the priority it was admitted with, whatever spec.priority says now"),
    pytest.param(training_job("nlp/j").priority(7).phase("Running").allocation("a100", "n0"), 7,
                 id="running, admitted before the field existed: its spec.priority"),
])
def test_a_running_job_keeps_the_priority_it_was_admitted_with(job: Any, want: int) -> None:
    world = build_world(store_of(tenant("nlp"), gpu_class("a100"), node("n0").gpu_class("a100").gpus(8), job), NOW)
    assert [j.priority for j in world.snapshot.jobs] == [want]
