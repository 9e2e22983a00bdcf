"""Fluent builders of raw object bodies as the store holds them (what a watch event carries), and a store of them.

gpu_class("a100").price(2.5).body(), tenant("nlp").namespaces("nlp").guaranteed(a100=8).body(),
node("a100-000").gpu_class("a100").gpus(8).ready().body(),
training_job("nlp/bert").workers(2).gpus(4).phase("Admitted").allocation("a100", "n0", "n1").body(),
pod("nlp/bert-worker-0").job("bert").generation(1).rank(0).phase("Running").body().
Defaults are the boring case: valid, ready, nothing running.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Self

from fairshare.api.constants import API_VERSION, LABEL_GENERATION, LABEL_JOB, LABEL_MANAGED_BY, LABEL_RANK, MANAGED_BY
from fairshare.control.conditions import rfc3339
from fairshare.control.store import GPU_CLASSES, NODES, PODS, TENANTS, TRAINING_JOBS, Store

NOW = 1_750_000_000.0  # a fixed "now" for every test: time is injected, never read
CLASS_LABEL = "fairshare.dev/gpu-class"
TRAINER_IMAGE = "ghcr.io/fairshare-dev/trainer:0.1.0"

Body = dict[str, Any]


def ts(seconds_before_now: float = 0.0) -> str:
    """An RFC 3339 timestamp `seconds_before_now` before NOW."""
    return rfc3339(NOW - seconds_before_now)


class _Builder:
    """A body dict edited in place by chained calls; body() hands out a deep copy."""

    def __init__(self, body: Body) -> None:
        self._body = body

    @property
    def _meta(self) -> Body:
        return self._body["metadata"]

    @property
    def _status(self) -> Body:
        return self._body.setdefault("status", {})

    def rv(self, resource_version: int | str) -> Self:
        self._meta["resourceVersion"] = str(resource_version)
        return self

    def status(self, **fields: Any) -> Self:
        """Set raw status fields (camelCase keys)."""
        self._status.update(fields)
        return self

    def created(self, seconds_before_now: float) -> Self:
        self._meta["creationTimestamp"] = ts(seconds_before_now)
        return self

    def conditions(self, *conditions: Body) -> Self:
        self._status["conditions"] = list(conditions)
        return self

    def deleting(self, seconds_ago: float = 0.0) -> Self:
        """Being deleted (a deletionTimestamp, as the API server sets it), since `seconds_ago`."""
        self._meta["deletionTimestamp"] = ts(seconds_ago)
        return self

    def body(self) -> Body:
        return copy.deepcopy(self._body)


class GPUClassBuilder(_Builder):
    """gpu_class("a100").price(2.5).power(400).selector(pool="big").tolerates(dedicated="gpu").created(60).body()"""

    def price(self, credits: float) -> Self:
        self._body["spec"]["pricePerGPUHour"] = credits
        return self

    def power(self, watts: float) -> Self:
        self._body["spec"]["powerWatts"] = watts
        return self

    def speed(self, relative: float) -> Self:
        self._body["spec"]["relativeSpeed"] = relative
        return self

    def selector(self, **labels: str) -> Self:
        self._body["spec"]["nodeSelector"] = dict(labels)
        return self

    def tolerates(self, **taints: str) -> Self:
        """spec.tolerations: key=value NoSchedule taints."""
        self._body["spec"]["tolerations"] = [{"key": k, "operator": "Equal", "value": v, "effect": "NoSchedule"}
                                             for k, v in taints.items()]
        return self


class TenantBuilder(_Builder):
    """tenant("nlp").namespaces("nlp", "nlp-dev").weight(2).guaranteed(a100=8).borrowing(a100=0).budget(100).body()"""

    def namespaces(self, *names: str) -> Self:
        self._body["spec"]["namespaces"] = list(names)
        return self

    def weight(self, weight: float) -> Self:
        self._body["spec"]["weight"] = weight
        return self

    def guaranteed(self, **per_class: int) -> Self:
        self._body["spec"]["guaranteed"] = dict(per_class)
        return self

    def borrowing(self, **per_class: int) -> Self:
        self._body["spec"]["borrowingLimit"] = dict(per_class)
        return self

    def budget(self, credits: float) -> Self:
        self._body["spec"]["budget"] = {"creditsPerPeriod": credits}
        return self


class NodeBuilder(_Builder):
    """node("a100-000").gpu_class("a100").gpus(8).ready().body(); also .not_ready(), .cordoned(), .labels(...)"""

    def gpu_class(self, name: str) -> Self:
        return self.labels(**{CLASS_LABEL: name})

    def labels(self, **labels: str) -> Self:
        self._meta.setdefault("labels", {}).update(labels)
        return self

    def gpus(self, count: int) -> Self:
        self._status.setdefault("allocatable", {})["nvidia.com/gpu"] = str(count)
        return self

    def allocatable(self, **resources: str) -> Self:
        """Allocatable CPU, memory, ... (ephemeral_storage for ephemeral-storage)."""
        self._status.setdefault("allocatable", {}).update({k.replace("_", "-"): v for k, v in resources.items()})
        return self

    def ready(self, ready: bool = True) -> Self:
        self._status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
        return self

    def not_ready(self) -> Self:
        return self.ready(False)

    def cordoned(self) -> Self:
        self._body.setdefault("spec", {})["unschedulable"] = True
        return self


class JobBuilder(_Builder):
    """training_job("nlp/bert").workers(2).gpus(4).phase("Admitted").allocation("a100", "n0", "n1").body()"""

    @property
    def _spec(self) -> Body:
        return self._body["spec"]

    def workers(self, minimum: int, maximum: int | None = None) -> Self:
        self._spec["workers"] = {"min": minimum, "max": minimum if maximum is None else maximum}
        return self

    def gpus(self, per_worker: int) -> Self:
        self._spec["gpusPerWorker"] = per_worker
        return self

    def classes(self, *names: str) -> Self:
        self._spec["gpuClasses"] = list(names)
        return self

    def priority(self, priority: int) -> Self:
        self._spec["priority"] = priority
        return self

    def bid(self, credits: float) -> Self:
        self._spec["maxPricePerGPUHour"] = credits
        return self

    def spec(self, **fields: Any) -> Self:
        """Set raw spec fields (camelCase keys), valid or not."""
        self._spec.update(fields)
        return self

    def resources(self, **requests: str) -> Self:
        """spec.resources: cpu, memory."""
        self._spec["resources"] = dict(requests)
        return self

    def backoff_limit(self, limit: int) -> Self:
        self._spec.setdefault("runPolicy", {})["backoffLimit"] = limit
        return self

    def deadline(self, seconds: int) -> Self:
        self._spec.setdefault("runPolicy", {})["activeDeadlineSeconds"] = seconds
        return self

    def phase(self, phase: str) -> Self:
        self._status["phase"] = phase
        return self

    def allocation(self, gpu_class: str, *nodes: str, generation: int = 1, admitted_ago: float = 3600.0,
                   opportunistic: bool = False, price: float | None = None) -> Self:
        """The job holds one worker per node; gpus = workers x gpusPerWorker as the plan writes it."""
        alloc: Body = {"gpuClass": gpu_class, "workers": len(nodes), "gpus": len(nodes) * self._spec["gpusPerWorker"],
                       "nodes": list(nodes), "admittedAt": ts(admitted_ago), "generation": generation,
                       "opportunistic": opportunistic}
        if price is not None:
            alloc["pricePerGPUHour"] = price
        self._status["allocation"] = alloc
        return self

    def restarts(self, count: int) -> Self:
        self._status["restarts"] = count
        return self

    def started(self, seconds_before_now: float) -> Self:
        self._status["startTime"] = ts(seconds_before_now)
        return self

    def cost(self, credits: float = 0.0, gpu_hours: float = 0.0, energy_kwh: float = 0.0,
             accrued_ago: float | None = None) -> Self:
        cost: Body = {"credits": credits, "gpuHours": gpu_hours, "energyKWh": energy_kwh}
        if accrued_ago is not None:
            cost["accruedAt"] = ts(accrued_ago)
        self._status["cost"] = cost
        return self

    def throughput(self, gpu_class: str, workers: int, samples_per_second: float) -> Self:
        self._status.setdefault("throughput", []).append({
            "gpuClass": gpu_class, "workers": workers, "samplesPerSecond": samples_per_second,
            "measuredAt": ts(60)})
        return self


class PodBuilder(_Builder):
    """pod("nlp/bert-worker-0").job("bert").generation(1).rank(0).phase("Running").on("n0").gpus(4).body()"""

    def _label(self, key: str, value: str) -> Self:
        self._meta.setdefault("labels", {})[key] = value
        return self

    def job(self, name: str) -> Self:
        return self._label(LABEL_JOB, name)

    def generation(self, generation: int) -> Self:
        return self._label(LABEL_GENERATION, str(generation))

    def rank(self, rank: int) -> Self:
        return self._label(LABEL_RANK, str(rank))

    def phase(self, phase: str) -> Self:
        self._status["phase"] = phase
        return self

    def on(self, node_name: str) -> Self:
        self._body["spec"]["nodeName"] = node_name
        return self

    def gpus(self, count: int) -> Self:
        self._body["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": str(count)},
                                                            "requests": {"nvidia.com/gpu": str(count)}}
        return self

    def unschedulable(self, message: str, since: float) -> Self:
        """kube-scheduler could not place it, `since` seconds before NOW, for `message`."""
        self._status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                       "message": message, "lastTransitionTime": ts(since)}]
        return self

    def owned_by(self, uid: str | None, job: str | None = None) -> Self:
        """Controlled by the TrainingJob of this uid and name (as every worker the operator creates; the name defaults
        to the pod's job label); None: no owner at all."""
        if uid is None:
            self._meta.pop("ownerReferences", None)
        else:
            name = job or (self._meta.get("labels") or {}).get(LABEL_JOB, "job")
            self._meta["ownerReferences"] = [{"apiVersion": API_VERSION, "kind": "TrainingJob", "name": name,
                                              "uid": uid, "controller": True, "blockOwnerDeletion": True}]
        return self

    def waiting(self, reason: str, message: str = "", scheduled_ago: float = 0.0) -> Self:
        """Bound (scheduled `scheduled_ago`), its container waiting with `reason`."""
        self._status["phase"] = "Pending"
        self._status["conditions"] = [{"type": "PodScheduled", "status": "True",
                                       "lastTransitionTime": ts(scheduled_ago)}]
        self._status["containerStatuses"] = [{"name": "trainer", "state": {"waiting": {"reason": reason,
                                                                                     "message": message}}}]
        return self

    def exit_code(self, code: int) -> Self:
        self._status["containerStatuses"] = [{"name": "trainer", "state": {"terminated": {"exitCode": code}}}]
        return self


def _split(key: str) -> tuple[str, str]:
    namespace, _, name = key.partition("/")
    assert name, f"expected namespace/name, got {key!r}"
    return namespace, name


def gpu_class(name: str) -> GPUClassBuilder:
    """A valid class at 1 credit/GPU-hour, 300 W, selecting nodes labelled fairshare.dev/gpu-class=<name>."""
    return GPUClassBuilder({"apiVersion": API_VERSION, "kind": "GPUClass", "metadata": {"name": name},
                            "spec": {"nodeSelector": {CLASS_LABEL: name}, "pricePerGPUHour": 1.0, "powerWatts": 300}})


def tenant(name: str) -> TenantBuilder:
    """A valid tenant owning the namespace of its own name."""
    return TenantBuilder({"apiVersion": API_VERSION, "kind": "Tenant", "metadata": {"name": name},
                          "spec": {"namespaces": [name]}})


def node(name: str) -> NodeBuilder:
    """A ready node with no labels and no GPUs."""
    return NodeBuilder({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                        "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})


def training_job(key: str) -> JobBuilder:
    """A valid job `namespace/name`: one worker, one GPU, any class, no status; created an hour before NOW."""
    namespace, name = _split(key)
    return JobBuilder({
        "apiVersion": API_VERSION, "kind": "TrainingJob",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}", "resourceVersion": "1",
                     "creationTimestamp": ts(3600)},
        "spec": {"image": TRAINER_IMAGE, "command": ["torchrun", "-m", "fairshare_trainer"],
                 "workers": {"min": 1, "max": 1}, "gpusPerWorker": 1},
    })


def pod(key: str) -> PodBuilder:
    """A pending pod `namespace/name` with one container, no labels, not bound to a node."""
    namespace, name = _split(key)
    return PodBuilder({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
                       "spec": {"containers": [{"name": "trainer", "image": TRAINER_IMAGE}]},
                       "status": {"phase": "Pending"}})


def worker(job_key: str, rank: int, generation: int = 1, phase: str = "Running", node_name: str | None = None,
           gpus: int = 1) -> PodBuilder:
    """Worker pod `rank` of a job, named and labelled as the operator does (managed-by, job, generation and rank), and
    controlled by the job (the uid `training_job` gives it)."""
    namespace, name = _split(job_key)
    built = (pod(f"{namespace}/{name}-worker-{rank}").job(name).generation(generation).rank(rank).phase(phase)
             ._label(LABEL_MANAGED_BY, MANAGED_BY).owned_by(f"uid-{namespace}-{name}"))
    return built.on(node_name).gpus(gpus) if node_name else built


KIND_OF = {"Node": NODES, "GPUClass": GPU_CLASSES, "Tenant": TENANTS, "TrainingJob": TRAINING_JOBS, "Pod": PODS}


def store_of(*items: Body | _Builder | Iterable[Body | _Builder]) -> Store:
    """A store holding these bodies (or builders), each under the kind its `kind` field names; a deletion is seen at
    NOW (Store.wall_clock)."""
    store = Store(wall_clock=lambda: NOW)
    for item in items:
        for one in [item] if isinstance(item, dict | _Builder) else item:
            body = one.body() if isinstance(one, _Builder) else one
            store.put(KIND_OF[body["kind"]], body)
    return store
