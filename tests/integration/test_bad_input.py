"""Bad and hostile input on the real control plane, with the operator running.

The API server refuses what the schema can judge (tests/data/invalid/, checked by test_crds.py). This module covers
the rest: unknown fields from clients that do not validate strictly, a status forged at creation, and jobs that are
valid for the schema but that only the operator can judge (a class that does not exist, a gang no node or class can
hold, workers bigger than every node, a namespace no Tenant owns). Those must wait with a reason and launch nothing
(no pod, no Service), and the operator must keep scheduling everyone else; a namespace two Tenants claim stays with
the older, and the other is told so. Known gaps are marked xfail(strict=True), each with the bug it shows; a fix
makes the test pass and the marker must then go.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.conftest import Kubectl
from tests.support.invariants import InvariantWatch, observe_cluster
from tests.support.kube import gone
from tests.support.operator import OperatorProcess
from tests.support.teams import (
    API_VERSION,
    GROUP,
    LABEL_JOB,
    TEST_IMAGE,
    VERSION,
    Team,
    create_namespace,
    cycle_errors,
    cycles,
    describe,
    job_body,
    metric,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration


class Cleanup:
    """Undo steps for one test, run newest first, and the namespaces whose pods must be gone before the next test."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], Any]] = []
        self.namespaces: set[str] = set()

    def team(self, api: client.ApiClient, name: str, spec: dict[str, Any] | None = None,
             extra_namespaces: tuple[str, ...] = ()) -> Team:
        made = Team(api, name, spec or {}, extra_namespaces)
        self.steps.append(made.delete)
        self.namespaces.add(made.namespace)
        return made

    def namespace(self, api: client.ApiClient, prefix: str) -> str:
        core = client.CoreV1Api(api)
        name = create_namespace(core, f"{prefix}-{uuid.uuid4().hex[:6]}")
        self.steps.append(lambda: core.delete_namespace(name))
        self.namespaces.add(name)
        return name


@pytest.fixture
def cleanup(kube_api_client: client.ApiClient) -> Iterator[Cleanup]:
    undo = Cleanup()
    yield undo
    for step in reversed(undo.steps):
        try:
            step()
        except ApiException as exc:
            if exc.status != 404:
                raise
    core = client.CoreV1Api(kube_api_client)
    # The next test starts from an idle fleet: every pod of these namespaces gone.
    wait_for(lambda: not [p for p in core.list_pod_for_all_namespaces().items
                          if p.metadata.namespace in undo.namespaces] or None,
             timeout=120, what="pods of this test's namespaces gone")


def queue_reason(job: dict[str, Any]) -> str:
    return str(((job.get("status") or {}).get("queue") or {}).get("reason") or "")


def condition(job: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in (job.get("status") or {}).get("conditions") or [] if c["type"] == type_), {})


def launched(api: client.ApiClient, namespace: str, job: str) -> list[str]:
    """What the operator created for a job: its worker pods and its headless Service."""
    core = client.CoreV1Api(api)
    pods = [p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector=f"{LABEL_JOB}={job}").items]
    service = [] if gone(lambda: core.read_namespaced_service(job, namespace)) else [f"service/{job}"]
    return pods + service


def more_cycles(operator: OperatorProcess, n: int = 3) -> None:
    """Wait until the operator has attempted n more cycles (finished or failed), so a state has had time to move."""
    def attempts() -> float:
        return (cycles(operator.metrics_port) or 0) + (cycle_errors(operator.metrics_port) or 0)
    start = attempts()
    wait_for(lambda: attempts() >= start + n or None, timeout=60, what=f"{n} more scheduling cycles")


# --- what the API server does with fields it does not know -----------------------------------------------------------

HOSTILE = {
    # kind: (a valid object, an unknown spec field, a forged status)
    "TrainingJob": (job_body("x", gpus=1, image=TEST_IMAGE), {"tenant": "someone-else"},
                    {"phase": "Succeeded", "tenant": "someone-else", "cost": {"credits": 0}}),
    "Tenant": ({"apiVersion": API_VERSION, "kind": "Tenant", "metadata": {"name": "x"},
                "spec": {"namespaces": ["hostile-unused"]}}, {"priority": 1000},
               {"creditsLeft": 1e12, "allocated": {"a100": 64}}),
    "GPUClass": ({"apiVersion": API_VERSION, "kind": "GPUClass", "metadata": {"name": "x"},
                  "spec": {"nodeSelector": {"fairshare.dev/gpu-class": "none"}, "pricePerGPUHour": 1,
                           "powerWatts": 1}}, {"capacity": 100000}, {"capacity": 100000, "currentPricePerGPUHour": 0}),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_unknown_fields_are_refused_by_strict_clients_and_pruned_for_the_rest(
        kubectl: Kubectl, installed_crds: list[str], namespace: str, kind: str) -> None:
    """No schema keeps unknown fields, so they never reach the operator: kubectl (strict by default) is refused,
    naming them; a client that skips validation gets them pruned. A status sent on create is dropped (status is a
    subresource only the operator writes)."""
    valid, unknown_spec, forged_status = HOSTILE[kind]
    scope = ["-n", namespace] if kind == "TrainingJob" else []

    def hostile(name: str) -> str:
        body = json.loads(json.dumps(valid))
        body["metadata"]["name"] = name
        body["spec"].update(unknown_spec)
        return yaml.safe_dump({**body, "status": forged_status, "hostile": True})

    strict = f"hostile-strict-{uuid.uuid4().hex[:6]}"
    refused = kubectl("create", *scope, "-f", "-", stdin=hostile(strict), check=False)
    assert refused.returncode != 0, refused.stdout
    (field,) = unknown_spec
    assert 'unknown field "hostile"' in refused.stderr and f'unknown field "spec.{field}"' in refused.stderr

    lax = f"hostile-lax-{uuid.uuid4().hex[:6]}"
    kubectl("create", *scope, "--validate=false", "-f", "-", stdin=hostile(lax))
    try:
        stored = json.loads(kubectl("get", *scope, kind.lower(), lax, "-o", "json").stdout)
        assert "hostile" not in stored and field not in stored["spec"]
        status = stored.get("status") or {}  # the operator, if running, may have written a real one since
        assert all(status.get(key) != value for key, value in forged_status.items()), status
    finally:
        kubectl("delete", *scope, kind.lower(), lax, "--wait=false")


# --- valid for the schema, impossible for the cluster ----------------------------------------------------------------

def test_jobs_no_cluster_can_run_wait_with_their_reason_and_launch_nothing(
        kube_api_client: client.ApiClient, operator: OperatorProcess, namespace: str,
        cleanup: Cleanup) -> None:
    """The fleet is 4 x 8 h100, 8 x 8 a100, 8 x 4 l4. Each job below can never run as it is; each stays Queued with
    a reason that says why, nothing is launched for it, and the operator keeps cycling without an error."""
    bad = cleanup.team(kube_api_client, "bad")
    orphan = namespace  # no Tenant lists it
    errors_before = cycle_errors(operator.metrics_port)
    bad.submit("unknown-class", gpus=1, classes=("h200",))
    bad.submit("worker-too-big", gpus=16)
    bad.submit("gang-too-big", gpus=4, workers=9, classes=("l4",))
    bad.submit("bid-too-low", gpus=1, maxPricePerGPUHour=0.0001)
    bad.submit("not-preemptible", gpus=1, preemptible=False)
    bad.submit("no-tenant", gpus=1, namespace=orphan)
    expected = {  # job -> (namespace, condition reason, words of the queue reason)
        "unknown-class": (bad.namespace, "Waiting", "no GPU class in the cluster matches h200"),
        "worker-too-big": (bad.namespace, "Waiting", "gang of 1x16 GPUs cannot fit"),
        "gang-too-big": (bad.namespace, "Waiting", "gang needs 9x4 GPUs"),
        "bid-too-low": (bad.namespace, "Waiting", "bid 0.00 < price"),
        "not-preemptible": (bad.namespace, "Waiting", "non-preemptible jobs run only within the tenant's guarantee"),
        "no-tenant": (orphan, "NoTenant",
                      f"namespace {orphan} belongs to no Tenant; an admin must add it to a Tenant's spec.namespaces"),
    }

    def job(name: str) -> dict[str, Any]:
        return bad.jobs(expected[name][0]).get(name) or {}

    def settled() -> bool:
        return all((job(n).get("status") or {}).get("phase") == "Queued" and words in queue_reason(job(n))
                   for n, (_, _, words) in expected.items())

    wait_for(lambda: settled() or None, timeout=90,
             what=lambda: "; ".join(f"{n}: {queue_reason(job(n))!r}" for n in expected))
    more_cycles(operator)

    watch = InvariantWatch(partial_grace_seconds=30)
    assert watch.observe(observe_cluster(kube_api_client)) == []
    for name, (ns, reason, words) in expected.items():
        status = job(name)["status"]
        assert status["phase"] == "Queued" and words in queue_reason(job(name)), (name, status)
        admitted = condition(job(name), "Admitted")
        assert (admitted.get("status"), admitted.get("reason")) == ("False", reason), (name, admitted)
        assert words in admitted["message"], (name, admitted)
        assert not status.get("allocation"), (name, status)
        assert launched(kube_api_client, ns, name) == [], f"{name} launched something"
    assert operator.alive() and cycle_errors(operator.metrics_port) == errors_before
    assert "Traceback" not in operator.log.read_text()


def test_a_job_labelled_with_another_tenant_belongs_to_its_namespace_tenant(
        kube_api_client: client.ApiClient, operator: OperatorProcess, cleanup: Cleanup) -> None:
    """A user never names a tenant: a fairshare.dev/tenant label on the job is ignored, the namespace decides."""
    owner = cleanup.team(kube_api_client, "owner")
    rival = cleanup.team(kube_api_client, "rival")
    body = job_body("impostor", gpus=1, classes=("l4",))
    body["metadata"]["labels"] = {"fairshare.dev/tenant": rival.name}
    owner.custom.create_namespaced_custom_object(GROUP, VERSION, owner.namespace, "trainingjobs", body)

    wait_for(lambda: owner.phases().get("impostor") == "Running" or None, timeout=90,
             what=lambda: describe(owner))
    assert owner.status("impostor")["tenant"] == owner.name
    assert [p.metadata.labels["fairshare.dev/tenant"] for p in owner.pods()] == [owner.name]
    wait_for(lambda: (owner.tenant().get("status") or {}).get("allocatedGPUs") == 1 or None, timeout=30,
             what="the owner's status counting the job")
    assert not (rival.tenant().get("status") or {}).get("allocatedGPUs")


# --- bugs found here --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "words"), [
    pytest.param({"gpus": 1, "classes": ("h200",)}, "spec.gpuClasses", id="unknown class"),
    pytest.param({"gpus": 16}, "spec.gpusPerWorker", id="worker larger than every node"),
    pytest.param({"gpus": 4, "workers": 9, "classes": ("l4",)}, "cannot fit l4", id="gang larger than its class"),
])
def test_the_reason_of_a_job_that_can_never_run_names_the_field_to_fix(
        kube_api_client: client.ApiClient, operator: OperatorProcess, cleanup: Cleanup,
        spec: dict[str, Any], words: str) -> None:
    """Found here: such reasons once named the class and the numbers but not the field to change, and a plain gang
    larger than its class read 'no room on l4', as if it only had to wait."""
    bad = cleanup.team(kube_api_client, "bad")
    bad.submit("never", **spec)
    reason = wait_for(lambda: queue_reason(bad.jobs().get("never") or {}), timeout=60, what="a queue reason")
    assert words in reason


def test_a_negative_memory_request_is_refused_or_fails_the_job_naming_the_field(
        kube_api_client: client.ApiClient, operator: OperatorProcess, cleanup: Cleanup) -> None:
    """Found here: '-1Gi' once passed the CRD and the models; the job was admitted, every pod create failed with 422
    on each cycle, and it stayed Admitted holding its GPUs with no reason. The CRD's CEL rule now refuses it."""
    bad = cleanup.team(kube_api_client, "bad")
    try:
        bad.submit("negative-memory", gpus=1, image=TEST_IMAGE, resources={"memory": "-1Gi"})
    except ApiException as exc:  # refused at apply: the fix this test waits for
        assert exc.status == 422 and "spec.resources.memory" in str(exc.body)
        return
    wait_for(lambda: bad.phases().get("negative-memory") or None, timeout=60, what="a phase")
    more_cycles(operator)
    job = bad.jobs()["negative-memory"]
    assert job["status"]["phase"] in ("Queued", "Failed"), job["status"]
    said = queue_reason(job) + " ".join(c["message"] for c in job["status"].get("conditions") or [])
    assert "spec.resources.memory" in said


def test_a_job_whose_memory_exceeds_every_node_does_not_hold_gpus_with_unschedulable_pods(
        kube_api_client: client.ApiClient, operator: OperatorProcess, cleanup: Cleanup) -> None:
    """Found here: such a job was admitted, its pods pinned to nodes that kube-scheduler left Unschedulable, and it
    held its GPUs forever with no reason. Now it waits (NoNodeFits) naming the field and the largest node."""
    bad = cleanup.team(kube_api_client, "bad")
    bad.submit("huge-memory", gpus=1, classes=("l4",), image=TEST_IMAGE, resources={"memory": "2Ti"})  # nodes: 1Ti

    def unschedulable() -> bool:
        return any(c.type == "PodScheduled" and c.reason == "Unschedulable"
                   for p in bad.pods() for c in (p.status.conditions or []))
    wait_for(lambda: bad.phases().get("huge-memory") in ("Queued", "Failed") or unschedulable() or None,
             timeout=60, what="the job refused or its pods unschedulable")
    more_cycles(operator)
    job = bad.jobs()["huge-memory"]
    assert job["status"]["phase"] in ("Queued", "Failed"), job["status"]
    assert "spec.resources" in queue_reason(job) + " ".join(c["message"] for c in job["status"]["conditions"])
    assert "192Gi" in queue_reason(job)  # the largest l4 node's allocatable memory
    assert launched(kube_api_client, bad.namespace, "huge-memory") == []


@pytest.mark.parametrize("spec", [
    pytest.param({"podTemplate": {"spec": {"containers": [{"image": TEST_IMAGE, "volumeMounts": [
        {"name": "v", "mountPath": "/dev"}]}], "volumes": [{"name": "v", "emptyDir": {}}]}}}, id="template mount"),
    pytest.param({"image": TEST_IMAGE, "checkpoint": {"path": "/dev", "claimName": "ckpt"}}, id="checkpoint path"),
])
def test_nothing_can_be_mounted_over_dev(kubectl: Kubectl, installed_crds: list[str], namespace: str,
                                         spec: dict[str, Any]) -> None:
    body = {"apiVersion": API_VERSION, "kind": "TrainingJob", "metadata": {"name": "mount-dev"},
            "spec": {"workers": {"min": 1, "max": 1}, "gpusPerWorker": 1, **spec}}
    refused = kubectl("create", "--dry-run=server", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(body),
                      check=False)
    assert refused.returncode != 0 and "/dev" in refused.stderr, refused.stdout


def test_a_namespace_claimed_twice_stays_with_the_first_tenant_and_the_second_gets_a_conflict_condition(
        kube_api_client: client.ApiClient, operator: OperatorProcess, cleanup: Cleanup) -> None:
    shared = cleanup.namespace(kube_api_client, "shared")
    first = cleanup.team(kube_api_client, "owner", extra_namespaces=(shared,))
    second = cleanup.team(kube_api_client, "rival", extra_namespaces=(shared,))
    first.submit("in-shared", gpus=1, classes=("l4",), namespace=shared)
    wait_for(lambda: first.status("in-shared", shared).get("phase") or None, timeout=60, what="a phase")
    more_cycles(operator)
    conflict = [c for c in (second.tenant().get("status") or {}).get("conditions") or [] if c["type"] == "Conflict"]
    assert conflict and conflict[0]["status"] == "True" and shared in conflict[0]["message"]
    assert first.status("in-shared", shared).get("tenant") == first.name


def test_a_tenant_guarantee_of_an_unknown_class_is_reported(
        kube_api_client: client.ApiClient, operator: OperatorProcess, cleanup: Cleanup) -> None:
    tenant = cleanup.team(kube_api_client, "bad", {"guaranteed": {"h200": 4}, "borrowingLimit": {"b200": 0}})
    more_cycles(operator)
    said = " ".join(c["message"] for c in (tenant.tenant().get("status") or {}).get("conditions") or [])
    assert "h200" in said and "b200" in said


def test_a_user_pod_posing_as_a_worker_does_not_stop_scheduling(
        kube_api_client: client.ApiClient, operator: OperatorProcess, cleanup: Cleanup) -> None:
    """Anyone who may create pods in a namespace can copy the operator's labels; a rank that is not a number once
    made every cycle raise (found by this test)."""
    victim = cleanup.team(kube_api_client, "bad")
    victim.submit("real", gpus=1, classes=("l4",))
    wait_for(lambda: victim.phases().get("real") == "Running" or None, timeout=90, what=lambda: describe(victim))
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_pod(victim.namespace, {
        "metadata": {"name": "impostor", "labels": {LABEL_JOB: "real", "fairshare.dev/generation": "1",
                                                    "fairshare.dev/rank": "x"}},
        "spec": {"containers": [{"name": "c", "image": TEST_IMAGE}]}})
    cleanup.steps.append(lambda: core.delete_namespaced_pod("impostor", victim.namespace, grace_period_seconds=0))
    errors_before = cycle_errors(operator.metrics_port)
    more_cycles(operator)
    assert cycle_errors(operator.metrics_port) == errors_before


def test_a_pod_squatting_a_workers_name_holds_the_job_naming_it_and_is_never_adopted(
        kube_api_client: client.ApiClient, operator: OperatorProcess, cleanup: Cleanup) -> None:
    """A user who may create pods (the built-in `edit` role) creates `<job>-worker-0` before the operator does, so
    the operator's create of that worker is refused (AlreadyExists). The job must not hang Admitted holding GPUs
    nor adopt the pod: it stays Queued with reason code PodNameTaken naming the pod and the fix, the pod keeps no
    owner reference and is not deleted; once the user deletes it, the job runs."""
    core = client.CoreV1Api(kube_api_client)
    user = cleanup.team(kube_api_client, "squat")
    core.create_namespaced_pod(user.namespace, {
        "metadata": {"name": "victim-worker-0"},
        "spec": {"containers": [{"name": "c", "image": TEST_IMAGE}]}})
    user.submit("victim", gpus=1, classes=("l4",))
    held = wait_for(lambda: (user.status("victim").get("queue") or {}).get("reasonCode") == "PodNameTaken"
                    and user.status("victim"), timeout=60, what=lambda: describe(user))
    more_cycles(operator)
    squatter = core.read_namespaced_pod("victim-worker-0", user.namespace)
    assert (user.phases().get("victim"), user.status("victim").get("allocation"), squatter.metadata.owner_references,
            squatter.metadata.deletion_timestamp) == ("Queued", None, None, None), describe(user)
    assert (f"pod {user.namespace}/victim-worker-0 (rank 0), which the operator did not create"
            in held["queue"]["reason"]), held["queue"]
    assert f"kubectl delete pod -n {user.namespace} victim-worker-0" in held["queue"]["reason"], held["queue"]
    core.delete_namespaced_pod("victim-worker-0", user.namespace, grace_period_seconds=0)
    wait_for(lambda: user.phases().get("victim") == "Running" or None, timeout=90, what=lambda: describe(user))
    worker = core.read_namespaced_pod("victim-worker-0", user.namespace)
    assert [(r.kind, r.name, r.controller) for r in worker.metadata.owner_references or []] == [
        ("TrainingJob", "victim", True)]


def test_a_service_squatting_a_jobs_service_name_fails_the_job_before_any_worker_starts(
        kube_api_client: client.ApiClient, operator: OperatorProcess, cleanup: Cleanup) -> None:
    """A user who may create Services creates one with the name a 2-worker job's rendezvous Service needs (the job's
    name) before the operator does. Workers started without their Service would only hang on the GPUs: the job fails
    with ServiceNameTaken naming the Service and the fix (a terminal phase: it holds no GPUs), no worker pod is
    created, and the user's Service is left as it was."""
    core = client.CoreV1Api(kube_api_client)
    user = cleanup.team(kube_api_client, "svcsquat")
    core.create_namespaced_service(user.namespace, {
        "metadata": {"name": "victim"},
        "spec": {"clusterIP": "None", "selector": {"app": "mine"}, "ports": [{"port": 80}]}})
    user.submit("victim", gpus=1, workers=2, classes=("l4",))
    failed = wait_for(lambda: user.phases().get("victim") == "Failed" and user.status("victim"), timeout=90,
                      what=lambda: describe(user))
    finished = next(c for c in failed["conditions"] if c["type"] == "Finished")
    assert finished["reason"] == "ServiceNameTaken", finished
    assert f"{user.namespace}/victim, which a Service the operator did not create" in finished["message"], finished
    assert "delete that Service, or submit the job again under another name" in finished["message"], finished
    assert core.list_namespaced_pod(user.namespace).items == []
    service = core.read_namespaced_service("victim", user.namespace)
    assert (service.metadata.owner_references, service.spec.selector) == (None, {"app": "mine"})


def _free_h100_nodes(core: client.CoreV1Api) -> list[str]:
    """h100 nodes no active pod is bound to, by name."""
    busy = {p.spec.node_name for p in core.list_pod_for_all_namespaces().items
            if p.spec.node_name and p.status.phase in ("Pending", "Running") and not p.metadata.deletion_timestamp}
    nodes = core.list_node(label_selector="fairshare.dev/gpu-class=h100").items
    return sorted(n.metadata.name for n in nodes if n.metadata.name not in busy)


def _class_status(api: client.ApiClient, name: str) -> dict[str, Any]:
    body = client.CustomObjectsApi(api).get_cluster_custom_object(GROUP, VERSION, "gpuclasses", name)
    return dict(body.get("status") or {})


def test_a_user_pod_labelled_as_a_running_jobs_worker_keeps_its_gpus_and_is_charged(
        kube_api_client: client.ApiClient, operator: OperatorProcess, cleanup: Cleanup) -> None:
    """The issue's spoof: a user labels their own GPU pod `fairshare.dev/job=<one of their running jobs>` (generation
    and rank too). The operator once ignored those GPUs and admitted another tenant's gang onto the occupied node.
    Now the pod is foreign: its GPUs are taken (a gang needing every free h100 node waits, one needing one fewer is
    placed elsewhere), the GPUClass shows them as foreign, the user's Tenant is charged, and the operator neither
    deletes the pod nor takes it for the job's worker."""
    core = client.CoreV1Api(kube_api_client)
    user = cleanup.team(kube_api_client, "spoof")
    user.submit("real", gpus=1, classes=("l4",))
    wait_for(lambda: user.phases().get("real") == "Running" or None, timeout=90, what=lambda: describe(user))
    generation = str(user.status("real")["allocation"]["generation"])
    free = _free_h100_nodes(core)
    assert len(free) >= 2, f"the test needs two idle h100 nodes, found {free}"
    foreign_before = _class_status(kube_api_client, "h100").get("foreign", 0)
    taken = free[0]
    core.create_namespaced_pod(user.namespace, {
        "metadata": {"name": "mine", "labels": {LABEL_JOB: "real", "fairshare.dev/generation": generation,
                                                "fairshare.dev/rank": "0"}},
        "spec": {"nodeName": taken, "containers": [{"name": "c", "image": TEST_IMAGE,
                                                     "resources": {"limits": {"nvidia.com/gpu": "8"}}}]}})
    cleanup.steps.append(lambda: core.delete_namespaced_pod("mine", user.namespace, grace_period_seconds=0))
    wait_for(lambda: core.read_namespaced_pod("mine", user.namespace).status.phase == "Running" or None,
             timeout=60, what="the user's pod Running")
    wait_for(lambda: _class_status(kube_api_client, "h100").get("foreign") == foreign_before + 8 or None,
             timeout=60, what=lambda: f"h100 foreign {foreign_before} + 8: {_class_status(kube_api_client, 'h100')}")
    wait_for(lambda: ((user.tenant().get("status") or {}).get("foreign") or {}).get("h100") == 8 or None,
             timeout=60, what=lambda: f"the user's Tenant charged for 8 h100: {user.tenant().get('status')}")

    other = cleanup.team(kube_api_client, "other")
    other.submit("all-h100", gpus=8, workers=len(free), classes=("h100",))
    more_cycles(operator, 5)
    assert other.phases().get("all-h100") in (None, "Queued"), describe(other)
    other.custom.delete_namespaced_custom_object(GROUP, VERSION, other.namespace, "trainingjobs", "all-h100")
    other.submit("rest-h100", gpus=8, workers=len(free) - 1, classes=("h100",))
    placed = wait_for(lambda: (other.status("rest-h100").get("allocation") or {}).get("nodes"), timeout=90,
                      what=lambda: describe(other))
    assert taken not in placed, f"admitted onto {taken}, which the user's pod holds: {placed}"
    mine = core.read_namespaced_pod("mine", user.namespace)
    assert (mine.metadata.deletion_timestamp, user.phases().get("real")) == (None, "Running")


def test_the_operator_starts_beside_a_pod_asking_for_a_thousand_gpus(
        kube_api_client: client.ApiClient, operator: OperatorProcess, namespace: str) -> None:
    """The API server stores 1000 as "1k"; reading it with int() once failed the operator's startup LIST, which
    kopf retried every 60 s (found by this test). Any user may create such a pod."""
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_pod(namespace, {"metadata": {"name": "gpu-hog"}, "spec": {"containers": [
        {"name": "c", "image": TEST_IMAGE, "resources": {"limits": {"nvidia.com/gpu": "1000"}}}]}})
    try:
        operator.kill()
        operator.start()
        wait_for(lambda: cycles(operator.metrics_port), timeout=30, what="the restarted operator's first cycle")
    finally:
        core.delete_namespaced_pod("gpu-hog", namespace, grace_period_seconds=0)
        wait_for(lambda: gone(lambda: core.read_namespaced_pod("gpu-hog", namespace)) or None, timeout=30,
                 what="gpu-hog gone")
        if not cycles(operator.metrics_port):  # leave a working operator to the tests after this one
            operator.kill()
            operator.start()
            wait_for(lambda: cycles(operator.metrics_port), timeout=60, what="the operator's first cycle")


# --- one bad object never stops the others -------------------------------------------------------------------------

def set_aside(port: int, kind: str, reason: str) -> float | None:
    return metric(port, "fairshare_objects_set_aside", kind=kind, reason=reason)


def test_a_1ei_memory_job_and_a_petascale_gpu_pod_are_set_aside_alone_while_other_tenants_run(
        kube_api_client: client.ApiClient, operator: OperatorProcess, namespace: str, cleanup: Cleanup) -> None:
    """Found here: `spec.resources.memory: 1Ei` on one job (valid for the CRD) made every cycle raise, even from a
    namespace no Tenant owns: nobody was admitted until someone found and deleted it, and the log did not name it.
    So did `nvidia.com/gpu: 1Ei` on a pod; the API server refuses that one ("must be an integer": its milli-value
    overflows int64) but takes `1P`, as absurd. Now the job waits naming the field; the pod (in a namespace no
    Tenant owns, bound straight to h100-000) is taken to hold that whole node, logged once and counted; and two
    other tenants' jobs fill the other three h100 nodes."""
    orphan = namespace  # no Tenant lists it
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_pod(orphan, {"metadata": {"name": "hog"}, "spec": {
        "nodeName": "h100-000", "containers": [{"name": "c", "image": TEST_IMAGE,
                                                "resources": {"limits": {"nvidia.com/gpu": "1P"}}}]}})
    cleanup.steps.append(lambda: core.delete_namespaced_pod("hog", orphan, grace_period_seconds=0))
    errors_before = cycle_errors(operator.metrics_port)
    bad = cleanup.team(kube_api_client, "bad")
    bad.submit("huge-memory", gpus=1, image=TEST_IMAGE, resources={"memory": "1Ei"})
    bad.submit("huge-memory", gpus=1, image=TEST_IMAGE, resources={"memory": "1Ei"}, namespace=orphan)
    good = [cleanup.team(kube_api_client, "good-a"), cleanup.team(kube_api_client, "good-b")]
    good[0].submit("one", gpus=8, classes=("h100",))
    good[0].submit("two", gpus=8, classes=("h100",))
    good[1].submit("three", gpus=8, classes=("h100",))

    wait_for(lambda: all(p == "Running" for t in good for p in t.phases().values()) or None, timeout=120,
             what=lambda: "; ".join(describe(t) for t in good))
    held = sorted(n for t in good for j in t.jobs().values() for n in j["status"]["allocation"]["nodes"])
    assert held == ["h100-001", "h100-002", "h100-003"]  # nothing on the node the hog holds

    def waiting(ns: str) -> dict[str, Any]:
        return bad.jobs(ns).get("huge-memory") or {}
    wait_for(lambda: all(queue_reason(waiting(ns)) for ns in (bad.namespace, orphan)) or None, timeout=60,
             what="both huge-memory jobs explained")
    more_cycles(operator)
    in_tenant, in_orphan = waiting(bad.namespace), waiting(orphan)
    assert (in_tenant["status"]["phase"], condition(in_tenant, "Admitted")["reason"]) == ("Queued", "NoNodeFits")
    assert "spec.resources.memory 1Ei exceeds the largest node allocatable memory" in queue_reason(in_tenant)
    assert (in_orphan["status"]["phase"], condition(in_orphan, "Admitted")["reason"]) == ("Queued", "NoTenant")
    assert launched(kube_api_client, bad.namespace, "huge-memory") == []
    assert launched(kube_api_client, orphan, "huge-memory") == []

    assert set_aside(operator.metrics_port, "Pod", "InvalidQuantity") == 1
    log = operator.log.read_text()
    assert log.count(f"set aside Pod {orphan}/hog (InvalidQuantity)") == 1, log[-3000:]
    assert "it is taken to hold every GPU of node h100-000" in log
    assert operator.alive() and cycle_errors(operator.metrics_port) == errors_before
    assert "Traceback" not in log

    core.delete_namespaced_pod("hog", orphan, grace_period_seconds=0)
    wait_for(lambda: set_aside(operator.metrics_port, "Pod", "InvalidQuantity") == 0 or None, timeout=60,
             what="the hog no longer counted once deleted")

