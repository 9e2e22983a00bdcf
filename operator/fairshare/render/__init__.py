"""Pure builders of a TrainingJob's children (headless Service, worker pods, torchrun env): models in, dicts out."""

from fairshare.render.names import job_selector, master_addr, owner_reference, service_name, worker_pod_name
from fairshare.render.pod import build_worker_pod, build_worker_pods
from fairshare.render.service import build_headless_service
from fairshare.render.settings import DEFAULT_SETTINGS, RenderSettings, WorkerAllocation
from fairshare.render.torchrun import torchrun_env

__all__ = [
    "DEFAULT_SETTINGS", "RenderSettings", "WorkerAllocation", "build_headless_service", "build_worker_pod",
    "build_worker_pods", "job_selector", "master_addr", "owner_reference", "service_name", "torchrun_env",
    "worker_pod_name",
]
