"""The operator's environment settings: every policy field overridable, typos and bad values refused by name."""

from __future__ import annotations

import pytest

from fairshare.control.transition import LifecycleSettings
from fairshare.core.config import PolicyConfig
from fairshare.feedback.collector import FeedbackSettings
from fairshare.settings import feedback_from_env, lifecycle_from_env, policy_from_env


@pytest.mark.parametrize(("environ", "expected"), [
    pytest.param({}, PolicyConfig(), id="defaults"),
    pytest.param({"FAIRSHARE_POLICY_MIN_RUN_SECONDS": "30", "FAIRSHARE_POLICY_USAGE_DISCOUNT": "false",
                  "FAIRSHARE_POLICY_LOOKAHEAD": "8"},
                 PolicyConfig(min_run_seconds=30.0, usage_discount=False, lookahead=8), id="float, bool and int"),
    pytest.param({"FAIRSHARE_POLICY_HALF_LIFE_HOURS": " "}, PolicyConfig(), id="blank means default"),
    pytest.param({"FAIRSHARE_POLICY_FAIR_SHARING_PREEMPTION": "no", "FAIRSHARE_POLICY_FAIR_SHARING_MIN_GAIN": "0.1",
                  "FAIRSHARE_POLICY_PRICE_MAX_STEP": "0.5"},
                 PolicyConfig(fair_sharing_preemption=False, fair_sharing_min_gain=0.1, price_max_step=0.5),
                 id="fair-sharing preemption and price damping"),
])
def test_policy_from_env(environ: dict[str, str], expected: PolicyConfig) -> None:
    assert policy_from_env(environ) == expected


@pytest.mark.parametrize(("environ", "message"), [
    pytest.param({"FAIRSHARE_POLICY_HALF_LIFE_HOUR": "3"}, "unknown policy setting.*HALF_LIFE_HOUR", id="typo"),
    pytest.param({"FAIRSHARE_POLICY_LOOKAHEAD": "many"}, "FAIRSHARE_POLICY_LOOKAHEAD='many'.*int", id="not a number"),
    pytest.param({"FAIRSHARE_POLICY_PAUSE_GC": "maybe"}, "FAIRSHARE_POLICY_PAUSE_GC.*bool", id="not a bool"),
    pytest.param({"FAIRSHARE_POLICY_HALF_LIFE_HOURS": "0"}, "half_life_hours must be > 0", id="out of range"),
])
def test_bad_policy_settings_are_refused_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        policy_from_env(environ)


@pytest.mark.parametrize(("environ", "expected"), [
    pytest.param({}, FeedbackSettings(), id="scrape by default"),
    pytest.param({"FAIRSHARE_FEEDBACK_SOURCE": "Prometheus", "FAIRSHARE_PROMETHEUS_URL": "http://prom:9090",
                  "FAIRSHARE_FEEDBACK_PERIOD_SECONDS": "5", "FAIRSHARE_FEEDBACK_WARMUP_SECONDS": "0"},
                 FeedbackSettings("prometheus", "http://prom:9090", 5.0, 0.0), id="prometheus mode"),
])
def test_feedback_from_env(environ: dict[str, str], expected: FeedbackSettings) -> None:
    assert feedback_from_env(environ) == expected


@pytest.mark.parametrize(("environ", "message"), [
    pytest.param({"FAIRSHARE_FEEDBACK_SOURCE": "push"}, "scrape, prometheus or off", id="unknown source"),
    pytest.param({"FAIRSHARE_FEEDBACK_SOURCE": "prometheus"}, "FAIRSHARE_PROMETHEUS_URL", id="no URL"),
])
def test_bad_feedback_settings_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        feedback_from_env(environ)


@pytest.mark.parametrize(("environ", "expected"), [
    pytest.param({}, LifecycleSettings(), id="defaults: 120 s to start, 60 s NotReady, back-off 10 s to 6 min"),
    pytest.param({"FAIRSHARE_POD_START_GRACE_SECONDS": "5", "FAIRSHARE_NODE_LOST_GRACE_SECONDS": "0",
                  "FAIRSHARE_RESTART_BACKOFF_SECONDS": "1.5", "FAIRSHARE_RESTART_BACKOFF_MAX_SECONDS": " "},
                 LifecycleSettings(pod_start_grace_seconds=5.0, node_lost_grace_seconds=0.0,
                                   restart_backoff_seconds=1.5), id="set, zero and blank"),
])
def test_lifecycle_from_env(environ: dict[str, str], expected: LifecycleSettings) -> None:
    assert lifecycle_from_env(environ) == expected


@pytest.mark.parametrize(("environ", "message"), [
    pytest.param({"FAIRSHARE_NODE_LOST_GRACE_SECONDS": "soon"}, "FAIRSHARE_NODE_LOST_GRACE_SECONDS='soon'.*float",
                 id="not a number"),
    pytest.param({"FAIRSHARE_POD_START_GRACE_SECONDS": "-1"}, "FAIRSHARE_POD_START_GRACE_SECONDS.*>= 0",
                 id="negative"),
    pytest.param({"FAIRSHARE_RESTART_BACKOFF_SECONDS": "nan"}, "FAIRSHARE_RESTART_BACKOFF_SECONDS.*>= 0", id="NaN"),
])
def test_bad_lifecycle_settings_are_refused_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lifecycle_from_env(environ)
