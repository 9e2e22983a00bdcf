"""A TrainingJob's status writes for the core's decisions (admit, resize, move, preempt, wait) and jobs held back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fairshare.api import AllocationStatus, CostStatus, Phase, QueueStatus
from fairshare.api import TrainingJobStatus as JobStatus
from fairshare.control import conditions as cond
from fairshare.control.accrual import charged_on_release
from fairshare.control.actions import Action, DeletePods, PatchStatus, RecordEvent
from fairshare.control.children import children
from fairshare.control.ownership import name_taken_message
from fairshare.control.queue import (
    AT_ONCE,
    NO_NODE_FITS,
    NO_TENANT,
    POD_NAME_TAKEN,
    QueueRefresh,
    queue_entry,
    queue_write,
    written_at,
)
from fairshare.control.snapshot import JobView, World, admitted_priority
from fairshare.control.store import TRAINING_JOBS
from fairshare.core.decisions import Admit, Decision, Migrate, Preempt, Resize, Wait
from fairshare.render import RenderSettings


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


def raw_status(body: Mapping[str, Any]) -> dict[str, Any]:
    status = body.get("status")
    return dict(status) if isinstance(status, dict) else {}


def _status(view: JobView) -> dict[str, Any]:
    return raw_status(view.body)


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
        return [PatchStatus(TRAINING_JOBS, view.key, JobStatus.merge_patch(
            phase=Phase.FAILED.value, completion_time=cond.rfc3339(now),
            conditions=cond.set_condition(status.get("conditions") or [], cond.FINISHED, True, "InvalidSpec",
                                          message, now))),
            RecordEvent(view.key, "Warning", "InvalidSpec", message)]
    if status.get("phase") not in (None, Phase.QUEUED.value):
        return []
    if view.tenant is None and view.tenant_problem:
        return _held_back(view, status, NO_TENANT, view.tenant_problem, None, now)
    if view.tenant is not None and view.fit.problem:
        return _held_back(view, status, NO_NODE_FITS, view.fit.problem, view.tenant, now)
    blocking = {r: k for r, k in view.squatted_ranks().items() if view.model and r < view.model.spec.workers.min}
    if view.tenant is not None and blocking:
        return _held_back(view, status, POD_NAME_TAKEN, name_taken_message(blocking, "it stays queued until the "
                                                                           "name is free"), view.tenant, now)
    return []


def _held_back(view: JobView, status: dict[str, Any], reason: str, message: str, tenant: str | None,
               now: float) -> list[Action]:
    """Queued, with a reason the core never sees (and its tenant, when it has one); written only when it changes."""
    extra = JobStatus.merge_patch(tenant=tenant) if tenant is not None else {}
    conditions = cond.set_condition(status.get("conditions") or [], cond.ADMITTED, False, reason, message, now)
    queue = status.get("queue") or {}
    unchanged = (status.get("phase") == Phase.QUEUED.value and queue.get("reason") == message
                 and queue.get("reasonCode") == reason and queue.get("position") is None
                 and all(status.get(k) == v for k, v in extra.items()))
    if unchanged and cond.same_conditions(conditions, status.get("conditions") or []):
        return []
    # No position: the core does not queue it (a merge patch needs null to drop one left by an earlier wait).
    patch = JobStatus.merge_patch(phase=Phase.QUEUED.value, conditions=conditions,
                                  queue=queue_entry(reason, message, conditions))
    return [PatchStatus(TRAINING_JOBS, view.key, {**patch, **extra})]


def _allocation_status(gpu_class: str, nodes: tuple[str, ...], gpus_per_worker: int, price: float,
                       generation: int, opportunistic: bool, now: float, priority: int) -> dict[str, Any]:
    return AllocationStatus.merge_patch(gpu_class=gpu_class, workers=len(nodes), gpus=len(nodes) * gpus_per_worker,
                                        nodes=list(nodes), price_per_gpu_hour=round(price, 6),
                                        admitted_at=cond.rfc3339(now), generation=generation,
                                        opportunistic=opportunistic, priority=priority)


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
    patch = JobStatus.merge_patch(
        phase=Phase.ADMITTED.value, tenant=view.tenant, queue=None, conditions=conditions,
        samples_per_second=None,  # measured on the previous allocation; the new one is measured afresh
        allocation=_allocation_status(decision.gpu_class, decision.nodes, view.model.spec.gpus_per_worker,
                                      decision.price_per_gpu_hour, generation, decision.opportunistic, now,
                                      view.model.spec.priority),
        cost={**(status.get("cost") or {}), **CostStatus.merge_patch(accrued_at=cond.rfc3339(now))})
    return [PatchStatus(TRAINING_JOBS, view.key, patch, _rv(view)),
            children(view, world, decision.gpu_class, decision.nodes, generation, settings),
            RecordEvent(view.key, "Normal", "Admitted", message)]


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
    patch = JobStatus.merge_patch(
        phase=Phase.ADMITTED.value, samples_per_second=None,
        allocation=_allocation_status(gpu_class, decision.nodes, view.model.spec.gpus_per_worker,
                                      decision.price_per_gpu_hour, generation, bool(old.opportunistic), now,
                                      admitted_priority(view)),
        conditions=cond.set_condition(status.get("conditions") or [], cond.RUNNING, False,
                                      "Resizing" if reason == "Resized" else "Moving", message, now))
    old_pods = tuple(p["metadata"]["name"] for p in view.pods)
    actions: list[Action] = [PatchStatus(TRAINING_JOBS, view.key, patch, _rv(view))]
    if old_pods:
        actions.append(DeletePods(view.key, old_pods))
    actions += [children(view, world, gpu_class, decision.nodes, generation, settings),
                RecordEvent(view.key, "Normal", reason, message)]
    return actions


def preempt_actions(view: JobView, decision: Preempt, now: float) -> list[Action]:
    status = _status(view)
    conditions = cond.set_condition(status.get("conditions") or [], cond.PREEMPTED, True, "Preempted",
                                    decision.reason, now)
    conditions = cond.set_condition(conditions, cond.ADMITTED, False, "Preempted", decision.reason, now)
    conditions = cond.set_condition(conditions, cond.RUNNING, False, "Preempted", decision.reason, now)
    actions: list[Action] = [PatchStatus(TRAINING_JOBS, view.key, JobStatus.merge_patch(
        phase=Phase.PREEMPTED.value, conditions=conditions), _rv(view))]
    names = tuple(p["metadata"]["name"] for p in view.pods)
    if names:
        actions.append(DeletePods(view.key, names))
    actions.append(RecordEvent(view.key, "Warning", "Preempted", decision.reason))
    return actions


def wait_actions(view: JobView, decision: Wait, now: float) -> list[Action]:
    """Write the queue position and reason only when they change materially (control/queue.py), so a queue that
    moves costs writes in proportion to what users would notice, not one per waiting job per cycle."""
    status = _status(view)
    conditions = cond.set_condition(status.get("conditions") or [], cond.ADMITTED, False, "Waiting",
                                    decision.reason, now)
    queue = queue_entry(decision.code, decision.reason, conditions, decision.position)
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
    patch = JobStatus.merge_patch(phase=Phase.QUEUED.value, tenant=view.tenant,
                                  queue={**queue, **QueueStatus.merge_patch(updated_at=cond.rfc3339(now))},
                                  conditions=conditions)
    if why == AT_ONCE:
        return [PatchStatus(TRAINING_JOBS, view.key, patch)]
    return [QueueRefresh(TRAINING_JOBS, view.key, patch, written_at=written_at(stored))]
