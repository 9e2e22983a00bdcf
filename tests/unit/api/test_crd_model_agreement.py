"""The pydantic models and the CRD schemas describe the same fields, so neither can drift from the other.

Both are walked in parallel from the root: at every object the field names (camelCase aliases), the
required set, defaults, enums and numeric/size bounds must agree; arrays and maps recurse into their items.
"""

from __future__ import annotations

import types
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import pytest
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from fairshare.api import GPUClass, Tenant, TrainingJob
from tests.unit.api.crd_schema import root_schema

SCALARS = {"integer": int, "number": float, "string": str, "boolean": bool}


def unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """Strip Annotated and `| None`; return the bare type and the constraint metadata found on the way."""
    constraints: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *metadata = get_args(annotation)
            for item in metadata:
                constraints.extend(item.metadata if isinstance(item, FieldInfo) else [item])
        elif origin in (Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            assert len(members) == 1, f"unexpected union {annotation}"
            annotation = members[0]
        else:
            return annotation, constraints


def model_bounds(constraints: list[Any]) -> dict[str, Any]:
    """The pydantic constraints in the CRD's vocabulary."""
    attributes = {at.Ge: ("minimum", "ge"), at.Le: ("maximum", "le"), at.Gt: ("exclusive", "gt"),
                  at.MinLen: ("min_len", "min_length"), at.MaxLen: ("max_len", "max_length")}
    bounds: dict[str, Any] = {}
    for constraint in constraints:
        if type(constraint) in attributes:
            key, attribute = attributes[type(constraint)]
            bounds[key] = getattr(constraint, attribute)
    return bounds


def schema_bounds(schema: dict[str, Any]) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    if "minimum" in schema:
        bounds["exclusive" if schema.get("exclusiveMinimum") else "minimum"] = schema["minimum"]
    if "maximum" in schema:
        bounds["maximum"] = schema["maximum"]
    for crd_key, key in (("minItems", "min_len"), ("maxItems", "max_len"), ("minProperties", "min_len"),
                         ("maxProperties", "max_len")):
        if crd_key in schema:
            bounds[key] = schema[crd_key]
    return bounds


def compare(schema: dict[str, Any], annotation: Any, path: str, problems: list[str],
            field_constraints: list[Any] | None = None) -> None:
    """Record every disagreement between a schema node and a Python annotation below `path`."""
    bare, constraints = unwrap(annotation)
    constraints = [*(field_constraints or []), *constraints]
    in_spec = path.startswith(("spec", "metadata"))
    expected = schema_bounds(schema)
    got = model_bounds(constraints)
    # Bounds must match wherever the model declares them, and on spec the model must declare every one of them
    # (length limits on strings are enforced by the models' validators instead, and are not compared).
    for key in set(expected) | set(got):
        if key in got and key in expected and float(got[key]) != float(expected[key]):
            problems.append(f"{path}: {key} model={got[key]} crd={expected[key]}")
        elif key in expected and key not in got and in_spec:
            problems.append(f"{path}: the model lacks {key}={expected[key]}")
    if "enum" in schema:
        values = [m.value for m in bare] if isinstance(bare, type) and issubclass(bare, Enum) else list(get_args(bare))
        if get_origin(bare) is not Literal and not (isinstance(bare, type) and issubclass(bare, Enum)):
            problems.append(f"{path}: the CRD has an enum, the model {bare}")
        elif sorted(values) != sorted(schema["enum"]):
            problems.append(f"{path}: enum model={values} crd={schema['enum']}")
        return
    if schema.get("x-kubernetes-int-or-string"):
        if bare is not str:
            problems.append(f"{path}: int-or-string quantity should be a normalized str, not {bare}")
        return
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        compare_object(schema, bare, path, problems)
    elif kind == "object":
        if get_origin(bare) is not dict:
            problems.append(f"{path}: the CRD has a map, the model {bare}")
        else:
            compare(schema["additionalProperties"], get_args(bare)[1], f"{path}{{}}", problems)
    elif kind == "array":
        if get_origin(bare) is not list:
            problems.append(f"{path}: the CRD has an array, the model {bare}")
        else:
            compare(schema["items"], get_args(bare)[0], f"{path}[]", problems)
    elif kind == "string" and schema.get("format") == "date-time":
        if bare is not datetime:
            problems.append(f"{path}: date-time should be datetime, not {bare}")
    elif SCALARS.get(kind) is not bare:
        problems.append(f"{path}: type model={bare} crd={kind}")


def compare_object(schema: dict[str, Any], model: Any, path: str, problems: list[str]) -> None:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        problems.append(f"{path}: the CRD has an object, the model {model}")
        return
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    properties = schema["properties"]
    if path == "metadata":  # the CRD may only restrict name; ObjectMeta models more of it
        properties = {key: value for key, value in properties.items() if key in fields}
    if set(fields) != set(properties) and path != "metadata":
        problems.append(f"{path}: fields only in the model {sorted(set(fields) - set(properties))}, "
                        f"only in the CRD {sorted(set(properties) - set(fields))}")
    # The API server always sets apiVersion, kind and metadata, so the CRD need not require them.
    always_present = {"apiVersion", "kind", "metadata"} if path == "" else set()
    required = {alias for alias, info in fields.items() if info.is_required()} - always_present
    if path != "metadata" and required != set(schema.get("required", [])):
        problems.append(f"{path}: required model={sorted(required)} crd={sorted(schema.get('required', []))}")
    for alias in sorted(set(fields) & set(properties)):
        info, child = fields[alias], properties[alias]
        child_path = f"{path}.{alias}" if path else alias
        if "default" in child:
            wanted = TypeAdapter(info.annotation).validate_python(child["default"])
            if info.get_default(call_default_factory=True) != wanted:
                problems.append(f"{child_path}: default model={info.get_default(call_default_factory=True)!r} "
                                f"crd={child['default']!r}")
        elif not info.is_required() and info.get_default(call_default_factory=True) not in (None, [], {}):
            problems.append(f"{child_path}: the model defaults to {info.get_default()!r}, the CRD has no default")
        compare(child, info.annotation, child_path, problems, list(info.metadata))


@pytest.mark.parametrize("model", [GPUClass, Tenant, TrainingJob], ids=lambda m: m.__name__)
def test_model_and_crd_agree(model: type[BaseModel]) -> None:
    problems: list[str] = []
    compare_object(root_schema(model.__name__), model, "", problems)
    assert problems == []


def test_the_walk_notices_drift() -> None:
    """Guard the guard: a renamed field, a changed bound and a lost default are each reported."""
    schema = {"type": "object", "required": ["size"], "properties": {
        "size": {"type": "integer", "minimum": 1, "maximum": 8, "description": "d"},
        "mode": {"type": "string", "default": "fast", "description": "d"},
        "extra": {"type": "boolean", "description": "d"},
    }}

    class Drifted(BaseModel):
        size: Annotated[int, at.Ge(1), at.Le(4)]
        mode: str = "slow"

    problems: list[str] = []
    compare_object(schema, Drifted, "spec", problems)
    assert problems == [
        "spec: fields only in the model [], only in the CRD ['extra']",
        "spec.mode: default model='slow' crd='fast'",
        "spec.size: maximum model=4 crd=8",
    ]
