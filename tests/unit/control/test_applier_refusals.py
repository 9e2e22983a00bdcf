"""Applier: a pod the API server refuses for good is remembered for the lifecycle; forced deletions have no grace."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from fairshare.control.actions import DeletePods, EnsureChildren
from fairshare.control.store import TRAINING_JOBS, Store
from fairshare.k8s.applier import Applier, refused_for_good, service_owner
from fairshare.metrics import OperatorMetrics
from tests.unit.control.builders import training_job

TOO_LONG = 'Pod "j-worker-0" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes'


def refusal(status: int, message: str) -> ApiException:
    exc = ApiException(status=status, reason="Refused")
    exc.body = json.dumps({"kind": "Status", "message": message})
    return exc


@pytest.mark.parametrize(("exc", "want"), [
    pytest.param(refusal(422, TOO_LONG), TOO_LONG, id="invalid (annotations over 256 KiB)"),
    pytest.param(refusal(403, 'pods "j-worker-0" is forbidden: violates PodSecurity "restricted:latest"'),
                 'pods "j-worker-0" is forbidden: violates PodSecurity "restricted:latest"', id="denied by admission"),
    pytest.param(refusal(400, "admission webhook \"x\" denied the request: no"),
                 "admission webhook \"x\" denied the request: no", id="a webhook says no"),
    pytest.param(refusal(403, 'pods "j" is forbidden: exceeded quota: gpus, requested: nvidia.com/gpu=8'), None,
                 id="a quota may free up"),
    pytest.param(refusal(403, "unable to create new content in namespace nlp because it is being terminated"), None,
                 id="a namespace being deleted"),
    pytest.param(refusal(500, "etcdserver: request timed out"), None, id="a server error"),
    pytest.param(refusal(429, "too many requests"), None, id="throttled"),
])
def test_refused_for_good(exc: ApiException, want: str | None) -> None:
    assert refused_for_good(exc) == want


class RefusingCoreApi:
    def __init__(self, exc: ApiException) -> None:
        self.exc = exc
        self.deleted: list[tuple[str, dict[str, Any]]] = []

    def create_namespaced_pod(self, namespace: str, body: dict[str, Any], **kwargs: Any) -> Any:
        raise self.exc

    def delete_namespaced_pod(self, name: str, namespace: str, **kwargs: Any) -> None:
        self.deleted.append((name, {k: v for k, v in kwargs.items() if k != "_preload_content"}))


def applier_with(core: RefusingCoreApi) -> tuple[Applier, Store]:
    store = Store()
    store.put(TRAINING_JOBS, training_job("nlp/j").body())
    applier = Applier(client.ApiClient(client.Configuration()), store, OperatorMetrics())
    applier.core = core  # type: ignore[assignment]
    return applier, store


POD = {"metadata": {"name": "j-worker-0", "labels": {"fairshare.dev/generation": "3"}}}


@pytest.mark.parametrize(("exc", "want"), [
    pytest.param(refusal(422, TOO_LONG), {"nlp/j": ("3", "pods", f"pods j-worker-0: {TOO_LONG}")}, id="remembered"),
    pytest.param(refusal(503, "unavailable"), {}, id="a passing refusal is not"),
])
def test_a_refused_create_is_remembered_by_generation(exc: ApiException, want: dict[str, Any]) -> None:
    applier, store = applier_with(RefusingCoreApi(exc))
    summary = applier.apply([EnsureChildren("nlp/j", None, (POD,))])
    assert (summary.errors, store.rejected) == (1, want)
    store.delete(TRAINING_JOBS, training_job("nlp/j").body())
    assert store.rejected == {}, "forgotten with the job"


def test_forced_deletions_have_no_grace_period() -> None:
    core = RefusingCoreApi(refusal(500, "unused"))
    applier, _ = applier_with(core)
    applier.apply([DeletePods("nlp/j", ("j-worker-0",)), DeletePods("nlp/j", ("j-worker-1",), force=True)])
    assert core.deleted == [("j-worker-0", {}), ("j-worker-1", {"grace_period_seconds": 0})]


JOB_REF = {"apiVersion": "fairshare.dev/v1alpha1", "kind": "TrainingJob", "name": "j", "uid": "uid-now",
           "controller": True}
SERVICE = {"metadata": {"name": "j", "namespace": "nlp", "ownerReferences": [JOB_REF]}}


def held_by(*refs: dict[str, Any]) -> dict[str, Any]:
    """A Service named like the job's, with these owner references."""
    return {"metadata": {"name": "j", "namespace": "nlp", "ownerReferences": list(refs)}}


@pytest.mark.parametrize(("found", "owner"), [
    pytest.param(held_by(JOB_REF), "own", id="created for this job earlier"),
    pytest.param(held_by({**JOB_REF, "uid": "uid-before"}), "earlier-job",
                 id="an earlier job of the same name, not yet collected"),
    pytest.param(held_by(), "foreign", id="no owner"),
    pytest.param({"metadata": {"name": "j", "ownerReferences": "not a list"}}, "foreign", id="references not a list"),
    pytest.param(held_by({**JOB_REF, "controller": False}), "foreign", id="an owner that is not its controller"),
    pytest.param(held_by({**JOB_REF, "uid": "uid-x", "kind": "Deployment", "apiVersion": "apps/v1"}), "foreign",
                 id="controlled by something else"),
    pytest.param(held_by({**JOB_REF, "uid": "uid-x", "name": "other"}), "foreign", id="another TrainingJob"),
])
def test_who_holds_the_service_name(found: dict[str, Any], owner: str) -> None:
    assert service_owner(found, SERVICE) == owner


class ServiceHeldCoreApi(RefusingCoreApi):
    """A core API whose Service create answers AlreadyExists, the Service there being `found`."""

    def __init__(self, found: dict[str, Any]) -> None:
        super().__init__(refusal(409, "already exists"))
        self.found = found
        self.pods: list[str] = []

    def create_namespaced_service(self, namespace: str, body: dict[str, Any], **kwargs: Any) -> Any:
        raise self.exc

    def read_namespaced_service(self, name: str, namespace: str, **kwargs: Any) -> Any:
        return FakeResponse(self.found)

    def create_namespaced_pod(self, namespace: str, body: dict[str, Any], **kwargs: Any) -> Any:
        self.pods.append(body["metadata"]["name"])
        return FakeResponse({})


class FakeResponse:
    """An answer asked for with `_preload_content=False`: its bytes, and the pool calls."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body).encode()

    def drain_conn(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


@pytest.mark.parametrize(("found", "pods", "rejected"), [
    pytest.param(held_by(JOB_REF), ["j-worker-0"], {}, id="its own Service: the pods are created"),
    pytest.param(held_by({**JOB_REF, "uid": "uid-before"}), [], {},
                 id="an earlier job's, not yet collected: no pods this cycle, nothing remembered"),
    pytest.param(held_by(), [], {"nlp/j": ("3", "services", "nlp/j, which a Service the operator did not create "
                                           "already holds (it has no controller reference to this job)")},
                 id="a Service the operator did not create: no pods, remembered for the lifecycle"),
])
def test_a_service_name_held_by_another_service(found: dict[str, Any], pods: list[str],
                                                rejected: dict[str, Any]) -> None:
    core = ServiceHeldCoreApi(found)
    applier, store = applier_with(core)
    summary = applier.apply([EnsureChildren("nlp/j", SERVICE, (POD,))])
    assert (core.pods, store.rejected, summary.errors) == (pods, rejected, 0)
