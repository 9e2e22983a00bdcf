"""The one model configuration shared by every custom resource, plus metadata and KEP-1623 conditions."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from fairshare.api.constants import API_VERSION


class CRModel(BaseModel):
    """Base of every CR model: Python snake_case attributes, Kubernetes camelCase on the wire."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
    )

    def to_body(self) -> dict[str, Any]:
        """The camelCase JSON-ready dict, without unset optional fields (what a PATCH should carry)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class SpecModel(CRModel):
    """A spec: exactly what the CRD allows, nothing more, immutable once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StatusModel(CRModel):
    """A status: tolerant of keys it does not know, because other writers (kopf, newer operators) may add some."""

    model_config = ConfigDict(extra="allow")

    @classmethod
    def merge_patch(cls, **fields: Any) -> dict[str, Any]:
        """A JSON merge patch of this status: exactly the fields given (by attribute name), under their wire names, as
        `model_dump(by_alias=True, exclude_unset=True)` keys them; None removes a field. Values must be JSON-ready (an
        enum's value, RFC 3339 text, a nested object its own model's merge_patch). A name the model lacks raises
        TypeError.

        It builds no model: for a waiting job's patch, model_construct and a dump cost 250-400 us in pydantic 2.13, a
        validated model and its dump about 20 us, this 2-3 us (a dict literal 0.3-0.5 us), and a cycle may write
        thousands of statuses (benchmarks/status_patch.py, docs/benchmarks/status.md)."""
        names = wire_names(cls)
        try:
            return {names[name]: value for name, value in fields.items()}
        except KeyError as err:
            raise TypeError(f"{cls.__name__} has no field {err.args[0]!r}") from None


@cache
def wire_names(model: type[BaseModel]) -> dict[str, str]:
    """Attribute name -> the name a model's field has on the wire (its alias, camelCase)."""
    return {name: field.serialization_alias or field.alias or name for name, field in model.model_fields.items()}


class ObjectMeta(CRModel):
    """The parts of metav1.ObjectMeta the operator reads; everything else is kept but not typed."""

    model_config = ConfigDict(extra="allow")

    name: str
    namespace: str | None = None
    uid: str | None = None
    generation: int | None = None
    resource_version: str | None = None
    creation_timestamp: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class Condition(StatusModel):
    """metav1.Condition (KEP-1623): one aspect of an object's state, with a machine reason and a human message."""

    type: str
    status: Literal["True", "False", "Unknown"]
    observed_generation: int | None = Field(default=None, ge=0)
    last_transition_time: datetime
    reason: str
    message: str


class CustomResource(CRModel):
    """A whole custom resource body as the API returns it; subclasses name the kind they accept."""

    model_config = ConfigDict(extra="ignore")
    expected_kind: ClassVar[str] = ""

    api_version: str
    kind: str
    metadata: ObjectMeta

    @model_validator(mode="before")
    @classmethod
    def _is_this_kind(cls, body: Any) -> Any:
        """A Tenant body handed to the TrainingJob parser is a bug in the caller; say so before anything else."""
        if isinstance(body, dict) and (body.get("apiVersion"), body.get("kind")) != (API_VERSION, cls.expected_kind):
            raise field_error("kind", f"expected {API_VERSION} {cls.expected_kind}, "
                              f"got {body.get('apiVersion')} {body.get('kind')}")
        return body


def field_error(field: str, message: str) -> PydanticCustomError:
    """An error for a field below the model being validated; parse.py appends `field` to the error's location."""
    return PydanticCustomError("fairshare_field", "{message}", {"field": field, "message": message})
