"""A running TrainingJob's charges as status writes: periodic accruals, and the last in the write releasing its GPUs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from fairshare.api import AllocationStatus, TrainingJobStatus
from fairshare.control import cost
from fairshare.control.actions import Action, PatchStatus
from fairshare.control.snapshot import JobView, World
from fairshare.control.store import TRAINING_JOBS


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
        patch = TrainingJobStatus.merge_patch(
            cost=charged, allocation=AllocationStatus.merge_patch(price_per_gpu_hour=round(price, 6)))
        actions.append(PatchStatus(TRAINING_JOBS, key, patch, view.body["metadata"].get("resourceVersion")))
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
            status = {**action.status, **TrainingJobStatus.merge_patch(cost=charged)}
            out[i] = dataclasses.replace(action, status=status)
            break
    return out
