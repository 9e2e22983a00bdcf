"""The design's invariants, checked from what the API server lists, for fault-injection and load tests.

`check(observation)` looks at one LIST of GPUClasses, Tenants, TrainingJobs, Pods and Nodes and returns every
violation it finds; `InvariantWatch` checks a series of observations and adds what only a series can show (the
spend ledger never goes back, a finished job is never restarted or charged again, a partial gang does not last).

What counts, and why:
- capacity: GPUs requested by the non-terminal pods bound to a node (any pod, not only the operator's: kube-scheduler
  counts them all) never exceed the node's allocatable `nvidia.com/gpu` (pods bound to a node that was deleted run
  nowhere, and hold nothing); and the GPUs that Admitted and Running jobs
  hold by their status never exceed their class's capacity (the operator's own accounting).
- tenant limits: the GPUs a tenant's Admitted and Running jobs hold in a class never exceed its guarantee plus its
  borrowing limit for that class (no `borrowingLimit`, or a class missing from it, means no limit: core/types.py
  Tenant.limit). A namespace two Tenants claim belongs to the oldest (control/namespaces.py namespace_owners).
- gangs: while a job is Admitted or Running, the live pods it controls (controller owner reference) of its current
  allocation generation (labels fairshare.dev/generation and fairshare.dev/rank, as JobView.current_pods reads
  them) are exactly its workers;
  any other count is a partial gang (none at all: an admission whose pods never came). A job that is not
  Admitted or Running has no live pods. Both states happen for a moment (pods are created one by one after the
  status write, and deleted after it; an operator killed in between finishes the work when it is back), so they
  are violations only once older than `partial_grace_seconds`.
- admitted once: live pods of two allocation generations of one job at once, or two live pods with the same rank
  and generation, are double admissions (no grace: the operator deletes the old generation before it creates the
  new one, and a deleted pod carries a deletionTimestamp at once).
- ledger (InvariantWatch only): status.cost.credits, gpuHours and energyKWh of a job (by uid) never decrease; once a
  job is Succeeded or Failed it stays so and its cost never grows.

A live pod is one that is neither Succeeded nor Failed and has no deletionTimestamp.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kubernetes.utils import parse_quantity

GPU = "nvidia.com/gpu"
GROUP, VERSION = "fairshare.dev", "v1alpha1"
LABEL_JOB, LABEL_RANK, LABEL_GENERATION = f"{GROUP}/job", f"{GROUP}/rank", f"{GROUP}/generation"
HOLDING = ("Admitted", "Running")
TERMINAL = ("Succeeded", "Failed")
LEDGER_FIELDS = ("credits", "gpuHours", "energyKWh")
EPSILON = 1e-6  # the operator rounds costs to 6 decimals

Body = Mapping[str, Any]

NODE_OVER_CAPACITY = "node-over-capacity"
CLASS_OVER_CAPACITY = "class-over-capacity"
TENANT_OVER_LIMIT = "tenant-over-limit"
PARTIAL_GANG = "partial-gang"
PODS_WITHOUT_ADMISSION = "pods-without-admission"
DOUBLE_ADMISSION = "double-admission"
DUPLICATE_RANK = "duplicate-rank"
COST_DECREASED = "cost-decreased"
CHARGED_AFTER_FINISH = "charged-after-finish"
RESTARTED_AFTER_FINISH = "restarted-after-finish"


@dataclasses.dataclass(frozen=True)
class Observation:
    """One LIST of each kind, as the API returns them (camelCase dicts), and when it was taken (Unix seconds)."""

    gpu_classes: Sequence[Body] = ()
    tenants: Sequence[Body] = ()
    training_jobs: Sequence[Body] = ()
    pods: Sequence[Body] = ()
    nodes: Sequence[Body] = ()
    at: float = 0.0


@dataclasses.dataclass(frozen=True, order=True)
class Violation:
    """One broken invariant: its kind, what it is about (`node a100-0`, `tenant nlp/a100`, `job nlp/bert`), and why."""

    kind: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


# --- reading raw objects ---------------------------------------------------------------------------------------

def quantity(raw: Any) -> float:
    """A Kubernetes quantity as a number: 8, "8", "1k" (how the API server writes 1000), "500m"; absent is 0. Read
    with the Kubernetes client's parser, as the operator reads it (fairshare.api.quantity)."""
    if raw is None or raw == "":
        return 0.0
    return float(parse_quantity(raw))


def _meta(body: Body) -> Mapping[str, Any]:
    return body.get("metadata") or {}


def _labels(body: Body) -> Mapping[str, str]:
    return _meta(body).get("labels") or {}


def _status(body: Body) -> Mapping[str, Any]:
    return body.get("status") or {}


def _spec(body: Body) -> Mapping[str, Any]:
    return body.get("spec") or {}


def _key(body: Body) -> str:
    meta = _meta(body)
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta.get("name"))


def timestamp(value: Any) -> float | None:
    """RFC 3339 (as the API writes it) to Unix seconds; None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def pod_gpus(pod: Body) -> float:
    """GPUs a pod asks for: per container its limit, else its request (they must be equal for extended resources)."""
    total = 0.0
    for container in _spec(pod).get("containers") or []:
        resources = container.get("resources") or {}
        raw = (resources.get("limits") or {}).get(GPU) or (resources.get("requests") or {}).get(GPU)
        total += quantity(raw)
    return total


def pod_holds_gpus(pod: Body) -> bool:
    """Bound to a node and not finished: kube-scheduler counts its GPUs as taken (terminating pods included)."""
    return bool(_spec(pod).get("nodeName")) and _status(pod).get("phase") not in TERMINAL


def pod_is_live(pod: Body) -> bool:
    """Not finished and not being deleted."""
    return _status(pod).get("phase") not in TERMINAL and not _meta(pod).get("deletionTimestamp")


def node_gpus(node: Body) -> float:
    return quantity((_status(node).get("allocatable") or {}).get(GPU))


def _job_phase(job: Body) -> str | None:
    return _status(job).get("phase")


def _allocation(job: Body) -> Mapping[str, Any]:
    return _status(job).get("allocation") or {}


def _held_gpus(job: Body) -> tuple[str, float] | None:
    """(class, GPUs) an Admitted or Running job holds by its status."""
    alloc = _allocation(job)
    if _job_phase(job) not in HOLDING or not alloc.get("gpuClass"):
        return None
    gpus = alloc.get("gpus")
    if gpus is None:
        gpus = len(alloc.get("nodes") or []) * int(_spec(job).get("gpusPerWorker") or 0)
    return str(alloc["gpuClass"]), float(gpus)


def namespace_owners(tenants: Sequence[Body]) -> dict[str, str]:
    """namespace -> tenant; a namespace claimed by several Tenants belongs to the oldest (creationTimestamp, then
    name), as in the operator (the others get a Conflict condition)."""
    owners: dict[str, str] = {}
    for tenant in sorted(tenants, key=lambda t: (str(_meta(t).get("creationTimestamp") or ""),
                                                 str(_meta(t).get("name")))):
        for ns in _spec(tenant).get("namespaces") or []:
            owners.setdefault(ns, str(_meta(tenant).get("name")))
    return owners


def tenant_limit(tenant: Body, gpu_class: str) -> float:
    """Guarantee plus borrowing limit in a class; inf when the class has no borrowing limit (core Tenant.limit)."""
    spec = _spec(tenant)
    limits = spec.get("borrowingLimit")
    if limits is None or gpu_class not in limits:
        return math.inf
    return float((spec.get("guaranteed") or {}).get(gpu_class, 0)) + float(limits[gpu_class])


def _node_class(node: Body, gpu_classes: Sequence[Body]) -> str | None:
    """The first class (by name, as the operator picks) whose nodeSelector the node's labels match."""
    labels = _labels(node)
    for gpu_class in sorted(gpu_classes, key=lambda c: str(_meta(c).get("name"))):
        selector = _spec(gpu_class).get("nodeSelector") or {}
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            return str(_meta(gpu_class).get("name"))
    return None


# --- the checks --------------------------------------------------------------------------------------------------

def capacity_violations(obs: Observation) -> list[Violation]:
    """No node holds more GPUs than it has; no class has more GPUs held by job statuses than its nodes have."""
    out: list[Violation] = []
    held: dict[str, float] = defaultdict(float)
    for pod in obs.pods:
        if pod_holds_gpus(pod):
            held[_spec(pod)["nodeName"]] += pod_gpus(pod)
    allocatable = {str(_meta(n).get("name")): node_gpus(n) for n in obs.nodes}
    for node, gpus in sorted(held.items()):
        if node in allocatable and gpus > allocatable[node]:  # a deleted node's pods run nowhere (PodGC ends them)
            out.append(Violation(NODE_OVER_CAPACITY, f"node {node}",
                                 f"pods hold {gpus:g} GPUs, allocatable {allocatable.get(node, 0.0):g}"))
    capacity: dict[str, float] = defaultdict(float)
    for node in obs.nodes:
        gpu_class = _node_class(node, obs.gpu_classes)
        if gpu_class is not None:
            capacity[gpu_class] += node_gpus(node)
    by_class: dict[str, float] = defaultdict(float)
    for job in obs.training_jobs:
        holding = _held_gpus(job)
        if holding is not None:
            by_class[holding[0]] += holding[1]
    for gpu_class, gpus in sorted(by_class.items()):
        if gpus > capacity.get(gpu_class, 0.0):
            out.append(Violation(CLASS_OVER_CAPACITY, f"class {gpu_class}",
                                 f"jobs hold {gpus:g} GPUs by status, capacity {capacity.get(gpu_class, 0.0):g}"))
    return out


def tenant_violations(obs: Observation) -> list[Violation]:
    """No tenant holds more of a class than its guarantee plus its borrowing limit."""
    owners = namespace_owners(obs.tenants)
    tenants = {str(_meta(t).get("name")): t for t in obs.tenants}
    held: dict[tuple[str, str], float] = defaultdict(float)
    for job in obs.training_jobs:
        holding = _held_gpus(job)
        tenant = owners.get(str(_meta(job).get("namespace")))
        if holding is not None and tenant is not None:
            held[(tenant, holding[0])] += holding[1]
    out = []
    for (tenant, gpu_class), gpus in sorted(held.items()):
        limit = tenant_limit(tenants[tenant], gpu_class)
        if gpus > limit:
            out.append(Violation(TENANT_OVER_LIMIT, f"tenant {tenant}/{gpu_class}",
                                 f"holds {gpus:g} GPUs, guarantee + borrowing limit {limit:g}"))
    return out


def _controlling_job(pod: Body) -> str | None:
    """The name of the TrainingJob the pod's controller owner reference names: whose pod it is (labels can be copied
    by anyone who may create pods; docs/api.md, "Pods the operator did not create")."""
    for ref in _meta(pod).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") and ref.get("kind") == "TrainingJob":
            return str(ref.get("name") or "") or None
    return None


def _pods_by_job(pods: Sequence[Body]) -> dict[str, list[Body]]:
    out: dict[str, list[Body]] = defaultdict(list)
    for pod in pods:
        job = _controlling_job(pod)
        if job:
            out[f"{_meta(pod).get('namespace')}/{job}"].append(pod)
    return out


def admission_violations(obs: Observation) -> list[Violation]:
    """One allocation generation with live pods per job, and one live pod per rank of it."""
    out = []
    for key, pods in sorted(_pods_by_job(obs.pods).items()):
        live = [p for p in pods if pod_is_live(p)]
        generations = sorted({_labels(p).get(LABEL_GENERATION, "") for p in live})
        if len(generations) > 1:
            out.append(Violation(DOUBLE_ADMISSION, f"job {key}",
                                 f"live pods of generations {', '.join(generations)} at once"))
        ranks: dict[tuple[str, str], list[str]] = defaultdict(list)
        for pod in live:
            ranks[(_labels(pod).get(LABEL_GENERATION, ""), _labels(pod).get(LABEL_RANK, ""))].append(
                str(_meta(pod).get("name")))
        for (generation, rank), names in sorted(ranks.items()):
            if len(names) > 1:
                out.append(Violation(DUPLICATE_RANK, f"job {key}",
                                     f"{len(names)} live pods of generation {generation} rank {rank}: "
                                     f"{', '.join(sorted(names))}"))
    return out


def gang_states(obs: Observation) -> dict[tuple[str, str], tuple[Violation, float | None]]:
    """(job uid, generation) -> what is wrong and since when at the latest (the admission, or the oldest live pod),
    for each job whose live pods disagree with its phase right now."""
    pods_by_job = _pods_by_job(obs.pods)
    out: dict[tuple[str, str], tuple[Violation, float | None]] = {}
    for job in obs.training_jobs:
        key = _key(job)
        uid = str(_meta(job).get("uid") or key)
        phase = _job_phase(job)
        alloc = _allocation(job)
        generation = str(alloc.get("generation") or 0)
        live = [p for p in pods_by_job.get(key, []) if pod_is_live(p)]
        current = [p for p in live if _labels(p).get(LABEL_GENERATION) == generation]
        if phase in HOLDING and alloc:
            workers = int(alloc.get("workers") or len(alloc.get("nodes") or []))
            ranks = sorted(_labels(p).get(LABEL_RANK, "") for p in current)
            if ranks != [str(r) for r in range(workers)]:
                out[(uid, generation)] = (
                    Violation(PARTIAL_GANG, f"job {key}", f"{phase} with {len(current)} of {workers} workers of "
                              f"generation {generation} live (ranks {', '.join(ranks) or 'none'})"),
                    timestamp(alloc.get("admittedAt")))
        elif live:
            created = [t for p in live if (t := timestamp(_meta(p).get("creationTimestamp"))) is not None]
            out[(uid, "-")] = (Violation(PODS_WITHOUT_ADMISSION, f"job {key}",
                                         f"{phase or 'no phase'} but {len(live)} live pods"),
                               min(created) if created else None)
    return out


def gang_violations(obs: Observation, partial_grace_seconds: float = 0.0,
                    partial_since: Mapping[tuple[str, str], float] | None = None) -> list[Violation]:
    """Partial gangs and pods outside an admission that have lasted longer than `partial_grace_seconds`.

    How long a state has lasted is measured from `partial_since` (when a watch first saw it) or, without it, from
    the job's admission (`status.allocation.admittedAt`) or its oldest live pod, or from now when neither is known.
    A grace of 0 tolerates nothing.
    """
    out = []
    for ident, (state, fallback) in sorted(gang_states(obs).items()):
        since = (partial_since or {}).get(ident, fallback)
        age = obs.at - (since if since is not None else obs.at)
        if partial_grace_seconds <= 0 or age > partial_grace_seconds:
            out.append(dataclasses.replace(state, detail=f"{state.detail} for {age:.1f}s"))
    return out


def unheld_pods(obs: Observation) -> list[str]:
    """`namespace/name` of every live pod a TrainingJob controls (its owner reference) that its status does not hold:
    not of the current allocation generation, a rank at or beyond its workers, or any pod of a job that is not
    Admitted or Running or is gone. The operator deletes these within a cycle (control/reconcile.py); a convergence
    check waits for this list to be empty."""
    jobs = {_key(j): j for j in obs.training_jobs}
    out = []
    for key, pods in sorted(_pods_by_job(obs.pods).items()):
        job = jobs.get(key)
        alloc = _allocation(job) if job is not None else {}
        holding = job is not None and _job_phase(job) in HOLDING and bool(alloc)
        generation = str(alloc.get("generation") or 0)
        workers = len(alloc.get("nodes") or [])
        for pod in pods:
            if not pod_is_live(pod):
                continue
            rank = _labels(pod).get(LABEL_RANK, "")
            held = (holding and _labels(pod).get(LABEL_GENERATION) == generation and rank.isdigit()
                    and int(rank) < workers)
            if not held:
                out.append(f"{_meta(pod).get('namespace')}/{_meta(pod).get('name')}")
    return out


def check(obs: Observation, partial_grace_seconds: float = 0.0,
          partial_since: Mapping[tuple[str, str], float] | None = None) -> list[Violation]:
    """Every violation in one observation, sorted."""
    return sorted(capacity_violations(obs) + tenant_violations(obs) + admission_violations(obs)
                  + gang_violations(obs, partial_grace_seconds, partial_since))


# --- a series of observations --------------------------------------------------------------------------------------

@dataclasses.dataclass
class _Seen:
    cost: dict[str, float]
    terminal: str | None


class InvariantWatch:
    """Checks observations in order, remembering what the ledger and gang rules need from earlier ones.

    `observe` returns the violations of one observation; `violations` keeps every distinct one seen so far.
    """

    def __init__(self, partial_grace_seconds: float = 10.0) -> None:
        self.partial_grace_seconds = partial_grace_seconds
        self.partial_since: dict[tuple[str, str], float] = {}
        self.jobs: dict[str, _Seen] = {}
        self.violations: list[Violation] = []
        self.observations = 0
        self.transient_states = 0  # gang states seen come and go (tolerated while younger than the grace period)
        self.longest_transient_seconds = 0.0
        self._seen: set[tuple[str, str]] = set()

    def observe(self, obs: Observation) -> list[Violation]:
        states = gang_states(obs)
        self.transient_states += sum(1 for k in states if k not in self.partial_since)
        self.partial_since = {k: self.partial_since.get(k, obs.at) for k in states}
        self.longest_transient_seconds = max([self.longest_transient_seconds,
                                              *(obs.at - since for since in self.partial_since.values())])
        found = check(obs, self.partial_grace_seconds, self.partial_since) + self._ledger(obs)
        self.observations += 1
        for violation in found:
            # A lasting state is one violation, however many observations see it.
            ident = (violation.kind, violation.subject)
            if ident not in self._seen:
                self._seen.add(ident)
                self.violations.append(violation)
        return found

    def _ledger(self, obs: Observation) -> list[Violation]:
        out = []
        current: dict[str, _Seen] = {}
        for job in obs.training_jobs:
            uid = str(_meta(job).get("uid") or _key(job))
            cost = _status(job).get("cost") or {}
            now = _Seen({f: float(cost.get(f) or 0.0) for f in LEDGER_FIELDS},
                        _job_phase(job) if _job_phase(job) in TERMINAL else None)
            before = self.jobs.get(uid)
            if before is not None:
                subject = f"job {_key(job)}"
                for field in LEDGER_FIELDS:
                    if now.cost[field] < before.cost[field] - EPSILON:
                        out.append(Violation(COST_DECREASED, subject, f"status.cost.{field} went from "
                                             f"{before.cost[field]:g} to {now.cost[field]:g}"))
                if before.terminal is not None:
                    if now.terminal != before.terminal:
                        out.append(Violation(RESTARTED_AFTER_FINISH, subject,
                                             f"was {before.terminal}, now {_job_phase(job) or 'no phase'}"))
                    if now.cost["credits"] > before.cost["credits"] + EPSILON:
                        out.append(Violation(CHARGED_AFTER_FINISH, subject, f"{before.terminal}, yet credits went "
                                             f"from {before.cost['credits']:g} to {now.cost['credits']:g}"))
                    now = dataclasses.replace(now, terminal=before.terminal)
            current[uid] = now
        self.jobs = current
        return out


# --- listing a real cluster ------------------------------------------------------------------------------------------

def observe_cluster(api_client: Any) -> Observation:
    """LIST every kind from the API server through a kubernetes ApiClient, as raw JSON (what the operator sees).

    Each LIST is consistent in itself, but they are taken one after another: a job listed just before its pods
    may be a step behind them, which is one more reason the gang rules have a grace period and the others do not
    mix kinds (capacity reads pods and nodes, limits and the ledger read jobs, admissions read pods).
    """
    from kubernetes import client

    custom, core = client.CustomObjectsApi(api_client), client.CoreV1Api(api_client)
    at = time.time()

    def items(response: Any) -> list[Body]:
        return list(json.loads(response.data)["items"])

    return Observation(
        training_jobs=custom.list_cluster_custom_object(GROUP, VERSION, "trainingjobs")["items"],
        pods=items(core.list_pod_for_all_namespaces(_preload_content=False)),
        gpu_classes=custom.list_cluster_custom_object(GROUP, VERSION, "gpuclasses")["items"],
        tenants=custom.list_cluster_custom_object(GROUP, VERSION, "tenants")["items"],
        nodes=items(core.list_node(_preload_content=False)), at=at)
