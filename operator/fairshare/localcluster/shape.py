"""The simulated GPU fleet of a local cluster: node pools by GPU class, parsed from a small YAML config."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from fairshare.api.constants import GPU_RESOURCE

GPU_CLASS_LABEL = "fairshare.dev/gpu-class"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class ShapeError(ValueError):
    """A cluster-shape config that cannot be used; the message names the field and the fix."""


@dataclasses.dataclass(frozen=True)
class NodePool:
    """`count` identical kwok nodes carrying `gpus_per_node` GPUs of one class."""

    gpu_class: str
    count: int
    gpus_per_node: int
    cpu: str = "96"
    memory: str = "1024Gi"
    pods: int = 110

    def node_names(self) -> list[str]:
        return [f"{self.gpu_class}-{i:03d}" for i in range(self.count)]


DEFAULT_POOLS: tuple[NodePool, ...] = (
    NodePool("h100", count=4, gpus_per_node=8),
    NodePool("a100", count=8, gpus_per_node=8),
    NodePool("l4", count=8, gpus_per_node=4, cpu="48", memory="192Gi"),
)


def _positive_int(raw: Any, field: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise ShapeError(f"{field}: must be a positive integer, got {raw!r}")
    return raw


def parse_pools(doc: Mapping[str, Any]) -> tuple[NodePool, ...]:
    """Parse `{nodePools: [{gpuClass, count, gpusPerNode, cpu?, memory?, pods?}]}`."""
    raw_pools = doc.get("nodePools")
    if not isinstance(raw_pools, list) or not raw_pools:
        raise ShapeError("nodePools: must be a non-empty list of {gpuClass, count, gpusPerNode}")
    pools: list[NodePool] = []
    for i, raw in enumerate(raw_pools):
        where = f"nodePools[{i}]"
        if not isinstance(raw, Mapping):
            raise ShapeError(f"{where}: must be a mapping with gpuClass, count and gpusPerNode")
        unknown = set(raw) - {"gpuClass", "count", "gpusPerNode", "cpu", "memory", "pods"}
        if unknown:
            raise ShapeError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: gpuClass, count, gpusPerNode, "
                             "cpu, memory, pods")
        gpu_class = raw.get("gpuClass")
        if not isinstance(gpu_class, str) or not DNS_LABEL.match(gpu_class):
            raise ShapeError(f"{where}.gpuClass: must be a lowercase DNS label like 'a100', got {gpu_class!r}")
        pools.append(NodePool(
            gpu_class=gpu_class,
            count=_positive_int(raw.get("count"), f"{where}.count"),
            gpus_per_node=_positive_int(raw.get("gpusPerNode"), f"{where}.gpusPerNode"),
            cpu=str(raw.get("cpu", "96")),
            memory=str(raw.get("memory", "1024Gi")),
            pods=_positive_int(raw.get("pods", 110), f"{where}.pods"),
        ))
    classes = [p.gpu_class for p in pools]
    if len(set(classes)) != len(classes):
        raise ShapeError("nodePools: each gpuClass may appear once; merge pools of the same class")
    return tuple(pools)


def load_pools(path: Path | None) -> tuple[NodePool, ...]:
    """The pools in a YAML file, or the default fleet when no file is given."""
    if path is None:
        return DEFAULT_POOLS
    return parse_pools(yaml.safe_load(path.read_text()) or {})


def node_manifest(pool: NodePool, name: str) -> dict[str, Any]:
    """A Node object that kwok adopts (by annotation) and keeps Ready, labelled with its GPU class."""
    resources = {"cpu": pool.cpu, "memory": pool.memory, "pods": str(pool.pods), GPU_RESOURCE: str(pool.gpus_per_node)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                GPU_CLASS_LABEL: pool.gpu_class,
                "nvidia.com/gpu.product": pool.gpu_class,
            },
        },
        "spec": {},
        "status": {"capacity": resources, "allocatable": dict(resources)},
    }
