"""list_all: every kind's LIST read as plain JSON dicts, the shape watch events carry, with the LIST's version."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from fairshare.control.store import GPU_CLASSES, NODES, PODS, TENANTS, TRAINING_JOBS
from fairshare.k8s import lister


class Response:
    """A response asked for with `_preload_content=False`."""

    def __init__(self, body: dict[str, Any], released: list[str]) -> None:
        self.body, self.released = body, released

    @property
    def data(self) -> bytes:
        return json.dumps(self.body).encode()

    def release_conn(self) -> None:
        self.released.append("released")


def list_of(version: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": version}, "items": list(items)}


GPU_POD = {"metadata": {"name": "p", "namespace": "nlp"},
           "spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}
CPU_POD = {"metadata": {"name": "q", "namespace": "nlp"}, "spec": {"containers": [{"name": "c"}]}}


def test_every_kind_is_listed_as_plain_dicts_without_models(monkeypatch: Any) -> None:
    released: list[str] = []
    calls: list[tuple[str, bool]] = []

    class Core:
        def __init__(self, api: Any) -> None:
            pass

        def list_node(self, **kwargs: Any) -> Response:
            calls.append(("nodes", kwargs.get("_preload_content", True)))
            return Response(list_of("7", {"metadata": {"name": "n"}}), released)

        def list_pod_for_all_namespaces(self, **kwargs: Any) -> Response:
            calls.append(("pods", kwargs.get("_preload_content", True)))
            return Response(list_of("8", GPU_POD, CPU_POD), released)

    class Custom:
        def __init__(self, api: Any) -> None:
            pass

        def list_cluster_custom_object(self, group: str, version: str, plural: str, **kwargs: Any) -> Response:
            calls.append((plural, kwargs.get("_preload_content", True)))
            return Response(list_of("5", {"apiVersion": f"{group}/{version}", "kind": "X",
                                          "metadata": {"name": plural}}), released)

    monkeypatch.setattr(lister.client, "CoreV1Api", Core)
    monkeypatch.setattr(lister.client, "CustomObjectsApi", Custom)
    out = lister.list_all(client.ApiClient(client.Configuration()))
    assert all(preload is False for _, preload in calls) and len(released) == len(calls) == 5
    assert {k: (len(v.items), v.resource_version) for k, v in out.items()} == {
        TRAINING_JOBS: (1, "5"), TENANTS: (1, "5"), GPU_CLASSES: (1, "5"), NODES: (1, "7"), PODS: (1, "8")}
    assert out[NODES].items[0] == {"metadata": {"name": "n"}, "kind": "Node", "apiVersion": "v1"}
    assert [p["metadata"]["name"] for p in out[PODS].items] == ["p"], "only pods that hold GPUs are kept"
