"""A job's life after admission, read from its pods and nodes: running, finished, failed and restarted with
back-off, stuck at the start, lost with a pod or a node, refused by the API server, drained, timed out.

Each rule is a small function of one JobView and the cycle's Context; `observe` applies the first that fires. The
scheduling core never sees these transitions: it works on the jobs that are still pending or running afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from fairshare.api import CostStatus, Phase
from fairshare.api import TrainingJobStatus as JobStatus
from fairshare.api.constants import GPU_RESOURCE, LABEL_RANK
from fairshare.control import conditions as cond
from fairshare.control.actions import DeletePods, PatchStatus, RecordEvent
from fairshare.control.ownership import ForeignPod, name_taken_message
from fairshare.control.podstate import PodProblem, failure, pod_phase, start_problem, terminating, timestamp
from fairshare.control.queue import FOREIGN_POD, POD_NAME_TAKEN, UNSCHEDULABLE, queue_entry
from fairshare.control.snapshot import JobView
from fairshare.control.store import TRAINING_JOBS
from fairshare.control.transition import (
    DEFAULT_LIFECYCLE,
    LifecycleSettings,
    Transition,
    finish,
    names,
    resource_version,
    restart,
    status_of,
    stop_for_lost_node,
)
from fairshare.render.names import worker_pod_name

SERVICE_NAME_TAKEN = "ServiceNameTaken"  # a Service the operator did not create holds the job's Service name

__all__ = ["Context", "Transition", "observe"]


@dataclasses.dataclass(frozen=True)
class Context:
    """What the rules read besides the job: the time, the settings, and which nodes are lost."""

    now: float
    settings: LifecycleSettings = DEFAULT_LIFECYCLE
    lost_nodes: Mapping[str, str] = dataclasses.field(default_factory=dict)  # lost node -> why (nodes.why_lost)
    displaced: Mapping[str, tuple[ForeignPod, ...]] = dataclasses.field(default_factory=dict)
    # node -> the foreign pods on it, where they and the allocations there hold more GPUs than it has

    def lost(self, node: str | None) -> str | None:
        return self.lost_nodes.get(node) if node else None


def rule_succeeded(view: JobView, ctx: Context) -> Transition | None:
    """A job succeeds when its rank-0 worker exits 0 (torchrun's rank 0 ends last and speaks for the world)."""
    pods = view.current_pods()
    rank0 = [p for p in pods if (p["metadata"].get("labels") or {}).get(LABEL_RANK) == "0"]
    if rank0 and pod_phase(rank0[0]) == "Succeeded":
        return finish(view, ctx.now, Phase.SUCCEEDED, "Succeeded", f"rank 0 of {len(pods)} workers exited 0")
    return None


def _name(view: JobView) -> str:
    return view.key.split("/", 1)[1]


def _allocation_nodes(view: JobView) -> list[str]:
    alloc = view.model.status.allocation if view.model and view.model.status else None
    return list(alloc.nodes) if alloc else []


def rule_node_lost(view: JobView, ctx: Context) -> Transition | None:
    """A gang one of whose workers was placed on a lost node (deleted, or NotReady past the grace period) stops and
    requeues from its checkpoint, with reason NodeLost (transition.stop_for_lost_node)."""
    lost = {node: why for node in _allocation_nodes(view) if (why := ctx.lost(node)) is not None}
    if not lost:
        return None
    for pod in view.pods:  # a pod bound to a lost node, wherever its allocation placed it
        node = (pod.get("spec") or {}).get("nodeName")
        if node and node not in lost and (why := ctx.lost(node)) is not None:
            lost[node] = why
    rank, node = next((r, n) for r, n in enumerate(_allocation_nodes(view)) if n in lost)
    return stop_for_lost_node(view, ctx.now, worker_pod_name(_name(view), rank), lost[node], lost)


def rule_worker_failed(view: JobView, ctx: Context) -> Transition | None:
    """A failed worker breaks the gang: restart the whole gang from its checkpoint with back-off, until
    runPolicy.backoffLimit, then fail (transition.restart)."""
    failed = [p for p in view.current_pods() if pod_phase(p) == "Failed"]
    if not failed or view.model is None:
        return None
    pod = failed[0]
    return restart(view, ctx.now, ctx.settings, failure(pod), pod["metadata"]["name"])


def rule_deadline(view: JobView, ctx: Context) -> Transition | None:
    """runPolicy.activeDeadlineSeconds counts from the first start; past it the job fails, whatever it was doing."""
    if view.model is None or view.model.status is None or view.model.status.start_time is None:
        return None
    deadline = view.model.spec.run_policy.active_deadline_seconds
    if deadline is None or ctx.now - view.model.status.start_time.timestamp() <= deadline:
        return None
    return finish(view, ctx.now, Phase.FAILED, "DeadlineExceeded",
                  f"ran past runPolicy.activeDeadlineSeconds ({deadline}s) since it first started")


def rule_rejected(view: JobView, ctx: Context) -> Transition | None:
    """A worker pod the API server refuses to create (too large, invalid, denied by admission) will be refused again,
    and a Service the operator did not create that holds the name of the job's rendezvous Service stays until someone
    deletes it: the job fails with the words of either rather than holding its GPUs with no pods."""
    if view.rejected is None or view.phase is not Phase.ADMITTED:
        return None
    resource, why = view.rejected
    if resource == "services":
        return finish(view, ctx.now, Phase.FAILED, SERVICE_NAME_TAKEN,
                      f"the job's workers find each other through the Service {why}; delete that Service, or "
                      f"submit the job again under another name")
    return finish(view, ctx.now, Phase.FAILED, "PodRejected",
                  f"the API server refused to create the job's workers: {why}; a TrainingJob's pod template "
                  f"cannot change, so fix it in a new TrainingJob")


def rule_start_failed(view: JobView, ctx: Context) -> Transition | None:
    """A worker stuck where waiting will not help (an image that cannot be pulled, a missing PVC or Secret) fails the
    start once it has been so for pod_start_grace_seconds: a counted restart, as a failed worker. Before that, the
    Running condition says so once, so `kubectl describe` and `fairshare explain` show it at once."""
    if view.model is None:
        return None
    for pod in view.current_pods():
        problem = start_problem(pod)
        if problem is None:
            continue
        name = pod["metadata"]["name"]
        since = problem.since if problem.since is not None else ctx.now
        due = since + ctx.settings.pod_start_grace_seconds
        if ctx.now >= due:
            return restart(view, ctx.now, ctx.settings, problem, name)
        return _note_not_running(view, ctx, problem.reason,
                                 f"worker {name}: {problem.message}; the gang restarts from its last "
                                 f"checkpoint at {cond.rfc3339(due)} if it has not started by then")
    return None


def _note_not_running(view: JobView, ctx: Context, reason: str, message: str) -> Transition | None:
    """Set the Running condition False with `reason`, once (no write when it already says so); the job keeps its
    GPUs."""
    status = status_of(view)
    current = status.get("conditions") or []
    conditions = cond.set_condition(current, cond.RUNNING, False, reason, message, ctx.now)
    if cond.same_conditions(conditions, current):
        return None
    return Transition((PatchStatus(TRAINING_JOBS, view.key, JobStatus.merge_patch(conditions=conditions)),),
                      releases_gpus=False)


def rule_worker_lost(view: JobView, ctx: Context) -> Transition | None:
    """A Running job whose worker pod is gone, or being deleted by someone else (the operator changes the status
    before it deletes a pod), has a broken gang: a counted restart from its checkpoint, as a failed worker."""
    if view.phase is not Phase.RUNNING or view.model is None or view.model.status is None:
        return None
    alloc = view.model.status.allocation
    if alloc is None:
        return None
    present = {str((p["metadata"].get("labels") or {}).get(LABEL_RANK)): p for p in view.current_pods()}
    for rank in range(len(alloc.nodes)):
        pod = present.get(str(rank))
        if pod is None:
            problem = PodProblem("WorkerLost", "its pod is gone (deleted while the gang ran)")
        elif terminating(pod):
            problem = PodProblem("WorkerLost", "its pod is being deleted (not by the operator) while the gang runs")
        else:
            continue
        return restart(view, ctx.now, ctx.settings, problem, worker_pod_name(_name(view), rank))
    return None


def rule_all_running(view: JobView, ctx: Context) -> Transition | None:
    """Admitted becomes Running once every worker of the current allocation runs. The gang is charged from then on
    (cost.accruedAt starts now): GPUs held while its pods were starting are not charged (docs/api.md)."""
    if view.phase is not Phase.ADMITTED or view.model is None or view.model.status is None:
        return None
    alloc = view.model.status.allocation
    pods = view.current_pods()
    if not alloc or len(pods) != (alloc.workers or 0) or any(pod_phase(p) != "Running" for p in pods):
        return None
    status = status_of(view)
    message = f"{len(pods)} workers running on {alloc.gpu_class}"
    patch = JobStatus.merge_patch(phase=Phase.RUNNING.value, cost=CostStatus.merge_patch(
        accrued_at=cond.rfc3339(ctx.now)), conditions=cond.set_condition(
            status.get("conditions") or [], cond.RUNNING, True, "AllWorkersRunning", message, ctx.now))
    if not status.get("startTime"):
        patch.update(JobStatus.merge_patch(start_time=cond.rfc3339(ctx.now)))
    # No Event: the Running condition says the same, and an Event per start was a third of the writes of a job's
    # launch (docs/benchmarks/operator.md). Events mark decisions: admit, preempt, resize, move, finish.
    return Transition((PatchStatus(TRAINING_JOBS, view.key, patch),), releases_gpus=False)


def _unschedulable_since(pod: dict[str, Any]) -> tuple[float, str] | None:
    """When kube-scheduler marked the pod Unschedulable, and why; None while it is not."""
    for c in (pod.get("status") or {}).get("conditions") or []:
        if (isinstance(c, dict) and c.get("type") == "PodScheduled" and c.get("status") == "False"
                and c.get("reason") == "Unschedulable"):
            since = timestamp(c.get("lastTransitionTime"))
            return None if since is None else (since, str(c.get("message") or ""))
    return None


def _fix_hint(message: str) -> str:
    """What to check, from the scheduler's words: the worker's requests when a node lacks CPU, memory or scratch."""
    if any(f"Insufficient {r}" in message for r in ("cpu", "memory", "ephemeral-storage")):
        return "check spec.resources (or the podTemplate's requests) against the nodes' allocatable"
    return "see the scheduler's message"


def rule_unschedulable(view: JobView, ctx: Context) -> Transition | None:
    """An admitted worker that kube-scheduler cannot place for pod_start_grace_seconds, for want of something other
    than GPUs (the core counts those; a victim still checkpointing holds them for its grace period), will not run
    there: the gang goes back to the queue with the scheduler's words, freeing its GPUs. It is not counted as a
    restart: the core placed it by GPUs alone, so the node it chose may be the problem."""
    if view.phase is not Phase.ADMITTED:
        return None
    for pod in view.current_pods():
        stuck = _unschedulable_since(pod)
        if (stuck is None or ctx.now - stuck[0] < ctx.settings.pod_start_grace_seconds
                or GPU_RESOURCE in stuck[1]):
            continue
        message = (f"worker {pod['metadata']['name']} could not be scheduled for {ctx.now - stuck[0]:.0f}s: "
                   f"{stuck[1]}; requeued ({_fix_hint(stuck[1])})")
        return _requeue(view, ctx, UNSCHEDULABLE, message)
    return None


def rule_foreign_pod(view: JobView, ctx: Context) -> Transition | None:
    """An admitted worker that kube-scheduler cannot place for want of GPUs, on a node where pods the operator did
    not create hold GPUs the allocations there counted on (they came after the core placed the gang), will not run
    there: the gang goes back to the queue at once, with a reason naming those pods, freeing its GPUs. Not a
    restart: the job did nothing wrong."""
    if view.phase is not Phase.ADMITTED or not ctx.displaced:
        return None
    nodes = _allocation_nodes(view)
    for pod in view.current_pods():
        stuck = _unschedulable_since(pod)
        rank = int((pod["metadata"].get("labels") or {})[LABEL_RANK])
        node = nodes[rank] if rank < len(nodes) else None
        foreign = ctx.displaced.get(node) if node else None
        if stuck is None or GPU_RESOURCE not in stuck[1] or not foreign:
            continue
        pods = ", ".join(f"{p.key} ({p.gpus} GPU{'s' if p.gpus != 1 else ''})" for p in foreign)
        plural = "s" if len(foreign) > 1 else ""
        message = (f"worker {pod['metadata']['name']} cannot get its GPUs on node {node}: pod{plural} {pods}, "
                   f"which the operator did not create, took them after the gang was placed; "
                   f"requeued to be placed again")
        return _requeue(view, ctx, FOREIGN_POD, message)
    return None


def rule_name_taken(view: JobView, ctx: Context) -> Transition | None:
    """An admitted gang one of whose workers' names a pod the operator did not create holds (ownership.name_squatters)
    cannot start: the create of that worker is refused, and the pod is never adopted. The gang goes back to the
    queue at once, freeing its GPUs, with a reason naming the pod and the fix (it is admitted again, smaller or
    once the name is free). Not a restart: the job did nothing wrong."""
    if view.phase is not Phase.ADMITTED:
        return None
    present = {str((p["metadata"].get("labels") or {}).get(LABEL_RANK)) for p in view.current_pods()}
    blocking = {rank: key for rank, key in view.squatted_ranks().items()
                if rank < len(_allocation_nodes(view)) and str(rank) not in present}
    if not blocking:
        return None
    return _requeue(view, ctx, POD_NAME_TAKEN, name_taken_message(blocking, "requeued"))


def _requeue(view: JobView, ctx: Context, reason: str, message: str) -> Transition:
    """Back to the queue with `reason` (its reason code too), its pods deleted and its GPUs freed; not counted as a
    restart."""
    status = status_of(view)
    conditions = cond.set_condition(status.get("conditions") or [], cond.ADMITTED, False, reason, message, ctx.now)
    patch = JobStatus.merge_patch(phase=Phase.QUEUED.value, allocation=None,
                                  queue=queue_entry(reason, message, conditions), conditions=conditions)
    return Transition((PatchStatus(TRAINING_JOBS, view.key, patch, resource_version(view)),
                       *_delete(view), RecordEvent(view.key, "Warning", reason, message)), releases_gpus=True)


def _delete(view: JobView) -> tuple[DeletePods, ...]:
    return (DeletePods(view.key, names(view.pods)),) if view.pods else ()


def rule_drained(view: JobView, ctx: Context) -> Transition | None:
    """A preempted job requeues once its last pod is gone (its GPUs are really free then), keeping its progress."""
    if view.phase is not Phase.PREEMPTED or view.pods:
        return None
    status = status_of(view)
    patch = JobStatus.merge_patch(phase=Phase.QUEUED.value, allocation=None, conditions=cond.set_condition(
        status.get("conditions") or [], cond.PREEMPTED, False, "Requeued",
        "workers stopped after checkpointing; waiting to be admitted again", ctx.now))
    return Transition((PatchStatus(TRAINING_JOBS, view.key, patch, resource_version(view)),), releases_gpus=False)


Rule = Callable[[JobView, Context], Transition | None]
ACTIVE_RULES: tuple[Rule, ...] = (
    rule_succeeded, rule_node_lost, rule_worker_failed, rule_deadline, rule_rejected, rule_worker_lost,
    rule_name_taken, rule_start_failed, rule_all_running, rule_foreign_pod, rule_unschedulable,
)


def observe(view: JobView, now: float, settings: LifecycleSettings = DEFAULT_LIFECYCLE,
            lost_nodes: Mapping[str, str] | None = None,
            displaced: Mapping[str, tuple[ForeignPod, ...]] | None = None) -> Transition | None:
    """The first lifecycle rule that fires for this job, if any. A job queued again after it started (preempted,
    restarted) still runs out of time: its deadline counts from the first start, not from the last admission.
    `lost_nodes` (node -> why) are the nodes reconcile.lost_nodes found lost; `displaced` (node -> foreign pods) the
    nodes foreign.displacing found over-committed by pods the operator did not create."""
    phase = view.phase
    if view.model is None or phase is None or phase.is_terminal or view.deleting:
        return None  # (a job being deleted is left to the garbage collector: no restart, no new pod)
    ctx = Context(now, settings, lost_nodes or {}, displaced or {})
    if phase is Phase.QUEUED:
        return rule_deadline(view, ctx)
    if phase is Phase.PREEMPTED:
        return rule_drained(view, ctx)
    for rule in ACTIVE_RULES:
        transition = rule(view, ctx)
        if transition is not None:
            return transition
    return None
