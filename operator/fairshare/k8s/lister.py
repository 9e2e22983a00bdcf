"""Full LISTs of every kind the operator watches: the initial state, and the periodic level-triggered resync."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from fairshare.api.constants import GROUP, PLURAL_GPU_CLASSES, PLURAL_TENANTS, PLURAL_TRAINING_JOBS, VERSION
from fairshare.control.snapshot import tracked_pod
from fairshare.control.store import GPU_CLASSES, NODES, PODS, TENANTS, TRAINING_JOBS


def list_all(api: client.ApiClient) -> dict[str, list[dict[str, Any]]]:
    """kind -> bodies, as plain dicts (the same shape watch events carry)."""
    core = client.CoreV1Api(api)
    custom = client.CustomObjectsApi(api)

    def plain(items: list[Any], kind: str, api_version: str) -> list[dict[str, Any]]:
        bodies = [api.sanitize_for_serialization(i) for i in items]
        for body in bodies:  # typed list items omit kind/apiVersion
            body.setdefault("kind", kind)
            body.setdefault("apiVersion", api_version)
        return bodies

    custom_items = {
        kind: custom.list_cluster_custom_object(GROUP, VERSION, plural)["items"]
        for kind, plural in ((TRAINING_JOBS, PLURAL_TRAINING_JOBS), (TENANTS, PLURAL_TENANTS),
                             (GPU_CLASSES, PLURAL_GPU_CLASSES))
    }
    return {
        NODES: plain(core.list_node().items, "Node", "v1"),
        PODS: [p for p in plain(core.list_pod_for_all_namespaces().items, "Pod", "v1") if tracked_pod(p)],
        **custom_items,
    }
