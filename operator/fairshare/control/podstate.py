"""What a worker pod says about itself: whose it is, and, when it cannot run or has failed, why, in the cluster's words.

kube-scheduler, the kubelet and the API server each report a pod that will not run in their own place: a
`PodScheduled` condition (a missing PersistentVolumeClaim), a container's `waiting` state (an image that cannot be
pulled, a missing Secret), a container's `terminated` state (an exit code, `OOMKilled`) or the pod's own reason
(`Evicted`). These functions read them into one `PodProblem`: a CamelCase reason and a message a person can act on.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

# Container waiting reasons that say the container will not start by itself waiting longer (as opposed to
# ContainerCreating or PodInitializing, which are progress). With restartPolicy Never, CrashLoopBackOff is seen only
# for a podTemplate's own restartable init containers; it is listed for them.
STUCK_WAITING_REASONS = frozenset({
    "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError",
    "CreateContainerError", "RunContainerError", "CrashLoopBackOff", "PreStartHookError", "PostStartHookError",
})
_MISSING_CLAIM = re.compile(r'persistentvolumeclaim "([^"]+)" not found')
_DELETED_CLAIM = re.compile(r'persistentvolumeclaim "([^"]+)" is being deleted')
_UNBOUND_CLAIM = "unbound immediate PersistentVolumeClaims"
_REASON = re.compile(r"[^A-Za-z0-9_]")
MESSAGE_LIMIT = 1024  # of the cluster's own words kept in a reason (a kubelet message can be long)


@dataclasses.dataclass(frozen=True)
class PodProblem:
    """Why a worker does not run: a CamelCase `reason` (a condition reason), a readable `message`, and since when
    (Unix seconds; None when the pod does not say)."""

    reason: str
    message: str
    since: float | None = None


def pod_phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def terminating(pod: Mapping[str, Any]) -> bool:
    """Being deleted: it has a deletionTimestamp (graceful deletion in progress)."""
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def node_name(pod: Mapping[str, Any]) -> str | None:
    return (pod.get("spec") or {}).get("nodeName") or None


def timestamp(value: object) -> float | None:
    """RFC 3339 (as the API writes it) to Unix seconds; None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def reason_word(raw: object, default: str) -> str:
    """A reason the CRD accepts (a letter first, then letters, digits and underscores), from what the cluster wrote."""
    word = _REASON.sub("", str(raw or ""))
    while word and not word[0].isalpha():
        word = word[1:]
    return word[:64] or default


def _clip(text: object) -> str:
    words = " ".join(str(text or "").split())
    return words if len(words) <= MESSAGE_LIMIT else words[:MESSAGE_LIMIT - 3] + "..."


def _condition(pod: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == type_:
            return c
    return None


def _container_statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    listed = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    return [s for s in listed if isinstance(s, dict)]


def ran_since(pod: Mapping[str, Any]) -> float | None:
    """When every main container of the pod had started, by their own `running` or `terminated` state's `startedAt`;
    None if one never started (still waiting, or no container statuses)."""
    statuses = [s for s in (pod.get("status") or {}).get("containerStatuses") or [] if isinstance(s, dict)]
    starts: list[float] = []
    for status in statuses:
        state = status.get("state") or {}
        started = (timestamp((state.get("running") or {}).get("startedAt"))
                   or timestamp((state.get("terminated") or {}).get("startedAt")))
        if started is None:
            return None
        starts.append(started)
    return max(starts, default=None)


def failure(pod: Mapping[str, Any]) -> PodProblem:
    """Why a Failed pod failed: the first container that ended badly (reason, exit code, message), else the pod's
    own reason (Evicted, DeadlineExceeded, ...)."""
    status = pod.get("status") or {}
    for container in _container_statuses(pod):
        ended = (container.get("state") or {}).get("terminated")
        if not isinstance(ended, dict):
            continue
        code = ended.get("exitCode")
        if code == 0:
            continue
        reason = reason_word(ended.get("reason"), "Error")
        detail = f"exit code {code}" if code is not None else "no exit code"
        words = _clip(ended.get("message"))
        message = f"{reason}, {detail} (container {container.get('name')})" + (f": {words}" if words else "")
        return PodProblem(reason, message, timestamp(ended.get("finishedAt")))
    if status.get("reason") or status.get("message"):
        reason = reason_word(status.get("reason"), "Failed")
        return PodProblem(reason, f"{reason}: {_clip(status.get('message'))}".rstrip(": "), None)
    return PodProblem("Failed", "the pod failed without a reason (exit code unknown)", None)


def _scheduled_at(pod: Mapping[str, Any]) -> float | None:
    scheduled = _condition(pod, "PodScheduled")
    if scheduled is not None and scheduled.get("status") == "True":
        when = timestamp(scheduled.get("lastTransitionTime"))
        if when is not None:
            return when
    return timestamp((pod.get("status") or {}).get("startTime"))


def start_problem(pod: Mapping[str, Any]) -> PodProblem | None:
    """Why a pod that has not run cannot start, when waiting will not help by itself: a container stuck in a failure
    state (its reason and the kubelet's message), or a PersistentVolumeClaim kube-scheduler cannot find or use.
    None for a pod that runs, ended, or is on its way (pulling, creating, waiting for GPUs)."""
    if pod_phase(pod) != "Pending":
        return None
    for container in _container_statuses(pod):
        waiting = (container.get("state") or {}).get("waiting")
        if isinstance(waiting, dict) and waiting.get("reason") in STUCK_WAITING_REASONS:
            reason = str(waiting["reason"])
            words = _clip(waiting.get("message"))
            message = f"{reason}: {words or 'no message'} (container {container.get('name')})"
            return PodProblem(reason, message, _scheduled_at(pod))
    scheduled = _condition(pod, "PodScheduled")
    if scheduled is None or scheduled.get("status") != "False" or scheduled.get("reason") != "Unschedulable":
        return None
    said = str(scheduled.get("message") or "")
    since = timestamp(scheduled.get("lastTransitionTime"))
    if (match := _MISSING_CLAIM.search(said)) is not None:
        return PodProblem("PVCNotFound", f"PVC {match.group(1)} not found: create it in the job's namespace, or fix "
                                         f"the claim name (spec.checkpoint.claimName or a spec.podTemplate volume)",
                          since)
    if (match := _DELETED_CLAIM.search(said)) is not None:
        return PodProblem("PVCBeingDeleted", f"PVC {match.group(1)} is being deleted", since)
    if _UNBOUND_CLAIM in said:
        return PodProblem("PVCUnbound", f"a PersistentVolumeClaim of the pod is not bound: {_clip(said)}", since)
    return None
