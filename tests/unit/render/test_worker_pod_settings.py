"""A site's worker pod settings reach every worker pod, and none can make it less than restricted."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fairshare.api import parse_model, parse_training_job
from fairshare.api.errors import SpecError
from fairshare.render import RenderSettings, WorkerAllocation, build_worker_pod
from fairshare.render.workerpod import WorkerPodSettings
from tests.unit.api.builders import make_job
from tests.unit.render.test_worker_pod import restricted_profile_violations

UID = "6f1c2a4e-0000-4000-8000-000000000002"
GPU = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
DEDICATED = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
H100_TAINT = {"key": "nvidia.com/gpu.product", "operator": "Equal", "value": "H100", "effect": "NoSchedule"}


def worker(values: dict[str, Any] | None = None, class_tolerations: tuple[dict[str, Any], ...] = (),
           builder: Any = None) -> dict[str, Any]:
    """Rank 0 of a job, rendered with the settings the chart's workerPod `values` give."""
    settings = parse_model(WorkerPodSettings, values or {}).render_settings()
    job = parse_training_job((builder or make_job()).uid(UID).obj())
    allocation = WorkerAllocation("nlp", "h100", {"fairshare.dev/gpu-class": "h100"}, 1, 1, class_tolerations)
    return build_worker_pod(job, 0, allocation, settings)


def trainer(pod: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod["spec"]["containers"]
    return container


def test_no_settings_render_the_operators_defaults() -> None:
    assert worker() == build_worker_pod(parse_training_job(make_job().uid(UID).obj()), 0,
                                        WorkerAllocation("nlp", "h100", {"fairshare.dev/gpu-class": "h100"}, 1, 1),
                                        RenderSettings())


@pytest.mark.parametrize(("values", "where", "want"), [
    pytest.param({"tolerations": [DEDICATED]}, ("spec", "tolerations"), [GPU, DEDICATED], id="site tolerations"),
    pytest.param({"priorityClassName": "training"}, ("spec", "priorityClassName"), "training", id="priority class"),
    pytest.param({"runtimeClassName": "nvidia"}, ("spec", "runtimeClassName"), "nvidia", id="runtime class"),
    pytest.param({"schedulerName": "volcano"}, ("spec", "schedulerName"), "volcano", id="scheduler"),
    pytest.param({"imagePullSecrets": [{"name": "regcred"}, {"name": "mirror"}]}, ("spec", "imagePullSecrets"),
                 [{"name": "regcred"}, {"name": "mirror"}], id="image pull secrets"),
    pytest.param({"labels": {"cost-center": "ml"}}, ("metadata", "labels", "cost-center"), "ml", id="labels"),
    pytest.param({"annotations": {"sidecar.istio.io/inject": "false"}},
                 ("metadata", "annotations", "sidecar.istio.io/inject"), "false", id="annotations"),
    pytest.param({"terminationGracePeriodSeconds": 900}, ("spec", "terminationGracePeriodSeconds"), 900,
                 id="grace period"),
    pytest.param({"podSecurityContext": {"runAsUser": 2000, "runAsGroup": 3000, "fsGroup": 4000}},
                 ("spec", "securityContext"), {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                                               "runAsUser": 2000, "runAsGroup": 3000, "fsGroup": 4000},
                 id="the site's IDs, restricted still"),
    pytest.param({"podSecurityContext": {}}, ("spec", "securityContext"),
                 {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                 id="no IDs (the platform assigns them), restricted still"),
    pytest.param({"podSecurityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "t.json"}}},
                 ("spec", "securityContext", "seccompProfile"), {"type": "Localhost", "localhostProfile": "t.json"},
                 id="a Localhost seccomp profile"),
    pytest.param({"containerSecurityContext": {"seLinuxOptions": {"level": "s0:c1,c2"}}},
                 ("spec", "containers", 0, "securityContext", "seLinuxOptions"), {"level": "s0:c1,c2"},
                 id="SELinux level"),
    pytest.param({"containerSecurityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["NET_RAW"]}}},
                 ("spec", "containers", 0, "securityContext", "capabilities"),
                 {"add": ["NET_BIND_SERVICE"], "drop": ["ALL", "NET_RAW"]}, id="capabilities: ALL stays dropped"),
    pytest.param({"imagePullPolicy": "Always"}, ("spec", "containers", 0, "imagePullPolicy"), "Always",
                 id="pull policy"),
    pytest.param({"tmpSizeLimit": "10Gi"}, ("spec", "volumes", 0, "emptyDir"), {"sizeLimit": "10Gi"}, id="tmp limit"),
    pytest.param({"shmSizeLimit": "16Gi"}, ("spec", "volumes", 1, "emptyDir"),
                 {"medium": "Memory", "sizeLimit": "16Gi"}, id="shm limit"),
])
def test_each_setting_reaches_the_worker_pod(values: dict[str, Any], where: tuple[Any, ...], want: Any) -> None:
    pod: Any = worker(values)
    for step in where:
        pod = pod[step]
    assert pod == want


@pytest.mark.parametrize("values", [
    pytest.param({"priorityClassName": ""}, id="empty strings are unset"),
    pytest.param({}, id="nothing set"),
])
def test_optional_fields_are_left_out_when_unset(values: dict[str, Any]) -> None:
    spec = worker(values)["spec"]
    assert not {"priorityClassName", "runtimeClassName", "schedulerName", "imagePullSecrets"} & set(spec)


def test_gpu_class_tolerations_follow_the_sites_and_each_appears_once() -> None:
    tolerations = worker({"tolerations": [DEDICATED, GPU]}, class_tolerations=(H100_TAINT, DEDICATED))["spec"][
        "tolerations"]
    assert tolerations == [GPU, DEDICATED, H100_TAINT]


def test_the_sites_labels_override_the_jobs_and_the_operators_override_both() -> None:
    job = make_job().pod_template({}, [], {"labels": {"cost-center": "mine", "team": "nlp"}})
    labels = worker({"labels": {"cost-center": "ml", "app.kubernetes.io/managed-by": "me"}}, builder=job)[
        "metadata"]["labels"]
    assert (labels["cost-center"], labels["team"], labels["app.kubernetes.io/managed-by"]) == (
        "ml", "nlp", "fairshare-operator")


def test_every_allowed_setting_together_keeps_the_pod_restricted() -> None:
    pod = worker({"podSecurityContext": {"runAsUser": 2000, "supplementalGroups": [7], "sysctls": [
                      {"name": "net.ipv4.ip_local_port_range", "value": "1024 65000"}],
                      "seccompProfile": {"type": "Localhost", "localhostProfile": "t.json"},
                      "appArmorProfile": {"type": "RuntimeDefault"}},
                  "containerSecurityContext": {"runAsUser": 2001, "capabilities": {"add": ["NET_BIND_SERVICE"]},
                                               "seLinuxOptions": {"type": "container_t", "level": "s0"},
                                               "procMount": "Default", "privileged": False,
                                               "readOnlyRootFilesystem": True}})
    assert restricted_profile_violations(pod) == []
    context = trainer(pod)["securityContext"]
    assert (context["privileged"], context["allowPrivilegeEscalation"], context["readOnlyRootFilesystem"],
            context["runAsNonRoot"]) == (False, False, True, True)


@pytest.mark.parametrize(("values", "field"), [
    pytest.param({"containerSecurityContext": {"privileged": True}}, "containerSecurityContext.privileged",
                 id="privileged"),
    pytest.param({"containerSecurityContext": {"allowPrivilegeEscalation": True}},
                 "containerSecurityContext.allowPrivilegeEscalation", id="privilege escalation"),
    pytest.param({"containerSecurityContext": {"readOnlyRootFilesystem": False}},
                 "containerSecurityContext.readOnlyRootFilesystem", id="writable root filesystem"),
    pytest.param({"containerSecurityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}},
                 "containerSecurityContext.capabilities.add[0]", id="an added capability"),
    pytest.param({"containerSecurityContext": {"procMount": "Unmasked"}}, "containerSecurityContext.procMount",
                 id="unmasked /proc"),
    pytest.param({"containerSecurityContext": {"runAsUser": 0}}, "containerSecurityContext.runAsUser",
                 id="container as root"),
    pytest.param({"containerSecurityContext": {"runAsNonRoot": False}}, "containerSecurityContext.runAsNonRoot",
                 id="container may run as root"),
    pytest.param({"podSecurityContext": {"runAsUser": 0}}, "podSecurityContext.runAsUser", id="pod as root"),
    pytest.param({"podSecurityContext": {"runAsNonRoot": False}}, "podSecurityContext.runAsNonRoot",
                 id="pod may run as root"),
    pytest.param({"podSecurityContext": {"seccompProfile": {"type": "Unconfined"}}},
                 "podSecurityContext.seccompProfile.type", id="unconfined seccomp"),
    pytest.param({"containerSecurityContext": {"appArmorProfile": {"type": "Unconfined"}}},
                 "containerSecurityContext.appArmorProfile.type", id="unconfined AppArmor"),
    pytest.param({"podSecurityContext": {"seLinuxOptions": {"type": "spc_t"}}},
                 "podSecurityContext.seLinuxOptions.type", id="super-privileged SELinux type"),
    pytest.param({"podSecurityContext": {"seLinuxOptions": {"user": "system_u"}}},
                 "podSecurityContext.seLinuxOptions.user", id="SELinux user"),
    pytest.param({"podSecurityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}},
                 "podSecurityContext.sysctls[0].name", id="unsafe sysctl"),
])
def test_settings_that_weaken_the_profile_are_refused_naming_the_value(values: dict[str, Any], field: str) -> None:
    settings = parse_model(WorkerPodSettings, values)
    with pytest.raises(ValueError, match=re.escape(f"workerPod.{field}: ")):
        settings.render_settings()


@pytest.mark.parametrize(("values", "field"), [
    pytest.param({"hostNetwork": True}, "hostNetwork", id="host network"),
    pytest.param({"securityContext": {}}, "securityContext", id="the pod's field name, not the setting's"),
    pytest.param({"podSecurityContext": {"windowsOptions": {"hostProcess": True}}},
                 "podSecurityContext.windowsOptions", id="host process"),
    pytest.param({"tolerations": [{"key": "a", "operator": "Exists", "value": "b"}]}, "tolerations[0].value",
                 id="Exists with a value"),
    pytest.param({"tolerations": [{"effect": "NoSchedule"}]}, "tolerations[0].operator",
                 id="every taint without Exists"),
    pytest.param({"labels": {"fairshare.dev/tenant": "other"}}, "labels[fairshare.dev/tenant]",
                 id="the operator's label prefix"),
    pytest.param({"imagePullPolicy": "Sometimes"}, "imagePullPolicy", id="pull policy"),
    pytest.param({"priorityClassName": "Training"}, "priorityClassName", id="priority class not a name"),
    pytest.param({"terminationGracePeriodSeconds": 0}, "terminationGracePeriodSeconds", id="no time to checkpoint"),
    pytest.param({"tmpSizeLimit": "-1Gi"}, "tmpSizeLimit", id="negative size"),
    pytest.param({"podSecurityContext": {"seccompProfile": {"type": "Localhost"}}},
                 "podSecurityContext.seccompProfile.localhostProfile", id="Localhost without a profile"),
])
def test_malformed_settings_are_refused_naming_the_value(values: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_model(WorkerPodSettings, values)
    assert field in [path for path, _ in raised.value.problems]


def test_render_settings_built_directly_are_checked_too() -> None:
    """Defence in depth: RenderSettings itself refuses a weakened profile, however it was made."""
    with pytest.raises(ValueError, match="containerSecurityContext.privileged"):
        RenderSettings(container_security_context={"privileged": True})
    with pytest.raises(ValueError, match="podSecurityContext.runAsNonRoot"):
        RenderSettings(pod_security_context={"runAsNonRoot": False})


@pytest.mark.parametrize(("site", "job", "want"), [
    pytest.param([], [{"name": "team-registry"}], ["team-registry"], id="the job's own"),
    pytest.param([{"name": "mirror"}], [{"name": "team-registry"}], ["mirror", "team-registry"],
                 id="the site's, then the job's"),
    pytest.param([{"name": "mirror"}], [{"name": "mirror"}], ["mirror"], id="named by both: once"),
])
def test_the_jobs_image_pull_secrets_follow_the_sites(site: list[dict[str, str]], job: list[dict[str, str]],
                                                       want: list[str]) -> None:
    spec = worker({"imagePullSecrets": site}, builder=make_job().set("imagePullSecrets", job))["spec"]
    assert [ref["name"] for ref in spec["imagePullSecrets"]] == want
