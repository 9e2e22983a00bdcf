"""The safe subset of a pod template a TrainingJob may carry: one container, env, resources and four volume types.

Nothing here can ask for privilege: there is no securityContext, host namespace, hostPath, device or
capability field to set, so the restricted Pod Security profile that render applies cannot be weakened.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from fairshare.api.base import SpecModel, field_error
from fairshare.api.constants import LABEL_PREFIX
from fairshare.api.errors import map_key
from fairshare.api.types import (
    DNSLabel,
    DNSSubdomain,
    EnvName,
    LabelKey,
    LabelValue,
    MountPath,
    Quantity,
    RelativePath,
    VolumeName,
)

MAX_ENV = 128
MAX_ARGS = 256
MAX_ARG_LENGTH = 4096
MAX_VOLUMES = 16
MAX_KEY_ITEMS = 64
MAX_FILE_MODE = 0o777

Arg = Annotated[str, Field(max_length=MAX_ARG_LENGTH)]
ArgList = Annotated[list[Arg], Field(max_length=MAX_ARGS)]
Image = Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^\S+$")]


class KeySelector(SpecModel):
    """One key of a Secret or ConfigMap in the job's namespace."""

    name: DNSSubdomain
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]
    optional: bool | None = None


class EnvVarSource(SpecModel):
    """Where an env value comes from when it is not literal: exactly one of a Secret key or a ConfigMap key."""

    secret_key_ref: KeySelector | None = None
    config_map_key_ref: KeySelector | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> EnvVarSource:
        if (self.secret_key_ref is None) == (self.config_map_key_ref is None):
            raise field_error("secretKeyRef", "set exactly one of secretKeyRef or configMapKeyRef")
        return self


class EnvVar(SpecModel):
    """One environment variable of the trainer container; reserved names are refused."""

    name: EnvName
    value: Annotated[str, Field(max_length=32768)] | None = None
    value_from: EnvVarSource | None = None

    @model_validator(mode="after")
    def _value_or_value_from(self) -> EnvVar:
        if self.value is not None and self.value_from is not None:
            raise field_error("valueFrom", f"env {self.name}: set value or valueFrom, not both")
        return self


EnvList = Annotated[list[EnvVar], Field(max_length=MAX_ENV)]


def check_env_names_unique(env: list[EnvVar] | None, field: str) -> None:
    """The CRD keys env by name (a list-map), so a name listed twice is an error there and here."""
    seen: set[str] = set()
    for index, var in enumerate(env or []):
        if var.name in seen:
            raise field_error(f"{field}[{index}].name", f"env {var.name} is set twice; keep one")
        seen.add(var.name)


class ResourceList(SpecModel):
    """CPU, memory and local scratch for one worker; GPUs come from spec.gpusPerWorker, never from here."""

    cpu: Quantity | None = None
    memory: Quantity | None = None
    ephemeral_storage: Quantity | None = Field(default=None, alias="ephemeral-storage")


class ContainerResources(SpecModel):
    """Requests and limits of the trainer container, as in a Pod."""

    requests: ResourceList | None = None
    limits: ResourceList | None = None


class VolumeMount(SpecModel):
    """Where one of spec.podTemplate.spec.volumes appears in the trainer container."""

    name: VolumeName
    mount_path: MountPath
    read_only: bool | None = None
    sub_path: RelativePath | None = None


class Container(SpecModel):
    """The single trainer container: what runs, with what env, resources and mounts."""

    name: DNSLabel | None = None
    image: Image
    command: ArgList | None = None
    args: ArgList | None = None
    working_dir: Annotated[str, Field(max_length=1024, pattern=r"^/")] | None = None
    env: EnvList | None = None
    resources: ContainerResources | None = None
    volume_mounts: Annotated[list[VolumeMount], Field(max_length=MAX_VOLUMES)] | None = None

    @model_validator(mode="after")
    def _unique(self) -> Container:
        check_env_names_unique(self.env, "env")
        paths: set[str] = set()
        for index, mount in enumerate(self.volume_mounts or []):
            if mount.mount_path in paths:
                raise field_error(f"volumeMounts[{index}].mountPath",
                                  f"{mount.mount_path} is mounted twice; give each mount its own path")
            paths.add(mount.mount_path)
        return self


class KeyToPath(SpecModel):
    """Project one key of a ConfigMap or Secret to a file."""

    key: Annotated[str, Field(min_length=1, max_length=253)]
    path: RelativePath
    mode: int | None = Field(default=None, ge=0, le=MAX_FILE_MODE)


class EmptyDirSource(SpecModel):
    """Scratch space that lives as long as the pod (lost on preemption)."""

    medium: Literal["", "Memory"] | None = None
    size_limit: Quantity | None = None


class PersistentVolumeClaimSource(SpecModel):
    """An existing PersistentVolumeClaim in the job's namespace."""

    claim_name: DNSSubdomain
    read_only: bool | None = None


class ConfigMapSource(SpecModel):
    """Files from a ConfigMap in the job's namespace."""

    name: DNSSubdomain
    items: Annotated[list[KeyToPath], Field(max_length=MAX_KEY_ITEMS)] | None = None
    default_mode: int | None = Field(default=None, ge=0, le=MAX_FILE_MODE)
    optional: bool | None = None


class SecretSource(SpecModel):
    """Files from a Secret in the job's namespace."""

    secret_name: DNSSubdomain
    items: Annotated[list[KeyToPath], Field(max_length=MAX_KEY_ITEMS)] | None = None
    default_mode: int | None = Field(default=None, ge=0, le=MAX_FILE_MODE)
    optional: bool | None = None


class Volume(SpecModel):
    """A named volume of one of the four allowed types."""

    name: VolumeName
    empty_dir: EmptyDirSource | None = None
    persistent_volume_claim: PersistentVolumeClaimSource | None = None
    config_map: ConfigMapSource | None = None
    secret: SecretSource | None = None

    @model_validator(mode="after")
    def _exactly_one_type(self) -> Volume:
        sources = [self.empty_dir, self.persistent_volume_claim, self.config_map, self.secret]
        if sum(source is not None for source in sources) != 1:
            raise field_error("name", f"volume {self.name} must set exactly one of emptyDir, persistentVolumeClaim, "
                              "configMap or secret")
        return self


class PodTemplateMetadata(SpecModel):
    """Labels and annotations added to every worker pod; the fairshare.dev/ prefix is the operator's, for both."""

    labels: Annotated[dict[LabelKey, LabelValue], Field(max_length=64)] | None = None
    annotations: Annotated[dict[LabelKey, Annotated[str, Field(max_length=65536)]], Field(max_length=64)] | None = None

    @model_validator(mode="after")
    def _no_operator_labels(self) -> PodTemplateMetadata:
        for key in self.labels or {}:
            if key.startswith(LABEL_PREFIX):
                raise field_error(f"labels{map_key(key)}",
                                  f"labels with the {LABEL_PREFIX} prefix are set by the operator; "
                                  "remove this label or use another prefix")
        for key in self.annotations or {}:
            if key.startswith(LABEL_PREFIX):
                raise field_error(f"annotations{map_key(key)}",
                                  f"annotations with the {LABEL_PREFIX} prefix are the operator's, and it trusts none "
                                  "a tenant writes; remove this annotation or use another prefix")
        return self


class PodTemplateSpec(SpecModel):
    """One trainer container and the volumes it mounts."""

    containers: Annotated[list[Container], Field(min_length=1, max_length=1)]
    volumes: Annotated[list[Volume], Field(max_length=MAX_VOLUMES)] | None = None

    @model_validator(mode="after")
    def _mounts_name_volumes(self) -> PodTemplateSpec:
        names = [volume.name for volume in self.volumes or []]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise field_error(f"volumes[{index}].name", f"volume name {name} is used twice; rename one")
        for index, mount in enumerate(self.containers[0].volume_mounts or []):
            if mount.name not in names:
                raise field_error(f"containers[0].volumeMounts[{index}].name",
                                  f"mounts volume {mount.name}, which spec.podTemplate.spec.volumes does not declare; "
                                  "add it to volumes or fix the name")
        return self


class PodTemplate(SpecModel):
    """The constrained pod template: use it instead of spec.image when the trainer needs volumes."""

    metadata: PodTemplateMetadata | None = None
    spec: PodTemplateSpec
