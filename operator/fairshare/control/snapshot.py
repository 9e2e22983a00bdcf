"""Translate the store's raw objects into the core's Snapshot, keeping the parsed models the plan needs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Set
from datetime import datetime
from typing import Any

from fairshare.api import GPUClass as GPUClassCR
from fairshare.api import Phase, SpecError, parse_gpu_class, parse_tenant, parse_training_job
from fairshare.api import Tenant as TenantCR
from fairshare.api import TrainingJob as TrainingJobCR
from fairshare.api.constants import GPU_RESOURCE, LABEL_RANK
from fairshare.api.jobstatus import TrainingJobStatus
from fairshare.api.quantity import QuantityError, whole_count
from fairshare.control import conditions as cond
from fairshare.control.fit import Fit, NodeResources, fit_classes, node_allocatable
from fairshare.control.isolation import INVALID_SPEC, SetAside, SetAsideLog, key_of, ref
from fairshare.control.namespaces import (
    DEFAULT_PROTECTED_NAMESPACES,
    age_order,
    is_system_namespace,
    namespace_owners,
    system_namespace_claims,
)
from fairshare.control.nodes import NodeState, node_state
from fairshare.control.ownership import ForeignPod, controller_uid, controlling_job, created_for, name_squatters
from fairshare.control.parsecache import ParseCache
from fairshare.control.store import GPU_CLASSES, NODES, PODS, TENANTS, TRAINING_JOBS, Body, Store, object_key
from fairshare.core import types as core
from fairshare.render.names import has_worker_name

ACTIVE_POD_PHASES = ("Pending", "Running", "Unknown")
# The most GPUs one node is believed to have. The core sizes per-node tables by the largest node, so a Node reporting
# 1Ei GPUs (the API server accepts any whole extended-resource quantity) is set aside rather than passed on.
MAX_NODE_GPUS = 4096


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
    # (resource, why) when the current generation's pods were refused, or its Service's name is taken (Store.rejected)
    rejected: tuple[str, str] | None = None
    squatters: tuple[tuple[int, str], ...] = ()  # (rank, pod) for each pod no TrainingJob controls with a worker's
    # name the job may need (ownership.name_squatters)

    @property
    def phase(self) -> Phase | None:
        return self.model.status.phase if self.model and self.model.status else None

    @property
    def deleting(self) -> bool:
        """The TrainingJob is being deleted (it has a deletionTimestamp): nothing starts for it any more."""
        return bool(self.body["metadata"].get("deletionTimestamp"))

    def squatted_ranks(self) -> dict[int, str]:
        """rank -> `namespace/name` of the pod, not the operator's, that holds that worker's name."""
        return dict(self.squatters)

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
        """Worker pods of the current allocation generation, by rank: those the operator created for it
        (ownership.created_for), never a pod that only carries our labels."""
        gen, uid = self.generation, self.body["metadata"].get("uid")
        ranked = []
        for p in self.pods:
            if created_for(p, uid, gen):
                rank = int((p["metadata"].get("labels") or {})[LABEL_RANK])
                ranked.append((rank, p["metadata"]["name"], p))
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
    problems: Mapping[str, str]  # `kind/key` -> why it was left out (as set_aside, but the message alone)
    namespace_conflicts: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    # tenant -> {namespace it lists -> the older Tenant that holds it}
    system_namespace_claims: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    # tenant -> the system namespaces it lists (ignored)
    class_conflicts: Mapping[str, Mapping[str, tuple[str, ...]]] = dataclasses.field(default_factory=dict)
    # GPUClass -> {another class whose selector matches some of the same nodes -> those nodes}
    class_age: Mapping[str, tuple[float, str]] = dataclasses.field(default_factory=dict)  # for who holds a node
    protected_namespaces: frozenset[str] = DEFAULT_PROTECTED_NAMESPACES
    set_aside: Mapping[str, SetAside] = dataclasses.field(default_factory=dict)  # `kind/key` -> what and why
    bodies: Mapping[str, Body] = dataclasses.field(default_factory=dict)  # `kind/key` -> body, of those set aside
    node_states: Mapping[str, NodeState] = dataclasses.field(default_factory=dict)  # every Node, by name
    orphans: Mapping[str, tuple[Body, ...]] = dataclasses.field(default_factory=dict)
    # job key -> pods a TrainingJob controls whose job is no longer in the store (deleted)
    foreign: tuple[ForeignPod, ...] = ()  # active GPU pods no TrainingJob's gang accounts for (ownership.py)
    departed: tuple[tuple[Body, float], ...] = ()  # TrainingJobs deleted lately: last body, when seen gone (store.py)

    def node_usable(self, name: str) -> bool:
        """Ready and not cordoned (NodeState.usable); False for a node that is gone."""
        state = self.node_states.get(name)
        return state is not None and state.usable


def _timestamp(value: datetime | None, default: float) -> float:
    return value.timestamp() if value else default


def gpu_count(raw: object) -> int:
    """GPUs as a Node's allocatable or a container's limit writes them ("8", "1k": the API server canonicalises 1000
    GPUs so, "2Ki", "1e3"); 0 when absent. QuantityError unless a whole number from 0 to MAX_NODE_GPUS."""
    return 0 if raw is None else whole_count(raw, MAX_NODE_GPUS)


def pod_gpus(pod: Mapping[str, Any]) -> int:
    """GPUs a pod holds once bound: the larger of limit and request of each container, init containers included
    (one may run beside the others as a sidecar), summed. QuantityError naming the field when one cannot be read."""
    total = 0
    spec = pod.get("spec") or {}
    for group in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(group) or []):
            resources = container.get("resources") or {}
            total += max(_gpus_in(resources, part, f"spec.{group}[{index}].resources.{part}")
                         for part in ("limits", "requests"))
    return total


def _gpus_in(resources: Mapping[str, Any], part: str, field: str) -> int:
    try:
        return gpu_count((resources.get(part) or {}).get(GPU_RESOURCE))
    except QuantityError as err:
        raise QuantityError(f"{field}[{GPU_RESOURCE}]: {err}") from None


def tracked_pod(pod: Mapping[str, Any]) -> bool:
    """Pods the operator keeps: those a TrainingJob controls (its workers), any other pod holding GPUs (their GPUs
    are not free), and any pod named as a worker could be (it may hold the name a job's worker needs:
    ownership.name_squatters). A pod it cannot read is kept too: the cycle counts it as holding its node's GPUs,
    and reports it."""
    try:
        name = str((pod.get("metadata") or {}).get("name") or "")
        return controller_uid(pod) is not None or has_worker_name(name) or pod_gpus(pod) > 0
    except Exception:
        return True


def _matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _no_tenant(namespace: str, protected: frozenset[str], invalid: str | None) -> str:
    """Why a job in `namespace` has no tenant, and what would give it one."""
    if is_system_namespace(namespace, protected):
        return (f"namespace {namespace} is a system namespace, which belongs to no Tenant: the operator runs no job "
                f"there; create the TrainingJob in one of your Tenant's namespaces")
    if invalid:
        return f"namespace {namespace} belongs to no valid Tenant: {invalid}; an admin must fix that Tenant"
    return f"namespace {namespace} belongs to no Tenant; an admin must add it to a Tenant's spec.namespaces"


def _invalid_claims(body: Body, why: str, claims: dict[str, str]) -> None:
    """Record, for each namespace an unusable Tenant body lists, why that Tenant counts for nothing."""
    spec = body.get("spec")
    listed = spec.get("namespaces") if isinstance(spec, dict) else None
    for ns in listed if isinstance(listed, list) else []:
        if isinstance(ns, str):
            claims.setdefault(ns, f"Tenant {key_of(body)}, which lists it, is invalid ({why})")


def build_world(store: Store, now: float, jobs_parsed: ParseCache[TrainingJobCR] | None = None,
                protected_namespaces: frozenset[str] = DEFAULT_PROTECTED_NAMESPACES) -> World:
    """Parse every object and build the core snapshot. Each object is read alone: one that fails to parse, or raises
    while it is translated, is set aside (World.set_aside) and the others go on. With `jobs_parsed`, TrainingJobs
    unchanged since the last cycle are not parsed again. No job in a system namespace (`protected_namespaces`,
    kube-*) has a tenant, so none is ever admitted there."""
    log = SetAsideLog()
    gpu_classes: dict[str, GPUClassCR] = {}
    core_classes: dict[str, core.GPUClass] = {}
    for body in store.all(GPU_CLASSES):
        parsed_class = log.attempt(GPU_CLASSES, key_of(body), _parse_gpu_class, body)
        if parsed_class is not None:
            gpu_classes[parsed_class[0].metadata.name], core_classes[parsed_class[1].name] = parsed_class
    tenants: dict[str, TenantCR] = {}
    core_tenants: dict[str, core.Tenant] = {}
    invalid_claims: dict[str, str] = {}  # namespace -> why the Tenant that lists it counts for nothing
    for body in store.all(TENANTS):
        parsed_tenant = log.attempt(TENANTS, key_of(body), _parse_tenant, body)
        if parsed_tenant is not None:
            tenants[parsed_tenant[0].metadata.name], core_tenants[parsed_tenant[1].name] = parsed_tenant
        else:
            entry = log.entries.get(ref(TENANTS, key_of(body)))
            _invalid_claims(body, entry.message if entry else "unreadable", invalid_claims)
    ns_tenant, ns_conflicts = namespace_owners(tenants, protected_namespaces)
    class_age = {name: age_order((name, c)) for name, c in gpu_classes.items()}
    node_class, node_capacity, nodes, class_nodes, class_conflicts, node_states = _nodes(store, gpu_classes,
                                                                                         class_age, log)

    pods_by_job: dict[str, list[Body]] = {}
    # Pods no TrainingJob controls, by (namespace, the job name their name would be a worker of): only such a pod can
    # squat a worker's name (ownership.name_squatters), and each job looks at its own few.
    uncontrolled: dict[tuple[str, str], dict[str, Body]] = {}
    for pod in store.all(PODS):
        job = log.attempt(PODS, key_of(pod), controlling_job, pod)
        if job:
            pods_by_job.setdefault(job, []).append(pod)
        elif not log.holds(PODS, key_of(pod)):
            pod_namespace, _, pod_name = key_of(pod).partition("/")
            uncontrolled.setdefault((pod_namespace, pod_name.rpartition("-worker-")[0]), {})[key_of(pod)] = pod

    views: dict[str, JobView] = {}
    for body in store.all(TRAINING_JOBS):
        key = key_of(body)
        view = log.attempt(TRAINING_JOBS, key, _job_view, body, jobs_parsed, ns_tenant, class_nodes, pods_by_job,
                           protected_namespaces, invalid_claims, store.rejected,
                           uncontrolled.get((key.partition("/")[0], key.partition("/")[2]), {}))
        if view is not None:
            if view.error is not None and _raw_phase(body) not in TERMINAL_PHASES:
                # Failed by the plan's InvalidSpec path (once failed, it is done with, and no longer counted).
                log.add(TRAINING_JOBS, key, INVALID_SPEC, str(view.error))
            views[view.key] = view
    # Pods a TrainingJob controls whose job is gone from the store (a job set aside is still there: not its pods).
    orphans = {key: tuple(pods) for key, pods in sorted(pods_by_job.items()) if store.get(TRAINING_JOBS, key) is None}

    jobs: list[core.Job] = []
    throughputs: list[core.Throughput] = []
    for view in sorted(views.values(), key=lambda v: v.key):
        translated = log.attempt(TRAINING_JOBS, view.key, _core_parts, view, now)
        if translated is None:
            del views[view.key]  # set aside: nothing is done for it this cycle
            continue
        job, measured = translated
        if job is not None:
            jobs.append(job)
        throughputs += measured
    # A job that holds GPUs by its status but that the core does not see (its Tenant or GPUClass is gone): its pods'
    # GPUs stay held until they are gone (control/orphans.py stops it).
    in_core = {j.key for j in jobs if j.allocation is not None}
    unseen = {k for k, v in views.items() if v.phase in (Phase.ADMITTED, Phase.RUNNING) and k not in in_core}
    foreign_pods: list[ForeignPod] = []
    foreign: dict[str, int] = {}  # node -> GPUs held outside the core's accounting
    for held, is_foreign in _held_outside(store, log, unseen):
        foreign[held.node] = foreign.get(held.node, 0) + held.gpus
        if is_foreign:
            foreign_pods.append(held)
    for entry in list(log.entries.values()):  # a job set aside may hold GPUs its pods have not taken yet
        if entry.kind == TRAINING_JOBS and entry.key not in views:
            for node in _set_aside_job_nodes(store.get(TRAINING_JOBS, entry.key) or {}, pods_by_job.get(entry.key, ())):
                foreign[node] = foreign.get(node, 0) + MAX_NODE_GPUS
    core_nodes = _core_nodes(nodes, foreign, jobs)

    core_tenants = with_accruing_spend(core_tenants, views, now)
    snapshot = core.Snapshot(
        classes=tuple(c for _, c in sorted(core_classes.items())),
        nodes=core_nodes,
        tenants=tuple(t for _, t in sorted(core_tenants.items())),
        jobs=tuple(jobs),
        throughputs=tuple(throughputs),
    )
    if jobs_parsed is not None:
        jobs_parsed.end_cycle()
    set_aside = dict(log.entries)
    bodies = {r: b for r, e in set_aside.items() if (b := store.get(e.kind, e.key)) is not None}
    return World(snapshot=snapshot, jobs=views, gpu_classes=gpu_classes, tenants=tenants, node_class=node_class,
                 node_capacity=node_capacity, namespace_tenant=ns_tenant,
                 problems={r: e.message for r, e in set_aside.items()}, namespace_conflicts=ns_conflicts,
                 system_namespace_claims=system_namespace_claims(tenants, protected_namespaces),
                 class_conflicts=class_conflicts, class_age=class_age, protected_namespaces=protected_namespaces,
                 set_aside=set_aside, bodies=bodies, node_states=node_states,
                 orphans={k: v for k, v in orphans.items() if v}, foreign=tuple(foreign_pods),
                 departed=tuple(store.departed(TRAINING_JOBS)))


def _parse_gpu_class(body: Body) -> tuple[GPUClassCR, core.GPUClass]:
    model = parse_gpu_class(body)
    return model, core_gpu_class(model.metadata.name, model)


def _parse_tenant(body: Body) -> tuple[TenantCR, core.Tenant]:
    model = parse_tenant(body)
    return model, core_tenant(model)


def _job_view(body: Body, jobs_parsed: ParseCache[TrainingJobCR] | None, ns_tenant: Mapping[str, str],
              class_nodes: Mapping[str, list[NodeResources]], pods_by_job: Mapping[str, list[Body]],
              protected: frozenset[str] = DEFAULT_PROTECTED_NAMESPACES,
              invalid_claims: Mapping[str, str] | None = None,
              rejections: Mapping[str, tuple[str, str]] | None = None,
              pods_by_key: Mapping[str, Body] | None = None) -> JobView:
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
    problem = None if tenant else _no_tenant(ns, protected, (invalid_claims or {}).get(ns))
    fit = fit_classes(model.spec, class_nodes) if model is not None else Fit()
    refused = (rejections or {}).get(key)
    rejected = refused[1:] if refused is not None and model is not None and refused[0] == str(
        (model.status.allocation.generation or 0) if model.status and model.status.allocation else 0) else None
    squatters = name_squatters(ns, body["metadata"]["name"], _worker_names_needed(model), pods_by_key or {})
    return JobView(key, body, model, error, tenant, problem, tuple(pods_by_job.get(key, ())), fit, rejected,
                   tuple(sorted(squatters.items())))


def _worker_names_needed(model: TrainingJobCR | None) -> int:
    """How many worker names a job may need: up to spec.workers.max, or its current allocation's workers if more."""
    if model is None:
        return 0
    alloc = model.status.allocation if model.status else None
    return max(model.spec.workers.max, len(alloc.nodes) if alloc else 0)


def _core_parts(view: JobView, now: float) -> tuple[core.Job | None, list[core.Throughput]]:
    return core_job(view, now), core_throughputs(view)


TERMINAL_PHASES = (Phase.SUCCEEDED.value, Phase.FAILED.value)


def _raw_phase(body: Body) -> object:
    status = body.get("status")
    return status.get("phase") if isinstance(status, dict) else None


def _set_aside_job_nodes(body: Body, pods: Iterable[Body]) -> set[str]:
    """The nodes a job that could not be read may be using (read defensively): those its raw status says it holds
    while Admitted or Running, and those its active pods are bound to. They are taken as full, so nothing is placed
    where its workers may be: a job set aside gets no actions, so its pods are not on their way out."""
    nodes: set[str] = set()
    if _raw_phase(body) in (Phase.ADMITTED.value, Phase.RUNNING.value):
        allocation = body["status"].get("allocation")
        listed = allocation.get("nodes") if isinstance(allocation, dict) else None
        nodes |= {n for n in listed if isinstance(n, str)} if isinstance(listed, list) else set()
    for pod in pods:
        spec, status = pod.get("spec"), pod.get("status")
        node = spec.get("nodeName") if isinstance(spec, dict) else None
        phase = status.get("phase", "Pending") if isinstance(status, dict) else "Pending"
        if isinstance(node, str) and node and phase in ACTIVE_POD_PHASES:
            nodes.add(node)
    return nodes


def _nodes(store: Store, gpu_classes: Mapping[str, GPUClassCR], class_age: Mapping[str, tuple[float, str]],
           log: SetAsideLog) -> tuple[dict[str, str], dict[str, int], list[core.Node], dict[str, list[NodeResources]],
                                      dict[str, dict[str, tuple[str, ...]]], dict[str, NodeState]]:
    """Nodes of a GPU class: class and GPUs by node name, the core's nodes, each class's nodes' allocatable CPU,
    memory and scratch (what a worker's requests are compared with), the classes whose selectors overlap, and the
    state of every node. A node that cannot be read (its GPUs or other allocatable not a quantity, or more GPUs than
    MAX_NODE_GPUS) is set aside: it counts no GPUs. One whose state cannot be read is taken as not Ready since an
    unknown time: it gets no new gang, and is not lost for it.

    Rule: a node that several classes' selectors match belongs to the oldest of them (by creationTimestamp, then
    name), so creating a GPUClass can never take nodes, and the jobs on them, from another; both are told."""
    node_class: dict[str, str] = {}
    capacity: dict[str, int] = {}
    nodes: list[core.Node] = []
    class_nodes: dict[str, list[NodeResources]] = {}
    shared: dict[str, dict[str, list[str]]] = {}
    states: dict[str, NodeState] = {}
    by_age = sorted(gpu_classes, key=lambda name: class_age[name])
    for body in sorted(store.all(NODES), key=key_of):
        state = states[key_of(body)] = log.attempt(NODES, key_of(body), node_state, body) or NodeState(ready=False)
        matching = log.attempt(NODES, key_of(body), _matching_classes, body, gpu_classes, by_age)
        if not matching:
            continue
        for first in matching:
            for other in matching:
                if other != first:
                    shared.setdefault(first, {}).setdefault(other, []).append(key_of(body))
        read = log.attempt(NODES, key_of(body), _node, body, matching[0], state)
        if read is None:
            continue
        node, resources = read
        node_class[node.name], capacity[node.name] = node.gpu_class, node.gpus
        nodes.append(node)
        class_nodes.setdefault(node.gpu_class, []).append(resources)
    conflicts = {name: {other: tuple(names) for other, names in sorted(others.items())}
                 for name, others in sorted(shared.items())}
    return node_class, capacity, nodes, class_nodes, conflicts, states


def _matching_classes(body: Body, gpu_classes: Mapping[str, GPUClassCR], by_age: list[str]) -> list[str]:
    """The classes whose node selector matches the node's labels, oldest first."""
    labels = body["metadata"].get("labels") or {}
    return [name for name in by_age if _matches(gpu_classes[name].spec.node_selector, labels)]


def _node(body: Body, gpu_class: str, state: NodeState) -> tuple[core.Node, NodeResources] | None:
    """The node as the core sees it (schedulable when usable: Ready and uncordoned), with its allocatable CPU and
    memory; None when it has no GPUs."""
    raw = (body.get("status", {}).get("allocatable") or {}).get(GPU_RESOURCE)
    try:
        gpus = gpu_count(raw)
    except QuantityError as err:
        raise QuantityError(f"status.allocatable[{GPU_RESOURCE}]: {err} (at most {MAX_NODE_GPUS} GPUs a node are "
                            f"counted); the node counts no GPUs until it reports a whole number") from None
    if gpus == 0:
        return None
    return core.Node(str(body["metadata"]["name"]), gpu_class, gpus, state.usable), node_allocatable(body)


def _held_outside(store: Store, log: SetAsideLog, unseen: Set[str] = frozenset()) -> list[tuple[ForeignPod, bool]]:
    """GPUs held outside the core's accounting, each with whether its pod is foreign: active pods holding GPUs that
    no TrainingJob controls (other workloads, and pods that only carry the operator's labels: ownership.py), and
    (not foreign) the pods of the jobs in `unseen` (Admitted or Running, but not in the core's snapshot). The pods of
    other TrainingJobs are the jobs' own: held by their allocation while Admitted or Running, or on their way back
    otherwise (a preempted, restarting, finished or deleted job's pods are being deleted); counting those would make
    a restarted operator preempt again for room its last cycle already freed. A pod whose GPUs cannot be read is
    taken to hold every GPU of its node."""
    held: list[tuple[ForeignPod, bool]] = []
    for pod in store.all(PODS):
        try:
            holding = _pod_holding(pod, unseen)
        except Exception as err:
            spec = pod.get("spec")
            node = spec.get("nodeName") if isinstance(spec, dict) else None
            holding = (node, MAX_NODE_GPUS) if isinstance(node, str) and node else None
            log.failed(PODS, key_of(pod), err, f"; it is taken to hold every GPU of node {node}" if holding else "")
        if holding is not None and holding[1] > 0:
            uid = str((pod.get("metadata") or {}).get("uid") or "")
            held.append((ForeignPod(key_of(pod), holding[0], holding[1], uid), controller_uid(pod) is None))
    return held


def _pod_holding(pod: Body, unseen: Set[str]) -> tuple[str, int] | None:
    """(node, GPUs) an active pod holds outside the core's accounting, or None."""
    node = pod.get("spec", {}).get("nodeName")
    if not node or pod.get("status", {}).get("phase", "Pending") not in ACTIVE_POD_PHASES:
        return None
    if controller_uid(pod) and controlling_job(pod) not in unseen:
        return None
    return str(node), pod_gpus(pod)


def _core_nodes(nodes: list[core.Node], foreign: Mapping[str, int], jobs: list[core.Job]) -> tuple[core.Node, ...]:
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


def with_accruing_spend(tenants: Mapping[str, core.Tenant], views: Mapping[str, JobView],
                        now: float) -> dict[str, core.Tenant]:
    """Rule: a budget reads the tenant's spend as charged (status.spendThisPeriod, the sum of its jobs' charges) plus
    what each of its running jobs has run up since its last charge, at the price it last paid, so that it is not read
    late by the time between two charges (30 s, up to 400 s with 2,000 running jobs)."""
    accruing: dict[str, float] = {}
    for view in views.values():
        status = view.model.status if view.model else None
        alloc = status.allocation if status else None
        if view.tenant not in tenants or view.phase is not Phase.RUNNING or status is None or alloc is None:
            continue
        since = status.cost.accrued_at if status.cost and status.cost.accrued_at else alloc.admitted_at
        if since is not None:
            hours = max(0.0, now - since.timestamp()) / 3600.0
            accruing[view.tenant] = (accruing.get(view.tenant, 0.0)
                                     + (alloc.gpus or 0) * (alloc.price_per_gpu_hour or 0.0) * hours)
    return {name: dataclasses.replace(t, spent_this_period=t.spent_this_period + accruing[name])
            if accruing.get(name) else t for name, t in tenants.items()}


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
    workers = _workers_with_free_names(view, len(status.allocation.nodes) if status and status.allocation else 0)
    if workers is None:
        return None  # a worker it needs to start has its name taken: held back (job_status.unschedulable_status)
    base = dict(key=view.key, tenant=view.tenant, min_workers=spec.workers.min, max_workers=workers,
                gpus_per_worker=spec.gpus_per_worker, gpu_classes=classes, priority=admitted_priority(view),
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


def _workers_with_free_names(view: JobView, holding: int) -> int | None:
    """Rule: a job grows only to the workers whose names no other pod took (ownership.name_squatters): its most
    workers are capped below the first taken rank (never below the `holding` it has); None when even its minimum
    gang has a name taken, so it cannot start (its worker's create would be refused)."""
    assert view.model is not None
    workers = view.model.spec.workers
    taken = min(view.squatted_ranks(), default=None)
    if taken is None:
        return workers.max
    if taken < workers.min and holding == 0:
        return None
    return max(workers.min, holding, min(workers.max, taken))


def admitted_priority(view: JobView) -> int:
    """Rule: a job holds the priority it was admitted with (status.allocation.priority) until it is admitted again;
    a change to spec.priority after admission takes effect at its next admission, so raising it cannot protect a
    running job from preemption. A queued job, or one admitted before the field existed, has spec.priority."""
    assert view.model is not None
    status = view.model.status
    alloc = status.allocation if status else None
    if status is not None and status.phase in (Phase.ADMITTED, Phase.RUNNING) and alloc is not None \
            and alloc.priority is not None:
        return alloc.priority
    return view.model.spec.priority


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
