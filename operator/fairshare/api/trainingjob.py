"""TrainingJob: a namespaced distributed PyTorch job; the tenant is the one that owns its namespace."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

from pydantic import Field, model_validator

from fairshare.api.base import CustomResource, SpecModel, field_error
from fairshare.api.constants import (
    DEFAULT_CHECKPOINT_PATH,
    KIND_TRAINING_JOB,
    MAX_GPUS_PER_WORKER,
    MAX_JOB_NAME_LENGTH,
    MAX_PRICE_PER_GPU_HOUR,
    MAX_PRIORITY,
    MAX_WORKERS,
    MIN_PRIORITY,
)
from fairshare.api.jobstatus import TrainingJobStatus
from fairshare.api.podtemplate import ArgList, EnvList, Image, PodTemplate, check_env_names_unique
from fairshare.api.types import DNS_1035_LABEL_PATTERN, DNSLabel, DNSSubdomain, MountPath, Quantity, RelativePath

MAX_GPU_CLASSES = 32
DEFAULT_BACKOFF_LIMIT = 3
MAX_BACKOFF_LIMIT = 100
MAX_GRACE_PERIOD_SECONDS = 3600

# Fields that define what the job computes or where it may run; changing them under a running job would
# resume a checkpoint with different code or shape. The CRD refuses changes with transition rules.
IMMUTABLE_SPEC_FIELDS: tuple[str, ...] = (
    "image", "command", "args", "env", "resources", "podTemplate", "gpusPerWorker", "preemptible", "checkpoint",
)


class WorkerResources(SpecModel):
    """CPU and memory requested for each worker (the memory request is also its limit)."""

    cpu: Quantity | None = None
    memory: Quantity | None = None


MAX_IMAGE_PULL_SECRETS = 16


class LocalObjectReference(SpecModel):
    """A Secret in the job's namespace, by name (imagePullSecrets)."""

    name: DNSSubdomain


class WorkerRange(SpecModel):
    """How many workers (pods, one torchrun node each) the job accepts; min == max means fixed size."""

    min: int = Field(ge=1, le=MAX_WORKERS)
    max: int = Field(ge=1, le=MAX_WORKERS)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> WorkerRange:
        if self.min > self.max:
            raise field_error("min", f"workers.min ({self.min}) must be <= workers.max ({self.max}); "
                              "lower min or raise max")
        return self


class Checkpoint(SpecModel):
    """Where the trainer writes checkpoints that must survive preemption."""

    path: MountPath = DEFAULT_CHECKPOINT_PATH
    claim_name: DNSSubdomain | None = None
    sub_path: RelativePath | None = None

    @model_validator(mode="after")
    def _sub_path_needs_claim(self) -> Checkpoint:
        if self.sub_path is not None and self.claim_name is None:
            raise field_error("subPath", "subPath selects a folder inside claimName; set claimName or drop subPath")
        return self


class RunPolicy(SpecModel):
    """How often a failed job is restarted, and when it is stopped or deleted."""

    backoff_limit: int = Field(default=DEFAULT_BACKOFF_LIMIT, ge=0, le=MAX_BACKOFF_LIMIT)
    active_deadline_seconds: int | None = Field(default=None, ge=1)
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0)
    termination_grace_period_seconds: int | None = Field(default=None, ge=1, le=MAX_GRACE_PERIOD_SECONDS)


class TrainingJobSpec(SpecModel):
    """What to run (image or podTemplate), how big, on which classes, at what bid and priority."""

    image: Image | None = None
    command: ArgList | None = None
    args: ArgList | None = None
    env: EnvList | None = None
    resources: WorkerResources | None = None
    pod_template: PodTemplate | None = None
    image_pull_secrets: Annotated[list[LocalObjectReference], Field(max_length=MAX_IMAGE_PULL_SECRETS)] = Field(
        default_factory=list)
    workers: WorkerRange
    gpus_per_worker: int = Field(ge=1, le=MAX_GPUS_PER_WORKER)
    gpu_classes: Annotated[list[DNSLabel], Field(max_length=MAX_GPU_CLASSES)] = Field(default_factory=list)
    priority: int = Field(default=0, ge=MIN_PRIORITY, le=MAX_PRIORITY)
    preemptible: bool = True
    max_price_per_gpu_hour: float | None = Field(default=None, alias="maxPricePerGPUHour", gt=0,
                                                 le=MAX_PRICE_PER_GPU_HOUR)
    checkpoint: Checkpoint | None = None
    run_policy: RunPolicy = Field(default_factory=RunPolicy)

    @model_validator(mode="after")
    def _image_or_pod_template(self) -> TrainingJobSpec:
        if self.pod_template is None and self.image is None:
            raise field_error("image", "set spec.image (with optional command, args, env, resources) "
                              "or spec.podTemplate")
        if self.pod_template is not None:
            for name, value in (("image", self.image), ("command", self.command), ("args", self.args),
                                ("env", self.env), ("resources", self.resources)):
                if value is not None:
                    raise field_error("podTemplate", f"spec.podTemplate cannot be combined with spec.{name}; "
                                      f"move {name} into spec.podTemplate.spec.containers[0]")
        check_env_names_unique(self.env, "env")
        return self

    @model_validator(mode="after")
    def _image_pull_secrets_unique(self) -> TrainingJobSpec:
        names = [ref.name for ref in self.image_pull_secrets]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise field_error(f"imagePullSecrets[{index}]", f"Secret {name} is listed twice; remove the copy")
        return self

    @model_validator(mode="after")
    def _gpu_classes_unique(self) -> TrainingJobSpec:
        for index, name in enumerate(self.gpu_classes):
            if name in self.gpu_classes[:index]:
                raise field_error(f"gpuClasses[{index}]", f"GPU class {name} is listed twice; remove the copy")
        return self

    @model_validator(mode="after")
    def _checkpoint_has_storage(self) -> TrainingJobSpec:
        """A checkpoint path must be durable: a claim the operator mounts, or a volume of the pod template."""
        if self.checkpoint is None:
            return self
        container = self.pod_template.spec.containers[0] if self.pod_template else None
        mount_paths = [mount.mount_path for mount in (container.volume_mounts or [] if container else [])]
        path = self.checkpoint.path
        if self.checkpoint.claim_name is not None:
            if path in mount_paths:
                raise field_error("checkpoint.path", f"{path} is also a podTemplate volumeMount; the operator "
                                  "mounts checkpoint.claimName there, so choose another path or drop the mount")
        elif not any(path == mount or path.startswith(mount + "/") for mount in mount_paths):
            raise field_error("checkpoint.claimName", "set checkpoint.claimName (a PersistentVolumeClaim), or mount a "
                              "volume in spec.podTemplate that contains checkpoint.path")
        return self

    @property
    def uses_pod_template(self) -> bool:
        return self.pod_template is not None


class TrainingJob(CustomResource):
    """A whole TrainingJob object."""

    expected_kind: ClassVar[str] = KIND_TRAINING_JOB
    spec: TrainingJobSpec
    status: TrainingJobStatus | None = None

    @model_validator(mode="after")
    def _name_fits_pod_hostnames(self) -> TrainingJob:
        """Pod hostnames `<job>-worker-<rank>` and the Service name `<job>` must be DNS-1035 labels."""
        name = self.metadata.name
        if len(name) > MAX_JOB_NAME_LENGTH or not re.match(DNS_1035_LABEL_PATTERN, name):
            raise field_error("metadata.name", f"a TrainingJob name must be at most {MAX_JOB_NAME_LENGTH} lowercase "
                              f"letters, digits or '-', starting with a letter (it names pods and a Service); "
                              f"got {name!r}")
        return self
