"""TrainingJob status: phase, conditions, allocation, queue position, measured throughput and accrued cost."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from fairshare.api.base import Condition, StatusModel


class Phase(StrEnum):
    """Where a job is in its life; Succeeded and Failed are terminal (never restarted, never charged again)."""

    QUEUED = "Queued"
    ADMITTED = "Admitted"
    RUNNING = "Running"
    PREEMPTED = "Preempted"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def is_terminal(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.FAILED)


class AllocationStatus(StatusModel):
    """What the job holds now: one GPU class, a number of workers, and the price it pays."""

    gpu_class: str | None = None
    workers: int | None = Field(default=None, ge=0)
    gpus: int | None = Field(default=None, ge=0)
    nodes: list[str] = Field(default_factory=list)
    price_per_gpu_hour: float | None = Field(default=None, alias="pricePerGPUHour", ge=0)
    admitted_at: datetime | None = None
    generation: int | None = Field(default=None, ge=0)
    opportunistic: bool | None = None
    priority: int | None = None  # spec.priority when admitted: what the job is ordered by until admitted again


class QueueStatus(StatusModel):
    """Why a job waits (a stable code and the words), how many jobs are ahead of it (0 = next), and since when."""

    position: int | None = Field(default=None, ge=0)
    reason_code: str | None = Field(default=None, max_length=64)
    reason: str | None = None
    updated_at: datetime | None = None
    since: datetime | None = None


class ProgressStatus(StatusModel):
    """How far training is, from the trainer's step and total-steps gauges, and when it should finish."""

    step: int | None = Field(default=None, ge=0)
    total_steps: int | None = Field(default=None, ge=1)
    percent: float | None = Field(default=None, ge=0, le=100)
    steps_per_second: float | None = Field(default=None, ge=0)
    remaining: str | None = Field(default=None, max_length=32)
    estimated_completion_time: datetime | None = None
    updated_at: datetime | None = None


class ThroughputSample(StatusModel):
    """Smoothed samples/s the job reported on one class at one size; the allocator's performance model."""

    gpu_class: str
    workers: int = Field(ge=1)
    samples_per_second: float = Field(ge=0)
    measured_at: datetime


class CostStatus(StatusModel):
    """What the job has consumed so far, and of its credits those charged in its tenant's current budget period."""

    credits: float | None = Field(default=None, ge=0)
    gpu_hours: float | None = Field(default=None, ge=0)
    energy_kwh: float | None = Field(default=None, alias="energyKWh", ge=0)
    accrued_at: datetime | None = None
    period_start: datetime | None = None
    period_credits: float | None = Field(default=None, ge=0)


class FailureStatus(StatusModel):
    """The latest failure of the job's workers: why, which worker, when, and when the job may start again."""

    reason: str | None = Field(default=None, max_length=64)
    message: str | None = Field(default=None, max_length=4096)
    worker: str | None = Field(default=None, max_length=253)
    at: datetime | None = None
    retry_after: datetime | None = None


class TrainingJobStatus(StatusModel):
    """Everything the operator reports about a job; written only by the operator."""

    observed_generation: int | None = Field(default=None, ge=0)
    tenant: str | None = None
    phase: Phase | None = None
    conditions: list[Condition] = Field(default_factory=list)
    allocation: AllocationStatus | None = None
    queue: QueueStatus | None = None
    throughput: list[ThroughputSample] = Field(default_factory=list)
    samples_per_second: float | None = Field(default=None, ge=0)
    progress: ProgressStatus | None = None
    cost: CostStatus | None = None
    restarts: int | None = Field(default=None, ge=0)
    last_failure: FailureStatus | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None
    last_checkpoint_time: datetime | None = None
