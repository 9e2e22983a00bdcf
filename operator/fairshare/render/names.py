"""Deterministic names, labels and owner references of a TrainingJob's children."""

from __future__ import annotations

import re
from typing import Any

from fairshare.api.constants import (
    API_VERSION,
    KIND_TRAINING_JOB,
    LABEL_GENERATION,
    LABEL_GPU_CLASS,
    LABEL_JOB,
    LABEL_MANAGED_BY,
    LABEL_RANK,
    LABEL_TENANT,
    MANAGED_BY,
    WORKER_SUFFIX,
)
from fairshare.api.trainingjob import TrainingJob
from fairshare.render.settings import WorkerAllocation


def service_name(job_name: str) -> str:
    """The headless Service is named after the job; pods are its subdomain, so rank 0 has a stable DNS name."""
    return job_name


def worker_pod_name(job_name: str, rank: int) -> str:
    """`<job>-worker-<rank>`: the same name for the same rank, so creation is create-if-absent."""
    return f"{job_name}{WORKER_SUFFIX}{rank}"


_WORKER_NAME = re.compile(rf".{WORKER_SUFFIX}[0-9]+$")


def has_worker_name(pod_name: str) -> bool:
    """Whether a pod's name is one a worker of some job could get (`<job>-worker-<rank>`), whoever made it."""
    return bool(_WORKER_NAME.search(pod_name))


def master_addr(job_name: str, service: str, namespace: str) -> str:
    """DNS name of the rank-0 pod through the headless Service: `<pod>.<svc>.<ns>.svc`."""
    return f"{worker_pod_name(job_name, 0)}.{service}.{namespace}.svc"


def job_selector(job_name: str) -> dict[str, str]:
    """Labels that select every child of a job (the Service selector, and the k8s layer's list filter)."""
    return {LABEL_JOB: job_name}


def worker_labels(job_name: str, rank: int, allocation: WorkerAllocation) -> dict[str, str]:
    """Labels of one worker pod; the generation label tells pods of an old allocation from the current ones."""
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        **job_selector(job_name),
        LABEL_TENANT: allocation.tenant,
        LABEL_GPU_CLASS: allocation.gpu_class,
        LABEL_RANK: str(rank),
        LABEL_GENERATION: str(allocation.generation),
    }


def owner_reference(job: TrainingJob) -> dict[str, Any]:
    """The TrainingJob as controlling owner: deleting it deletes its pods and Service (garbage collection)."""
    if not job.metadata.uid:
        raise ValueError(f"TrainingJob {job.metadata.name} has no metadata.uid; render children from the stored object")
    return {
        "apiVersion": API_VERSION,
        "kind": KIND_TRAINING_JOB,
        "name": job.metadata.name,
        "uid": job.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def job_namespace(job: TrainingJob) -> str:
    if not job.metadata.namespace:
        raise ValueError(f"TrainingJob {job.metadata.name} has no metadata.namespace")
    return job.metadata.namespace
