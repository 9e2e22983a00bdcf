"""GPUClass: a cluster-scoped GPU type, the nodes that have it, its list price and power draw."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

from pydantic import Field, model_validator

from fairshare.api.base import Condition, CustomResource, SpecModel, StatusModel, field_error
from fairshare.api.constants import KIND_GPU_CLASS, MAX_LABEL_VALUE_LENGTH
from fairshare.api.toleration import Tolerations
from fairshare.api.types import DNS_LABEL_PATTERN, LabelKey, LabelValue

MAX_GPU_CLASS_PRICE = 1_000_000.0
MAX_POWER_WATTS = 10_000.0
MAX_RELATIVE_SPEED = 1_000.0
MAX_NODE_SELECTOR_LABELS = 16


class GPUClassSpec(SpecModel):
    """What a GPU class is: which nodes carry it (and their taints), what a GPU-hour costs, how much power a GPU
    draws."""

    node_selector: Annotated[dict[LabelKey, LabelValue], Field(min_length=1, max_length=MAX_NODE_SELECTOR_LABELS)]
    price_per_gpu_hour: float = Field(alias="pricePerGPUHour", gt=0, le=MAX_GPU_CLASS_PRICE)
    power_watts: float = Field(gt=0, le=MAX_POWER_WATTS)
    relative_speed: float | None = Field(default=None, gt=0, le=MAX_RELATIVE_SPEED)
    tolerations: Tolerations = Field(default_factory=list)


class GPUClassStatus(StatusModel):
    """What the operator observed: GPUs on matching nodes, how many are held, and the current market price."""

    observed_generation: int | None = Field(default=None, ge=0)
    capacity: int | None = Field(default=None, ge=0)
    allocated: int | None = Field(default=None, ge=0)
    foreign: int | None = Field(default=None, ge=0)  # held by pods the operator did not create
    idle: int | None = Field(default=None, ge=0)
    current_price_per_gpu_hour: float | None = Field(default=None, alias="currentPricePerGPUHour", ge=0)
    conditions: list[Condition] = Field(default_factory=list)


class GPUClass(CustomResource):
    """A whole GPUClass object."""

    expected_kind: ClassVar[str] = KIND_GPU_CLASS
    spec: GPUClassSpec
    status: GPUClassStatus | None = None

    @model_validator(mode="after")
    def _name_is_a_label(self) -> GPUClass:
        """The class name becomes the fairshare.dev/gpu-class label value and a key in Tenant maps."""
        name = self.metadata.name
        if len(name) > MAX_LABEL_VALUE_LENGTH or not re.match(DNS_LABEL_PATTERN, name):
            raise field_error("metadata.name", "a GPUClass name must be a DNS-1123 label of at most 63 characters "
                              f"(lowercase letters, digits, '-'); got {name!r}")
        return self
