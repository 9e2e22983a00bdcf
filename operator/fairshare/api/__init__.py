"""The fairshare.dev/v1alpha1 custom resources as pydantic models, their constants, and parsing into them."""

from fairshare.api.base import Condition, CRModel, CustomResource, ObjectMeta, SpecModel, StatusModel
from fairshare.api.constants import (
    API_VERSION,
    GROUP,
    KIND_GPU_CLASS,
    KIND_TENANT,
    KIND_TRAINING_JOB,
    PLURAL_GPU_CLASSES,
    PLURAL_TENANTS,
    PLURAL_TRAINING_JOBS,
    RESERVED_ENV_NAMES,
    RESERVED_ENV_PREFIX,
    VERSION,
    is_reserved_env_name,
)
from fairshare.api.errors import SpecError
from fairshare.api.gpuclass import GPUClass, GPUClassSpec, GPUClassStatus
from fairshare.api.jobstatus import (
    AllocationStatus,
    CostStatus,
    FailureStatus,
    Phase,
    ProgressStatus,
    QueueStatus,
    ThroughputSample,
    TrainingJobStatus,
)
from fairshare.api.parse import (
    changed_immutable_fields,
    parse_gpu_class,
    parse_model,
    parse_tenant,
    parse_training_job,
)
from fairshare.api.podtemplate import Container, EnvVar, PodTemplate, Volume, VolumeMount
from fairshare.api.tenant import Budget, LedgerStatus, Tenant, TenantSpec, TenantStatus
from fairshare.api.trainingjob import (
    IMMUTABLE_SPEC_FIELDS,
    Checkpoint,
    RunPolicy,
    TrainingJob,
    TrainingJobSpec,
    WorkerRange,
    WorkerResources,
)

__all__ = [
    "API_VERSION", "GROUP", "IMMUTABLE_SPEC_FIELDS", "KIND_GPU_CLASS", "KIND_TENANT", "KIND_TRAINING_JOB",
    "PLURAL_GPU_CLASSES", "PLURAL_TENANTS", "PLURAL_TRAINING_JOBS", "RESERVED_ENV_NAMES", "RESERVED_ENV_PREFIX",
    "VERSION", "AllocationStatus", "Budget", "CRModel", "Checkpoint", "Condition", "Container", "CostStatus",
    "CustomResource", "EnvVar", "FailureStatus", "GPUClass", "GPUClassSpec", "GPUClassStatus", "LedgerStatus",
    "ObjectMeta", "Phase", "PodTemplate", "ProgressStatus", "QueueStatus", "RunPolicy", "SpecError", "SpecModel",
    "StatusModel", "Tenant", "TenantSpec", "TenantStatus", "ThroughputSample", "TrainingJob", "TrainingJobSpec",
    "TrainingJobStatus", "Volume", "VolumeMount", "WorkerRange", "WorkerResources", "changed_immutable_fields",
    "is_reserved_env_name", "parse_gpu_class", "parse_model", "parse_tenant", "parse_training_job",
]
