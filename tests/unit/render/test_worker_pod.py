"""build_worker_pod: deterministic, owned, restricted, with torchrun's env and the allocated GPUs."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.api import TrainingJob, parse_training_job
from fairshare.api.constants import RESERVED_ENV_PREFIX, TORCHRUN_ENV_NAMES
from fairshare.api.podtemplate import EnvVar
from fairshare.render import RenderSettings, WorkerAllocation, build_worker_pod, build_worker_pods, worker_pod_name
from tests.unit.api.builders import JobBuilder, make_job

UID = "6f1c2a4e-0000-4000-8000-000000000001"
A100 = {"fairshare.dev/gpu-class": "a100"}


def job(builder: JobBuilder | None = None) -> TrainingJob:
    return parse_training_job((builder or make_job().workers(1, 4).gpus(8)).uid(UID).obj())


def allocation(workers: int = 2, generation: int = 3) -> WorkerAllocation:
    return WorkerAllocation(tenant="nlp", gpu_class="a100", node_selector=A100, workers=workers, generation=generation)


def pod(builder: JobBuilder | None = None, rank: int = 1, settings: RenderSettings | None = None) -> dict[str, Any]:
    return build_worker_pod(job(builder), rank, allocation(), settings or RenderSettings())


def trainer(manifest: dict[str, Any]) -> dict[str, Any]:
    (container,) = manifest["spec"]["containers"]
    return container


def env(manifest: dict[str, Any]) -> dict[str, str]:
    return {var["name"]: var.get("value", "<from>") for var in trainer(manifest)["env"]}


def restricted_profile_violations(manifest: dict[str, Any]) -> list[str]:
    """The Pod Security `restricted` checks that a pod manifest alone can fail (kubernetes.io/docs, PSS)."""
    spec, problems = manifest["spec"], []
    for key in ("hostNetwork", "hostPID", "hostIPC", "nodeName"):
        if spec.get(key):
            problems.append(key)
    for volume in spec["volumes"]:
        allowed = {"name", "emptyDir", "persistentVolumeClaim", "configMap", "secret", "projected", "ephemeral"}
        if set(volume) - allowed:
            problems.append(f"volume {volume['name']}")
    pod_context = spec.get("securityContext", {})
    for container in spec["containers"]:
        context = container.get("securityContext", {})
        if context.get("privileged") or context.get("allowPrivilegeEscalation") is not False:
            problems.append("privilege escalation")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []) or set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append("capabilities")
        if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
            problems.append("runAsNonRoot")
        if 0 in (context.get("runAsUser"), pod_context.get("runAsUser")):
            problems.append("runAsUser 0")
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append("seccomp")
        if any("hostPort" in port for port in container.get("ports", [])):
            problems.append("hostPort")
    return problems


def test_worker_pod_metadata() -> None:
    metadata = pod()["metadata"]
    assert (metadata["name"], metadata["namespace"]) == ("bert-worker-1", "nlp")
    assert metadata["labels"] == {
        "app.kubernetes.io/managed-by": "fairshare-operator",
        "fairshare.dev/job": "bert",
        "fairshare.dev/tenant": "nlp",
        "fairshare.dev/gpu-class": "a100",
        "fairshare.dev/rank": "1",
        "fairshare.dev/generation": "3",
    }
    assert metadata["ownerReferences"] == [{
        "apiVersion": "fairshare.dev/v1alpha1", "kind": "TrainingJob", "name": "bert", "uid": UID,
        "controller": True, "blockOwnerDeletion": True,
    }]


def test_pods_are_deterministic_per_rank() -> None:
    pods = build_worker_pods(job(), allocation(workers=3))
    assert [p["metadata"]["name"] for p in pods] == [worker_pod_name("bert", r) for r in range(3)]
    assert [env(p)["PET_NODE_RANK"] for p in pods] == ["0", "1", "2"]
    assert pods == build_worker_pods(job(), allocation(workers=3))


def test_a_resize_changes_the_generation_label_not_the_name() -> None:
    before = build_worker_pod(job(), 0, allocation(workers=2, generation=3))
    after = build_worker_pod(job(), 0, allocation(workers=4, generation=4))
    assert before["metadata"]["name"] == after["metadata"]["name"]
    assert (before["metadata"]["labels"]["fairshare.dev/generation"],
            after["metadata"]["labels"]["fairshare.dev/generation"]) == ("3", "4")
    assert (env(before)["PET_NNODES"], env(after)["PET_NNODES"]) == ("2", "4")


def test_scheduling_is_left_to_kube_scheduler() -> None:
    spec = pod()["spec"]
    assert "nodeName" not in spec
    assert spec["nodeSelector"] == A100
    assert spec["restartPolicy"] == "Never"
    assert (spec["hostname"], spec["subdomain"]) == ("bert-worker-1", "bert")
    # Only the GPU taint by default: kwok's is tolerated only where the local cluster configures it (settings).
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


@pytest.mark.parametrize(
    ("builder", "requests", "limits"),
    [
        pytest.param(make_job().gpus(1), {"nvidia.com/gpu": "1"}, {"nvidia.com/gpu": "1"}, id="one GPU, no cpu/mem"),
        pytest.param(make_job().gpus(8).set("resources", {"cpu": 16, "memory": "128Gi"}),
                     {"cpu": "16", "memory": "128Gi", "nvidia.com/gpu": "8"},
                     {"memory": "128Gi", "nvidia.com/gpu": "8"}, id="memory limit equals request, cpu unlimited"),
        pytest.param(make_job().gpus(4).pod_template({"resources": {
                         "requests": {"cpu": "8"}, "limits": {"cpu": "10", "ephemeral-storage": "1Gi"}}}),
                     {"cpu": "8", "nvidia.com/gpu": "4"},
                     {"cpu": "10", "ephemeral-storage": "1Gi", "nvidia.com/gpu": "4"},
                     id="template resources pass through"),
    ],
)
def test_gpu_requests_equal_limits_equal_gpus_per_worker(builder: JobBuilder, requests: dict[str, str],
                                                         limits: dict[str, str]) -> None:
    assert trainer(pod(builder))["resources"] == {"requests": requests, "limits": limits}


def test_env_holds_each_torchrun_name_once_after_the_user_env() -> None:
    names = [var["name"] for var in trainer(pod(make_job().workers(1, 4).gpus(8).env("NCCL_DEBUG", "WARN")))["env"]]
    assert names[:2] == ["HOME", "NCCL_DEBUG"]
    for name in TORCHRUN_ENV_NAMES[:5]:
        assert names.count(name) == 1, name
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("builder", "checkpoint_dir"),
    [
        pytest.param(make_job(), "/tmp/fairshare-checkpoint", id="no checkpoint: scratch"),
        pytest.param(make_job().checkpoint("/ckpt", claim="runs"), "/ckpt", id="claim mounted at path"),
        pytest.param(make_job().pod_template({"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                                             [{"name": "data", "persistentVolumeClaim": {"claimName": "d"}}])
                     .checkpoint("/data/ckpt", claim=None), "/data/ckpt", id="inside a template volume"),
    ],
)
def test_operator_env(builder: JobBuilder, checkpoint_dir: str) -> None:
    operator_env = {k: v for k, v in env(pod(builder)).items() if k.startswith(RESERVED_ENV_PREFIX)}
    assert operator_env == {"FAIRSHARE_JOB": "nlp/bert", "FAIRSHARE_CHECKPOINT_DIR": checkpoint_dir,
                            "FAIRSHARE_METRICS_PORT": "8000", "FAIRSHARE_GPU_CLASS": "a100"}


def test_user_env_cannot_override_reserved_names() -> None:
    """The model refuses it; render re-checks in case a model was built without validation."""
    sneaky = job()
    bad_spec = sneaky.spec.model_copy(update={"env": [EnvVar.model_construct(name="PET_NNODES", value="1")]})
    with pytest.raises(ValueError, match="reserved"):
        build_worker_pod(sneaky.model_copy(update={"spec": bad_spec}), 0, allocation())


def test_security_context_is_restricted() -> None:
    manifest = pod()
    assert manifest["spec"]["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert trainer(manifest)["securityContext"] == {
        "runAsNonRoot": True, "allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert manifest["spec"]["automountServiceAccountToken"] is False
    assert restricted_profile_violations(manifest) == []


def test_read_only_root_gets_writable_tmp_and_shm() -> None:
    manifest = pod(make_job().checkpoint("/ckpt", claim="runs", sub_path="team/bert"))
    assert manifest["spec"]["volumes"] == [
        {"name": "fairshare-tmp", "emptyDir": {}},
        {"name": "fairshare-shm", "emptyDir": {"medium": "Memory"}},
        {"name": "fairshare-checkpoint", "persistentVolumeClaim": {"claimName": "runs"}},
    ]
    assert trainer(manifest)["volumeMounts"] == [
        {"name": "fairshare-tmp", "mountPath": "/tmp"},
        {"name": "fairshare-shm", "mountPath": "/dev/shm"},
        {"name": "fairshare-checkpoint", "mountPath": "/ckpt", "subPath": "team/bert"},
    ]


def test_pod_template_volumes_labels_and_annotations_are_kept() -> None:
    builder = make_job().pod_template(
        {"name": "main", "workingDir": "/work", "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}]},
        [{"name": "cfg", "configMap": {"name": "train-cfg"}}],
        {"labels": {"team": "nlp"}, "annotations": {"localcluster.fairshare.dev/simulate-result": "Succeeded"}},
    )
    manifest = pod(builder)
    container = trainer(manifest)
    assert (container["name"], container["workingDir"]) == ("main", "/work")
    assert {"name": "cfg", "configMap": {"name": "train-cfg"}} in manifest["spec"]["volumes"]
    assert {"name": "cfg", "mountPath": "/etc/cfg"} in container["volumeMounts"]
    assert manifest["metadata"]["labels"]["team"] == "nlp"
    assert manifest["metadata"]["annotations"]["localcluster.fairshare.dev/simulate-result"] == "Succeeded"
    declared = {volume["name"] for volume in manifest["spec"]["volumes"]}
    assert {mount["name"] for mount in container["volumeMounts"]} <= declared
    assert restricted_profile_violations(manifest) == []


def test_ports_and_scrape_annotations() -> None:
    manifest = pod(make_job().gpus(3))
    assert trainer(manifest)["ports"] == [
        {"name": "master", "containerPort": 29500, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 8000, "protocol": "TCP"},
        {"name": "metrics-1", "containerPort": 8001, "protocol": "TCP"},
        {"name": "metrics-2", "containerPort": 8002, "protocol": "TCP"},
    ]
    assert manifest["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true", "prometheus.io/port": "8000", "prometheus.io/path": "/metrics"}
    assert "annotations" not in pod(settings=RenderSettings(prometheus_annotations=False))["metadata"]
    sixteen = trainer(pod(make_job().gpus(16)))["ports"]
    assert all(len(port["name"]) <= 15 for port in sixteen)


@pytest.mark.parametrize(
    ("builder", "settings", "grace"),
    [
        pytest.param(make_job(), RenderSettings(), 120, id="operator default"),
        pytest.param(make_job(), RenderSettings(termination_grace_period_seconds=600), 600, id="operator setting"),
        pytest.param(make_job().set("runPolicy", {"terminationGracePeriodSeconds": 30}), RenderSettings(), 30,
                     id="job override"),
    ],
)
def test_termination_grace_period_for_checkpointing(builder: JobBuilder, settings: RenderSettings, grace: int) -> None:
    assert pod(builder, settings=settings)["spec"]["terminationGracePeriodSeconds"] == grace


def test_optional_settings_are_rendered_only_when_set() -> None:
    plain = pod()
    assert not {"schedulerName", "priorityClassName"} & set(plain["spec"])
    assert "imagePullPolicy" not in trainer(plain)
    tuned = pod(settings=RenderSettings(scheduler_name="s", priority_class_name="p", image_pull_policy="Always"))
    assert (tuned["spec"]["schedulerName"], tuned["spec"]["priorityClassName"], trainer(tuned)["imagePullPolicy"]) == (
        "s", "p", "Always")


def test_a_job_without_uid_cannot_own_pods() -> None:
    unsaved = parse_training_job(make_job().obj())
    with pytest.raises(ValueError, match="uid"):
        build_worker_pod(unsaved, 0, allocation())


@pytest.mark.parametrize(("workers", "generation"), [pytest.param(0, 1, id="no workers"),
                                                     pytest.param(1, -1, id="negative generation")])
def test_allocation_refuses_nonsense(workers: int, generation: int) -> None:
    with pytest.raises(ValueError):
        allocation(workers=workers, generation=generation)


@pytest.mark.parametrize(
    ("builder", "home"),
    [
        pytest.param(make_job(), "/tmp", id="unset: the writable /tmp emptyDir"),
        pytest.param(make_job().env("HOME", "/data/home"), "/data/home", id="the job's own HOME wins"),
    ],
)
def test_home_is_writable_under_a_read_only_root(builder: Any, home: str) -> None:
    env = trainer(pod(builder))["env"]
    assert [var["value"] for var in env if var["name"] == "HOME"] == [home]
