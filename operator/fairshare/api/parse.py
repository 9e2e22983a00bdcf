"""Turn raw custom resource bodies (dicts from kopf or the API) into models, or one SpecError naming the field."""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from fairshare.api.errors import SpecError, map_key
from fairshare.api.gpuclass import GPUClass
from fairshare.api.tenant import Tenant
from fairshare.api.trainingjob import IMMUTABLE_SPEC_FIELDS, TrainingJob

ModelT = TypeVar("ModelT", bound=BaseModel)

# Pod fields people reach for that would escape the restricted profile; the API has no way to express them.
PRIVILEGED_FIELDS = frozenset({
    "securityContext", "privileged", "capabilities", "allowPrivilegeEscalation", "hostNetwork", "hostPID",
    "hostIPC", "hostPath", "hostPort", "hostUsers", "nodeName", "volumeDevices", "serviceAccountName",
})


def parse_gpu_class(body: Mapping[str, Any]) -> GPUClass:
    """A GPUClass from its raw body, or SpecError."""
    return parse_model(GPUClass, body)


def parse_tenant(body: Mapping[str, Any]) -> Tenant:
    """A Tenant from its raw body, or SpecError."""
    return parse_model(Tenant, body)


def parse_training_job(body: Mapping[str, Any]) -> TrainingJob:
    """A TrainingJob from its raw body, or SpecError."""
    return parse_model(TrainingJob, body)


def parse_model(model: type[ModelT], body: Mapping[str, Any]) -> ModelT:
    """Validate a body against a model; every problem becomes one (path, message) pair of a single SpecError."""
    try:
        return model.model_validate(to_plain(body))
    except ValidationError as error:
        problems = tuple(describe_error(model, detail) for detail in error.errors())
        raise SpecError(problems[0][0], problems[0][1], problems) from None


def changed_immutable_fields(old_spec: Mapping[str, Any], new_spec: Mapping[str, Any]) -> list[str]:
    """The spec fields (camelCase) that an update changed although they are immutable; the CRD refuses these too."""
    old, new = to_plain(old_spec), to_plain(new_spec)
    return [f"spec.{name}" for name in IMMUTABLE_SPEC_FIELDS if old.get(name) != new.get(name)]


def to_plain(value: Any) -> Any:
    """Deep-copy mappings and sequences (kopf bodies are read-only views) into dicts and lists."""
    if isinstance(value, Mapping):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [to_plain(item) for item in value]
    return value


def describe_error(model: type[BaseModel], detail: ErrorDetails) -> tuple[str, str]:
    """The camelCase path of one pydantic error and a message that says what to do."""
    path = format_location(model, detail["loc"])
    ctx = detail.get("ctx") or {}
    kind = detail["type"]
    if kind == "fairshare_field":
        sub = str(ctx["field"])
        path = sub if not path else (path + sub if sub.startswith("[") else f"{path}.{sub}")
        return path, str(ctx["message"])
    last = str(detail["loc"][-1]) if detail["loc"] else ""
    if kind == "missing":
        return path, "is required"
    if kind == "extra_forbidden" and last in PRIVILEGED_FIELDS:
        return path, (f"{last} is not allowed: worker pods always run under the restricted Pod Security profile "
                      "and this API cannot weaken it; remove the field")
    if kind == "extra_forbidden":
        return path, "unknown field; remove it or fix its spelling (fields are camelCase, see `kubectl explain`)"
    message = detail["msg"].replace("Input should be", "must be").replace("Value error, ", "")
    if "(got " not in message and not isinstance(detail.get("input"), dict | list):
        message += f" (got {detail.get('input')!r})"
    return path, message


def format_location(model: type[BaseModel], loc: Sequence[int | str]) -> str:
    """Render a pydantic location as a Kubernetes field path: `spec.env[2].name`, `spec.guaranteed[a100]`."""
    path = ""
    node: Any = model
    for item in loc:
        if item == "[key]":
            continue
        node = _unwrap(node)
        origin = get_origin(node)
        if isinstance(item, int):
            path += f"[{item}]"
            node = get_args(node)[0] if origin is list else None
        elif origin is dict:
            path += map_key(item)
            node = get_args(node)[1]
        elif _plain_name(str(item)):
            path += f".{item}" if path else str(item)
            node = _field_annotation(node, str(item))
        else:
            # An unknown key such as `../x` or `nvidia.com/gpu`: bracketed like a map key, so that the path still
            # names that one key.
            path += map_key(item)
            node = None
    return path


def _plain_name(name: str) -> bool:
    """A key that reads unambiguously after a dot in a field path (letters, digits, `_` and `-`)."""
    return bool(name) and all(c.isalnum() or c in "_-" for c in name)


def _unwrap(node: Any) -> Any:
    """Strip Annotated[...] and `X | None` down to the type that decides how the next location step reads."""
    while True:
        origin = get_origin(node)
        if origin is Annotated:
            node = get_args(node)[0]
        elif origin in (Union, types.UnionType):
            members = [arg for arg in get_args(node) if arg is not type(None)]
            node = members[0] if len(members) == 1 else None
        else:
            return node


def _field_annotation(node: Any, alias: str) -> Any:
    if not (isinstance(node, type) and issubclass(node, BaseModel)):
        return None
    for name, info in node.model_fields.items():
        if alias in (name, info.alias):
            return info.annotation
    return None
