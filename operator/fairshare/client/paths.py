"""REST paths of the fairshare.dev resources and the core objects the SDK reads (pods, their logs, Events).

The group, version and plurals repeat fairshare.api.constants (a unit test checks they agree): importing that
package builds every pydantic model (~0.2 s), which the read-only views do not need.
"""

from __future__ import annotations

GROUP = "fairshare.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND_TRAINING_JOB = "TrainingJob"
PLURAL_TRAINING_JOBS = "trainingjobs"
PLURAL_TENANTS = "tenants"
PLURAL_GPU_CLASSES = "gpuclasses"
WORKER_SUFFIX = "-worker-"
LABEL_JOB = f"{GROUP}/job"

_BASE = f"/apis/{GROUP}/{VERSION}"


def training_jobs(namespace: str | None = None, name: str | None = None) -> str:
    """A namespace's TrainingJobs (or one of them); every namespace's when `namespace` is None."""
    path = f"{_BASE}/namespaces/{namespace}/{PLURAL_TRAINING_JOBS}" if namespace else f"{_BASE}/{PLURAL_TRAINING_JOBS}"
    return f"{path}/{name}" if name else path


def tenants(name: str | None = None) -> str:
    return f"{_BASE}/{PLURAL_TENANTS}/{name}" if name else f"{_BASE}/{PLURAL_TENANTS}"


def gpu_classes() -> str:
    return f"{_BASE}/{PLURAL_GPU_CLASSES}"


def pods(namespace: str, name: str | None = None) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}" if name else f"/api/v1/namespaces/{namespace}/pods"


def pod_log(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}/log"


def events(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/events"


def worker_pod_name(job: str, rank: int) -> str:
    """`<job>-worker-<rank>`, as the operator names worker pods (fairshare.render.names)."""
    return f"{job}{WORKER_SUFFIX}{rank}"
