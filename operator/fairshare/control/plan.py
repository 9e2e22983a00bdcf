"""One scheduling cycle as a pure function: the World in, the core's result and the actions to apply out.

Steps, in order: (1) report jobs that cannot be scheduled, (2) lifecycle transitions read from pods and nodes, and
jobs whose Tenant or GPUClass is gone requeued (control/orphans.py), (3) the core's decisions on what is left, (4)
pods brought to what each status holds (reconcile.py), cost accrual and measured throughput, (5) GPUClass and Tenant
status. Actions on one object are applied in order, and stop at its first failure: an admission whose conditional
status write loses a race creates no pods.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from fairshare.api import Phase
from fairshare.api import Tenant as TenantCR
from fairshare.control import conditions as cond
from fairshare.control import cost, ledger
from fairshare.control.actions import Action, DeletePods, EnsureChildren, PatchStatus, RecordEvent
from fairshare.control.feedback import feedback_actions
from fairshare.control.foreign import displacing, foreign_rates
from fairshare.control.isolation import INVALID_SPEC, SetAside, SetAsideLog, schedule_isolating
from fairshare.control.lifecycle import observe
from fairshare.control.orphans import orphan_transition
from fairshare.control.ownership import ForeignPod, name_taken_message
from fairshare.control.queue import (
    AT_ONCE,
    NO_NODE_FITS,
    NO_TENANT,
    POD_NAME_TAKEN,
    QueueRefresh,
    queue_entry,
    queue_write,
    ration_refreshes,
    written_at,
)
from fairshare.control.reconcile import lost_nodes, missing_ranks, unwanted_pod_actions
from fairshare.control.snapshot import JobView, World, admitted_priority
from fairshare.control.store import GPU_CLASSES, TENANTS, TRAINING_JOBS
from fairshare.control.tallies import CycleTallies, tally
from fairshare.control.transition import DEFAULT_LIFECYCLE, NODE_LOSS, LifecycleSettings
from fairshare.core import types as core
from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Admit, CycleResult, Decision, Migrate, Preempt, Resize, Wait
from fairshare.core.ledger import Foreign
from fairshare.core.usage import decay_usage
from fairshare.feedback.readings import Reading
from fairshare.render import RenderSettings, WorkerAllocation, build_headless_service, build_worker_pods

HOSTNAME_LABEL = "kubernetes.io/hostname"

Scheduler = Callable[[core.Snapshot, float, PolicyConfig], CycleResult]
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class CyclePlan:
    """What a cycle decided (the core's result) and what the Kubernetes layer must do about it, in three groups.

    - releases: lifecycle transitions, preemptions, shrinks and pods no status holds: everything that frees GPUs;
    - grants: admissions, grows and re-created children, which may count on those GPUs, so they are applied
      only if every release succeeded (a lost race on a preemption must not leave its beneficiary admitted
      onto GPUs the victim still holds);
    - bookkeeping: transitions that free no GPUs (Admitted -> Running), queue positions, failures of invalid
      jobs, cost, GPUClass and Tenant status. The Running writes of a burst's previous cycle come after its new
      admissions rather than before them.
    """

    result: CycleResult
    releases: tuple[Action, ...]
    grants: tuple[Action, ...]
    bookkeeping: tuple[Action, ...]
    transitioned: frozenset[str]
    tallies: CycleTallies  # counted once after the decisions: GPUClass and Tenant status and the metrics read them
    set_aside: Mapping[str, SetAside] = dataclasses.field(default_factory=dict)  # the World's, and the plan's own
    node_losses: frozenset[str] = frozenset()  # jobs stopped because a node under them was lost

    @property
    def actions(self) -> tuple[Action, ...]:
        return self.releases + self.grants + self.bookkeeping


def default_scheduler(snapshot: core.Snapshot, now: float, config: PolicyConfig) -> CycleResult:
    """The scheduling core (tests hand plan_cycle and the loop a scheduler told what to decide instead)."""
    return schedule(snapshot, now, config)


def plan_cycle(world: World, now: float, config: PolicyConfig, settings: RenderSettings,
               scheduler: Scheduler = default_scheduler, readings: Mapping[str, Reading] | None = None,
               warmup_seconds: float = 20.0, lifecycle: LifecycleSettings = DEFAULT_LIFECYCLE) -> CyclePlan:
    """Each step is taken one object at a time, or all at once with a fall-back to one at a time: a job, tenant or
    class on which a step raises is set aside (its GPUs stay held) and reported, and the cycle goes on."""
    releases: list[Action] = []
    grants: list[Action] = []
    bookkeeping: list[Action] = []
    transitioned: dict[str, bool] = {}
    keeping: dict[str, tuple[Action, ...]] = {}  # transitions that free no GPUs (Admitted -> Running): not urgent
    log = SetAsideLog()
    aside: dict[str, bool] = {}  # jobs set aside while planning: out of the core's snapshot, their GPUs held
    lost = dict(_isolated(log, TRAINING_JOBS, functools.partial(
        _lost_node_list, now=now, grace_seconds=lifecycle.node_lost_grace_seconds), world))
    displaced = dict(_isolated(log, TRAINING_JOBS, _displacing_list, world))
    node_losses: set[str] = set()
    for key, view in sorted(world.jobs.items()):
        transition = log.attempt(TRAINING_JOBS, key, observe, view, now, lifecycle, lost, displaced)
        if not log.holds(TRAINING_JOBS, key) and (transition is None or not transition.releases_gpus):
            # Finishing first: a finished job is not requeued.
            transition = log.attempt(TRAINING_JOBS, key, orphan_transition, view, world, now) or transition
        if log.holds(TRAINING_JOBS, key):
            aside[key] = True
        elif transition is not None:
            if transition.releases_gpus:
                releases += charged_on_release(transition.actions, view, world, now)
            else:
                keeping[key] = transition.actions
            transitioned[key] = transition.releases_gpus
            if transition.cause == NODE_LOSS:
                node_losses.add(key)
    for key, view in world.jobs.items():
        if key not in transitioned and key not in aside:  # a job failing this cycle (past its deadline) stays
            held_back = log.attempt(TRAINING_JOBS, key, unschedulable_status, view, now)
            bookkeeping += held_back or []
            if log.holds(TRAINING_JOBS, key):
                aside[key] = True
    # Jobs set aside leave the core's snapshot as releasing jobs do: their GPUs stay held.
    snapshot = without_jobs(world.snapshot, {**transitioned, **aside})

    result, snapshot = schedule_isolating(scheduler, snapshot, now, config, log)
    running = {j.key: j.allocation.workers for j in snapshot.jobs if j.allocation is not None}
    release_failed = False
    for decision in result.decisions:
        parts = log.attempt(TRAINING_JOBS, decision.job_key, decision_actions, decision, world, running, now, settings)
        if parts is None:
            release_failed |= not isinstance(decision, Admit | Wait)
            continue
        releases += parts[0]
        grants += parts[1]
        bookkeeping += parts[2]
    if release_failed:
        grants = []  # they may count on GPUs that a release (or a resize or move) which could not be written holds
    bookkeeping = ration_refreshes(bookkeeping)  # queue entries rewritten only because they moved: a few a cycle

    aside.update({e.key: True for e in log.entries.values() if e.kind == TRAINING_JOBS})
    decided = {d.job_key for d in result.decisions} | set(transitioned)
    # Pods no status holds (a cut-short cycle's deletions, a gang on a lost node, a deleted job's), deleted.
    releases += _isolated(log, TRAINING_JOBS, functools.partial(unwanted_pod_actions, skip=decided, lost=lost), world)
    grants += _isolated(log, TRAINING_JOBS, functools.partial(missing_children_actions, skip=decided | set(aside),
                                                              settings=settings), world)
    # Jobs set aside while they hold GPUs are still charged, at the price they last paid, and counted as held:
    # breaking one's own job (a worker pod it cannot read) must not make it run for free.
    in_core = {j.key for j in snapshot.jobs}
    held_aside = tuple(j for j in world.snapshot.jobs
                       if j.key in aside and j.key not in in_core and j.allocation is not None)
    if held_aside:
        snapshot = dataclasses.replace(snapshot, jobs=snapshot.jobs + held_aside)
        result = dataclasses.replace(result, charges={**result.charges, **{
            j.key: cost.last_price(world.jobs[j.key]) for j in held_aside if j.key in world.jobs}})
    # A transition that frees no GPUs waits until the grants are out, unless the core decided about the same job
    # this cycle: then it goes first, so that the decision's writes come after it (no later write undoes them).
    by_core = {d.job_key for d in result.decisions}
    releases = [a for key, actions in keeping.items() if key in by_core for a in actions] + releases
    bookkeeping = [a for key, actions in keeping.items() if key not in by_core for a in actions] + bookkeeping
    bookkeeping += _isolated(log, TRAINING_JOBS, functools.partial(accrual_actions, charges=result.charges, now=now,
                                                                   skip=decided), world)
    if readings:
        bookkeeping += _isolated(log, TRAINING_JOBS, functools.partial(
            feedback_actions, readings=readings, alpha=config.throughput_smoothing, warmup_seconds=warmup_seconds,
            skip=decided), world)
    tallies = tally(world, snapshot, result)
    # A GPUClass or Tenant set aside while planning gets no status but its Ready False (set_aside_actions).
    in_use = dataclasses.replace(world, gpu_classes={k: c for k, c in world.gpu_classes.items()
                                                     if not log.holds(GPU_CLASSES, k)})
    bookkeeping += _isolated(log, GPU_CLASSES, functools.partial(gpu_class_status_actions, tallies=tallies, now=now),
                              in_use)
    in_use = dataclasses.replace(world, tenants={k: t for k, t in world.tenants.items() if not log.holds(TENANTS, k)})
    # Only the charges that will be written: a job being deleted gets none, so its Tenant's entry keeps its last.
    planned = ledger.planned_costs(without_writes_to_deleted_jobs(releases + grants + bookkeeping, world))
    bookkeeping += _isolated(log, TENANTS, functools.partial(tenant_status_actions, snapshot=snapshot, tallies=tallies,
                                                             now=now,
                                                             half_life_hours=config.half_life_hours, planned=planned),
                              in_use)
    set_aside = {**world.set_aside, **log.entries}
    bookkeeping += set_aside_actions(world, set_aside, now)
    return CyclePlan(result=result, releases=without_writes_to_deleted_jobs(releases, world),
                     grants=without_writes_to_deleted_jobs(grants, world),
                     bookkeeping=without_writes_to_deleted_jobs(bookkeeping, world),
                     transitioned=frozenset(transitioned), set_aside=set_aside, node_losses=frozenset(node_losses),
                     tallies=tallies)


def decision_actions(decision: Decision, world: World, running: Mapping[str, int], now: float,
                     settings: RenderSettings) -> tuple[list[Action], list[Action], list[Action]]:
    """The actions of one core decision: (releases, grants, bookkeeping)."""
    view = world.jobs[decision.job_key]
    if isinstance(decision, Admit):
        return [], admit_actions(view, decision, world, now, settings), []
    if isinstance(decision, Resize):
        actions = charged_on_release(resize_actions(view, decision, world, now, settings), view, world, now)
        grows = decision.workers > running.get(decision.job_key, decision.workers)
        return ([], actions, []) if grows else (actions, [], [])
    if isinstance(decision, Migrate):
        return [], charged_on_release(restart_actions(
            view, decision.gpu_class, decision, world, now, settings, "Migrated",
            f"moved from {_current_class(view)} to {decision.gpu_class}: {decision.reason}"), view, world, now), []
    if isinstance(decision, Preempt):
        return charged_on_release(preempt_actions(view, decision, now), view, world, now), [], []
    assert isinstance(decision, Wait)
    return [], [], wait_actions(view, decision, now)


def _lost_node_list(world: World, now: float, grace_seconds: float) -> list[tuple[str, str]]:
    """reconcile.lost_nodes as (node, why) pairs, so that _isolated can take it one job at a time."""
    return sorted(lost_nodes(world, now, grace_seconds).items())


def _displacing_list(world: World) -> list[tuple[str, tuple[ForeignPod, ...]]]:
    """foreign.displacing as (node, pods) pairs, so that _isolated can take it one job at a time."""
    return sorted(displacing(world).items())


def _isolated(log: SetAsideLog, kind: str, step: Callable[[World], list[T]], world: World) -> list[T]:
    """step(world) over every object of `kind` at once; should it raise, over one object at a time, setting aside
    each object it raises on (the others' results are kept)."""
    try:
        return step(world)
    except Exception:
        pass
    out: list[T] = []
    for key, alone in _one_at_a_time(world, kind):
        out += log.attempt(kind, key, step, alone) or []
    return out


def _one_at_a_time(world: World, kind: str) -> Iterator[tuple[str, World]]:
    """The world reduced to each one object of `kind` in turn (the other kinds unchanged). For TrainingJobs, the
    pods of each deleted job (World.orphans) come alone too, after the jobs, so that nothing is done twice."""
    if kind == TRAINING_JOBS:
        for key, view in sorted(world.jobs.items()):
            yield key, dataclasses.replace(world, jobs={key: view}, orphans={})
        for key, pods in sorted(world.orphans.items()):
            yield key, dataclasses.replace(world, jobs={}, orphans={key: pods})
    elif kind == GPU_CLASSES:
        for key, gpu_class in sorted(world.gpu_classes.items()):
            yield key, dataclasses.replace(world, gpu_classes={key: gpu_class})
    else:
        for key, tenant in sorted(world.tenants.items()):
            yield key, dataclasses.replace(world, tenants={key: tenant})


def without_jobs(snapshot: core.Snapshot, transitioned: Mapping[str, bool]) -> core.Snapshot:
    """Drop jobs that release their GPUs this cycle (their GPUs stay held until their pods are gone); a job that
    keeps its GPUs (Admitted -> Running) stays, or its tenant would look as if it held nothing."""
    leaving = {key for key, releases in transitioned.items() if releases}
    if not leaving:
        return snapshot
    held: dict[str, int] = {}
    for job in snapshot.jobs:
        if job.key in leaving and job.allocation is not None:
            for node in job.allocation.nodes:
                held[node] = held.get(node, 0) + job.gpus_per_worker
    nodes = tuple(dataclasses.replace(n, gpus=max(0, n.gpus - held.get(n.name, 0))) for n in snapshot.nodes)
    jobs = tuple(j for j in snapshot.jobs if j.key not in leaving)
    return dataclasses.replace(snapshot, jobs=jobs, nodes=nodes)


def without_writes_to_deleted_jobs(actions: Sequence[Action], world: World) -> tuple[Action, ...]:
    """Rule: a TrainingJob being deleted (metadata.deletionTimestamp set) gets no further status writes (queue
    position, failure, charges): each would be one more PATCH the API server must serve for an object on its way out,
    and a burst of deletions would otherwise cost as many. Its pods are still deleted."""
    return tuple(a for a in actions if not (isinstance(a, PatchStatus) and a.kind == TRAINING_JOBS
                                            and (view := world.jobs.get(a.key)) is not None and view.deleting))


def set_aside_actions(world: World, set_aside: Mapping[str, SetAside], now: float) -> list[Action]:
    """Report each object set aside on the object itself, once (written only when it changes): a Tenant or GPUClass
    gets Ready False, with the reason and the message naming the field and value, and an Event; a queued TrainingJob
    set aside for anything but its spec (which fails it: unschedulable_status) waits with that reason. Running jobs
    keep what they hold (counted as held), and Nodes and Pods are not the operator's to write: the loop logs each
    object once and counts them all (fairshare_objects_set_aside)."""
    actions: list[Action] = []
    for ref, entry in sorted(set_aside.items()):
        body = _body_of(world, ref, entry)
        if body is None:
            continue
        if entry.kind in (TENANTS, GPU_CLASSES):
            actions += _not_ready(entry, body, now)
        elif entry.kind == TRAINING_JOBS and entry.reason != INVALID_SPEC:
            actions += _job_set_aside(entry, body, now)
    return actions


def _body_of(world: World, ref: str, entry: SetAside) -> Mapping[str, Any] | None:
    if ref in world.bodies:
        return world.bodies[ref]
    if entry.kind == TRAINING_JOBS and entry.key in world.jobs:
        return world.jobs[entry.key].body
    model = (world.tenants if entry.kind == TENANTS else world.gpu_classes if entry.kind == GPU_CLASSES else {}).get(
        entry.key)
    return model.model_dump(mode="json", by_alias=True, exclude_none=True) if model is not None else None


def _raw_status(body: Mapping[str, Any]) -> dict[str, Any]:
    status = body.get("status")
    return dict(status) if isinstance(status, dict) else {}


def _not_ready(entry: SetAside, body: Mapping[str, Any], now: float) -> list[Action]:
    current = cond.well_formed(_raw_status(body).get("conditions"))
    generation = (body.get("metadata") or {}).get("generation")
    conditions = cond.set_condition(current, cond.READY, False, entry.reason, entry.message, now,
                                    generation if isinstance(generation, int) else None)
    if cond.same_conditions(conditions, current):
        return []
    return [PatchStatus(entry.kind, entry.key, {"conditions": conditions}),
            RecordEvent(entry.key, "Warning", entry.reason, entry.message, kind=entry.kind)]


def _job_set_aside(entry: SetAside, body: Mapping[str, Any], now: float) -> list[Action]:
    status = _raw_status(body)
    if status.get("phase") not in (None, Phase.QUEUED.value):
        return []
    message = f"set aside by the operator: {entry.message}"
    conditions = cond.set_condition(status.get("conditions") or [], cond.ADMITTED, False, entry.reason, message, now)
    queue = status.get("queue") if isinstance(status.get("queue"), dict) else {}
    if (status.get("phase") == Phase.QUEUED.value and queue.get("reason") == message
            and queue.get("reasonCode") == entry.reason
            and cond.same_conditions(conditions, status.get("conditions") or [])):
        return []
    return [PatchStatus(TRAINING_JOBS, entry.key, {"phase": Phase.QUEUED.value, "conditions": conditions,
                                                   "queue": queue_entry(entry.reason, message)}),
            RecordEvent(entry.key, "Warning", entry.reason, message)]


def _status(view: JobView) -> dict[str, Any]:
    return _raw_status(view.body)


def _rv(view: JobView) -> str | None:
    return view.body["metadata"].get("resourceVersion")


def unschedulable_status(view: JobView, now: float) -> list[Action]:
    """An invalid spec fails the job with the field named; a namespace with no Tenant, or workers no node can
    hold, keep it queued, explained (a Tenant or a bigger node may come)."""
    status = _status(view)
    if view.error is not None:
        if status.get("phase") in (Phase.FAILED.value, Phase.SUCCEEDED.value):
            return []
        message = f"invalid spec: {view.error}"
        return [PatchStatus(TRAINING_JOBS, view.key, {
            "phase": Phase.FAILED.value, "completionTime": cond.rfc3339(now),
            "conditions": cond.set_condition(status.get("conditions") or [], cond.FINISHED, True, "InvalidSpec",
                                             message, now)}),
            RecordEvent(view.key, "Warning", "InvalidSpec", message)]
    if status.get("phase") not in (None, Phase.QUEUED.value):
        return []
    if view.tenant is None and view.tenant_problem:
        return _held_back(view, status, NO_TENANT, view.tenant_problem, {}, now)
    if view.tenant is not None and view.fit.problem:
        return _held_back(view, status, NO_NODE_FITS, view.fit.problem, {"tenant": view.tenant}, now)
    blocking = {r: k for r, k in view.squatted_ranks().items() if view.model and r < view.model.spec.workers.min}
    if view.tenant is not None and blocking:
        return _held_back(view, status, POD_NAME_TAKEN, name_taken_message(blocking, "it stays queued until the "
                                                                           "name is free"), {"tenant": view.tenant},
                          now)
    return []


def _held_back(view: JobView, status: dict[str, Any], reason: str, message: str, extra: dict[str, Any],
               now: float) -> list[Action]:
    """Queued, with a reason the core never sees; written only when it changes."""
    conditions = cond.set_condition(status.get("conditions") or [], cond.ADMITTED, False, reason, message, now)
    queue = status.get("queue") or {}
    unchanged = (status.get("phase") == Phase.QUEUED.value and queue.get("reason") == message
                 and queue.get("reasonCode") == reason and queue.get("position") is None
                 and all(status.get(k) == v for k, v in extra.items()))
    if unchanged and cond.same_conditions(conditions, status.get("conditions") or []):
        return []
    # No position: the core does not queue it (a merge patch needs null to drop one left by an earlier wait).
    return [PatchStatus(TRAINING_JOBS, view.key, {"phase": Phase.QUEUED.value, **extra, "conditions": conditions,
                                                  "queue": queue_entry(reason, message)})]


def _children(view: JobView, world: World, gpu_class: str, nodes: tuple[str, ...], generation: int,
              settings: RenderSettings, ranks: Sequence[int] | None = None) -> EnsureChildren:
    """Service and pods for an allocation (only those of `ranks`, when given); each pod is pinned to the node the
    core chose (the scheduler still checks the fit and binds it) and tolerates the taints its GPUClass lists."""
    assert view.model is not None and view.tenant is not None
    spec = world.gpu_classes[gpu_class].spec
    allocation = WorkerAllocation(view.tenant, gpu_class, dict(spec.node_selector), len(nodes), generation,
                                  tuple(t.to_body() for t in spec.tolerations))
    pods = build_worker_pods(view.model, allocation, settings)
    for pod, node in zip(pods, nodes, strict=True):
        pod["spec"]["nodeSelector"] = {**pod["spec"].get("nodeSelector", {}), HOSTNAME_LABEL: node}
    if ranks is not None:
        pods = [pods[r] for r in ranks]
    # A job that never has more than one worker rendezvous with itself on localhost: no Service, one write less.
    service = build_headless_service(view.model, settings) if view.model.spec.workers.max > 1 else None
    return EnsureChildren(view.key, service, tuple(pods))


def _allocation_status(gpu_class: str, nodes: tuple[str, ...], gpus_per_worker: int, price: float,
                       generation: int, opportunistic: bool, now: float, priority: int) -> dict[str, Any]:
    return {"gpuClass": gpu_class, "workers": len(nodes), "gpus": len(nodes) * gpus_per_worker, "nodes": list(nodes),
            "pricePerGPUHour": round(price, 6), "admittedAt": cond.rfc3339(now), "generation": generation,
            "opportunistic": opportunistic, "priority": priority}


def admit_actions(view: JobView, decision: Admit, world: World, now: float, settings: RenderSettings) -> list[Action]:
    assert view.model is not None
    generation = view.generation + 1
    status = _status(view)
    how = "on idle capacity (preemptible, floor price)" if decision.opportunistic else "within its tenant's share"
    message = (f"admitted {decision.workers} x {view.model.spec.gpus_per_worker} {decision.gpu_class} GPUs "
               f"{how} at {decision.price_per_gpu_hour:.3f} credits/GPU-hour")
    if decision.reason:  # it took GPUs from others: say whom, and why that was fair
        message += f"; {decision.reason}"
    conditions = cond.set_condition(status.get("conditions") or [], cond.ADMITTED, True, "Admitted", message, now)
    conditions = cond.set_condition(conditions, cond.PREEMPTED, False, "Admitted", message, now)
    patch = {"phase": Phase.ADMITTED.value, "tenant": view.tenant, "queue": None, "conditions": conditions,
             "samplesPerSecond": None,  # measured on the previous allocation; the new one is measured afresh
             "allocation": _allocation_status(decision.gpu_class, decision.nodes, view.model.spec.gpus_per_worker,
                                              decision.price_per_gpu_hour, generation, decision.opportunistic, now,
                                              view.model.spec.priority),
             "cost": {**(status.get("cost") or {}), "accruedAt": cond.rfc3339(now)}}
    return [PatchStatus(TRAINING_JOBS, view.key, patch, _rv(view)),
            _children(view, world, decision.gpu_class, decision.nodes, generation, settings),
            RecordEvent(view.key, "Normal", "Admitted", message)]


def missing_children_actions(world: World, skip: set[str], settings: RenderSettings) -> list[Action]:
    """An Admitted job short of pods gets its missing workers created, each once no older pod holds its name (after
    a resize the old pods terminate first; or the operator stopped between the status write and the creation; or
    someone deleted one before the gang ran). A Running gang that lost a worker restarts instead (lifecycle)."""
    actions: list[Action] = []
    for key, view in sorted(world.jobs.items()):
        alloc = view.model.status.allocation if view.model and view.model.status else None
        if (key in skip or view.phase is not Phase.ADMITTED or view.tenant is None or alloc is None
                or alloc.gpu_class not in world.gpu_classes or view.rejected is not None or view.deleting):
            continue
        ranks = missing_ranks(view)
        if ranks:
            actions.append(_children(view, world, alloc.gpu_class or "", tuple(alloc.nodes), view.generation,
                                     settings, ranks))
    return actions


def _current_class(view: JobView) -> str:
    alloc = view.model.status.allocation if view.model and view.model.status else None
    return (alloc.gpu_class or "") if alloc else ""


def resize_actions(view: JobView, decision: Resize, world: World, now: float,
                   settings: RenderSettings) -> list[Action]:
    """Elastic resize restarts the gang at the new size from its checkpoint (new generation, new pods)."""
    assert view.model is not None and view.model.status is not None and view.model.status.allocation is not None
    old = view.model.status.allocation
    gpu_class = old.gpu_class or ""
    message = (f"resized from {old.workers} to {decision.workers} workers on {gpu_class}"
               f"{': ' + decision.reason if decision.reason else ''}")
    return restart_actions(view, gpu_class, decision, world, now, settings, "Resized", message)


def restart_actions(view: JobView, gpu_class: str, decision: Resize | Migrate, world: World, now: float,
                    settings: RenderSettings, reason: str, message: str) -> list[Action]:
    """Restart the gang from its checkpoint on `decision.nodes` of `gpu_class`: a new generation, new pods (a
    resize, or a move to another class). The old pods are deleted first; the new ones, pinned to their nodes,
    start once the GPUs are free."""
    assert view.model is not None and view.model.status is not None and view.model.status.allocation is not None
    old = view.model.status.allocation
    generation = view.generation + 1
    status = _status(view)
    patch = {"phase": Phase.ADMITTED.value, "samplesPerSecond": None,
             "allocation": _allocation_status(gpu_class, decision.nodes, view.model.spec.gpus_per_worker,
                                              decision.price_per_gpu_hour, generation, bool(old.opportunistic), now,
                                              admitted_priority(view)),
             "conditions": cond.set_condition(status.get("conditions") or [], cond.RUNNING, False,
                                              "Resizing" if reason == "Resized" else "Moving", message, now)}
    old_pods = tuple(p["metadata"]["name"] for p in view.pods)
    actions: list[Action] = [PatchStatus(TRAINING_JOBS, view.key, patch, _rv(view))]
    if old_pods:
        actions.append(DeletePods(view.key, old_pods))
    actions += [_children(view, world, gpu_class, decision.nodes, generation, settings),
                RecordEvent(view.key, "Normal", reason, message)]
    return actions


def preempt_actions(view: JobView, decision: Preempt, now: float) -> list[Action]:
    status = _status(view)
    conditions = cond.set_condition(status.get("conditions") or [], cond.PREEMPTED, True, "Preempted",
                                    decision.reason, now)
    conditions = cond.set_condition(conditions, cond.ADMITTED, False, "Preempted", decision.reason, now)
    conditions = cond.set_condition(conditions, cond.RUNNING, False, "Preempted", decision.reason, now)
    actions: list[Action] = [PatchStatus(TRAINING_JOBS, view.key, {"phase": Phase.PREEMPTED.value,
                                                                   "conditions": conditions}, _rv(view))]
    names = tuple(p["metadata"]["name"] for p in view.pods)
    if names:
        actions.append(DeletePods(view.key, names))
    actions.append(RecordEvent(view.key, "Warning", "Preempted", decision.reason))
    return actions


def wait_actions(view: JobView, decision: Wait, now: float) -> list[Action]:
    """Write the queue position and reason only when they change materially (control/queue.py), so a queue that
    moves costs writes in proportion to what users would notice, not one per waiting job per cycle."""
    status = _status(view)
    queue = queue_entry(decision.code, decision.reason, decision.position)
    stored = status.get("queue")
    waiting = [c for c in cond.well_formed(status.get("conditions") or []) if c.get("type") == cond.ADMITTED]
    why = AT_ONCE
    if (status.get("phase") == Phase.QUEUED.value and status.get("tenant") == view.tenant
            and isinstance(stored, dict)
            and [(c.get("status"), c.get("reason"), c.get("message")) for c in waiting]
            == [("False", "Waiting", stored.get("reason"))]):
        why = queue_write(stored, queue, now)
        if why is None:
            return []
    conditions = cond.set_condition(status.get("conditions") or [], cond.ADMITTED, False, "Waiting",
                                    decision.reason, now)
    patch = {"phase": Phase.QUEUED.value, "tenant": view.tenant, "queue": {**queue, "updatedAt": cond.rfc3339(now)},
             "conditions": conditions}
    if why == AT_ONCE:
        return [PatchStatus(TRAINING_JOBS, view.key, patch)]
    return [QueueRefresh(TRAINING_JOBS, view.key, patch, written_at=written_at(stored))]


def accrual_actions(world: World, charges: Mapping[str, float], now: float, skip: set[str]) -> list[Action]:
    """Charge each running job price x GPUs x hours since it was last charged, once per `accrual_interval` (which
    grows with the number of running jobs); the price it pays now goes to `allocation.pricePerGPUHour`. A gang
    still starting (Admitted) is not charged (cost.charged_phase)."""
    actions: list[Action] = []
    interval = cost.accrual_interval(len(charges))
    for key, price in sorted(charges.items()):
        view = world.jobs.get(key)
        if key in skip or view is None or not cost.charged_phase(view):
            continue
        seconds = cost.seconds_uncharged(view, now)
        if seconds is None or seconds < interval:
            continue
        charged = cost.charged_through(view, world, now, price)
        actions.append(PatchStatus(TRAINING_JOBS, key, {"cost": charged,
                                                        "allocation": {"pricePerGPUHour": round(price, 6)}},
                                   view.body["metadata"].get("resourceVersion")))
    return actions


def charged_on_release(actions: Sequence[Action], view: JobView, world: World, now: float) -> list[Action]:
    """The job's first status patch (the one that releases its GPUs) also charges its allocation up to now, so
    the interval since the last periodic charge is not lost; the later charges skip it (no allocation, or a new
    one counted from its admission)."""
    out = list(actions)
    charged = cost.final_charge(view, world, now)
    if charged is None:
        return out
    for i, action in enumerate(out):
        if isinstance(action, PatchStatus) and action.kind == TRAINING_JOBS and action.key == view.key:
            out[i] = dataclasses.replace(action, status={**action.status, "cost": charged})
            break
    return out


def merge_patch_map(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch turning map `current` into `desired`: removed keys become null."""
    return {**{k: None for k in current if k not in desired}, **desired}


MAX_NODES_NAMED = 10


def _node_list(nodes: Sequence[str]) -> str:
    named = ", ".join(nodes[:MAX_NODES_NAMED])
    return named + (f" and {len(nodes) - MAX_NODES_NAMED} more" if len(nodes) > MAX_NODES_NAMED else "")


def selector_conflict(world: World, name: str) -> str | None:
    """Rule: a node that two classes' selectors match belongs to the older class (snapshot._nodes); both classes are
    told which nodes, and who holds them."""
    others = world.class_conflicts.get(name) or {}
    if not others:
        return None
    parts = []
    for other, nodes in sorted(others.items()):
        holder = name if world.class_age[name] < world.class_age[other] else other
        kept = "they stay in this class" if holder == name else f"they belong to GPUClass {other}, not this class"
        plural = len(nodes) > 1
        parts.append(f"node{'s' if plural else ''} {_node_list(nodes)} also match{'' if plural else 'es'} "
                     f"GPUClass {other}'s nodeSelector: {kept}")
    return ("; ".join(parts) + " (a node belongs to the oldest GPUClass that selects it, by creationTimestamp, then "
            "name); make the nodeSelectors disjoint")


def gpu_class_status_actions(world: World, tallies: CycleTallies, now: float) -> list[Action]:
    """Each GPUClass's status: its capacity, allocated, foreign and idle GPUs and its price, as the cycle's tallies
    have them, and its node-selector conflicts; written when any of them changes."""
    actions: list[Action] = []
    for name, gpu_class in sorted(world.gpu_classes.items()):
        desired: dict[str, Any] = {
            "capacity": tallies.capacity.get(name, 0), "allocated": tallies.allocated(name),
            "foreign": tallies.foreign.get(name, 0), "idle": tallies.idle(name),
            "currentPricePerGPUHour": round(tallies.prices.get(name, gpu_class.spec.price_per_gpu_hour), 6)}
        current = gpu_class.status.model_dump(by_alias=True, exclude_none=True) if gpu_class.status else {}
        written = [c.model_dump(mode="json", by_alias=True, exclude_none=True)
                   for c in (gpu_class.status.conditions if gpu_class.status else [])]
        conditions = cond.report(written, cond.CONFLICT, selector_conflict(world, name), "NodesOverlap",
                                 "NoConflict", "no node matches another GPUClass's nodeSelector", now,
                                 gpu_class.metadata.generation)
        conditions = cond.ready_again(conditions, now, gpu_class.metadata.generation)  # set aside earlier: Ready
        if not cond.same_conditions(conditions, written):
            desired["conditions"] = conditions
        if any(current.get(k) != v for k, v in desired.items()):
            actions.append(PatchStatus(GPU_CLASSES, name, desired))
    return actions


@dataclasses.dataclass(frozen=True)
class TenantMeter:
    """A tenant's decayed usage brought up to `now`, integrated from `usageUpdatedAt` over the GPUs it held."""

    decayed_gpu_hours: float
    elapsed: float  # seconds integrated; 0 when the clock starts now


def meter(tenant: TenantCR, gpus_held: int, now: float, half_life_hours: float) -> TenantMeter:
    """Decayed GPU-hours, integrated over the GPUs the tenant held since the stored `usageUpdatedAt`. Integrating
    from the stored time makes it idempotent: a lost write is redone over the longer interval by the next cycle.
    (Spend is not metered here: it is the sum of the jobs' charges, control/ledger.py.)"""
    status = tenant.status
    usage = (status.decayed_usage_gpu_hours or 0.0) if status else 0.0
    since = status.usage_updated_at.timestamp() if status and status.usage_updated_at else None
    if since is None:
        return TenantMeter(usage, 0.0)
    elapsed = max(0.0, now - since)
    return TenantMeter(decay_usage(usage, gpus_held, elapsed / 3600.0, half_life_hours), elapsed)


def namespace_conflict(world: World, name: str) -> str | None:
    """Rule: a namespace already held by an older Tenant is ignored for a later one, which is told so."""
    lost = world.namespace_conflicts.get(name) or {}
    if not lost:
        return None
    held = "; ".join(f"namespace {ns} is held by Tenant {owner}" for ns, owner in sorted(lost.items()))
    return (f"{held} (the oldest Tenant that lists a namespace owns it); it is ignored for this Tenant, so remove it "
            f"from spec.namespaces or from the other Tenant")


def system_namespaces(world: World, name: str) -> str | None:
    """Rule: a system namespace a Tenant lists is ignored for it (no job runs there); the Tenant is told."""
    claimed = world.system_namespace_claims.get(name) or ()
    if not claimed:
        return None
    protected = ", ".join(sorted(world.protected_namespaces))
    return (f"spec.namespaces lists the system namespace{'s' if len(claimed) > 1 else ''} {', '.join(claimed)}, "
            f"which no Tenant owns (kube-*, and the operator's protected namespaces: {protected}); the operator "
            f"ignores {'them' if len(claimed) > 1 else 'it'} and runs no job there, so remove "
            f"{'them' if len(claimed) > 1 else 'it'} from spec.namespaces")


def unknown_gpu_classes(world: World, tenant: TenantCR) -> str | None:
    """Keys of guaranteed and borrowingLimit that name no GPUClass count for nothing until the class exists."""
    unknown = [f"spec.guaranteed[{c}]" for c in sorted(tenant.spec.guaranteed) if c not in world.gpu_classes]
    unknown += [f"spec.borrowingLimit[{c}]" for c in sorted(tenant.spec.borrowing_limit or {})
                if c not in world.gpu_classes]
    if not unknown:
        return None
    names, count = ("names", "it counts") if len(unknown) == 1 else ("name", "they count")
    return (f"{', '.join(unknown)} {names} no GPUClass; {count} for nothing until such a class is created (check "
            f"the spelling against `kubectl get gpuclasses`)")


def tenant_conditions(world: World, name: str, tenant: TenantCR, now: float) -> list[dict[str, Any]]:
    current = [c.model_dump(mode="json", by_alias=True, exclude_none=True)
               for c in (tenant.status.conditions if tenant.status else [])]
    generation = tenant.metadata.generation
    conditions = cond.report(current, cond.CONFLICT, namespace_conflict(world, name), "NamespaceHeld",
                             "NoConflict", "every namespace in spec.namespaces belongs to this Tenant", now,
                             generation)
    conditions = cond.report(conditions, cond.UNKNOWN_GPU_CLASS, unknown_gpu_classes(world, tenant),
                             "NoSuchGPUClass", "AllClassesKnown",
                             "every class in spec.guaranteed and spec.borrowingLimit exists", now, generation)
    conditions = cond.report(conditions, cond.SYSTEM_NAMESPACE, system_namespaces(world, name), "SystemNamespace",
                             "NoSystemNamespace", "spec.namespaces lists no system namespace", now, generation)
    return cond.ready_again(conditions, now, generation)


def share_ratio(tallies: CycleTallies, tenant: str) -> float | None:
    """The tenant's share ratio as its status shows it: the core's, to the two decimals the queue reasons quote (so
    the status changes only when the quoted figure does); None (no field) when the core has none for it or it is
    infinite (GPUs held at full price with no entitlement), which JSON cannot carry."""
    ratio = tallies.share_ratios.get(tenant)
    return round(ratio, 2) if ratio is not None and math.isfinite(ratio) else None


def tenant_status_actions(world: World, snapshot: core.Snapshot, tallies: CycleTallies, now: float,
                          half_life_hours: float,
                          planned: Mapping[str, Mapping[str, Any]] | None = None) -> list[Action]:
    """Each Tenant's status: what it holds and its fair share (written when they change), its decayed usage (every
    cost.ACCRUAL_MIN_SECONDS), and its spend this period, the sum of its jobs' charges as this cycle leaves them
    (`planned`: job key -> the status.cost this cycle writes), written in the cycle that charges them."""
    held = tallies.held
    holding: dict[str, int] = {}  # GPUs each tenant held during the interval that ends now (before decisions)
    for job in snapshot.jobs:
        if job.allocation is not None:
            holding[job.tenant] = holding.get(job.tenant, 0) + job.allocation.workers * job.gpus_per_worker
    for (name, _), gpus in sorted(tallies.foreign_held.items()):
        holding[name] = holding.get(name, 0) + gpus  # pods of its namespaces the operator did not create
    foreign = tallies.foreign_held
    rates = foreign_rates(world, tallies.prices)
    charges = ledger.job_charges(world, planned or {})
    actions: list[Action] = []
    for name, tenant in sorted(world.tenants.items()):
        allocated = {c: v for (t, c), v in sorted(held.items()) if t == name and v}
        foreign_held = {c: v for (t, c), v in sorted(foreign.items()) if t == name and v}
        shares = {c: round(v, 3) for c, v in sorted((tallies.fair_shares.get(name) or {}).items())}
        current = tenant.status.model_dump(by_alias=True, exclude_none=True) if tenant.status else {}
        metered = meter(tenant, holding.get(name, 0), now, half_life_hours)
        book = ledger.tenant_ledger(tenant, charges.get(name, {}), now,
                                    Foreign(rates.get(name, {}), ledger.foreign_due(tenant, now)))
        # Usage moves every cycle while GPUs are held: it is written at most every cost.ACCRUAL_MIN_SECONDS (or when
        # the clock starts), and otherwise with a change of the rest; spend is written whenever a charge moves it.
        due = metered.elapsed >= cost.ACCRUAL_MIN_SECONDS or "usageUpdatedAt" not in current
        charged = ledger.changed(book, tenant)
        desired: dict[str, Any] = {"allocated": allocated, "allocatedGPUs": sum(allocated.values()),
                                   "fairShare": shares}
        if foreign_held or current.get("foreign"):
            desired["foreign"] = foreign_held
        ratio = share_ratio(tallies, name)
        if ratio is not None or "shareRatio" in current:
            desired["shareRatio"] = ratio  # null drops one the tenant no longer has
        conditions = tenant_conditions(world, name, tenant, now)
        if not cond.same_conditions(conditions, current.get("conditions") or []):
            desired["conditions"] = conditions
        if any(current.get(k) != v for k, v in desired.items()) or due or charged:
            if due:
                desired.update(decayedUsageGPUHours=round(metered.decayed_gpu_hours, 6),
                               usageUpdatedAt=cond.rfc3339(now))
            if due or charged:
                desired.update(ledger.ledger_status(book, tenant), periodStart=cond.rfc3339(book.period_start))
                if tenant.spec.budget:
                    desired["creditsLeft"] = round(tenant.spec.budget.credits_per_period - book.spend, 6)
            actions.append(PatchStatus(TENANTS, name, {
                **desired,
                # A merge patch merges maps: a class that dropped out must be sent as null to disappear.
                "allocated": merge_patch_map(current.get("allocated") or {}, allocated),
                "fairShare": merge_patch_map(current.get("fairShare") or {}, shares),
                **({"foreign": merge_patch_map(current.get("foreign") or {}, foreign_held)} if "foreign" in desired
                   else {})},
                tenant.metadata.resource_version if due or charged else None))
    return actions
