"""Jobs whose Tenant or GPUClass is gone: stopped after a checkpoint and requeued, never left running unaccounted.

Policy (docs/api.md, "Jobs whose Tenant or GPUClass is gone"): an admitted or running job whose namespace no Tenant
owns any more, or whose allocation is on a GPUClass that no longer exists, is preempted: it is charged up to now,
its workers get SIGTERM and their grace period to checkpoint, and it goes back to the queue with its progress and a
condition that names what went missing. A job is never left holding GPUs that no tenant is charged for and no class
accounts for. Each rule is a function of one JobView and the World; `orphan_transition` applies the first that fires.
"""

from __future__ import annotations

from collections.abc import Callable

from fairshare.api import Phase, TrainingJobStatus
from fairshare.control import conditions as cond
from fairshare.control.actions import Action, DeletePods, PatchStatus, RecordEvent
from fairshare.control.lifecycle import Transition
from fairshare.control.queue import NO_TENANT
from fairshare.control.snapshot import JobView, World
from fairshare.control.store import TRAINING_JOBS

NO_GPU_CLASS = "NoGPUClass"
HOLDING_PHASES = (Phase.ADMITTED, Phase.RUNNING)


def _requeue(view: JobView, now: float, reason: str, message: str, **extra: object) -> Transition:
    """Preempted with `reason` on every condition it touches; the drained rule requeues it once its pods are gone.
    The patch also charges it up to now (accrual.charged_on_release)."""
    status = dict(view.body.get("status") or {})
    conditions = cond.set_condition(status.get("conditions") or [], cond.PREEMPTED, True, reason, message, now)
    conditions = cond.set_condition(conditions, cond.ADMITTED, False, reason, message, now)
    conditions = cond.set_condition(conditions, cond.RUNNING, False, reason, message, now)
    patch = TrainingJobStatus.merge_patch(phase=Phase.PREEMPTED.value, conditions=conditions, **extra)
    actions: list[Action] = [PatchStatus(TRAINING_JOBS, view.key, patch, view.body["metadata"].get("resourceVersion"))]
    pods = tuple(p["metadata"]["name"] for p in view.pods)
    if pods:
        actions.append(DeletePods(view.key, pods))
    actions.append(RecordEvent(view.key, "Warning", reason, message))
    return Transition(tuple(actions), releases_gpus=True)


def rule_tenant_gone(view: JobView, world: World, now: float) -> Transition | None:
    """A job that holds GPUs while its namespace belongs to no Tenant (its Tenant was deleted, dropped the namespace,
    or the namespace is a system one) is stopped and requeued with reason NoTenant: it waits until a Tenant owns the
    namespace again, since no tenant could be charged for it, nor its share counted."""
    if view.phase not in HOLDING_PHASES or view.tenant is not None or view.model is None:
        return None
    was = view.model.status.tenant if view.model.status else None
    charged = f" (it was charged to Tenant {was})" if was else ""
    message = (f"stopped after checkpointing and requeued, as a job runs only charged to a Tenant{charged}: "
               f"{view.tenant_problem}")
    return _requeue(view, now, NO_TENANT, message, tenant=None)


def rule_gpu_class_gone(view: JobView, world: World, now: float) -> Transition | None:
    """A job that holds GPUs of a GPUClass that no longer exists (deleted, or no longer valid) is stopped and requeued
    with reason NoGPUClass naming the class: no class counts its GPUs, prices them or charges for them."""
    if view.phase not in HOLDING_PHASES or view.model is None or view.model.status is None:
        return None
    alloc = view.model.status.allocation
    gpu_class = alloc.gpu_class if alloc is not None else None
    if not gpu_class or gpu_class in world.gpu_classes:
        return None
    problem = world.problems.get(f"gpuclass/{gpu_class}")
    what = f"is invalid ({problem})" if problem else "was deleted"
    message = (f"GPUClass {gpu_class}, which this job's GPUs belong to, {what}; stopped after checkpointing and "
               f"requeued for the classes that exist")
    return _requeue(view, now, NO_GPU_CLASS, message)


ORPHAN_RULES: tuple[Callable[[JobView, World, float], Transition | None], ...] = (
    rule_tenant_gone, rule_gpu_class_gone,
)


def orphan_transition(view: JobView, world: World, now: float) -> Transition | None:
    """The first orphan rule that fires for this job, if any."""
    for rule in ORPHAN_RULES:
        transition = rule(view, world, now)
        if transition is not None:
            return transition
    return None
