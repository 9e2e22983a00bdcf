"""Tenant: a cluster-scoped team that owns namespaces, a weight, per-class guarantees and a budget."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import Field, model_validator

from fairshare.api.base import Condition, CustomResource, SpecModel, StatusModel, field_error
from fairshare.api.constants import KIND_TENANT, MAX_LABEL_VALUE_LENGTH, SYSTEM_NAMESPACE_PREFIX
from fairshare.api.types import DNS_LABEL_PATTERN, DNSLabel

MAX_NAMESPACES = 256
MAX_CLASSES = 64
MAX_WEIGHT = 1000.0
MAX_GPUS_PER_CLASS = 1_000_000
MAX_CREDITS_PER_PERIOD = 1e12
DEFAULT_PERIOD_HOURS = 720
MAX_PERIOD_HOURS = 8784  # one leap year

GPUCount = Annotated[int, Field(ge=0, le=MAX_GPUS_PER_CLASS)]


class Budget(SpecModel):
    """Credits a tenant may spend per accounting period; spending resets at the start of each period."""

    credits_per_period: float = Field(gt=0, le=MAX_CREDITS_PER_PERIOD)
    period_hours: int = Field(default=DEFAULT_PERIOD_HOURS, ge=1, le=MAX_PERIOD_HOURS)


class TenantSpec(SpecModel):
    """Who the tenant is (its namespaces) and what it is entitled to."""

    namespaces: Annotated[list[DNSLabel], Field(min_length=1, max_length=MAX_NAMESPACES)]
    weight: float = Field(default=1.0, gt=0, le=MAX_WEIGHT)
    guaranteed: Annotated[dict[DNSLabel, GPUCount], Field(max_length=MAX_CLASSES)] = Field(default_factory=dict)
    borrowing_limit: Annotated[dict[DNSLabel, GPUCount], Field(max_length=MAX_CLASSES)] | None = None
    budget: Budget | None = None

    @model_validator(mode="after")
    def _namespaces_unique_and_not_kubernetes(self) -> TenantSpec:
        seen: set[str] = set()
        for index, namespace in enumerate(self.namespaces):
            if namespace.startswith(SYSTEM_NAMESPACE_PREFIX):
                raise field_error(f"namespaces[{index}]", f"namespaces with the {SYSTEM_NAMESPACE_PREFIX} prefix "
                                  "(kube-system, kube-public, kube-node-lease) are Kubernetes system namespaces and "
                                  f"cannot belong to a Tenant; remove {namespace} from spec.namespaces")
            if namespace in seen:
                raise field_error(f"namespaces[{index}]", f"namespace {namespace!r} is listed twice; remove the copy")
            seen.add(namespace)
        return self

    def borrowing_limit_for(self, gpu_class: str) -> int | None:
        """GPUs this tenant may borrow beyond its guarantee in a class; None means no limit."""
        if self.borrowing_limit is None:
            return None
        return self.borrowing_limit.get(gpu_class)


class LedgerStatus(StatusModel):
    """What the tenant's jobs (and foreign pods) were charged this period: per UID (those gone lately included, with
    when they went), what those gone longer had been charged, until when its foreign pods are charged, and which
    entries hold their deleted job's last charge (and until when it ran)."""

    closed_credits: float | None = Field(default=None, ge=0)
    jobs: dict[str, float] = Field(default_factory=dict)
    closed_at: dict[str, datetime] = Field(default_factory=dict)
    foreign_charged_through: datetime | None = None
    final_charged_through: dict[str, datetime] = Field(default_factory=dict)


class TenantStatus(StatusModel):
    """What the tenant holds and has spent, and the fair share the allocator computed for it."""

    observed_generation: int | None = Field(default=None, ge=0)
    allocated: dict[str, int] = Field(default_factory=dict)
    allocated_gpus: int | None = Field(default=None, alias="allocatedGPUs", ge=0)
    foreign: dict[str, int] = Field(default_factory=dict)  # GPUs its namespaces' pods hold outside any job
    fair_share: dict[str, float] = Field(default_factory=dict)
    share_ratio: float | None = Field(default=None, ge=0)  # what its full-price GPUs cost over its entitlement
    decayed_usage_gpu_hours: float | None = Field(default=None, alias="decayedUsageGPUHours", ge=0)
    usage_updated_at: datetime | None = None
    spend_this_period: float | None = Field(default=None, ge=0)
    credits_left: float | None = None
    period_start: datetime | None = None
    ledger: LedgerStatus | None = None
    conditions: list[Condition] = Field(default_factory=list)


class Tenant(CustomResource):
    """A whole Tenant object."""

    expected_kind: ClassVar[str] = KIND_TENANT
    spec: TenantSpec
    status: TenantStatus | None = None

    @model_validator(mode="after")
    def _name_is_a_label(self) -> Tenant:
        """The tenant name becomes the fairshare.dev/tenant label value and a metrics label."""
        name = self.metadata.name
        if len(name) > MAX_LABEL_VALUE_LENGTH or not re.match(DNS_LABEL_PATTERN, name):
            raise field_error("metadata.name", "a Tenant name must be a DNS-1123 label of at most 63 characters "
                              f"(lowercase letters, digits, '-'); got {name!r}")
        return self
