"""The chart's values reach the operator: every env var and flag it renders is one the operator reads, with the
meaning the values document (fairshare.settings parses them back into the operator's own settings)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fairshare.api import parse_model
from fairshare.cli.main import build_parser
from fairshare.core.config import PolicyConfig
from fairshare.feedback.collector import FeedbackSettings
from fairshare.render import RenderSettings
from fairshare.render.workerpod import WorkerPodSettings
from fairshare.settings import (
    feedback_from_env,
    policy_env_name,
    policy_from_env,
    protected_namespaces_from_env,
    render_from_env,
)
from tests.unit.chart.chart import CHART_DIR, NAMESPACE, REPO_ROOT, container_env, one, render

# policy.* values that are the loop's cadence rather than PolicyConfig fields.
CADENCE = {"cyclePeriodSeconds", "cycleDebounceSeconds"}
# A value for every PolicyConfig field, each different from its default, in the awkward forms Helm must keep
# intact: exponent floats, whole numbers above a million, booleans.
CUSTOM_POLICY = {
    "halfLifeHours": 6.5, "usageDiscount": False, "minRunSeconds": 120.0, "priceFloorFraction": 0.05,
    "priceIterations": 1_000_000, "priceTolerance": 0.000001, "elasticGrowthThreshold": 1.25,
    "throughputSmoothing": 0.5, "migrationGain": 2.0, "lookahead": 8, "pauseGc": False,
    "priceSettle": 0.0, "serviceQuantumGpuHours": 2.5, "serviceBandGrowth": 4.0,
    "fairSharingPreemption": False, "fairSharingMinGain": 0.05, "priceMaxStep": 0.5,
}


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


def values_file() -> dict[str, Any]:
    return yaml.safe_load((CHART_DIR / "values.yaml").read_text())


def rendered_container(tmp_path: Path, values: dict[str, Any] | None = None) -> dict[str, Any]:
    (container,) = one(render(tmp_path, values), "Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def test_policy_values_are_exactly_the_policy_config_fields_with_its_defaults() -> None:
    policy = values_file()["policy"]
    defaults = {camel(f.name): f.default for f in dataclasses.fields(PolicyConfig)}
    assert {k: v for k, v in policy.items() if k not in CADENCE} == defaults
    assert set(CUSTOM_POLICY) == set(defaults), "CUSTOM_POLICY must exercise every field"
    assert all(CUSTOM_POLICY[k] != defaults[k] for k in defaults)


def test_default_values_give_the_operators_default_settings(tmp_path: Path) -> None:
    env = container_env(rendered_container(tmp_path))
    assert policy_from_env(env) == PolicyConfig()
    assert feedback_from_env(env) == FeedbackSettings()


def test_every_policy_value_reaches_policy_config(tmp_path: Path) -> None:
    env = container_env(rendered_container(tmp_path, {"policy": CUSTOM_POLICY}))
    expected = PolicyConfig(**{f.name: CUSTOM_POLICY[camel(f.name)] for f in dataclasses.fields(PolicyConfig)})
    assert policy_from_env(env) == expected
    assert env[policy_env_name("price_iterations")] == "1000000", "no exponent form for whole numbers"


@pytest.mark.parametrize("feedback", [
    pytest.param({"source": "prometheus", "prometheusUrl": "http://prometheus.monitoring:9090", "periodSeconds": 30,
                  "warmupSeconds": 0}, id="prometheus"),
    pytest.param({"source": "off", "prometheusUrl": "", "periodSeconds": 2.5, "warmupSeconds": 45}, id="off"),
])
def test_feedback_values_reach_feedback_settings(tmp_path: Path, feedback: dict[str, Any]) -> None:
    env = container_env(rendered_container(tmp_path, {"feedback": feedback}))
    assert feedback_from_env(env) == FeedbackSettings(feedback["source"], feedback["prometheusUrl"],
                                                      feedback["periodSeconds"], feedback["warmupSeconds"])


def test_cadence_and_ports_reach_the_cli(tmp_path: Path) -> None:
    container = rendered_container(tmp_path, {"policy": {"cyclePeriodSeconds": 2.5, "cycleDebounceSeconds": 0.05},
                                              "operator": {"watchTimeoutSeconds": 60, "verbose": True}})
    args = build_parser().parse_args(container["args"])
    assert (args.command, args.period, args.verbose) == ("operator", 2.5, True)
    env = container_env(container)
    assert float(env["FAIRSHARE_CYCLE_DEBOUNCE_SECONDS"]) == 0.05
    assert int(env["FAIRSHARE_WATCH_TIMEOUT_SECONDS"]) == 60


def test_every_variable_the_chart_sets_is_read_by_the_operator(tmp_path: Path) -> None:
    """A name the operator never reads would be a setting that silently does nothing."""
    env = container_env(rendered_container(tmp_path))
    source = "\n".join(p.read_text() for p in (REPO_ROOT / "operator" / "fairshare").rglob("*.py"))
    policy_names = {policy_env_name(f.name) for f in dataclasses.fields(PolicyConfig)}
    unread = [name for name in env if name not in policy_names and not re.search(rf"\b{name}\b", source)]
    assert not unread, f"the chart sets variables the operator never reads: {unread}"


def test_extra_env_is_appended_after_the_charts_own(tmp_path: Path) -> None:
    container = rendered_container(tmp_path, {"operator": {"extraEnv": [{"name": "TZ", "value": "UTC"}]}})
    assert container["env"][-1] == {"name": "TZ", "value": "UTC"}


# A value for every workerPod key, each different from its default.
CUSTOM_WORKER_POD: dict[str, Any] = {
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
                    {"key": "nvidia.com/gpu.maintenance", "operator": "Exists", "effect": "NoExecute",
                     "tolerationSeconds": 300}],
    "priorityClassName": "training",
    "runtimeClassName": "nvidia",
    "schedulerName": "gang-scheduler",
    "labels": {"cost-center": "ml"},
    "annotations": {"sidecar.istio.io/inject": "false"},
    "imagePullSecrets": [{"name": "regcred"}],
    "imagePullPolicy": "Always",
    "podSecurityContext": {"runAsUser": 2000, "runAsGroup": 3000, "fsGroup": 4000, "supplementalGroups": [5000],
                           "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/train.json"}},
    "containerSecurityContext": {"seLinuxOptions": {"level": "s0:c123,c456"},
                                 "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["NET_RAW"]}},
    "terminationGracePeriodSeconds": 600,
    "tmpSizeLimit": "10Gi",
    "shmSizeLimit": "16Gi",
    "prometheusAnnotations": False,
}


def test_worker_pod_values_are_exactly_the_settings_fields_with_their_defaults() -> None:
    values = values_file()["workerPod"]
    fields = {info.alias or name: info for name, info in WorkerPodSettings.model_fields.items()}
    assert set(values) == set(fields) == set(CUSTOM_WORKER_POD), "CUSTOM_WORKER_POD must exercise every key"
    assert parse_model(WorkerPodSettings, values) == WorkerPodSettings(), "the chart's defaults are the operator's"
    assert all(parse_model(WorkerPodSettings, {k: v}) != WorkerPodSettings() for k, v in CUSTOM_WORKER_POD.items())


def test_default_values_give_the_operators_default_worker_pods(tmp_path: Path) -> None:
    env = container_env(rendered_container(tmp_path))
    assert render_from_env(env) == RenderSettings()
    assert protected_namespaces_from_env(env) == {"default", NAMESPACE}


def test_every_worker_pod_value_reaches_render_settings(tmp_path: Path) -> None:
    env = container_env(rendered_container(tmp_path, {"workerPod": CUSTOM_WORKER_POD}))
    assert render_from_env(env) == RenderSettings(
        termination_grace_period_seconds=600, prometheus_annotations=False, tmp_size_limit="10Gi",
        shm_size_limit="16Gi", image_pull_policy="Always", scheduler_name="gang-scheduler",
        priority_class_name="training", runtime_class_name="nvidia",
        tolerations=tuple(CUSTOM_WORKER_POD["tolerations"]), image_pull_secrets=("regcred",),
        extra_pod_labels={"cost-center": "ml"}, extra_pod_annotations={"sidecar.istio.io/inject": "false"},
        pod_security_context=CUSTOM_WORKER_POD["podSecurityContext"],
        container_security_context=CUSTOM_WORKER_POD["containerSecurityContext"])


def test_a_null_id_leaves_it_to_the_platform(tmp_path: Path) -> None:
    """OpenShift assigns each namespace its IDs: `runAsUser: null` in a values file drops the chart's default."""
    env = container_env(rendered_container(tmp_path, {"workerPod": {"podSecurityContext": {
        "runAsUser": None, "runAsGroup": None}}}))
    assert render_from_env(env).pod_security_context == {"fsGroup": 1000}


def test_protected_namespaces_reach_the_operator(tmp_path: Path) -> None:
    env = container_env(rendered_container(tmp_path, {"protectedNamespaces": ["default", "monitoring", "ingress"]}))
    assert protected_namespaces_from_env(env) == {"default", "monitoring", "ingress", NAMESPACE}
    cleared = container_env(rendered_container(tmp_path, {"protectedNamespaces": []}))
    assert protected_namespaces_from_env(cleared) == {NAMESPACE}, "the release namespace stays protected"
