"""Applier writes: no response is turned into a model, and every connection goes back to the pool; a status patch's
JSON response goes into the store."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from kubernetes import client

from fairshare.control.actions import Action, DeletePods, EnsureChildren, PatchStatus, RecordEvent
from fairshare.control.store import TRAINING_JOBS, Store
from fairshare.k8s.applier import Applier
from fairshare.metrics import OperatorMetrics
from tests.unit.control.builders import training_job


class Response:
    """What urllib3 hands back when the client is told not to preload the body."""

    def __init__(self, log: list[str], body: dict[str, Any] | None = None) -> None:
        self.log = log
        self.body = body

    @property
    def data(self) -> bytes:
        self.log.append("read")
        return json.dumps(self.body).encode()

    def drain_conn(self) -> None:
        self.log.append("drained")

    def release_conn(self) -> None:
        self.log.append("released")


class FakeCoreApi:
    """Records each create and the arguments that matter."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.names: list[str] = []

    def _create(self, kind: str, namespace: str, body: dict[str, Any], **kwargs: Any) -> Response:
        self.names.append(body["metadata"].get("name", ""))
        self.log.append(f"create {kind} in {namespace}, preload={kwargs.get('_preload_content', True)}")
        return Response(self.log)

    def create_namespaced_pod(self, namespace: str, body: dict[str, Any], **kwargs: Any) -> Response:
        return self._create("pod", namespace, body, **kwargs)

    def create_namespaced_service(self, namespace: str, body: dict[str, Any], **kwargs: Any) -> Response:
        return self._create("service", namespace, body, **kwargs)

    def create_namespaced_event(self, namespace: str, body: dict[str, Any], **kwargs: Any) -> Response:
        return self._create("event", namespace, body, **kwargs)

    def delete_namespaced_pod(self, name: str, namespace: str, **kwargs: Any) -> Response:
        self.log.append(f"delete pod {name} in {namespace}, preload={kwargs.get('_preload_content', True)}")
        return Response(self.log)


class FakeCustomApi:
    """Answers a status patch with the object as the API server would: the patch applied, a new resourceVersion."""

    def __init__(self, log: list[str], held: dict[str, Any]) -> None:
        self.log, self.held = log, held

    def patch_namespaced_custom_object_status(self, group: str, version: str, namespace: str, plural: str, name: str,
                                              body: dict[str, Any], **kwargs: Any) -> Response:
        self.log.append(f"patch {plural} {namespace}/{name}, preload={kwargs.get('_preload_content', True)}")
        updated = {**self.held, "status": {**self.held.get("status", {}), **body["status"]},
                   "metadata": {**self.held["metadata"], "resourceVersion": "2"}}
        return Response(self.log, updated)


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
    pytest.param(DeletePods("nlp/j", ("j-worker-0", "j-worker-1")),
                 ["delete pod j-worker-0 in nlp, preload=False", "drained", "released",
                  "delete pod j-worker-1 in nlp, preload=False", "drained", "released"], id="two deletions"),
    pytest.param(PatchStatus(TRAINING_JOBS, "nlp/j", {"phase": "Running"}),
                 ["patch trainingjobs nlp/j, preload=False", "read", "released"], id="a status patch"),
])
def test_no_response_becomes_a_model_and_every_connection_is_returned(action: Action, want: list[str]) -> None:
    core = FakeCoreApi()
    applier = applier_with(core)
    applier.custom = FakeCustomApi(core.log, training_job("nlp/j").body())  # type: ignore[assignment]
    applier.apply([action])
    assert core.log == want


def test_a_status_patch_response_goes_into_the_store() -> None:
    core = FakeCoreApi()
    applier = applier_with(core)
    applier.custom = FakeCustomApi(core.log, training_job("nlp/j").body())  # type: ignore[assignment]
    applier.apply([PatchStatus(TRAINING_JOBS, "nlp/j", {"phase": "Running"})])
    held = applier.store.get(TRAINING_JOBS, "nlp/j") or {}
    assert (held["metadata"]["resourceVersion"], held["status"]["phase"]) == ("2", "Running")


def test_an_event_is_created_without_a_model_and_its_connection_is_returned() -> None:
    core = FakeCoreApi()
    applier = applier_with(core)
    applier._send_event(RecordEvent("nlp/j", "Normal", "Admitted", "admitted"))
    assert core.log == ["create event in nlp, preload=False", "drained", "released"]


def pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}}


@pytest.mark.parametrize(("stopped", "want_sent", "want_deferred"), [
    pytest.param(False, ["create pod in nlp, preload=False"] * 2, 0, id="not stopped: every object"),
    pytest.param(True, [], 2, id="stopped: no object started, every action deferred"),
])
def test_a_stopped_batch_starts_no_object(stopped: bool, want_sent: list[str], want_deferred: int) -> None:
    core = FakeCoreApi()
    stop = threading.Event()
    if stopped:
        stop.set()
    summary = applier_with(core).apply([EnsureChildren("nlp/a", None, (pod("a-worker-0"),)),
                                        EnsureChildren("nlp/b", None, (pod("b-worker-0"),))], stop)
    assert ([e for e in core.log if e.startswith("create")], summary.deferred) == (want_sent, want_deferred)


def test_the_objects_a_stopped_batch_left_go_first_next_time() -> None:
    core = FakeCoreApi()
    applier = applier_with(core)
    applier.parallelism = 1  # one object at a time, so that the order is the order they are started in
    stop = threading.Event()
    stop.set()
    applier.apply([EnsureChildren("nlp/z", None, (pod("z-worker-0"),))], stop)
    applier.apply([EnsureChildren("nlp/a", None, (pod("a-worker-0"),)),
                   EnsureChildren("nlp/z", None, (pod("z-worker-0"),))], threading.Event())
    assert [e for e in core.log if e.startswith("create")] == ["create pod in nlp, preload=False"] * 2
    assert core.names == ["z-worker-0", "a-worker-0"]
