"""Toleration: a node taint worker pods tolerate (GPUClass spec.tolerations, the operator's worker pod settings)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from fairshare.api.base import SpecModel, field_error
from fairshare.api.types import LabelKey, LabelValue

MAX_TOLERATIONS = 16


class Toleration(SpecModel):
    """corev1.Toleration: worker pods may run on nodes with a taint that matches `key`, `value` and `effect`.

    The same three rules as the API server's: `Exists` matches any value, so it takes none; leaving out `key`
    tolerates every taint, so it needs `Exists`; `tolerationSeconds` only bounds a `NoExecute` eviction.
    """

    key: LabelKey | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Toleration:
        if self.operator == "Exists" and self.value:
            raise field_error("value", "operator Exists matches any value of the taint; remove value or use "
                              "operator Equal")
        if self.key is None and self.operator != "Exists":
            raise field_error("operator", "a toleration without key tolerates every taint and needs operator "
                              "Exists; set key, or operator: Exists")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise field_error("tolerationSeconds", "tolerationSeconds only applies to effect NoExecute; set effect: "
                              "NoExecute or remove tolerationSeconds")
        return self


Tolerations = Annotated[list[Toleration], Field(max_length=MAX_TOLERATIONS)]
