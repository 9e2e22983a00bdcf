"""Tenants on fresh namespaces and the TrainingJobs they submit, for integration tests that run the operator."""

from __future__ import annotations

import urllib.request
import uuid
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.support.wait import wait_for

GROUP, VERSION = "fairshare.dev", "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
LABEL_JOB = f"{GROUP}/job"
# The classes of the local cluster's default fleet (4 x 8 h100, 8 x 8 a100, 8 x 4 l4) and their list prices.
CLASSES = {"h100": 4.0, "a100": 2.5, "l4": 0.8}
TEST_IMAGE = "registry.invalid/trainer:0"


def ensure_gpu_classes(api: client.ApiClient, classes: dict[str, float] = CLASSES) -> dict[str, float]:
    """GPUClasses selecting the fleet's nodes by their fairshare.dev/gpu-class label; existing ones are kept."""
    custom = client.CustomObjectsApi(api)
    for name, price in classes.items():
        body = {"apiVersion": API_VERSION, "kind": "GPUClass", "metadata": {"name": name},
                "spec": {"nodeSelector": {"fairshare.dev/gpu-class": name}, "pricePerGPUHour": price,
                         "powerWatts": 400}}
        try:
            custom.create_cluster_custom_object(GROUP, VERSION, "gpuclasses", body)
        except ApiException as exc:
            if exc.status != 409:
                raise
    return classes


def create_namespace(core: client.CoreV1Api, name: str) -> str:
    """A namespace that accepts pods (its default ServiceAccount exists)."""
    core.create_namespace({"metadata": {"name": name}})
    wait_for(lambda: any(sa.metadata.name == "default" for sa in core.list_namespaced_service_account(name).items),
             timeout=30, what=f"default ServiceAccount in {name}")
    return name


def job_body(name: str, gpus: int, workers: int = 1, classes: tuple[str, ...] = (), priority: int = 0,
             annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A TrainingJob in pod-template form (annotations go on its pods); `spec` adds or replaces spec fields."""
    container = {"name": "trainer", "image": TEST_IMAGE, "command": ["python", "-c", "pass"]}
    body_spec: dict[str, Any] = {
        "workers": {"min": workers, "max": workers}, "gpusPerWorker": gpus, "gpuClasses": list(classes),
        "priority": priority,
        "podTemplate": {"metadata": {"annotations": annotations or {}}, "spec": {"containers": [container]}}}
    body_spec.update(spec)
    if "image" in spec:
        body_spec.pop("podTemplate")
    return {"apiVersion": API_VERSION, "kind": "TrainingJob", "metadata": {"name": name}, "spec": body_spec}


class Team:
    """A Tenant bound to a fresh namespace of the same name (plus `extra_namespaces`), deleted by `delete`."""

    def __init__(self, api: client.ApiClient, name: str, spec: dict[str, Any],
                 extra_namespaces: tuple[str, ...] = ()) -> None:
        self.core, self.custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        self.name = f"{name}-{uuid.uuid4().hex[:6]}"
        self.namespace = create_namespace(self.core, self.name)
        self.custom.create_cluster_custom_object(GROUP, VERSION, "tenants", {
            "apiVersion": API_VERSION, "kind": "Tenant", "metadata": {"name": self.name},
            "spec": {"namespaces": [self.namespace, *extra_namespaces], **spec}})

    def submit(self, name: str, gpus: int, workers: int = 1, classes: tuple[str, ...] = (), priority: int = 0,
               annotations: dict[str, str] | None = None, namespace: str | None = None, **spec: Any) -> str:
        body = job_body(name, gpus, workers, classes, priority, annotations, **spec)
        self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace or self.namespace, "trainingjobs", body)
        return name

    def jobs(self, namespace: str | None = None) -> dict[str, dict[str, Any]]:
        items = self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace or self.namespace,
                                                          "trainingjobs")["items"]
        return {j["metadata"]["name"]: j for j in items}

    def status(self, job: str, namespace: str | None = None) -> dict[str, Any]:
        return (self.jobs(namespace).get(job) or {}).get("status") or {}

    def phases(self) -> dict[str, str | None]:
        return {name: (j.get("status") or {}).get("phase") for name, j in self.jobs().items()}

    def gpus_held(self) -> int:
        return sum(((j.get("status") or {}).get("allocation") or {}).get("gpus") or 0 for j in self.jobs().values()
                   if (j.get("status") or {}).get("phase") in ("Admitted", "Running"))

    def pods(self, namespace: str | None = None) -> list[client.V1Pod]:
        return list(self.core.list_namespaced_pod(namespace or self.namespace, label_selector=LABEL_JOB).items)

    def tenant(self) -> dict[str, Any]:
        return dict(self.custom.get_cluster_custom_object(GROUP, VERSION, "tenants", self.name))

    def delete(self) -> None:
        """The Tenant (unless a test deleted it already) and the namespace."""
        try:
            self.custom.delete_cluster_custom_object(GROUP, VERSION, "tenants", self.name)
        except ApiException as exc:
            if exc.status != 404:
                raise
        self.core.delete_namespace(self.namespace)


def describe(team: Team) -> str:
    """Each job's phase and queue entry, for failure messages."""
    def one(name: str, job: dict[str, Any]) -> str:
        status = job.get("status") or {}
        return f"{name}: {status.get('phase')} {status.get('queue') or {}}"
    return f"{team.name}: " + "; ".join(one(n, j) for n, j in sorted(team.jobs().items()))


def metric(port: int, name: str, **labels: str) -> float | None:
    """The sum of a metric's samples (those with these labels) on the operator's /metrics; None while it is down."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.split()[-1])
    return total


def cycles(port: int) -> float | None:
    """Scheduling cycles the operator has completed (fairshare_cycles_total), or None while it is down."""
    return metric(port, "fairshare_cycles_total")


def cycle_errors(port: int) -> float | None:
    """Scheduling cycles that raised (fairshare_reconcile_errors_total{operation="cycle"})."""
    return metric(port, "fairshare_reconcile_errors_total", operation="cycle")


def held_by_team(api: client.ApiClient, teams: list[Team]) -> dict[str, int]:
    """GPUs each team's Admitted and Running jobs hold by their status, from one LIST of every TrainingJob, so the
    teams are read at the same moment (Team.gpus_held reads one team at a time)."""
    owner = {t.namespace: t.name for t in teams}
    out = {t.name: 0 for t in teams}
    for job in client.CustomObjectsApi(api).list_cluster_custom_object(GROUP, VERSION, "trainingjobs")["items"]:
        status = job.get("status") or {}
        team = owner.get(job["metadata"]["namespace"])
        if team is not None and status.get("phase") in ("Admitted", "Running"):
            out[team] += (status.get("allocation") or {}).get("gpus") or 0
    return out


def preemption_events(team: Team) -> dict[str, list[str]]:
    """job name -> the messages of the Warning "Preempted" Events recorded on it (the decision's reason), oldest
    first. The reason outlives the Preempted condition, which reads "Requeued" once the workers have drained."""
    out: dict[str, list[str]] = {}
    events = sorted(team.core.list_namespaced_event(team.namespace).items,
                    key=lambda e: e.first_timestamp or e.metadata.creation_timestamp)
    for event in events:
        if event.reason == "Preempted" and event.type == "Warning" and event.involved_object.kind == "TrainingJob":
            out.setdefault(event.involved_object.name, []).append(event.message or "")
    return out


def delete_and_wait(api: client.ApiClient, teams: list[Any], timeout: float = 120.0) -> None:
    """Delete each team (tenant and namespace), then wait until none of their pods is left, so the next test
    starts from an idle fleet."""
    for team in teams:
        team.delete()
    core = client.CoreV1Api(api)
    namespaces = {t.namespace for t in teams}
    wait_for(lambda: not [p for p in core.list_pod_for_all_namespaces().items
                          if p.metadata.namespace in namespaces] or None,
             timeout=timeout, what="pods of the deleted teams gone")
