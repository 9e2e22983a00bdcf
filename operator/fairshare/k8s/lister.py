"""Full LISTs of every kind the operator watches: the initial state, and the periodic level-triggered resync."""

from __future__ import annotations

import dataclasses
from typing import Any

from kubernetes import client

from fairshare.api.constants import GROUP, PLURAL_GPU_CLASSES, PLURAL_TENANTS, PLURAL_TRAINING_JOBS, VERSION
from fairshare.control.snapshot import tracked_pod
from fairshare.control.store import GPU_CLASSES, NODES, PODS, TENANTS, TRAINING_JOBS
from fairshare.k8s.client import read_json


@dataclasses.dataclass(frozen=True)
class Listing:
    """One kind's full LIST: the bodies, and the LIST's own metadata.resourceVersion (the state it shows)."""

    items: list[dict[str, Any]]
    resource_version: str | None


def list_all(api: client.ApiClient) -> dict[str, Listing]:
    """kind -> its LIST: bodies as plain dicts (the same shape watch events carry), and the LIST's resourceVersion.
    Every response is read as JSON, never turned into typed models: a LIST of thousands of pods made into V1Pod
    models and back into dicts held the GIL for seconds (measured: about a third of the operator's profile samples in
    one run of benchmarks/kueue_harness.py, docs/benchmarks/scale.md)."""
    core = client.CoreV1Api(api)
    custom = client.CustomObjectsApi(api)
    out: dict[str, Listing] = {}
    for kind, plural in ((TRAINING_JOBS, PLURAL_TRAINING_JOBS), (TENANTS, PLURAL_TENANTS),
                         (GPU_CLASSES, PLURAL_GPU_CLASSES)):
        out[kind] = listing(custom.list_cluster_custom_object(GROUP, VERSION, plural, _preload_content=False))
    out[NODES] = listing(core.list_node(_preload_content=False), "Node", "v1")
    pods = listing(core.list_pod_for_all_namespaces(_preload_content=False), "Pod", "v1")
    out[PODS] = Listing([p for p in pods.items if tracked_pod(p)], pods.resource_version)
    return out


def listing(response: Any, kind: str | None = None, api_version: str | None = None) -> Listing:
    """A LIST response read as JSON (its connection back in the pool); items get the kind and apiVersion that a
    LIST leaves out of them."""
    listed = read_json(response)
    items = listed.get("items") or []
    if kind and api_version:
        for item in items:
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
    return Listing(items, (listed.get("metadata") or {}).get("resourceVersion"))
