"""`helm template` of who may read the operator's metrics: the NetworkPolicy (on by default) and the bearer-token
check (off by default), with the RBAC that the check needs only when it is on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fairshare.settings import metrics_auth_from_env
from tests.unit.chart.chart import kinds, one, render, render_error, run_helm
from tests.unit.chart.test_render import OPERATOR_PERMISSIONS, operator_container, permissions

RELEASE_NAME = "fs-fairshare-operator"
MONITORING_NAMESPACE = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
PROMETHEUS_PODS = {"namespaceSelector": {"matchLabels": {"team": "observability"}},
                   "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}
REVIEWS = {("authentication.k8s.io", "tokenreviews"): {"create"},
           ("authorization.k8s.io", "subjectaccessreviews"): {"create"}}


def ingress(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    policy = one(objects, "NetworkPolicy")
    deployment = one(objects, "Deployment")
    assert policy["spec"]["podSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    return list(policy["spec"]["ingress"])


HEALTH = {"ports": [{"port": "health", "protocol": "TCP"}]}


@pytest.mark.parametrize(("values", "want"), [
    pytest.param({}, [{"ports": [{"port": "metrics", "protocol": "TCP"}], "from": [MONITORING_NAMESPACE]}, HEALTH],
                 id="default: the metrics port from the namespace named monitoring, the health port from anyone"),
    pytest.param({"from": [PROMETHEUS_PODS, {"podSelector": {"matchLabels": {"role": "scraper"}}}]},
                 [{"ports": [{"port": "metrics", "protocol": "TCP"}],
                   "from": [PROMETHEUS_PODS, {"podSelector": {"matchLabels": {"role": "scraper"}}}]}, HEALTH],
                 id="Prometheus's pods in its namespace, and scrapers of the release namespace"),
    pytest.param({"from": []}, [HEALTH], id="no peers: no one may scrape"),
])
def test_the_network_policy_admits_only_the_scrapers_to_the_metrics_port(
        tmp_path: Path, values: dict[str, Any], want: list[dict[str, Any]]) -> None:
    objects = render(tmp_path, {"metrics": {"networkPolicy": values}})
    assert ingress(objects) == want
    ports = {p["name"] for p in operator_container(objects)["ports"]}
    assert {p["port"] for rule in want for p in rule["ports"]} <= ports, "named ports the container has"


def test_the_network_policy_can_be_left_out(tmp_path: Path) -> None:
    assert "NetworkPolicy" not in kinds(render(tmp_path, {"metrics": {"networkPolicy": {"enabled": False}}}))


@pytest.mark.parametrize(("peer", "field"), [
    pytest.param({"namespace": "monitoring"}, "namespace", id="not a NetworkPolicy peer"),
    pytest.param({}, "minProperties", id="an empty peer (it would admit everyone)"),
])
def test_a_malformed_peer_is_refused_naming_it(tmp_path: Path, peer: dict[str, Any], field: str) -> None:
    error = render_error(tmp_path, {"metrics": {"networkPolicy": {"from": [peer]}}})
    assert "networkPolicy" in error and field in error, error


def test_auth_is_off_by_default_and_needs_no_review_rights(tmp_path: Path) -> None:
    objects = render(tmp_path)
    env = {e["name"]: e.get("value") for e in operator_container(objects)["env"]}
    assert env["FAIRSHARE_METRICS_AUTH"] == "none" and not metrics_auth_from_env(env)
    role = one(objects, "ClusterRole", RELEASE_NAME)
    assert permissions(role) == OPERATOR_PERMISSIONS
    assert not [o for o in objects if o["metadata"]["name"].endswith("-metrics-reader")]


def test_auth_on_grants_the_reviews_and_binds_the_scrapers_to_get_metrics(tmp_path: Path) -> None:
    scrapers = [{"name": "prometheus-k8s", "namespace": "monitoring"}, {"name": "vm", "namespace": "obs"}]
    objects = render(tmp_path, {"metrics": {"auth": {"enabled": True, "scrapers": scrapers},
                                            "serviceMonitor": {"enabled": True}}},
                     "--api-versions", "monitoring.coreos.com/v1")
    env = {e["name"]: e.get("value") for e in operator_container(objects)["env"]}
    assert env["FAIRSHARE_METRICS_AUTH"] == "tokenreview" and metrics_auth_from_env(env)
    assert permissions(one(objects, "ClusterRole", RELEASE_NAME)) == {**OPERATOR_PERMISSIONS, **REVIEWS}
    reader = one(objects, "ClusterRole", f"{RELEASE_NAME}-metrics-reader")
    assert reader["rules"] == [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
    binding = one(objects, "ClusterRoleBinding", f"{RELEASE_NAME}-metrics-reader")
    assert binding["roleRef"]["name"] == reader["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", **s} for s in scrapers]
    (endpoint,) = one(objects, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["bearerTokenFile"] == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    # The readiness probe needs no token.
    assert operator_container(objects)["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_auth_on_without_scrapers_ships_the_role_unbound(tmp_path: Path) -> None:
    objects = render(tmp_path, {"metrics": {"auth": {"enabled": True}}})
    one(objects, "ClusterRole", f"{RELEASE_NAME}-metrics-reader")
    assert not [o for o in objects if o["kind"] == "ClusterRoleBinding"
                and o["metadata"]["name"].endswith("-metrics-reader")]


@pytest.mark.parametrize("values", [
    pytest.param({}, id="defaults"),
    pytest.param({"metrics": {"auth": {"enabled": True, "scrapers": [{"name": "p", "namespace": "m"}]},
                              "networkPolicy": {"from": [PROMETHEUS_PODS]}}}, id="auth and a custom policy"),
])
def test_helm_lint_passes(tmp_path: Path, values: dict[str, Any]) -> None:
    from tests.unit.chart.chart import CHART_DIR

    proc = run_helm("lint", "--strict", str(CHART_DIR), values=values, tmp_path=tmp_path)
    assert "0 chart(s) failed" in proc.stdout, proc.stdout
