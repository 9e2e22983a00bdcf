"""Full LISTs of every kind the operator watches: the initial state, and the periodic level-triggered resync."""

from __future__ import annotations

import dataclasses
from typing import Any

from kubernetes import client

from fairshare.api.constants import GROUP, PLURAL_GPU_CLASSES, PLURAL_TENANTS, PLURAL_TRAINING_JOBS, VERSION
from fairshare.control.snapshot import tracked_pod
from fairshare.control.store import GPU_CLASSES, NODES, PODS, TENANTS, TRAINING_JOBS


@dataclasses.dataclass(frozen=True)
class Listing:
    """One kind's full LIST: the bodies, and the LIST's own metadata.resourceVersion (the state it shows)."""

    items: list[dict[str, Any]]
    resource_version: str | None


def list_all(api: client.ApiClient) -> dict[str, Listing]:
    """kind -> its LIST: bodies as plain dicts (the same shape watch events carry), and the LIST's resourceVersion."""
    core = client.CoreV1Api(api)
    custom = client.CustomObjectsApi(api)

    def plain(items: list[Any], kind: str, api_version: str) -> list[dict[str, Any]]:
        bodies = [api.sanitize_for_serialization(i) for i in items]
        for body in bodies:  # typed list items omit kind/apiVersion
            body.setdefault("kind", kind)
            body.setdefault("apiVersion", api_version)
        return bodies

    out: dict[str, Listing] = {}
    for kind, plural in ((TRAINING_JOBS, PLURAL_TRAINING_JOBS), (TENANTS, PLURAL_TENANTS),
                         (GPU_CLASSES, PLURAL_GPU_CLASSES)):
        listed = custom.list_cluster_custom_object(GROUP, VERSION, plural)
        out[kind] = Listing(listed["items"], (listed.get("metadata") or {}).get("resourceVersion"))
    nodes = core.list_node()
    out[NODES] = Listing(plain(nodes.items, "Node", "v1"), nodes.metadata.resource_version)
    pods = core.list_pod_for_all_namespaces()
    out[PODS] = Listing([p for p in plain(pods.items, "Pod", "v1") if tracked_pod(p)], pods.metadata.resource_version)
    return out
