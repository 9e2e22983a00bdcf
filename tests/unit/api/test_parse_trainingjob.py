"""TrainingJob bodies in, models or one SpecError naming the field out."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.api import (
    RESERVED_ENV_NAMES,
    SpecError,
    TrainingJob,
    changed_immutable_fields,
    parse_training_job,
)
from tests.unit.api.builders import make_job

VOLUME_DATA = {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}
MOUNT_DATA = {"name": "data", "mountPath": "/data"}
GE, LE = "greater than or equal to", "less than or equal to"  # pydantic's words, and the apiserver's


@pytest.mark.parametrize(
    ("body", "check"),
    [
        pytest.param(make_job().obj(), lambda j: j.spec.workers.min == j.spec.workers.max == 1, id="smallest job"),
        pytest.param(make_job().obj(), lambda j: (j.spec.priority, j.spec.preemptible, j.spec.run_policy.backoff_limit)
                     == (0, True, 3), id="defaults match the CRD"),
        pytest.param(make_job().workers(2, 8).gpus(8).classes("a100", "h100").obj(),
                     lambda j: j.spec.gpu_classes == ["a100", "h100"], id="elastic on two classes"),
        pytest.param(make_job().set("maxPricePerGPUHour", 3).obj(),
                     lambda j: j.spec.max_price_per_gpu_hour == 3.0, id="bid with acronym alias"),
        pytest.param(make_job().set("resources", {"cpu": 8, "memory": "64Gi"}).obj(),
                     lambda j: j.spec.resources is not None and j.spec.resources.cpu == "8",
                     id="integer quantity becomes a string"),
        pytest.param(make_job().set("resources", {"cpu": "-0", "memory": "+64Gi"}).obj(),
                     lambda j: j.spec.resources is not None and j.spec.resources.cpu == "-0",
                     id="signed quantities that are not negative"),
        pytest.param(make_job().env("NCCL_DEBUG", "WARN").env("FAIRSHAREX", "ok").obj(),
                     lambda j: [v.name for v in j.spec.env or []] == ["NCCL_DEBUG", "FAIRSHAREX"],
                     id="env near but outside the reserved prefix"),
        pytest.param(make_job().checkpoint(sub_path="team/run-1").obj(),
                     lambda j: j.spec.checkpoint is not None and j.spec.checkpoint.claim_name == "ckpt",
                     id="checkpoint on a claim"),
        pytest.param(make_job().pod_template({"volumeMounts": [MOUNT_DATA]}, [VOLUME_DATA])
                     .checkpoint("/data/ckpt", claim=None).obj(),
                     lambda j: j.spec.uses_pod_template, id="checkpoint inside a template volume"),
        pytest.param(make_job().set("runPolicy", {"activeDeadlineSeconds": 60, "terminationGracePeriodSeconds": 30})
                     .obj(), lambda j: j.spec.run_policy.backoff_limit == 3, id="run policy keeps its defaults"),
        pytest.param(make_job("a" * 51).obj(), lambda j: len(j.metadata.name) == 51, id="longest job name"),
        pytest.param({**make_job().obj(), "status": {"phase": "Running", "kopf": {"progress": {}}}},
                     lambda j: j.status is not None and j.status.phase == "Running",
                     id="status tolerates keys it does not know"),
    ],
)
def test_valid_jobs_parse(body: dict[str, Any], check: Any) -> None:
    job = parse_training_job(body)
    assert isinstance(job, TrainingJob)
    assert check(job)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        pytest.param(make_job().workers(4, 2).obj(), "spec.workers.min", "must be <= workers.max", id="min above max"),
        pytest.param(make_job().workers(0, 1).obj(), "spec.workers.min", f"{GE} 1", id="zero workers"),
        pytest.param(make_job().workers(1, 1025).obj(), "spec.workers.max", f"{LE} 1024", id="too many workers"),
        pytest.param(make_job().set("workers", None).obj(), "spec.workers", "required", id="no workers"),
        pytest.param(make_job().gpus(0).obj(), "spec.gpusPerWorker", f"{GE} 1", id="no GPUs"),
        pytest.param(make_job().gpus(17).obj(), "spec.gpusPerWorker", f"{LE} 16", id="17 GPUs per worker"),
        pytest.param(make_job().set("image", None).obj(), "spec.image", "or spec.podTemplate",
                     id="neither image nor template"),
        pytest.param(make_job().pod_template().set("image", "x").obj(), "spec.podTemplate",
                     "cannot be combined with spec.image", id="image and template"),
        pytest.param(make_job().pod_template().set("args", ["a"]).obj(), "spec.podTemplate",
                     "cannot be combined with spec.args", id="args and template"),
        pytest.param(make_job().env("A", "1").env("A", "2").obj(), "spec.env[1].name", "set twice",
                     id="duplicate env"),
        pytest.param(make_job().env("X", "1").set("env", [{"name": "X", "value": "1", "valueFrom": {
            "secretKeyRef": {"name": "s", "key": "k"}}}]).obj(), "spec.env[0].valueFrom", "not both",
            id="value and valueFrom"),
        pytest.param(make_job().set("env", [{"name": "X", "valueFrom": {}}]).obj(),
                     "spec.env[0].valueFrom.secretKeyRef", "exactly one", id="valueFrom without a source"),
        pytest.param(make_job().env("9LIVES", "1").obj(), "spec.env[0].name", "valid environment variable name",
                     id="env name starting with a digit"),
        pytest.param(make_job().classes("a100", "a100").obj(), "spec.gpuClasses[1]", "listed twice",
                     id="duplicate class"),
        pytest.param(make_job().classes("A100").obj(), "spec.gpuClasses[0]", "DNS-1123 label", id="class not a label"),
        pytest.param(make_job().set("priority", 1001).obj(), "spec.priority", f"{LE} 1000", id="priority too high"),
        pytest.param(make_job().set("maxPricePerGPUHour", 0).obj(), "spec.maxPricePerGPUHour", "greater than 0",
                     id="zero bid"),
        pytest.param(make_job().set("maxPricePerGPUHour", 2e6).obj(), "spec.maxPricePerGPUHour", f"{LE} 1000000",
                     id="absurd bid"),
        pytest.param(make_job().set("resources", {"cpu": 0.5}).obj(), "spec.resources.cpu", "quoted quantity",
                     id="float cpu"),
        pytest.param(make_job().set("resources", {"memory": "lots"}).obj(), "spec.resources.memory",
                     "Kubernetes quantity", id="bad memory"),
        pytest.param(make_job().set("resources", {"memory": "-1Gi"}).obj(), "spec.resources.memory",
                     "must not be negative", id="negative memory"),
        pytest.param(make_job().set("resources", {"cpu": -2}).obj(), "spec.resources.cpu",
                     "must not be negative", id="negative integer cpu"),
        pytest.param(make_job().set("resources", {"memory": "1" * 63 + "Gi"}).obj(), "spec.resources.memory",
                     "Kubernetes quantity", id="quantity longer than the CRD allows"),
        pytest.param(make_job().set("resources", {"gpu": 1}).obj(), "spec.resources.gpu", "unknown field",
                     id="gpus in resources"),
        pytest.param(make_job().set("tenant", "nlp").obj(), "spec.tenant", "unknown field", id="job names a tenant"),
        pytest.param(make_job().checkpoint(claim=None).obj(), "spec.checkpoint.claimName", "set checkpoint.claimName",
                     id="checkpoint with no durable storage"),
        pytest.param(make_job().checkpoint(path="/tmp").obj(), "spec.checkpoint.path", "reserved",
                     id="checkpoint in /tmp"),
        pytest.param(make_job().checkpoint(path="/a/../etc").obj(), "spec.checkpoint.path", "'..'",
                     id="checkpoint path escapes"),
        pytest.param(make_job().checkpoint(path="relative").obj(), "spec.checkpoint.path", "absolute path",
                     id="relative checkpoint path"),
        pytest.param(make_job().pod_template({"volumeMounts": [MOUNT_DATA]}, [VOLUME_DATA])
                     .checkpoint("/data/ckpt", claim=None, sub_path="x").obj(), "spec.checkpoint.subPath",
                     "set claimName", id="subPath without claim"),
        pytest.param(make_job().pod_template({"volumeMounts": [{"name": "data", "mountPath": "/ckpt"}]}, [VOLUME_DATA])
                     .checkpoint("/ckpt").obj(), "spec.checkpoint.path", "also a podTemplate volumeMount",
                     id="claim mounted over a template mount"),
        pytest.param(make_job().set("runPolicy", {"backoffLimit": -1}).obj(), "spec.runPolicy.backoffLimit", f"{GE} 0",
                     id="negative backoff"),
        pytest.param(make_job("a" * 52).obj(), "metadata.name", "at most 51", id="name too long for pod hostnames"),
        pytest.param(make_job("7b-llm").obj(), "metadata.name", "starting with a letter", id="name starts with digit"),
    ],
)
def test_invalid_jobs_name_the_field(body: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_training_job(body)
    assert (raised.value.field_path, words in raised.value.message) == (field, True), raised.value.message


@pytest.mark.parametrize("name", [*RESERVED_ENV_NAMES, "FAIRSHARE_JOB", "FAIRSHARE_ANYTHING"])
def test_every_reserved_env_name_is_refused(name: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_training_job(make_job().env("OK", "1").env(name, "x").obj())
    assert raised.value.field_path == "spec.env[1].name"
    assert "reserved" in raised.value.message


@pytest.mark.parametrize(
    ("template", "field", "words"),
    [
        pytest.param({"spec": {"hostNetwork": True}}, "spec.podTemplate.spec.hostNetwork", "not allowed",
                     id="hostNetwork"),
        pytest.param({"spec": {"hostPID": True}}, "spec.podTemplate.spec.hostPID", "not allowed", id="hostPID"),
        pytest.param({"spec": {"hostIPC": True}}, "spec.podTemplate.spec.hostIPC", "not allowed", id="hostIPC"),
        pytest.param({"container": {"securityContext": {"privileged": True}}},
                     "spec.podTemplate.spec.containers[0].securityContext", "restricted Pod Security", id="privileged"),
        pytest.param({"volumes": [{"name": "h", "hostPath": {"path": "/"}}]},
                     "spec.podTemplate.spec.volumes[0].hostPath", "not allowed", id="hostPath"),
        pytest.param({"container": {"ports": [{"containerPort": 22}]}}, "spec.podTemplate.spec.containers[0].ports",
                     "unknown field", id="container ports"),
        pytest.param({"extra": [{"image": "sidecar"}]}, "spec.podTemplate.spec.containers", "at most 1",
                     id="two containers"),
        pytest.param({"container": {"volumeMounts": [MOUNT_DATA]}},
                     "spec.podTemplate.spec.containers[0].volumeMounts[0].name", "does not declare",
                     id="mount without volume"),
        pytest.param({"volumes": [{"name": "data", "emptyDir": {}, "secret": {"secretName": "s"}}]},
                     "spec.podTemplate.spec.volumes[0].name", "exactly one of", id="volume with two sources"),
        pytest.param({"volumes": [{"name": "data"}]}, "spec.podTemplate.spec.volumes[0].name", "exactly one of",
                     id="volume without a source"),
        pytest.param({"volumes": [{"name": "fairshare-tmp", "emptyDir": {}}]},
                     "spec.podTemplate.spec.volumes[0].name", "must not start with", id="operator volume name"),
        pytest.param({"container": {"volumeMounts": [{"name": "data", "mountPath": "/dev/shm"}]},
                      "volumes": [{"name": "data", "emptyDir": {}}]},
                     "spec.podTemplate.spec.containers[0].volumeMounts[0].mountPath", "reserved", id="mount on shm"),
        pytest.param({"container": {"volumeMounts": [{"name": "data", "mountPath": "/sys/fs"}]},
                      "volumes": [{"name": "data", "emptyDir": {}}]},
                     "spec.podTemplate.spec.containers[0].volumeMounts[0].mountPath", "/sys", id="mount under /sys"),
        pytest.param({"metadata": {"labels": {"fairshare.dev/tenant": "other"}}},
                     "spec.podTemplate.metadata.labels[fairshare.dev/tenant]", "set by the operator",
                     id="operator label"),
        pytest.param({"container": {"env": [{"name": "PET_NODE_RANK", "value": "0"}]}},
                     "spec.podTemplate.spec.containers[0].env[0].name", "reserved", id="reserved env in template"),
        pytest.param({"container": {"resources": {"limits": {"nvidia.com/gpu": 1}}}},
                     "spec.podTemplate.spec.containers[0].resources.limits[nvidia.com/gpu]", "unknown field",
                     id="GPUs in template resources"),
    ],
)
def test_pod_template_cannot_escape_the_safe_subset(template: dict[str, Any], field: str, words: str) -> None:
    builder = make_job().pod_template(template.get("container"), template.get("volumes"), template.get("metadata"))
    pod_spec = builder.spec["podTemplate"]["spec"]
    pod_spec.update(template.get("spec", {}))
    pod_spec["containers"].extend(template.get("extra", []))
    with pytest.raises(SpecError) as raised:
        parse_training_job(builder.obj())
    assert (raised.value.field_path, words in raised.value.message) == (field, True), raised.value.message


def test_every_problem_is_kept_and_the_first_is_named() -> None:
    with pytest.raises(SpecError) as raised:
        parse_training_job(make_job().gpus(0).set("priority", 5000).obj())
    assert [path for path, _ in raised.value.problems] == ["spec.gpusPerWorker", "spec.priority"]
    assert str(raised.value).startswith("spec.gpusPerWorker: ") and str(raised.value).endswith("(and 1 more problem)")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({"image": "other:1"}, ["spec.image"], id="image"),
        pytest.param({"gpusPerWorker": 2}, ["spec.gpusPerWorker"], id="GPUs per worker"),
        pytest.param({"args": ["--x"]}, ["spec.args"], id="args added"),
        pytest.param({"workers": {"min": 1, "max": 4}}, [], id="workers may change"),
        pytest.param({"priority": 5, "maxPricePerGPUHour": 2.0, "gpuClasses": ["l4"]}, [],
                     id="priority, bid and classes may change"),
    ],
)
def test_changed_immutable_fields(change: dict[str, Any], expected: list[str]) -> None:
    old = make_job().obj()["spec"]
    assert changed_immutable_fields(old, {**old, **change}) == expected


def test_models_serialize_back_to_camel_case() -> None:
    body = make_job().set("maxPricePerGPUHour", 2.5).checkpoint().obj()
    spec = parse_training_job(body).spec.to_body()
    assert spec["maxPricePerGPUHour"] == 2.5
    assert spec["checkpoint"] == {"path": "/checkpoint", "claimName": "ckpt"}
    assert spec["runPolicy"] == {"backoffLimit": 3}
