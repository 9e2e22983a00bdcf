"""Constrained string types shared by the CR models, each failing with a message that says the fix."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from fairshare.api.constants import (
    FORBIDDEN_MOUNT_PREFIXES,
    RESERVED_MOUNT_PATHS,
    RESERVED_VOLUME_PREFIX,
    is_reserved_env_name,
)
from fairshare.api.quantity import QuantityError, parse_quantity

# The regular expressions below are the same ones the CRDs use (as `pattern` or inside CEL `matches`).
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_1035_LABEL_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
ABSOLUTE_PATH_PATTERN = r"^(/[^/]+)+$"
LABEL_KEY_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
LABEL_VALUE_PATTERN = r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"


def _fail(kind: str, message: str, value: Any) -> PydanticCustomError:
    return PydanticCustomError(kind, "{message}", {"message": f"{message} (got {value!r})"})


def _check_dns_label(value: str) -> str:
    if len(value) > 63 or not re.match(DNS_LABEL_PATTERN, value):
        raise _fail("dns_label", "must be a DNS-1123 label: at most 63 lowercase letters, digits or '-', "
                    "starting and ending with a letter or digit", value)
    return value


def _check_dns_subdomain(value: str) -> str:
    if len(value) > 253 or not re.match(DNS_SUBDOMAIN_PATTERN, value):
        raise _fail("dns_subdomain", "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
                    "starting and ending with a letter or digit", value)
    return value


def _check_env_name(value: str) -> str:
    if not re.match(ENV_NAME_PATTERN, value) or len(value) > 256:
        raise _fail("env_name", "must be a valid environment variable name (letters, digits, '_', '-', '.', "
                    "not starting with a digit)", value)
    if is_reserved_env_name(value):
        raise _fail("env_reserved", "is reserved: the operator sets it for torchrun or for the trainer; "
                    "remove it from env (torchrun gets the job's size and rendezvous from the operator)", value)
    return value


def _quantity_to_str(value: Any) -> Any:
    # The CRD types quantities as int-or-string, so a bare YAML float (cpu: 0.5) is refused there; refuse it here too.
    if isinstance(value, bool | float):
        raise _fail("quantity_type", "must be an integer or a quoted quantity string such as \"500m\" or \"0.5\"",
                    value)
    return str(value) if isinstance(value, int) else value


def _check_quantity(value: str) -> str:
    try:
        number = parse_quantity(value)
    except QuantityError:
        raise _fail("quantity", "must be a Kubernetes quantity such as \"2\", \"500m\", \"16Gi\"", value) from None
    if number < 0:  # "-0" is zero, as the CRD's CEL rule reads it
        raise _fail("quantity_negative", "must not be negative; use a quantity such as \"8\", \"500m\" or \"64Gi\"",
                    value)
    return value


def _check_absolute_path(value: str) -> str:
    if len(value) > 1024 or not re.match(ABSOLUTE_PATH_PATTERN, value) or ".." in value.split("/"):
        raise _fail("absolute_path", "must be an absolute path such as /data, without '..' segments or a trailing '/'",
                    value)
    return value


def _check_mount_path(value: str) -> str:
    value = _check_absolute_path(value)
    if value in RESERVED_MOUNT_PATHS:
        raise _fail("mount_reserved", f"is reserved: the operator mounts {', '.join(RESERVED_MOUNT_PATHS)} itself; "
                    "choose another path", value)
    if value == "/dev" or any(value.startswith(prefix) for prefix in FORBIDDEN_MOUNT_PREFIXES):
        raise _fail("mount_forbidden", "must not be under /dev, /proc or /sys; choose another path", value)
    return value


def _check_relative_path(value: str) -> str:
    if not value or len(value) > 1024 or value.startswith("/") or ".." in value.split("/"):
        raise _fail("relative_path", "must be a relative path without '..' segments, such as team/run-1", value)
    return value


def _check_volume_name(value: str) -> str:
    value = _check_dns_label(value)
    if value.startswith(RESERVED_VOLUME_PREFIX):
        raise _fail("volume_reserved", f"must not start with {RESERVED_VOLUME_PREFIX!r}: the operator's own volumes "
                    "use that prefix; rename the volume", value)
    return value


def _check_label_key(value: str) -> str:
    name = value.rsplit("/", 1)[-1]
    if len(name) > 63 or len(value) > 316 or not re.match(LABEL_KEY_PATTERN, value):
        raise _fail("label_key", "must be a label key: optional DNS prefix and '/', then at most 63 letters, digits, "
                    "'-', '_' or '.'", value)
    return value


def _check_label_value(value: str) -> str:
    if len(value) > 63 or not re.match(LABEL_VALUE_PATTERN, value):
        raise _fail("label_value", "must be a label value: at most 63 letters, digits, '-', '_' or '.', "
                    "starting and ending with a letter or digit", value)
    return value


DNSLabel = Annotated[str, AfterValidator(_check_dns_label)]
"""A DNS-1123 label: names of GPU classes, tenants, namespaces, PVCs used as labels or map keys."""
DNSSubdomain = Annotated[str, AfterValidator(_check_dns_subdomain)]
"""A DNS-1123 subdomain: names of Secrets, ConfigMaps and PersistentVolumeClaims."""
EnvName = Annotated[str, AfterValidator(_check_env_name)]
Quantity = Annotated[str, BeforeValidator(_quantity_to_str), AfterValidator(_check_quantity)]
AbsolutePath = Annotated[str, AfterValidator(_check_absolute_path)]
MountPath = Annotated[str, AfterValidator(_check_mount_path)]
RelativePath = Annotated[str, AfterValidator(_check_relative_path)]
VolumeName = Annotated[str, AfterValidator(_check_volume_name)]
LabelKey = Annotated[str, AfterValidator(_check_label_key)]
LabelValue = Annotated[str, AfterValidator(_check_label_value)]
