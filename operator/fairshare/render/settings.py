"""Inputs of the builders besides the job: what the operator decided (WorkerAllocation) and how it is configured."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_MASTER_PORT = 29500  # torchrun's own default
DEFAULT_METRICS_PORT = 8000  # the trainer's base port; local rank r serves on base + r
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 120  # time to write a checkpoint after SIGTERM
NON_ROOT_ID = 1000


@dataclass(frozen=True)
class WorkerAllocation:
    """What the allocator gave a job: a tenant-resolved class, a size, and the generation of that decision."""

    tenant: str
    gpu_class: str
    node_selector: Mapping[str, str]
    workers: int
    generation: int

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"an allocation has at least one worker, got {self.workers}")
        if self.generation < 0:
            raise ValueError(f"allocation generation must be >= 0, got {self.generation}")


@dataclass(frozen=True)
class RenderSettings:
    """Operator-wide choices for every pod it renders (set from the Helm values)."""

    master_port: int = DEFAULT_MASTER_PORT
    metrics_port: int = DEFAULT_METRICS_PORT
    termination_grace_period_seconds: int = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    run_as_user: int = NON_ROOT_ID
    run_as_group: int = NON_ROOT_ID
    fs_group: int = NON_ROOT_ID
    prometheus_annotations: bool = True
    tolerate_kwok: bool = True  # simulated nodes of the local cluster carry kwok's NoSchedule taint
    tmp_size_limit: str | None = None
    shm_size_limit: str | None = None
    image_pull_policy: str | None = None
    scheduler_name: str | None = None
    priority_class_name: str | None = None
    extra_pod_annotations: Mapping[str, str] = field(default_factory=dict)


DEFAULT_SETTINGS = RenderSettings()
