"""The chart's `workerPod` values as a model: typed, checked once when the operator starts, then RenderSettings.

Every field is optional and defaults to the operator's own default, so `{}` renders the pods an operator with no
settings renders. Unknown keys are refused (a typo must not silently keep a default), and so is anything that would
weaken the restricted Pod Security profile (render/security.py), with the value named.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from fairshare.api.base import SpecModel, field_error
from fairshare.api.constants import LABEL_PREFIX
from fairshare.api.errors import map_key
from fairshare.api.toleration import Toleration
from fairshare.api.trainingjob import MAX_GRACE_PERIOD_SECONDS
from fairshare.api.types import DNSSubdomain, LabelKey, LabelValue, Quantity
from fairshare.render.security import DEFAULT_POD_IDS
from fairshare.render.settings import DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS, RenderSettings

MAX_SITE_TOLERATIONS = 32
MAX_SITE_LABELS = 64
MAX_PULL_SECRETS = 16
MAX_GROUPS = 64
MAX_PROFILE_LENGTH = 1024
MAX_SELINUX_FIELD = 256


def _empty_is_unset(value: Any) -> Any:
    """The chart writes "" for a string it leaves unset."""
    return None if value == "" else value


Unset = BeforeValidator(_empty_is_unset)
ProfileName = Annotated[str, Field(min_length=1, max_length=MAX_PROFILE_LENGTH)]
Id = Annotated[int, Field(ge=0, le=2**31 - 1)]


class Profile(SpecModel):
    """A seccomp or AppArmor profile: RuntimeDefault, Localhost (with localhostProfile) or Unconfined (refused)."""

    type: Literal["RuntimeDefault", "Localhost", "Unconfined"]
    localhost_profile: ProfileName | None = None

    @model_validator(mode="after")
    def _localhost_names_a_profile(self) -> Profile:
        if (self.type == "Localhost") != (self.localhost_profile is not None):
            raise field_error("localhostProfile", "set localhostProfile exactly when type is Localhost")
        return self


class SELinuxOptions(SpecModel):
    """SELinux labels; only the level and the container types are allowed by the restricted profile."""

    user: Annotated[str, Field(max_length=MAX_SELINUX_FIELD)] | None = None
    role: Annotated[str, Field(max_length=MAX_SELINUX_FIELD)] | None = None
    type: Annotated[str, Field(max_length=MAX_SELINUX_FIELD)] | None = None
    level: Annotated[str, Field(max_length=MAX_SELINUX_FIELD)] | None = None


class Sysctl(SpecModel):
    """One namespaced sysctl (only the baseline profile's safe ones are allowed)."""

    name: Annotated[str, Field(min_length=1, max_length=253)]
    value: Annotated[str, Field(max_length=4096)]


class Capabilities(SpecModel):
    """Capabilities dropped besides ALL (always dropped), and NET_BIND_SERVICE, the only one that may be added."""

    add: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=8)] | None = None
    drop: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=64)] | None = None


class PodSecurityContext(SpecModel):
    """The worker pod's securityContext fields a site may set."""

    run_as_user: Id | None = None
    run_as_group: Id | None = None
    fs_group: Id | None = None
    run_as_non_root: bool | None = None
    supplemental_groups: Annotated[list[Id], Field(max_length=MAX_GROUPS)] | None = None
    supplemental_groups_policy: Literal["Merge", "Strict"] | None = None
    fs_group_change_policy: Literal["OnRootMismatch", "Always"] | None = None
    seccomp_profile: Profile | None = None
    app_armor_profile: Profile | None = None
    se_linux_options: SELinuxOptions | None = None
    se_linux_change_policy: Literal["MountOption", "Recursive"] | None = None
    sysctls: Annotated[list[Sysctl], Field(max_length=16)] | None = None


class ContainerSecurityContext(SpecModel):
    """The trainer container's securityContext fields a site may set."""

    run_as_user: Id | None = None
    run_as_group: Id | None = None
    run_as_non_root: bool | None = None
    privileged: bool | None = None
    allow_privilege_escalation: bool | None = None
    read_only_root_filesystem: bool | None = None
    capabilities: Capabilities | None = None
    proc_mount: Literal["Default", "Unmasked"] | None = None
    seccomp_profile: Profile | None = None
    app_armor_profile: Profile | None = None
    se_linux_options: SELinuxOptions | None = None


class SecretReference(SpecModel):
    """A Secret in each job's namespace, by name (corev1.LocalObjectReference)."""

    name: DNSSubdomain


class WorkerPodSettings(SpecModel):
    """What a site sets on every worker pod the operator launches (the chart's `workerPod` values)."""

    tolerations: Annotated[list[Toleration], Field(max_length=MAX_SITE_TOLERATIONS)] = Field(default_factory=list)
    priority_class_name: Annotated[DNSSubdomain | None, Unset] = None
    runtime_class_name: Annotated[DNSSubdomain | None, Unset] = None
    scheduler_name: Annotated[DNSSubdomain | None, Unset] = None
    image_pull_policy: Annotated[Literal["Always", "IfNotPresent", "Never"] | None, Unset] = None
    image_pull_secrets: Annotated[list[SecretReference], Field(max_length=MAX_PULL_SECRETS)] = Field(
        default_factory=list)
    labels: Annotated[dict[LabelKey, LabelValue], Field(max_length=MAX_SITE_LABELS)] = Field(default_factory=dict)
    annotations: Annotated[dict[LabelKey, Annotated[str, Field(max_length=65536)]],
                           Field(max_length=MAX_SITE_LABELS)] = Field(default_factory=dict)
    pod_security_context: PodSecurityContext = Field(
        default_factory=lambda: PodSecurityContext.model_validate(DEFAULT_POD_IDS))
    container_security_context: ContainerSecurityContext = Field(default_factory=ContainerSecurityContext)
    termination_grace_period_seconds: int = Field(default=DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS, ge=1,
                                                  le=MAX_GRACE_PERIOD_SECONDS)
    tmp_size_limit: Annotated[Quantity | None, Unset] = None
    shm_size_limit: Annotated[Quantity | None, Unset] = None
    prometheus_annotations: bool = True

    @model_validator(mode="after")
    def _operator_labels_stay_the_operators(self) -> WorkerPodSettings:
        for key in self.labels:
            if key.startswith(LABEL_PREFIX):
                raise field_error(f"labels{map_key(key)}", f"labels with the {LABEL_PREFIX} prefix are set by the "
                                  "operator (its children are found by them); use another prefix")
        return self

    def render_settings(self) -> RenderSettings:
        """The RenderSettings these values give; ValueError (naming the value) if they would weaken the profile."""
        return RenderSettings(
            termination_grace_period_seconds=self.termination_grace_period_seconds,
            prometheus_annotations=self.prometheus_annotations,
            tmp_size_limit=self.tmp_size_limit,
            shm_size_limit=self.shm_size_limit,
            image_pull_policy=self.image_pull_policy,
            scheduler_name=self.scheduler_name,
            priority_class_name=self.priority_class_name,
            runtime_class_name=self.runtime_class_name,
            tolerations=tuple(t.to_body() for t in self.tolerations),
            image_pull_secrets=tuple(secret.name for secret in self.image_pull_secrets),
            extra_pod_labels=dict(self.labels),
            extra_pod_annotations=dict(self.annotations),
            pod_security_context=self.pod_security_context.to_body(),
            container_security_context=self.container_security_context.to_body(),
        )
