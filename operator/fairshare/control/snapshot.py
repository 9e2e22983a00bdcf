"""Translate the store's raw objects into the core's Snapshot, keeping the parsed models the plan needs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fairshare.api import GPUClass as GPUClassCR
from fairshare.api import Phase, SpecError, parse_gpu_class, parse_tenant, parse_training_job
from fairshare.api import Tenant as TenantCR
from fairshare.api import TrainingJob as TrainingJobCR
from fairshare.api.constants import LABEL_GENERATION, LABEL_JOB, LABEL_RANK
from fairshare.api.jobstatus import TrainingJobStatus
from fairshare.control import conditions as cond
from fairshare.control.fit import Fit, NodeResources, fit_classes, node_allocatable, quantity_value
from fairshare.control.nodes import NodeState, node_state
from fairshare.control.parsecache import ParseCache
from fairshare.control.podstate import controller_uid
from fairshare.control.store import GPU_CLASSES, NODES, PODS, TENANTS, TRAINING_JOBS, Body, Store, object_key
from fairshare.core import types as core

GPU_RESOURCE = "nvidia.com/gpu"
ACTIVE_POD_PHASES = ("Pending", "Running", "Unknown")


@dataclasses.dataclass(frozen=True)
class JobView:
    """One TrainingJob as the operator sees it: its body, its parsed model (or why not), tenant and pods."""

    key: str
    body: Body
    model: TrainingJobCR | None
    error: SpecError | None
    tenant: str | None
    tenant_problem: str | None
    pods: tuple[Body, ...]
    fit: Fit = Fit()  # the classes whose nodes can hold one of its workers, or why none can
    rejected: str | None = None  # the API server's refusal of the current generation's pods, if it refused them

    @property
    def phase(self) -> Phase | None:
        return self.model.status.phase if self.model and self.model.status else None

    @property
    def deleting(self) -> bool:
        """The TrainingJob is being deleted (it has a deletionTimestamp): nothing starts for it any more."""
        return bool(self.body["metadata"].get("deletionTimestamp"))

    @property
    def generation(self) -> int:
        """Generation of the current allocation (0 before the first admission)."""
        status = self.model.status if self.model else None
        return (status.allocation.generation or 0) if status and status.allocation else 0

    def queued_since(self, default: float) -> float:
        """When the job last entered the queue: its creation, or its latest requeue (preempted and drained, restarted
        after a worker failed, or sent back as unschedulable); `default` when it has no creation time.

        Read from the conditions' transition times. A requeue turns Admitted False (a preemption does so already when
        it stops the job, before the workers have drained) or, for a drained preemption, turns Preempted False. Only
        an admission sets Preempted, so a job without it was never admitted and has waited since its creation (the
        Admitted False of its first wait is written a cycle later)."""
        status = self.model.status if self.model else None
        created = self.model.metadata.creation_timestamp if self.model else None
        since = created.timestamp() if created else default
        conditions = {c.type: c for c in status.conditions} if status else {}
        if cond.PREEMPTED not in conditions:
            return since
        turned_false = [c.last_transition_time.timestamp() for t in (cond.ADMITTED, cond.PREEMPTED)
                        if (c := conditions.get(t)) is not None and c.status == "False"]
        return max([since, *turned_false])

    def current_pods(self) -> list[Body]:
        """Worker pods of the current allocation generation, by rank (a pod whose rank is not a number is not one
        of ours: anyone who may create pods in the namespace can copy our labels)."""
        gen = str(self.generation)
        ranked = []
        for p in self.pods:
            labels = p["metadata"].get("labels") or {}
            rank = str(labels.get(LABEL_RANK, ""))
            if labels.get(LABEL_GENERATION) == gen and rank.isdigit():
                ranked.append((int(rank), p["metadata"]["name"], p))
        return [p for _, _, p in sorted(ranked, key=lambda r: (r[0], r[1]))]


@dataclasses.dataclass(frozen=True)
class World:
    """Everything one cycle works from: the core's snapshot and the parsed objects behind it."""

    snapshot: core.Snapshot
    jobs: Mapping[str, JobView]
    gpu_classes: Mapping[str, GPUClassCR]
    tenants: Mapping[str, TenantCR]
    node_class: Mapping[str, str]  # node name -> GPU class
    node_capacity: Mapping[str, int]  # node name -> allocatable GPUs (before subtracting foreign pods)
    namespace_tenant: Mapping[str, str]
    problems: Mapping[str, str]  # object key -> why it was left out (bad GPUClass or Tenant)
    namespace_conflicts: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    # tenant -> {namespace it lists -> the older Tenant that holds it}
    node_states: Mapping[str, NodeState] = dataclasses.field(default_factory=dict)  # every Node, by name
    orphans: Mapping[str, tuple[Body, ...]] = dataclasses.field(default_factory=dict)
    # job key -> pods a TrainingJob controls whose job is no longer in the store (deleted)

    def node_usable(self, name: str) -> bool:
        """Ready and not cordoned (NodeState.usable); False for a node that is gone."""
        state = self.node_states.get(name)
        return state is not None and state.usable


def _timestamp(value: datetime | None, default: float) -> float:
    return value.timestamp() if value else default


def count_quantity(raw: object) -> int:
    """A whole-number Kubernetes quantity ("8", "1k", "2Ki", "1e3") as an int; 0 when it is not one. The API server
    canonicalises 1000 GPUs to "1k", so int() alone would fail on a pod anyone may create."""
    value = quantity_value(raw if raw is not None else "0")
    return int(value) if value is not None and value == value and 0 <= value < 2**63 else 0


def _gpus_requested(pod: Mapping[str, Any]) -> int:
    total = 0
    for container in pod.get("spec", {}).get("containers") or []:
        resources = container.get("resources") or {}
        raw = (resources.get("limits") or {}).get(GPU_RESOURCE) or (resources.get("requests") or {}).get(GPU_RESOURCE)
        total += count_quantity(raw)
    return total


def tracked_pod(pod: Mapping[str, Any]) -> bool:
    """Pods the operator keeps: its own workers, and any other pod holding GPUs (their GPUs are not free)."""
    return bool((pod.get("metadata", {}).get("labels") or {}).get(LABEL_JOB)) or _gpus_requested(pod) > 0


def _matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _age_order(item: tuple[str, TenantCR]) -> tuple[float, str]:
    created = item[1].metadata.creation_timestamp
    return (created.timestamp() if created else float("inf"), item[0])


def namespace_owners(tenants: Mapping[str, TenantCR]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Rule: a namespace belongs to the oldest Tenant that lists it (by creationTimestamp, then name); a later
    claim is ignored, so creating a Tenant can never take a namespace, and its jobs, from another. Returns
    namespace -> tenant, and tenant -> {namespace it lost -> the tenant holding it}."""
    owners: dict[str, str] = {}
    lost: dict[str, dict[str, str]] = {}
    for name, tenant in sorted(tenants.items(), key=_age_order):
        for ns in tenant.spec.namespaces:
            if ns in owners:
                lost.setdefault(name, {})[ns] = owners[ns]
            else:
                owners[ns] = name
    return owners, lost


def build_world(store: Store, now: float, jobs_parsed: ParseCache[TrainingJobCR] | None = None) -> World:
    """Parse every object and build the core snapshot; objects that fail to parse are reported, not dropped.
    With `jobs_parsed`, TrainingJobs unchanged since the last cycle are not parsed again."""
    problems: dict[str, str] = {}
    gpu_classes: dict[str, GPUClassCR] = {}
    for body in store.all(GPU_CLASSES):
        try:
            gpu_classes[body["metadata"]["name"]] = parse_gpu_class(body)
        except SpecError as err:
            problems[f"gpuclass/{object_key(body)}"] = str(err)
    tenants: dict[str, TenantCR] = {}
    for body in store.all(TENANTS):
        try:
            tenants[body["metadata"]["name"]] = parse_tenant(body)
        except SpecError as err:
            problems[f"tenant/{object_key(body)}"] = str(err)
    ns_tenant, ns_conflicts = namespace_owners(tenants)
    node_class, node_capacity, nodes, class_nodes, node_states = _nodes(store, gpu_classes)

    pods_by_job: dict[str, list[Body]] = {}
    for pod in store.all(PODS):
        job = (pod["metadata"].get("labels") or {}).get(LABEL_JOB)
        if job:
            pods_by_job.setdefault(f"{pod['metadata']['namespace']}/{job}", []).append(pod)

    views: dict[str, JobView] = {}
    for body in store.all(TRAINING_JOBS):
        key = object_key(body)
        ns = body["metadata"]["namespace"]
        model: TrainingJobCR | None = None
        error: SpecError | None = None
        if jobs_parsed is not None:
            model, cached_error = jobs_parsed.get(key, body)
            error = cached_error if isinstance(cached_error, SpecError) else None
        else:
            try:
                model = parse_training_job(body)
            except SpecError as err:
                error = err
        tenant = ns_tenant.get(ns)
        problem = None if tenant else (f"namespace {ns} belongs to no Tenant; an admin must add it to a Tenant's "
                                       f"spec.namespaces")
        fit = fit_classes(model.spec, class_nodes) if model is not None else Fit()
        refused = store.rejected.get(key)
        rejected = refused[1] if refused is not None and model is not None and refused[0] == str(
            (model.status.allocation.generation or 0) if model.status and model.status.allocation else 0) else None
        views[key] = JobView(key, body, model, error, tenant, problem, tuple(pods_by_job.get(key, ())), fit,
                             rejected)
    orphans = {key: tuple(p for p in pods if controller_uid(p)) for key, pods in sorted(pods_by_job.items())
               if key not in views}

    jobs = tuple(j for v in sorted(views.values(), key=lambda v: v.key) if (j := core_job(v, now)) is not None)
    core_nodes = _core_nodes(nodes, _foreign_gpus(store), jobs)

    snapshot = core.Snapshot(
        classes=tuple(core_gpu_class(name, c) for name, c in sorted(gpu_classes.items())),
        nodes=core_nodes,
        tenants=tuple(core_tenant(t) for _, t in sorted(tenants.items())),
        jobs=jobs,
        throughputs=tuple(t for v in sorted(views.values(), key=lambda v: v.key) for t in core_throughputs(v)),
    )
    if jobs_parsed is not None:
        jobs_parsed.end_cycle()
    return World(snapshot, views, gpu_classes, tenants, node_class, node_capacity, ns_tenant, problems,
                 ns_conflicts, node_states, {k: v for k, v in orphans.items() if v})


def _nodes(store: Store, gpu_classes: Mapping[str, GPUClassCR]) -> tuple[
        dict[str, str], dict[str, int], list[core.Node], dict[str, list[NodeResources]], dict[str, NodeState]]:
    """Nodes of a GPU class: class and GPUs by node name, the core's nodes, each class's nodes' allocatable CPU,
    memory and scratch (what a worker's requests are compared with); and the state of every node."""
    node_class: dict[str, str] = {}
    capacity: dict[str, int] = {}
    nodes: list[core.Node] = []
    class_nodes: dict[str, list[NodeResources]] = {}
    states: dict[str, NodeState] = {}
    for body in sorted(store.all(NODES), key=lambda b: b["metadata"]["name"]):
        state = states[body["metadata"]["name"]] = node_state(body)
        labels = body["metadata"].get("labels") or {}
        gpu_class = next((name for name, c in sorted(gpu_classes.items()) if _matches(c.spec.node_selector, labels)),
                         None)
        gpus = count_quantity((body.get("status", {}).get("allocatable") or {}).get(GPU_RESOURCE))
        if gpu_class is None or gpus == 0:
            continue
        name = body["metadata"]["name"]
        node_class[name], capacity[name] = gpu_class, gpus
        nodes.append(core.Node(name, gpu_class, gpus, state.usable))
        class_nodes.setdefault(gpu_class, []).append(node_allocatable(body))
    return node_class, capacity, nodes, class_nodes, states


def _foreign_gpus(store: Store) -> dict[str, int]:
    """GPUs held on each node by active pods that no TrainingJob controls (other workloads). The pods of
    TrainingJobs are the jobs' own: held by their allocation while Admitted or Running, or on their way back
    otherwise (a preempted, restarting, finished or deleted job's pods are being deleted); counting those would
    make a restarted operator preempt again for room its last cycle already freed."""
    held: dict[str, int] = {}
    for pod in store.all(PODS):
        node = pod.get("spec", {}).get("nodeName")
        if not node or pod.get("status", {}).get("phase", "Pending") not in ACTIVE_POD_PHASES or controller_uid(pod):
            continue
        held[node] = held.get(node, 0) + _gpus_requested(pod)
    return held


def _core_nodes(nodes: list[core.Node], foreign: Mapping[str, int], jobs: tuple[core.Job, ...]) -> tuple[
        core.Node, ...]:
    """Rule: capacity is what Ready, uncordoned nodes offer (less other workloads' GPUs). A cordoned or NotReady node
    gets no new gang and offers only the GPUs the gangs still on it hold: they run on undisturbed (until the node is
    lost, control/nodes.py), and its idle GPUs are no one's share."""
    in_use: dict[str, int] = {}
    for job in jobs:
        if job.allocation is not None:
            for node in job.allocation.nodes:
                in_use[node] = in_use.get(node, 0) + job.gpus_per_worker
    out = []
    for n in nodes:
        free = max(0, n.gpus - foreign.get(n.name, 0))
        out.append(dataclasses.replace(n, gpus=free if n.schedulable else min(free, in_use.get(n.name, 0))))
    return tuple(out)


def core_gpu_class(name: str, gpu_class: GPUClassCR) -> core.GPUClass:
    """The class as the core sees it, with the price the last cycle set (where this cycle's market starts)."""
    spec, status = gpu_class.spec, gpu_class.status
    return core.GPUClass(name, spec.price_per_gpu_hour, spec.power_watts, spec.relative_speed or 1.0,
                         current_price=status.current_price_per_gpu_hour if status else None)


def core_tenant(tenant: TenantCR) -> core.Tenant:
    status = tenant.status
    return core.Tenant(
        name=tenant.metadata.name,
        weight=tenant.spec.weight,
        guaranteed=dict(tenant.spec.guaranteed),
        borrowing_limit=dict(tenant.spec.borrowing_limit) if tenant.spec.borrowing_limit is not None else None,
        budget_per_period=tenant.spec.budget.credits_per_period if tenant.spec.budget else None,
        spent_this_period=(status.spend_this_period or 0.0) if status else 0.0,
        decayed_usage_gpu_hours=(status.decayed_usage_gpu_hours or 0.0) if status else 0.0,
        fair_share=dict(status.fair_share) if status and status.fair_share else None,
    )


def core_job(view: JobView, now: float) -> core.Job | None:
    """The job as the core sees it; None when it cannot be scheduled (invalid, no tenant, no node can hold a
    worker, draining, terminal). Its classes are narrowed to those with a node that can hold one of its workers."""
    if view.model is None or view.tenant is None or view.deleting:
        return None
    spec, status = view.model.spec, view.model.status
    phase = status.phase if status else None
    submitted = _timestamp(view.model.metadata.creation_timestamp, now)
    classes = tuple(spec.gpu_classes) if view.fit.classes is None else view.fit.classes
    current = status.allocation.gpu_class if status and status.allocation else None
    if current and view.fit.classes is not None and current not in classes:
        classes = (current, *classes)  # admitted before it was narrowed: its own class stays allowed
    base = dict(key=view.key, tenant=view.tenant, min_workers=spec.workers.min, max_workers=spec.workers.max,
                gpus_per_worker=spec.gpus_per_worker, gpu_classes=classes, priority=spec.priority,
                preemptible=spec.preemptible, max_price_per_gpu_hour=spec.max_price_per_gpu_hour,
                submitted_at=submitted, attained_gpu_hours=_attained_before(status))
    if phase in (Phase.ADMITTED, Phase.RUNNING) and status and status.allocation and status.allocation.gpu_class:
        alloc = status.allocation
        allocation = core.Allocation(
            # nodes (one per worker) is what the pods were pinned to; a workers count that disagrees is ignored
            # rather than raising, which would stop every cycle over one malformed status.
            gpu_class=alloc.gpu_class, workers=len(alloc.nodes), nodes=tuple(alloc.nodes),
            started_at=_timestamp(alloc.admitted_at, now),
            last_checkpoint_at=_timestamp(status.last_checkpoint_time, 0.0) if status.last_checkpoint_time else None,
            opportunistic=bool(alloc.opportunistic))
        return core.Job(**base, phase=core.JobPhase.RUNNING, allocation=allocation)
    if phase in (None, Phase.QUEUED) and not view.pods and view.fit.problem is None and not backing_off(view, now):
        # (pods of a restarted gang still going: their names are taken)
        return core.Job(**base, phase=core.JobPhase.PENDING)
    return None  # Preempted (pods draining), backing off after a failure, or terminal: the lifecycle moves it on


def backing_off(view: JobView, now: float) -> bool:
    """A job restarted after a failure waits out its back-off (status.lastFailure.retryAfter) before admission."""
    status = view.model.status if view.model else None
    failure = status.last_failure if status else None
    return failure is not None and failure.retry_after is not None and failure.retry_after.timestamp() > now


def _attained_before(status: TrainingJobStatus | None) -> float:
    """GPU-hours the job held before its current allocation (least attained service): what it was charged for
    (cost.gpuHours) less what the current allocation accrued since it was admitted."""
    cost = status.cost if status else None
    if cost is None or not cost.gpu_hours:
        return 0.0
    alloc = status.allocation if status else None
    current = 0.0
    if alloc is not None and alloc.admitted_at and cost.accrued_at and status and status.phase in (
            Phase.ADMITTED, Phase.RUNNING):
        current = max(0.0, cost.accrued_at.timestamp() - alloc.admitted_at.timestamp()) / 3600.0 * (alloc.gpus or 0)
    return max(0.0, cost.gpu_hours - current)


def core_throughputs(view: JobView) -> list[core.Throughput]:
    status = view.model.status if view.model else None
    return [core.Throughput(view.key, s.gpu_class, s.workers, s.samples_per_second)
            for s in (status.throughput if status else [])]
