"""GPUClass status: capacity, allocated, foreign and idle GPUs and price, from the tallies; selector conflicts."""

from __future__ import annotations

from collections.abc import Sequence

from fairshare.api import GPUClassStatus
from fairshare.control import conditions as cond
from fairshare.control.actions import Action, PatchStatus
from fairshare.control.snapshot import World
from fairshare.control.store import GPU_CLASSES
from fairshare.control.tallies import CycleTallies

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
        desired = GPUClassStatus.merge_patch(
            capacity=tallies.capacity.get(name, 0), allocated=tallies.allocated(name),
            foreign=tallies.foreign.get(name, 0), idle=tallies.idle(name),
            current_price_per_gpu_hour=round(tallies.prices.get(name, gpu_class.spec.price_per_gpu_hour), 6))
        current = gpu_class.status.model_dump(by_alias=True, exclude_none=True) if gpu_class.status else {}
        written = [c.model_dump(mode="json", by_alias=True, exclude_none=True)
                   for c in (gpu_class.status.conditions if gpu_class.status else [])]
        conditions = cond.report(written, cond.CONFLICT, selector_conflict(world, name), "NodesOverlap",
                                 "NoConflict", "no node matches another GPUClass's nodeSelector", now,
                                 gpu_class.metadata.generation)
        conditions = cond.ready_again(conditions, now, gpu_class.metadata.generation)  # set aside earlier: Ready
        if not cond.same_conditions(conditions, written):
            desired.update(GPUClassStatus.merge_patch(conditions=conditions))
        if any(current.get(k) != v for k, v in desired.items()):
            actions.append(PatchStatus(GPU_CLASSES, name, desired))
    return actions
