"""Inputs of the builders besides the job: what the operator decided (WorkerAllocation) and how it is configured."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fairshare.render.security import (
    DEFAULT_POD_IDS,
    container_security_context,
    pod_security_context,
    restricted_violations,
)

DEFAULT_MASTER_PORT = 29500  # torchrun's own default
DEFAULT_METRICS_PORT = 8000  # the trainer's base port; local rank r serves on base + r
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 120  # time to write a checkpoint after SIGTERM


@dataclass(frozen=True)
class WorkerAllocation:
    """What the allocator gave a job: a tenant-resolved class, a size, and the generation of that decision."""

    tenant: str
    gpu_class: str
    node_selector: Mapping[str, str]
    workers: int
    generation: int
    tolerations: tuple[Mapping[str, Any], ...] = ()  # the GPUClass's spec.tolerations, for its nodes' taints

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"an allocation has at least one worker, got {self.workers}")
        if self.generation < 0:
            raise ValueError(f"allocation generation must be >= 0, got {self.generation}")


@dataclass(frozen=True)
class RenderSettings:
    """Operator-wide choices for every pod it renders (the chart's workerPod values, read by fairshare.settings).

    The security contexts hold what the site adds to the restricted profile (render/security.py); settings that
    would weaken it are refused here, so no RenderSettings can render a privileged pod.
    """

    master_port: int = DEFAULT_MASTER_PORT
    metrics_port: int = DEFAULT_METRICS_PORT
    termination_grace_period_seconds: int = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    prometheus_annotations: bool = True
    tmp_size_limit: str | None = None
    shm_size_limit: str | None = None
    image_pull_policy: str | None = None
    scheduler_name: str | None = None
    priority_class_name: str | None = None
    runtime_class_name: str | None = None
    # Added to every worker pod, after nvidia.com/gpu and before its GPUClass's own (the local cluster adds kwok's).
    tolerations: tuple[Mapping[str, Any], ...] = ()
    image_pull_secrets: tuple[str, ...] = ()
    extra_pod_labels: Mapping[str, str] = field(default_factory=dict)
    extra_pod_annotations: Mapping[str, str] = field(default_factory=dict)
    pod_security_context: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_POD_IDS))
    container_security_context: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = restricted_violations(pod_security_context(self.pod_security_context),
                                         container_security_context(self.container_security_context))
        if problems:
            raise ValueError("; ".join(f"workerPod.{path}: {message}" for path, message in problems))


DEFAULT_SETTINGS = RenderSettings()
