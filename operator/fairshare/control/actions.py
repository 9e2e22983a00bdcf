"""What one cycle asks the Kubernetes layer to do: status patches, children to ensure, pods to delete, events."""

from __future__ import annotations

import dataclasses
from typing import Any

from fairshare.control.store import TRAINING_JOBS


@dataclasses.dataclass(frozen=True)
class PatchStatus:
    """Merge-patch `status` of one object; with `resource_version`, only if nobody wrote it since (else skip)."""

    kind: str
    key: str
    status: dict[str, Any]
    resource_version: str | None = None


@dataclasses.dataclass(frozen=True)
class EnsureChildren:
    """Create the job's headless Service (None for a job of one worker at most: nothing to resolve) and worker pods
    if absent (deterministic names make this idempotent)."""

    job_key: str
    service: dict[str, Any] | None
    pods: tuple[dict[str, Any], ...]


@dataclasses.dataclass(frozen=True)
class DeletePods:
    """Delete these worker pods gracefully (SIGTERM, then the pod's grace period for a checkpoint); with `force`, at
    once (grace period 0), for pods on a lost node, where no kubelet is left to confirm a graceful deletion."""

    job_key: str
    names: tuple[str, ...]
    force: bool = False


@dataclasses.dataclass(frozen=True)
class RecordEvent:
    """A Kubernetes Event on a TrainingJob (or, with `kind`, a Tenant or GPUClass), for `kubectl describe`."""

    job_key: str  # the object's key
    type: str  # Normal | Warning
    reason: str
    message: str
    kind: str = TRAINING_JOBS


Action = PatchStatus | EnsureChildren | DeletePods | RecordEvent


def action_key(action: Action) -> str:
    """The object an action is about: once one action on it fails, the rest of its actions this cycle are skipped."""
    return action.key if isinstance(action, PatchStatus) else action.job_key
