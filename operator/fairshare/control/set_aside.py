"""Objects a cycle set aside, reported on themselves: Ready False on a Tenant or GPUClass, a reason on a queued job."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fairshare.api import GPUClassStatus, Phase, TenantStatus, TrainingJobStatus
from fairshare.control import conditions as cond
from fairshare.control.actions import Action, PatchStatus, RecordEvent
from fairshare.control.isolation import INVALID_SPEC, SetAside
from fairshare.control.job_status import raw_status
from fairshare.control.queue import (
    queue_entry,
)
from fairshare.control.snapshot import World
from fairshare.control.store import GPU_CLASSES, TENANTS, TRAINING_JOBS


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


def _not_ready(entry: SetAside, body: Mapping[str, Any], now: float) -> list[Action]:
    current = cond.well_formed(raw_status(body).get("conditions"))
    generation = (body.get("metadata") or {}).get("generation")
    conditions = cond.set_condition(current, cond.READY, False, entry.reason, entry.message, now,
                                    generation if isinstance(generation, int) else None)
    if cond.same_conditions(conditions, current):
        return []
    model = TenantStatus if entry.kind == TENANTS else GPUClassStatus
    return [PatchStatus(entry.kind, entry.key, model.merge_patch(conditions=conditions)),
            RecordEvent(entry.key, "Warning", entry.reason, entry.message, kind=entry.kind)]


def _job_set_aside(entry: SetAside, body: Mapping[str, Any], now: float) -> list[Action]:
    status = raw_status(body)
    if status.get("phase") not in (None, Phase.QUEUED.value):
        return []
    message = f"set aside by the operator: {entry.message}"
    conditions = cond.set_condition(status.get("conditions") or [], cond.ADMITTED, False, entry.reason, message, now)
    queue = status.get("queue") if isinstance(status.get("queue"), dict) else {}
    if (status.get("phase") == Phase.QUEUED.value and queue.get("reason") == message
            and queue.get("reasonCode") == entry.reason
            and cond.same_conditions(conditions, status.get("conditions") or [])):
        return []
    return [PatchStatus(TRAINING_JOBS, entry.key, TrainingJobStatus.merge_patch(
        phase=Phase.QUEUED.value, conditions=conditions, queue=queue_entry(entry.reason, message, conditions))),
            RecordEvent(entry.key, "Warning", entry.reason, message)]
