"""A job's life after admission, read from its pods: running, finished, failed and restarted, drained, timed out.

Each rule is a small function of one JobView; `observe` applies the first that fires. The scheduling core
never sees these transitions: it works on the jobs that are still pending or running afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fairshare.api import Phase
from fairshare.api.constants import LABEL_RANK
from fairshare.control import conditions as cond
from fairshare.control.actions import Action, DeletePods, PatchStatus, RecordEvent
from fairshare.control.snapshot import GPU_RESOURCE, JobView
from fairshare.control.store import TRAINING_JOBS


@dataclasses.dataclass(frozen=True)
class Transition:
    """The job leaves its phase: the actions that record it, and whether it still holds its GPUs this cycle."""

    actions: tuple[Action, ...]
    releases_gpus: bool


def _pod_phase(pod: dict[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def _exit_code(pod: dict[str, Any]) -> int | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        terminated = (status.get("state") or {}).get("terminated")
        if terminated:
            return int(terminated.get("exitCode", 1))
    return None


def _status(view: JobView) -> dict[str, Any]:
    return dict(view.body.get("status") or {})


def _finish(view: JobView, now: float, phase: Phase, reason: str, message: str) -> Transition:
    """Terminal: record it, stop any pod still running; a terminal job is never restarted nor charged again."""
    status = _status(view)
    patch = {
        "phase": phase.value, "completionTime": cond.rfc3339(now), "queue": None,
        "conditions": cond.set_condition(
            cond.set_condition(status.get("conditions") or [], cond.FINISHED, True, reason, message, now),
            cond.RUNNING, False, reason, message, now),
    }
    live = tuple(p["metadata"]["name"] for p in view.pods if _pod_phase(p) in ("Pending", "Running"))
    actions: list[Action] = [PatchStatus(TRAINING_JOBS, view.key, patch, view.body["metadata"].get("resourceVersion"))]
    if live:
        actions.append(DeletePods(view.key, live))
    actions.append(RecordEvent(view.key, "Normal" if phase is Phase.SUCCEEDED else "Warning", reason, message))
    return Transition(tuple(actions), releases_gpus=True)


def rule_succeeded(view: JobView, now: float) -> Transition | None:
    """A job succeeds when its rank-0 worker exits 0 (torchrun's rank 0 ends last and speaks for the world)."""
    pods = view.current_pods()
    rank0 = [p for p in pods if (p["metadata"].get("labels") or {}).get(LABEL_RANK) == "0"]
    if rank0 and _pod_phase(rank0[0]) == "Succeeded":
        return _finish(view, now, Phase.SUCCEEDED, "Succeeded", f"rank 0 of {len(pods)} workers exited 0")
    return None


def rule_worker_failed(view: JobView, now: float) -> Transition | None:
    """A failed worker breaks the gang: restart the whole gang from its checkpoint until backoffLimit, then fail."""
    failed = [p for p in view.current_pods() if _pod_phase(p) == "Failed"]
    if not failed or view.model is None:
        return None
    pod = failed[0]
    restarts = (view.model.status.restarts or 0) if view.model.status else 0
    limit = view.model.spec.run_policy.backoff_limit
    detail = f"worker {pod['metadata']['name']} failed (exit code {_exit_code(pod)})"
    if restarts >= limit:
        return _finish(view, now, Phase.FAILED, "BackoffLimitExceeded",
                       f"{detail}; {restarts} restarts used of runPolicy.backoffLimit {limit}")
    status = _status(view)
    message = f"{detail}; restarting the gang from its last checkpoint ({restarts + 1}/{limit})"
    patch = {"phase": Phase.QUEUED.value, "restarts": restarts + 1, "allocation": None,
             "conditions": cond.set_condition(
                 cond.set_condition(status.get("conditions") or [], cond.RUNNING, False, "Restarting", message, now),
                 cond.ADMITTED, False, "Restarting", message, now)}
    # Every pod goes, the failed ones too: the new gang reuses their names (and, from generation 0, their labels).
    pods = tuple(p["metadata"]["name"] for p in view.pods)
    actions: list[Action] = [PatchStatus(TRAINING_JOBS, view.key, patch, view.body["metadata"].get("resourceVersion"))]
    if pods:
        actions.append(DeletePods(view.key, pods))
    actions.append(RecordEvent(view.key, "Warning", "Restarting", message))
    return Transition(tuple(actions), releases_gpus=True)


def rule_deadline(view: JobView, now: float) -> Transition | None:
    """runPolicy.activeDeadlineSeconds counts from the first start; past it the job fails, whatever it was doing."""
    if view.model is None or view.model.status is None or view.model.status.start_time is None:
        return None
    deadline = view.model.spec.run_policy.active_deadline_seconds
    if deadline is None or now - view.model.status.start_time.timestamp() <= deadline:
        return None
    return _finish(view, now, Phase.FAILED, "DeadlineExceeded",
                   f"ran past runPolicy.activeDeadlineSeconds ({deadline}s) since it first started")


def rule_all_running(view: JobView, now: float) -> Transition | None:
    """Admitted becomes Running once every worker of the current allocation runs."""
    if view.phase is not Phase.ADMITTED or view.model is None or view.model.status is None:
        return None
    alloc = view.model.status.allocation
    pods = view.current_pods()
    if not alloc or len(pods) != (alloc.workers or 0) or any(_pod_phase(p) != "Running" for p in pods):
        return None
    status = _status(view)
    message = f"{len(pods)} workers running on {alloc.gpu_class}"
    patch: dict[str, Any] = {"phase": Phase.RUNNING.value,
                             "conditions": cond.set_condition(status.get("conditions") or [], cond.RUNNING, True,
                                                              "AllWorkersRunning", message, now)}
    if not status.get("startTime"):
        patch["startTime"] = cond.rfc3339(now)
    # No Event: the Running condition says the same, and an Event per start was a third of the writes of a job's
    # launch (docs/benchmarks/operator.md). Events mark decisions: admit, preempt, resize, move, finish.
    return Transition((PatchStatus(TRAINING_JOBS, view.key, patch),), releases_gpus=False)


UNSCHEDULABLE_REQUEUE_SECONDS = 120.0


def _unschedulable_since(pod: dict[str, Any]) -> tuple[float, str] | None:
    """When kube-scheduler marked the pod Unschedulable, and why; None while it is not."""
    for c in (pod.get("status") or {}).get("conditions") or []:
        if (isinstance(c, dict) and c.get("type") == "PodScheduled" and c.get("status") == "False"
                and c.get("reason") == "Unschedulable"):
            try:
                since = datetime.fromisoformat(str(c.get("lastTransitionTime"))).timestamp()
            except ValueError:
                return None
            return since, str(c.get("message") or "")
    return None


def rule_unschedulable(view: JobView, now: float) -> Transition | None:
    """An admitted worker that kube-scheduler cannot place for UNSCHEDULABLE_REQUEUE_SECONDS, for want of something
    other than GPUs (the core counts those; a victim still checkpointing holds them for its grace period), will not
    run there: the gang goes back to the queue with the scheduler's words, freeing its GPUs."""
    if view.phase is not Phase.ADMITTED:
        return None
    for pod in view.current_pods():
        stuck = _unschedulable_since(pod)
        if stuck is None or now - stuck[0] < UNSCHEDULABLE_REQUEUE_SECONDS or GPU_RESOURCE in stuck[1]:
            continue
        status = _status(view)
        message = (f"worker {pod['metadata']['name']} could not be scheduled for {now - stuck[0]:.0f}s: {stuck[1]}; "
                   f"requeued (check spec.resources against the nodes' allocatable)")
        patch = {"phase": Phase.QUEUED.value, "allocation": None, "queue": {"reason": message},
                 "conditions": cond.set_condition(status.get("conditions") or [], cond.ADMITTED, False,
                                                  "Unschedulable", message, now)}
        pods = tuple(p["metadata"]["name"] for p in view.pods)
        return Transition((PatchStatus(TRAINING_JOBS, view.key, patch, view.body["metadata"].get("resourceVersion")),
                           DeletePods(view.key, pods), RecordEvent(view.key, "Warning", "Unschedulable", message)),
                          releases_gpus=True)
    return None


def rule_drained(view: JobView, now: float) -> Transition | None:
    """A preempted job requeues once its last pod is gone (its GPUs are really free then), keeping its progress."""
    if view.phase is not Phase.PREEMPTED or view.pods:
        return None
    status = _status(view)
    patch = {"phase": Phase.QUEUED.value, "allocation": None,
             "conditions": cond.set_condition(status.get("conditions") or [], cond.PREEMPTED, False, "Requeued",
                                              "workers stopped after checkpointing; waiting to be admitted again",
                                              now)}
    return Transition((PatchStatus(TRAINING_JOBS, view.key, patch, view.body["metadata"].get("resourceVersion")),),
                      releases_gpus=False)


ACTIVE_RULES: tuple[Callable[[JobView, float], Transition | None], ...] = (
    rule_succeeded, rule_worker_failed, rule_deadline, rule_all_running, rule_unschedulable,
)


def observe(view: JobView, now: float) -> Transition | None:
    """The first lifecycle rule that fires for this job, if any. A job queued again after it started (preempted,
    restarted) still runs out of time: its deadline counts from the first start, not from the last admission."""
    phase = view.phase
    if view.model is None or phase is None or phase.is_terminal:
        return None
    if phase is Phase.QUEUED:
        return rule_deadline(view, now)
    if phase is Phase.PREEMPTED:
        return rule_drained(view, now)
    for rule in ACTIVE_RULES:
        transition = rule(view, now)
        if transition is not None:
            return transition
    return None
