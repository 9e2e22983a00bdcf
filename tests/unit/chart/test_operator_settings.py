"""The chart's values reach the operator: every env var and flag it renders is one the operator reads, with the
meaning the values document (fairshare.settings parses them back into the operator's own settings)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fairshare.cli.main import build_parser
from fairshare.core.config import PolicyConfig
from fairshare.feedback.collector import FeedbackSettings
from fairshare.settings import feedback_from_env, policy_env_name, policy_from_env
from tests.unit.chart.chart import CHART_DIR, REPO_ROOT, container_env, one, render

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
