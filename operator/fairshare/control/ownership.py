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
from fairshare.render.names import worker_pod_name


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
    created again is another job), its generation label is the job's current allocation generation, its rank label
    is a number, and its name is the one the operator gives that rank (`<job>-worker-<rank>`: a pod of another name
    that copied the owner reference is not a worker, and reconcile deletes it). Labels alone never count."""
    ref = _controller(pod)
    if not job_uid or ref is None or str(ref.get("uid") or "") != job_uid:
        return False
    metadata = pod.get("metadata") or {}
    labels = metadata.get("labels") or {}
    rank = str(labels.get(LABEL_RANK, ""))
    return (labels.get(LABEL_GENERATION) == str(generation) and rank.isdigit()
            and metadata.get("name") == worker_pod_name(str(ref.get("name") or ""), int(rank)))


def name_squatters(namespace: str, job_name: str, ranks: int, pods: Mapping[str, Mapping[str, Any]]) \
        -> dict[int, str]:
    """Rule (a worker's name taken): a pod that no TrainingJob controls but has the name the operator gives one of
    the job's first `ranks` workers (`<job>-worker-<rank>`, render/names.py) blocks that worker: the operator's
    create of it is refused (AlreadyExists), and the pod is never adopted. rank -> `namespace/name` of each such pod,
    from `pods` (every stored pod, by `namespace/name`). A pod a TrainingJob controls (an earlier job's of the same
    name, still terminating) is not one: the operator deletes it, and the name frees.
    The work is in proportion to `pods`, not to `ranks` (spec.workers.max may be 1,024 on every job): the cycle
    passes only the pods no TrainingJob controls, usually none."""
    out: dict[int, str] = {}
    for key, pod in pods.items():
        pod_namespace, _, name = key.partition("/")
        head, _, tail = name.rpartition("-worker-")
        if pod_namespace != namespace or head != job_name or not tail.isdigit():
            continue
        rank = int(tail)
        if rank < ranks and worker_pod_name(job_name, rank) == name and controller_uid(pod) is None:
            out[rank] = key
    return out


def name_taken_message(squatters: Mapping[int, str], held: str) -> str:
    """Why a job cannot start the workers whose names other pods took, and the fix."""
    first = min(squatters)
    pods = ", ".join(f"{key} (rank {rank})" for rank, key in sorted(squatters.items()))
    namespace, name = squatters[first].split("/", 1)
    plural = "s" if len(squatters) > 1 else ""
    return (f"pod{plural} {pods}, which the operator did not create, ha{'ve' if plural else 's'} the name of this "
            f"job's worker{plural}; {held}: delete {'them' if plural else 'it'} (kubectl delete pod -n {namespace} "
            f"{name}{' ...' if plural else ''}), or submit the job under another name")
