"""The local control plane is real: CRDs establish, kube-scheduler binds GPU pods by class, GC and namespaces work."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from fairshare.api.constants import GPU_RESOURCE
from fairshare.localcluster.shape import GPU_CLASS_LABEL
from tests.support.kube import gone, read_pod
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration


def gpu_pod(name: str, gpus: int, gpu_class: str | None = None, annotations: dict[str, str] | None = None,
            owner: dict[str, Any] | None = None) -> dict[str, Any]:
    """A minimal pod asking for `gpus` GPUs, optionally pinned to one class by node selector."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations or {},
                     "ownerReferences": [owner] if owner else []},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {GPU_CLASS_LABEL: gpu_class} if gpu_class else {},
            "containers": [{
                "name": "main",
                "image": "registry.invalid/none:0",
                "resources": {"limits": {GPU_RESOURCE: str(gpus)}, "requests": {GPU_RESOURCE: str(gpus)}},
            }],
        },
    }


def test_crd_becomes_established(kube_api_client: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(kube_api_client)
    plural = f"widgets{uuid.uuid4().hex[:6]}"
    name = f"{plural}.smoke.fairshare.dev"
    size_schema = {"type": "object", "properties": {"size": {"type": "integer", "minimum": 1}}}
    ext.create_custom_resource_definition({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": "smoke.fairshare.dev",
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": plural[:-1], "kind": plural.capitalize()[:-1]},
            "versions": [{"name": "v1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": size_schema}}}}],
        },
    })
    try:
        def established() -> bool:
            crd = ext.read_custom_resource_definition(name)
            return any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or []))

        wait_for(established, timeout=30, what=f"CRD {name} Established")
        # The schema is enforced by the real apiserver, not merely stored.
        custom = client.CustomObjectsApi(kube_api_client)
        with pytest.raises(ApiException) as rejected:
            custom.create_namespaced_custom_object("smoke.fairshare.dev", "v1", "default", plural, {
                "apiVersion": "smoke.fairshare.dev/v1", "kind": plural.capitalize()[:-1],
                "metadata": {"name": "too-small"}, "spec": {"size": 0}})
        assert rejected.value.status == 422
        assert "spec.size" in rejected.value.body
    finally:
        ext.delete_custom_resource_definition(name)


@pytest.mark.parametrize(("gpu_class", "gpus"), [
    pytest.param("a100", 2, id="two a100 GPUs"),
    pytest.param("l4", 4, id="a whole l4 node"),
    pytest.param("h100", 8, id="a whole h100 node"),
])
def test_gpu_pod_is_bound_to_a_node_of_its_class_and_runs(kube_api_client: client.ApiClient, namespace: str,
                                                          gpu_class: str, gpus: int) -> None:
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_pod(namespace, gpu_pod("gpu-pod", gpus, gpu_class))

    pod = wait_for(lambda: (p := read_pod(core, "gpu-pod", namespace)) and p.status.phase == "Running" and p,
                   timeout=60, what="gpu-pod Running")

    node = core.read_node(pod.spec.node_name)
    assert node.metadata.labels[GPU_CLASS_LABEL] == gpu_class
    assert int(node.status.allocatable[GPU_RESOURCE]) >= gpus
    assert pod.status.pod_ip, "kwok gives running pods an IP"


def test_pod_larger_than_any_node_stays_pending_with_the_schedulers_reason(
        kube_api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_pod(namespace, gpu_pod("too-big", 16))

    def unschedulable() -> str | None:
        pod = read_pod(core, "too-big", namespace)
        for cond in (pod.status.conditions or []) if pod else []:
            if cond.type == "PodScheduled" and cond.status == "False" and cond.reason == "Unschedulable":
                return str(cond.message)
        return None

    message = wait_for(unschedulable, timeout=60, what="PodScheduled=False/Unschedulable on too-big")
    assert f"Insufficient {GPU_RESOURCE}" in message
    pod = core.read_namespaced_pod("too-big", namespace)
    assert pod.status.phase == "Pending"
    assert not pod.spec.node_name


@pytest.mark.parametrize(("result", "phase"), [
    pytest.param("Succeeded", "Succeeded", id="simulated success"),
    pytest.param("Failed", "Failed", id="simulated failure"),
])
def test_kwok_stage_finishes_annotated_pods(kube_api_client: client.ApiClient, namespace: str,
                                            result: str, phase: str) -> None:
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_pod(namespace, gpu_pod("finite", 1, "l4", annotations={
        "localcluster.fairshare.dev/simulate-result": result, "localcluster.fairshare.dev/simulate-duration": "2s"}))

    wait_for(lambda: (p := read_pod(core, "finite", namespace)) and p.status.phase == phase,
             timeout=60, what=f"finite pod {phase}")


def test_deleting_an_owner_garbage_collects_its_children(kube_api_client: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube_api_client)
    owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid,
           "controller": True, "blockOwnerDeletion": True}
    core.create_namespaced_pod(namespace, gpu_pod("child-pod", 1, "a100", owner=ref))
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "child-cm", "ownerReferences": [ref]}})
    wait_for(lambda: (p := read_pod(core, "child-pod", namespace)) and p.status.phase == "Running",
             timeout=60, what="child-pod Running")

    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Background")

    wait_for(lambda: gone(lambda: core.read_namespaced_pod("child-pod", namespace)), timeout=60,
             what="child-pod garbage-collected")
    wait_for(lambda: gone(lambda: core.read_namespaced_config_map("child-cm", namespace)), timeout=60,
             what="child-cm garbage-collected")


def test_namespace_deletion_completes(kube_api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_api_client)
    name = f"doomed-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    wait_for(lambda: any(sa.metadata.name == "default" for sa in core.list_namespaced_service_account(name).items),
             timeout=30, what="default ServiceAccount")
    core.create_namespaced_pod(name, gpu_pod("resident", 1, "h100"))
    core.create_namespaced_config_map(name, {"metadata": {"name": "data"}})
    wait_for(lambda: (p := read_pod(core, "resident", name)) and p.status.phase == "Running",
             timeout=60, what="resident Running")

    core.delete_namespace(name)

    wait_for(lambda: gone(lambda: core.read_namespace(name)), timeout=90, what=f"namespace {name} gone")


def test_kwok_stage_keeps_an_annotated_pod_waiting_with_its_reason(kube_api_client: client.ApiClient,
                                                                   namespace: str) -> None:
    """A container that never starts, as a kubelet reports an image it cannot pull (kwok has no images to pull)."""
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_pod(namespace, gpu_pod("stuck", 1, "l4", annotations={
        "localcluster.fairshare.dev/simulate-waiting": "ImagePullBackOff",
        "localcluster.fairshare.dev/simulate-message": 'Back-off pulling image "registry.invalid/none:0"'}))

    def waiting() -> Any:
        pod = read_pod(core, "stuck", namespace)
        statuses = (pod.status.container_statuses or []) if pod else []
        return pod if statuses and statuses[0].state.waiting else None

    pod = wait_for(waiting, timeout=60, what="the container waiting")
    state = pod.status.container_statuses[0].state.waiting
    assert (pod.status.phase, state.reason, state.message) == (
        "Pending", "ImagePullBackOff", 'Back-off pulling image "registry.invalid/none:0"')
    assert pod.spec.node_name, "bound: it is the container that does not start"


def test_a_pod_naming_a_missing_pvc_stays_pending_with_the_schedulers_reason(kube_api_client: client.ApiClient,
                                                                            namespace: str) -> None:
    core = client.CoreV1Api(kube_api_client)
    body = gpu_pod("no-claim", 1, "l4")
    body["spec"]["volumes"] = [{"name": "ckpt", "persistentVolumeClaim": {"claimName": "nlp-checkpoints"}}]
    body["spec"]["containers"][0]["volumeMounts"] = [{"name": "ckpt", "mountPath": "/checkpoint"}]
    core.create_namespaced_pod(namespace, body)

    def unschedulable() -> str | None:
        pod = read_pod(core, "no-claim", namespace)
        for cond in (pod.status.conditions or []) if pod else []:
            if cond.type == "PodScheduled" and cond.status == "False" and cond.reason == "Unschedulable":
                return str(cond.message)
        return None

    assert 'persistentvolumeclaim "nlp-checkpoints" not found' in wait_for(
        unschedulable, timeout=60, what="PodScheduled=False/Unschedulable on no-claim")
