"""How a job leaves its phase: the status patch, pod deletions and Event of a finish, a counted restart with
exponential back-off, or a requeue that is not the job's fault; and the settings that time them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from fairshare.api import FailureStatus, Phase
from fairshare.api import TrainingJobStatus as JobStatus
from fairshare.control import conditions as cond
from fairshare.control.actions import Action, DeletePods, PatchStatus, RecordEvent
from fairshare.control.podstate import PodProblem, pod_phase
from fairshare.control.queue import BACK_OFF, queue_entry
from fairshare.control.snapshot import JobView
from fairshare.control.store import TRAINING_JOBS


@dataclasses.dataclass(frozen=True)
class LifecycleSettings:
    """How long the operator waits before it acts on a worker that does not start or a node that stops answering,
    and how it spaces restarts (FAIRSHARE_POD_START_GRACE_SECONDS, FAIRSHARE_NODE_LOST_GRACE_SECONDS,
    FAIRSHARE_RESTART_BACKOFF_SECONDS, FAIRSHARE_RESTART_BACKOFF_MAX_SECONDS).

    - pod_start_grace_seconds: a worker stuck in a failure state (image pull, missing PVC, config error) this long
      counts as a failed start; a worker kube-scheduler cannot place this long, for want of something other than
      GPUs, sends the gang back to the queue.
    - node_lost_grace_seconds: a node NotReady this long is lost.
    - restart_backoff_seconds / restart_backoff_max_seconds: the n-th restart after a failure waits
      base x 2^(n-1) seconds, at most the maximum, before the job may be admitted again (as a Kubernetes Job).
    """

    pod_start_grace_seconds: float = 120.0
    node_lost_grace_seconds: float = 60.0
    restart_backoff_seconds: float = 10.0
    restart_backoff_max_seconds: float = 360.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if not getattr(self, field.name) >= 0:  # also refuses NaN
                raise ValueError(f"{field.name} must be >= 0")

    def backoff(self, restart: int) -> float:
        """Seconds the `restart`-th restart (1 for the first) waits before the job may be admitted again."""
        return min(self.restart_backoff_max_seconds, self.restart_backoff_seconds * 2.0 ** max(0, restart - 1))


DEFAULT_LIFECYCLE = LifecycleSettings()
NODE_LOSS = "node-loss"  # the `cause` of the preemption metrics for a gang stopped because a node under it was lost


@dataclasses.dataclass(frozen=True)
class Transition:
    """The job leaves its phase: the actions that record it, whether it still holds its GPUs this cycle, and, for a
    gang stopped by the loss of a node, the preemption cause the metrics count it under."""

    actions: tuple[Action, ...]
    releases_gpus: bool
    cause: str | None = None


def status_of(view: JobView) -> dict[str, Any]:
    return dict(view.body.get("status") or {})


def resource_version(view: JobView) -> str | None:
    return view.body["metadata"].get("resourceVersion")


def names(pods: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(p["metadata"]["name"] for p in pods)


def failure_record(problem: PodProblem, worker: str, now: float, retry_at: float | None = None) -> dict[str, Any]:
    """`status.lastFailure`: what went wrong last, with which worker, when, and when the job may start again."""
    return FailureStatus.merge_patch(reason=problem.reason, message=problem.message[:4096], worker=worker,
                                     at=cond.rfc3339(now),
                                     retry_after=cond.rfc3339(retry_at) if retry_at is not None else None)


def finish(view: JobView, now: float, phase: Phase, reason: str, message: str,
           extra: Mapping[str, Any] | None = None) -> Transition:
    """Terminal: record it, stop any pod still running; a terminal job is never restarted nor charged again."""
    status = status_of(view)
    patch = {
        **JobStatus.merge_patch(phase=phase.value, completion_time=cond.rfc3339(now), queue=None), **(extra or {}),
        **JobStatus.merge_patch(conditions=cond.set_condition(
            cond.set_condition(status.get("conditions") or [], cond.FINISHED, True, reason, message, now),
            cond.RUNNING, False, reason, message, now)),
    }
    live = names(p for p in view.pods if pod_phase(p) in ("Pending", "Running"))
    actions: list[Action] = [PatchStatus(TRAINING_JOBS, view.key, patch, resource_version(view))]
    if live:
        actions.append(DeletePods(view.key, live))
    actions.append(RecordEvent(view.key, "Normal" if phase is Phase.SUCCEEDED else "Warning", reason, message))
    return Transition(tuple(actions), releases_gpus=True)


def restart(view: JobView, now: float, settings: LifecycleSettings, problem: PodProblem, worker: str) -> Transition:
    """Rule: a worker that fails, cannot start, or is lost breaks the gang, which restarts whole from its checkpoint,
    counting toward runPolicy.backoffLimit: the n-th restart waits LifecycleSettings.backoff(n) in the queue (its
    GPUs are freed meanwhile); past the limit the job is Failed with the last reason."""
    assert view.model is not None
    restarts = (view.model.status.restarts or 0) if view.model.status else 0
    limit = view.model.spec.run_policy.backoff_limit
    detail = f"worker {worker}: {problem.message}"
    if restarts >= limit:
        return finish(view, now, Phase.FAILED, "BackoffLimitExceeded",
                      f"{detail}; {restarts} restarts used of runPolicy.backoffLimit {limit}",
                      JobStatus.merge_patch(last_failure=failure_record(problem, worker, now)))
    delay = settings.backoff(restarts + 1)
    message = (f"{detail}; restarting the gang from its last checkpoint ({restarts + 1}/{limit}) after a back-off "
               f"of {delay:.0f}s")
    status = status_of(view)
    conditions = cond.set_condition(status.get("conditions") or [], cond.RUNNING, False, problem.reason, message, now)
    conditions = cond.set_condition(conditions, cond.ADMITTED, False, BACK_OFF, message, now)
    patch = JobStatus.merge_patch(phase=Phase.QUEUED.value, restarts=restarts + 1, allocation=None,
                                  last_failure=failure_record(problem, worker, now, now + delay),
                                  queue=queue_entry(BACK_OFF, message, conditions), conditions=conditions)
    # Every pod goes, the failed ones too: the new gang reuses their names (and, from generation 0, their labels).
    actions: list[Action] = [PatchStatus(TRAINING_JOBS, view.key, patch, resource_version(view))]
    if view.pods:
        actions.append(DeletePods(view.key, names(view.pods)))
    actions.append(RecordEvent(view.key, "Warning", "Restarting", message))
    return Transition(tuple(actions), releases_gpus=True)


def stop_for_lost_node(view: JobView, now: float, worker: str, why: str, lost: Mapping[str, str]) -> Transition:
    """Rule: a gang with a worker on a lost node stops and requeues to restart from its checkpoint elsewhere; it is
    not the job's fault, so it does not count toward runPolicy.backoffLimit. Workers on healthy nodes get SIGTERM
    (to checkpoint); pods on a lost node are deleted at once, since no kubelet is left there to confirm it."""
    message = (f"{why}; worker {worker} was there: the gang stops and is requeued to restart from its last "
               f"checkpoint (not counted against runPolicy.backoffLimit)")
    status = status_of(view)
    conditions = status.get("conditions") or []
    for type_ in (cond.PREEMPTED, cond.ADMITTED, cond.RUNNING):
        conditions = cond.set_condition(conditions, type_, type_ == cond.PREEMPTED, "NodeLost", message, now)
    patch = JobStatus.merge_patch(phase=Phase.PREEMPTED.value, conditions=conditions,
                                  last_failure=failure_record(PodProblem("NodeLost", why), worker, now))
    gone = names(p for p in view.pods if (p.get("spec") or {}).get("nodeName") in lost)
    rest = tuple(n for n in names(view.pods) if n not in gone)
    actions: list[Action] = [PatchStatus(TRAINING_JOBS, view.key, patch, resource_version(view))]
    if rest:
        actions.append(DeletePods(view.key, rest))
    if gone:
        actions.append(DeletePods(view.key, gone, force=True))
    actions.append(RecordEvent(view.key, "Warning", "NodeLost", message))
    return Transition(tuple(actions), releases_gpus=True, cause=NODE_LOSS)
