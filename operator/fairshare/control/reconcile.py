"""Pods to intent: every cycle, the pods of each job are made to match its status, whatever happened before.

A job's status is written first and its pods changed second, so an operator stopped in between (or a lost event, or
someone else's hand) leaves pods that disagree with the status. Here the status wins: pods that should not exist are
deleted, and the missing pods of an admitted gang are created. Together with the lifecycle rules (a Running gang
that lost a pod restarts) this makes status and pods agree within one cycle after a crash at any point.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

from fairshare.api import Phase
from fairshare.api.constants import LABEL_RANK
from fairshare.control.actions import Action, DeletePods
from fairshare.control.nodes import why_lost
from fairshare.control.ownership import controller_uid, created_for
from fairshare.control.podstate import node_name, pod_phase, terminating
from fairshare.control.snapshot import JobView, World
from fairshare.control.store import Body
from fairshare.render.names import worker_pod_name


def _uid(view: JobView) -> str | None:
    return view.body["metadata"].get("uid")


def belongs(view: JobView, pod: Body) -> bool:
    """Rule: a pod is one of the job's workers exactly when its status holds it: a rank below `workers` of the
    current allocation generation while the job is Admitted or Running. No other phase holds pods, except that a
    finished job keeps its finished pods (for their logs). A pod of an earlier job of the same name (another uid)
    never belongs, nor any pod of a job being deleted."""
    if controller_uid(pod) != _uid(view) or view.deleting:
        return False
    phase = view.phase
    if phase is not None and phase.is_terminal:
        return pod_phase(pod) in ("Succeeded", "Failed")
    status = view.model.status if view.model else None
    alloc = status.allocation if status else None
    if phase not in (Phase.ADMITTED, Phase.RUNNING) or alloc is None:
        return False
    if not created_for(pod, _uid(view), alloc.generation or 0):
        return False
    return int((pod["metadata"].get("labels") or {})[LABEL_RANK]) < len(alloc.nodes)


def _deletions(key: str, pods: Iterable[Body], lost: Mapping[str, str]) -> list[Action]:
    """Graceful deletes for pods not yet being deleted; at once for pods on a lost node (already being deleted or
    not: no kubelet there will finish it)."""
    graceful, force = [], []
    for pod in pods:
        node = node_name(pod)
        if node is not None and node in lost:
            force.append(pod["metadata"]["name"])
        elif not terminating(pod):
            graceful.append(pod["metadata"]["name"])
    out: list[Action] = []
    if graceful:
        out.append(DeletePods(key, tuple(sorted(graceful))))
    if force:
        out.append(DeletePods(key, tuple(sorted(force)), force=True))
    return out


def unwanted_pod_actions(world: World, skip: Set[str], lost: Mapping[str, str]) -> list[Action]:
    """Delete every pod a TrainingJob controls that its job's status does not hold (`belongs`), and the live pods of
    jobs that are gone (the garbage collector deletes them too, but is not bounded by a cycle). A pod no TrainingJob
    controls is not the operator's to delete, whatever its labels say. Jobs in `skip` (decided or transitioned this
    cycle) already carry their own deletions. A job the operator cannot parse is left alone: its status cannot be
    trusted either way."""
    actions: list[Action] = []
    for key, view in sorted(world.jobs.items()):
        if key in skip or view.model is None:
            continue
        extra = [p for p in view.pods if controller_uid(p) and not belongs(view, p)]
        actions += _deletions(key, extra, lost)
    for key, pods in sorted(world.orphans.items()):  # finished ones hold no GPU and no name anyone needs yet: GC's
        actions += _deletions(key, [p for p in pods if pod_phase(p) not in ("Succeeded", "Failed")], lost)
    return actions


def missing_ranks(view: JobView) -> list[int]:
    """Ranks of the current allocation with no pod, whose pod name no other pod (an older generation's, still
    terminating) holds: they can be created now."""
    status = view.model.status if view.model else None
    alloc = status.allocation if status else None
    if alloc is None:
        return []
    present = {str((p["metadata"].get("labels") or {}).get(LABEL_RANK)) for p in view.current_pods()}
    taken = {p["metadata"]["name"] for p in view.pods}
    job = view.key.split("/", 1)[1]
    return [rank for rank in range(len(alloc.nodes))
            if str(rank) not in present and worker_pod_name(job, rank) not in taken]


def lost_nodes(world: World, now: float, grace_seconds: float) -> Mapping[str, str]:
    """Every lost node (nodes.why_lost) that an allocation names or a pod is bound to, with why."""
    named: set[str] = set()
    for view in world.jobs.values():
        status = view.model.status if view.model else None
        if status is not None and status.allocation is not None:
            named.update(status.allocation.nodes)
        named.update(n for p in view.pods if (n := node_name(p)))
    for pods in world.orphans.values():
        named.update(n for p in pods if (n := node_name(p)))
    out: dict[str, str] = {}
    for name in sorted(named):
        why = why_lost(world.node_states, name, now, grace_seconds)
        if why is not None:
            out[name] = why
    return out

