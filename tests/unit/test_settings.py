"""The operator's environment settings: every policy field overridable, typos and bad values refused by name."""

from __future__ import annotations

import pytest

from fairshare.control.transition import LifecycleSettings
from fairshare.core.config import PolicyConfig
from fairshare.feedback.collector import FeedbackSettings
from fairshare.k8s.election import ElectionSettings
from fairshare.localcluster.operatorenv import local_operator_env
from fairshare.render import RenderSettings
from fairshare.settings import (
    election_from_env,
    feedback_from_env,
    lifecycle_from_env,
    policy_from_env,
    protected_namespaces_from_env,
    render_from_env,
)


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


KWOK = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}


@pytest.mark.parametrize(("environ", "expected"), [
    pytest.param({}, RenderSettings(), id="unset: the defaults"),
    pytest.param({"FAIRSHARE_WORKER_POD": " "}, RenderSettings(), id="blank: the defaults"),
    pytest.param({"FAIRSHARE_WORKER_POD": '{"priorityClassName": "training", "tolerations": [{"operator": "Exists"}]}'},
                 RenderSettings(priority_class_name="training", tolerations=({"operator": "Exists"},)),
                 id="JSON of the chart's workerPod"),
])
def test_render_from_env(environ: dict[str, str], expected: RenderSettings) -> None:
    assert render_from_env(environ) == expected


@pytest.mark.parametrize(("raw", "message"), [
    pytest.param("{priorityClassName: x}", "FAIRSHARE_WORKER_POD is not JSON", id="YAML, not JSON"),
    pytest.param("[]", "must be a JSON object", id="a list"),
    pytest.param('{"tolerations": [{"key": "a", "effect": "Never"}]}',
                 r"FAIRSHARE_WORKER_POD: workerPod\.tolerations\[0\]\.effect: must be", id="a bad toleration"),
    pytest.param('{"containerSecurityContext": {"privileged": true}}',
                 r"FAIRSHARE_WORKER_POD: workerPod\.containerSecurityContext\.privileged: must stay false",
                 id="privileged workers"),
    pytest.param('{"podSecurityContex": {}}', r"workerPod\.podSecurityContex: unknown field", id="a typo"),
])
def test_bad_worker_pod_settings_are_refused_naming_the_value(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_from_env({"FAIRSHARE_WORKER_POD": raw})


@pytest.mark.parametrize(("environ", "expected"), [
    pytest.param({}, {"default"}, id="unset: default"),
    pytest.param({"FAIRSHARE_PROTECTED_NAMESPACES": "default, monitoring,,",
                  "FAIRSHARE_OPERATOR_NAMESPACE": "fairshare-system"}, {"default", "monitoring", "fairshare-system"},
                 id="the list and the operator's own"),
    pytest.param({"FAIRSHARE_PROTECTED_NAMESPACES": ""}, set(), id="set empty: none besides kube-*"),
])
def test_protected_namespaces_from_env(environ: dict[str, str], expected: set[str]) -> None:
    assert protected_namespaces_from_env(environ) == expected


@pytest.mark.parametrize("environ", [
    pytest.param({"FAIRSHARE_PROTECTED_NAMESPACES": "default,Kube_System"}, id="not a namespace name"),
    pytest.param({"FAIRSHARE_OPERATOR_NAMESPACE": "-x"}, id="operator namespace not a name"),
])
def test_bad_protected_namespaces_are_refused(environ: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=next(iter(environ))):
        protected_namespaces_from_env(environ)


@pytest.mark.parametrize(("environ", "tolerations"), [
    pytest.param({}, (KWOK,), id="only kwok's"),
    pytest.param({"FAIRSHARE_WORKER_POD": '{"tolerations": [{"key": "a", "operator": "Exists"}]}'},
                 ({"key": "a", "operator": "Exists"}, KWOK), id="added to the settings a test gives"),
])
def test_only_the_local_cluster_tolerates_kwok(environ: dict[str, str], tolerations: tuple[dict[str, str], ...]) \
        -> None:
    assert render_from_env(local_operator_env(environ)).tolerations == tolerations
    assert KWOK not in render_from_env(environ).tolerations


@pytest.mark.parametrize(("environ", "expected"), [
    pytest.param({"FAIRSHARE_LEADER_ELECTION_IDENTITY": "pod-0"}, ElectionSettings(identity="pod-0"),
                 id="defaults: Lease fairshare-operator in default"),
    pytest.param({"FAIRSHARE_LEADER_ELECTION_IDENTITY": "pod-0", "FAIRSHARE_OPERATOR_NAMESPACE": "fairshare-system",
                  "FAIRSHARE_LEADER_ELECTION": "false", "FAIRSHARE_LEASE_DURATION_SECONDS": "30",
                  "FAIRSHARE_RENEW_DEADLINE_SECONDS": "20", "FAIRSHARE_RETRY_PERIOD_SECONDS": "2.5",
                  "FAIRSHARE_LEASE_NAME": "fs-test"},
                 ElectionSettings(namespace="fairshare-system", name="fs-test", identity="pod-0",
                                  lease_duration_seconds=30, renew_deadline_seconds=20.0, retry_period_seconds=2.5,
                                  standby=False), id="everything set, election off"),
])
def test_election_from_env(environ: dict[str, str], expected: ElectionSettings) -> None:
    assert election_from_env(environ) == expected


def test_the_default_identity_is_unique_per_process() -> None:
    first, second = election_from_env({}).identity, election_from_env({}).identity
    assert first != second and first.rsplit("_", 1)[0] == second.rsplit("_", 1)[0], "<hostname>_<random>"


@pytest.mark.parametrize(("environ", "message"), [
    pytest.param({"FAIRSHARE_LEADER_ELECTION": "maybe"}, "FAIRSHARE_LEADER_ELECTION='maybe'.*bool", id="not a bool"),
    pytest.param({"FAIRSHARE_LEASE_DURATION_SECONDS": "15.5"}, "FAIRSHARE_LEASE_DURATION_SECONDS='15.5'.*int",
                 id="a lease is whole seconds"),
    pytest.param({"FAIRSHARE_RENEW_DEADLINE_SECONDS": "20"}, "lease duration 12 s must be more than the renew "
                 "deadline 20.0 s.*FAIRSHARE_LEASE_DURATION_SECONDS", id="deadline past the lease"),
    pytest.param({"FAIRSHARE_LEASE_NAME": "Fairshare_Lease"}, "FAIRSHARE_LEASE_NAME.*DNS-1123", id="bad name"),
])
def test_bad_election_settings_are_refused_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        election_from_env(environ)


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
