"""Read the CRDs under crds/ and walk their OpenAPI schemas (helpers for the CRD tests)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
CRD_DIR = REPO_ROOT / "crds"
CRD_FILES = {
    "GPUClass": CRD_DIR / "gpuclasses.fairshare.dev.yaml",
    "Tenant": CRD_DIR / "tenants.fairshare.dev.yaml",
    "TrainingJob": CRD_DIR / "trainingjobs.fairshare.dev.yaml",
}


@cache
def load_crd(kind: str) -> dict[str, Any]:
    return yaml.safe_load(CRD_FILES[kind].read_text())


def root_schema(kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of the one served version."""
    (version,) = load_crd(kind)["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


def children(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path step, child schema) for every direct child: `.name`, `[]` for items, `{}` for map values."""
    for name, child in schema.get("properties", {}).items():
        yield f".{name}", child
    if isinstance(schema.get("items"), dict):
        yield "[]", schema["items"]
    if isinstance(schema.get("additionalProperties"), dict):
        yield "{}", schema["additionalProperties"]


def walk(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node below `schema` (not itself), depth first, with its path (`.spec.env[].name`)."""
    for step, child in children(schema):
        yield path + step, child
        yield from walk(child, path + step)


def node_at(kind: str, dotted: str) -> dict[str, Any] | None:
    """The schema node for a path such as `spec.workers.min` or `status.conditions[].type`, or None."""
    node: dict[str, Any] | None = root_schema(kind)
    for part in dotted.replace("[]", ".[]").split("."):
        if node is None or not part:
            continue
        node = node.get("items") if part == "[]" else node.get("properties", {}).get(part)
    return node


def validations(kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(schema path, rule) for every x-kubernetes-validations rule of a CRD, the root's included."""
    root = root_schema(kind)
    for rule in root.get("x-kubernetes-validations", []):
        yield "", rule
    for path, node in walk(root):
        for rule in node.get("x-kubernetes-validations", []):
            yield path, rule
