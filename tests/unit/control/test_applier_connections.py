"""Applier creates: the response is not turned into a model, but its connection always goes back to the pool."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from fairshare.control.actions import EnsureChildren, RecordEvent
from fairshare.control.store import TRAINING_JOBS, Store
from fairshare.k8s.applier import Applier
from fairshare.metrics import OperatorMetrics
from tests.unit.control.builders import training_job


class Response:
    """What urllib3 hands back when the client is told not to preload the body."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def drain_conn(self) -> None:
        self.log.append("drained")

    def release_conn(self) -> None:
        self.log.append("released")


class FakeCoreApi:
    """Records each create and the arguments that matter."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def _create(self, kind: str, namespace: str, body: dict[str, Any], **kwargs: Any) -> Response:
        self.log.append(f"create {kind} in {namespace}, preload={kwargs.get('_preload_content', True)}")
        return Response(self.log)

    def create_namespaced_pod(self, namespace: str, body: dict[str, Any], **kwargs: Any) -> Response:
        return self._create("pod", namespace, body, **kwargs)

    def create_namespaced_service(self, namespace: str, body: dict[str, Any], **kwargs: Any) -> Response:
        return self._create("service", namespace, body, **kwargs)

    def create_namespaced_event(self, namespace: str, body: dict[str, Any], **kwargs: Any) -> Response:
        return self._create("event", namespace, body, **kwargs)


def applier_with(core: FakeCoreApi) -> Applier:
    store = Store()
    store.put(TRAINING_JOBS, training_job("nlp/j").body())
    applier = Applier(client.ApiClient(client.Configuration()), store, OperatorMetrics())
    applier.core = core  # type: ignore[assignment]
    return applier


POD = {"metadata": {"name": "j-worker-0"}}
SERVICE = {"metadata": {"name": "j"}}


@pytest.mark.parametrize(("action", "want"), [
    pytest.param(EnsureChildren("nlp/j", None, (POD,)),
                 ["create pod in nlp, preload=False", "drained", "released"], id="a worker pod"),
    pytest.param(EnsureChildren("nlp/j", SERVICE, (POD,)),
                 ["create service in nlp, preload=False", "drained", "released",
                  "create pod in nlp, preload=False", "drained", "released"], id="a Service, then the pod"),
])
def test_children_are_created_without_a_model_and_their_connection_is_returned(action: EnsureChildren,
                                                                               want: list[str]) -> None:
    core = FakeCoreApi()
    applier_with(core).apply([action])
    assert core.log == want


def test_an_event_is_created_without_a_model_and_its_connection_is_returned() -> None:
    core = FakeCoreApi()
    applier = applier_with(core)
    applier._send_event(RecordEvent("nlp/j", "Normal", "Admitted", "admitted"))
    assert core.log == ["create event in nlp, preload=False", "drained", "released"]
