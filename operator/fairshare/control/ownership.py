"""Whose a pod is: only what the operator created counts as a job's; every other GPU pod is foreign.

A tenant may create pods in its namespaces and write any label or owner reference on them, so neither a
`fairshare.dev/job` label nor an owner reference alone makes a pod a job's worker (docs/api.md, "Pods the operator
did not create"). These rules are pure functions of pod bodies, read by the snapshot, the lifecycle and reconcile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from fairshare.api.constants import GROUP, KIND_TRAINING_JOB, LABEL_GENERATION, LABEL_RANK


@dataclasses.dataclass(frozen=True)
class ForeignPod:
    """An active pod holding GPUs that no TrainingJob's gang accounts for: `namespace/name`, its node and GPUs."""

    key: str
    node: str
    gpus: int
    uid: str = ""  # what the tenant's ledger charges it under (its key when the pod has none)

    @property
    def namespace(self) -> str:
        return self.key.split("/", 1)[0]


def _controller(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod's controller owner reference when it names a fairshare.dev TrainingJob, else None."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if not isinstance(ref, dict) or not ref.get("controller"):
            continue
        group = str(ref.get("apiVersion") or "").split("/", 1)[0]
        return ref if ref.get("kind") == KIND_TRAINING_JOB and group == GROUP else None
    return None


def controller_uid(pod: Mapping[str, Any]) -> str | None:
    """The uid of the TrainingJob that controls the pod (its controller owner reference), or None when no
    TrainingJob does: a pod anyone made with the operator's labels is not the operator's."""
    ref = _controller(pod)
    return (str(ref.get("uid") or "") or None) if ref is not None else None


def controlling_job(pod: Mapping[str, Any]) -> str | None:
    """`namespace/name` of the TrainingJob the pod's controller owner reference names (an owner is always in its
    dependant's namespace), or None. Labels are not read: they never say whose a pod is."""
    ref = _controller(pod)
    name = str(ref.get("name") or "") if ref is not None else ""
    namespace = (pod.get("metadata") or {}).get("namespace")
    return f"{namespace}/{name}" if name and namespace else None


def created_for(pod: Mapping[str, Any], job_uid: str | None, generation: int) -> bool:
    """Rule (a pod's owner): a pod is a worker of a job's current gang only when the operator created it for that
    gang: its controller owner reference names the TrainingJob by its uid (not only its name: a job deleted and
    created again is another job), its generation label is the job's current allocation generation, and its rank
    label is a number. Labels alone never count."""
    if not job_uid or controller_uid(pod) != job_uid:
        return False
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return labels.get(LABEL_GENERATION) == str(generation) and str(labels.get(LABEL_RANK, "")).isdigit()
