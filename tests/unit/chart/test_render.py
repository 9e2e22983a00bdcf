"""`helm template` of the chart: hardened Deployment, least-privilege RBAC, monitoring gates, dashboards, schema."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from fairshare.api.constants import LABEL_MANAGED_BY, MANAGED_BY
from fairshare.cli.main import build_parser
from fairshare.render.container import container_ports
from fairshare.render.settings import DEFAULT_MASTER_PORT, DEFAULT_METRICS_PORT
from tests.unit.chart.chart import (
    ALERTS_FILE,
    CHART_DIR,
    DASHBOARD_DIR,
    NAMESPACE,
    REPO_ROOT,
    kinds,
    one,
    render,
    render_error,
    run_helm,
)

MONITORING = ("--api-versions", "monitoring.coreos.com/v1")
EVERYTHING_ON = {"metrics": {"serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True},
                             "prometheusRule": {"enabled": True}}}

# What the operator does (k8s/applier.py, k8s/lister.py, handlers/operator.py) plus kopf's own needs in
# standalone cluster-wide mode with on-event handlers only: (apiGroup, resource) -> verbs, nothing else.
OPERATOR_PERMISSIONS = {
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},
    ("fairshare.dev", "trainingjobs"): {"list", "watch"},
    ("fairshare.dev", "tenants"): {"list", "watch"},
    ("fairshare.dev", "gpuclasses"): {"list", "watch"},
    ("fairshare.dev", "trainingjobs/status"): {"patch"},
    ("fairshare.dev", "tenants/status"): {"patch"},
    ("fairshare.dev", "gpuclasses/status"): {"patch"},
    ("", "nodes"): {"list", "watch"},
    ("", "pods"): {"list", "watch", "create", "delete"},
    ("", "services"): {"create", "get"},
    ("", "events"): {"create"},
}
READ = {"get", "list", "watch"}
# What a job author debugs with, in the bound namespace: the job's pods, their logs, Events (both APIs).
DEBUG_PERMISSIONS = {("", "pods"): READ, ("", "pods/log"): READ, ("", "events"): READ,
                     ("events.k8s.io", "events"): READ}
EDITOR_PERMISSIONS = {
    ("fairshare.dev", "trainingjobs"): {"create", "get", "list", "watch", "update", "patch", "delete"},
    ("fairshare.dev", "trainingjobs/status"): READ,
    **DEBUG_PERMISSIONS,
}
VIEWER_PERMISSIONS = {
    ("fairshare.dev", "trainingjobs"): READ,
    ("fairshare.dev", "trainingjobs/status"): READ,
    **DEBUG_PERMISSIONS,
}
CATALOG_PERMISSIONS = {("fairshare.dev", resource): READ
                       for resource in ("gpuclasses", "gpuclasses/status", "tenants", "tenants/status")}
TENANT_ROLES = ["fairshare-catalog-reader", "fairshare-trainingjob-editor", "fairshare-trainingjob-viewer"]


def permissions(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """A role's rules flattened to (apiGroup, resource) -> verbs (a rule limited to some names still counts)."""
    flat: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert set(rule) <= {"apiGroups", "resources", "verbs", "resourceNames"}, f"unexpected rule fields: {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                flat.setdefault((group, resource), set()).update(rule["verbs"])
    return flat


def operator_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container


@pytest.fixture(scope="module")
def defaults(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return render(tmp_path_factory.mktemp("defaults"))


def test_helm_lint_strict_passes(tmp_path: Path) -> None:
    run_helm("lint", "--strict", str(CHART_DIR))
    run_helm("lint", "--strict", str(CHART_DIR), values={"dashboards": {"enabled": False},
                                                          "rbac": {"tenantRoles": {"create": False}}},
             tmp_path=tmp_path)


def test_default_render_has_exactly_the_core_objects(defaults: list[dict[str, Any]]) -> None:
    assert kinds(defaults) == sorted(["ClusterRole"] * 4 + ["ClusterRoleBinding"] * 2 + [
                                      "Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "Role",
                                      "RoleBinding", "NetworkPolicy"] + ["ConfigMap"] * 5)
    for obj in defaults:
        if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]


def test_app_version_is_the_package_version_and_the_default_image_tag(defaults: list[dict[str, Any]]) -> None:
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == version
    assert operator_container(defaults)["image"] == f"fairshare-operator:{version}"


def test_chart_crds_are_byte_identical_to_the_repository_crds() -> None:
    """crds/ is the source of truth; after editing it run: cp crds/*.yaml charts/fairshare-operator/crds/"""
    source = {p.name: p.read_bytes() for p in (REPO_ROOT / "crds").glob("*.yaml")}
    chart = {p.name: p.read_bytes() for p in (CHART_DIR / "crds").iterdir()}
    assert sorted(chart) == sorted(source), "the chart must ship exactly the repository's CRD files"
    stale = [name for name in source if chart[name] != source[name]]
    assert not stale, f"out of date in the chart (cp crds/*.yaml charts/fairshare-operator/crds/): {stale}"


def test_by_default_two_replicas_roll_one_at_a_time_on_different_nodes(defaults: list[dict[str, Any]]) -> None:
    """Leader election makes a rolling update safe: the surge pod stands by until the old leader hands over."""
    deployment = one(defaults, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    (term,) = spec["template"]["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
    budget = one(defaults, "PodDisruptionBudget")
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": spec["selector"]["matchLabels"]}}


@pytest.mark.parametrize(("values", "replicas", "strategy", "budget", "anti_affinity"), [
    pytest.param({"leaderElection": {"enabled": False}, "replicas": 1}, 1, "Recreate", False, None,
                 id="no election: one replica, recreated"),
    pytest.param({"replicas": 1}, 1, "RollingUpdate", False, None, id="election, one replica: no budget to keep"),
    pytest.param({"replicas": 3, "podAntiAffinity": "required"}, 3, "RollingUpdate", True,
                 "requiredDuringSchedulingIgnoredDuringExecution", id="three, each on its own node"),
    pytest.param({"podAntiAffinity": "none", "podDisruptionBudget": {"enabled": False}}, 2, "RollingUpdate", False,
                 None, id="spreading and budget turned off"),
    pytest.param({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["system"]}]}]}}}},
        2, "RollingUpdate", True, None, id="an explicit affinity replaces the default spreading"),
])
def test_replicas_strategy_budget_and_spreading_follow_values(
        tmp_path: Path, values: dict[str, Any], replicas: int, strategy: str, budget: bool,
        anti_affinity: str | None) -> None:
    objects = render(tmp_path, values)
    spec = one(objects, "Deployment")["spec"]
    assert (spec["replicas"], spec["strategy"]["type"]) == (replicas, strategy)
    assert ("PodDisruptionBudget" in kinds(objects)) is budget
    affinity = spec["template"]["spec"].get("affinity") or {}
    assert list(affinity.get("podAntiAffinity") or {}) == ([anti_affinity] if anti_affinity else [])
    if "affinity" in values:
        assert affinity == values["affinity"]


def test_leader_election_values_reach_the_operator(tmp_path: Path) -> None:
    from fairshare.settings import election_from_env

    container = operator_container(render(tmp_path, {"leaderElection": {
        "leaseDurationSeconds": 30, "renewDeadlineSeconds": 20, "retryPeriodSeconds": 4}}))
    literal = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    identity = next(e for e in container["env"] if e["name"] == "FAIRSHARE_LEADER_ELECTION_IDENTITY")
    assert identity["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}, "the pod's name"
    election = election_from_env({**literal, "FAIRSHARE_LEADER_ELECTION_IDENTITY": "fs-fairshare-operator-abc"})
    assert (election.namespace, election.name, election.identity, election.standby) == (
        NAMESPACE, "fairshare-operator", "fs-fairshare-operator-abc", True)
    assert (election.lease_duration_seconds, election.renew_deadline_seconds, election.retry_period_seconds) == (
        30, 20, 4)
    off = operator_container(render(tmp_path, {"leaderElection": {"enabled": False}, "replicas": 1}))
    assert election_from_env({e["name"]: e["value"] for e in off["env"] if "value" in e}).standby is False


@pytest.mark.parametrize(("values", "complaint"), [
    pytest.param({"leaderElection": {"enabled": False}}, "replicas is 2 but leaderElection.enabled is false",
                 id="two replicas without election"),
    pytest.param({"leaderElection": {"renewDeadlineSeconds": 12}},
                 "leaseDurationSeconds (12) must be more than leaderElection.renewDeadlineSeconds (12)",
                 id="renew deadline not below the lease"),
    pytest.param({"leaderElection": {"retryPeriodSeconds": 7}},
                 "renewDeadlineSeconds (8) must be more than 1.2 x leaderElection.retryPeriodSeconds (7)",
                 id="retry period too long for the deadline"),
    pytest.param({"replicas": 0}, "/replicas", id="no replica"),
    pytest.param({"leaderElection": {"leaseDurationSeconds": 2.5}}, "/leaderElection/leaseDurationSeconds",
                 id="a lease is whole seconds"),
    pytest.param({"podAntiAffinity": "soft"}, "/podAntiAffinity", id="unknown spreading"),
])
def test_unsafe_election_values_are_refused_naming_them(tmp_path: Path, values: dict[str, Any],
                                                        complaint: str) -> None:
    assert complaint in render_error(tmp_path, values)


def test_the_lease_role_is_in_the_release_namespace_and_names_the_lease(defaults: list[dict[str, Any]]) -> None:
    from fairshare.k8s.election import DEFAULT_LEASE_NAME

    role = one(defaults, "Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": [DEFAULT_LEASE_NAME],
         "verbs": ["get", "update"]}]
    binding = one(defaults, "RoleBinding")
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": one(defaults, "ServiceAccount")["metadata"][
        "name"], "namespace": NAMESPACE}]


def test_pod_and_container_are_hardened(defaults: list[dict[str, Any]]) -> None:
    pod = one(defaults, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = operator_container(defaults)
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    # The only writable place is an emptyDir at /tmp.
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    (volume,) = pod["volumes"]
    assert volume["name"] == "tmp" and "emptyDir" in volume
    assert not any(key in pod for key in ("hostNetwork", "hostPID", "hostIPC"))


def test_probes_hit_kopfs_healthz_and_the_metrics_port_the_cli_is_given(defaults: list[dict[str, Any]]) -> None:
    container = operator_container(defaults)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    args = build_parser().parse_args(container["args"])  # the real CLI accepts what the chart passes
    assert (args.liveness_port, args.metrics_port) == (ports["health"], ports["metrics"]) == (8081, 8080)
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}


def test_ports_follow_values(tmp_path: Path) -> None:
    objects = render(tmp_path, {"operator": {"metricsPort": 9100, "healthPort": 9101},
                                "metrics": {"service": {"port": 9200}}})
    container = operator_container(objects)
    args = build_parser().parse_args(container["args"])
    assert (args.metrics_port, args.liveness_port) == (9100, 9101)
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": 9100, "health": 9101}
    service = one(objects, "Service")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9200, "targetPort": "metrics", "protocol": "TCP"}]
    assert service["metadata"]["annotations"]["prometheus.io/port"] == "9200"


def test_metrics_service_selects_the_operator_pod(defaults: list[dict[str, Any]]) -> None:
    selector = one(defaults, "Service")["spec"]["selector"]
    pod_labels = one(defaults, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()


def test_operator_cluster_role_is_exactly_what_the_operator_does(defaults: list[dict[str, Any]]) -> None:
    role = one(defaults, "ClusterRole", "fs-fairshare-operator")
    assert permissions(role) == OPERATOR_PERMISSIONS


def test_binding_grants_the_operator_role_to_the_pods_service_account(defaults: list[dict[str, Any]]) -> None:
    binding = one(defaults, "ClusterRoleBinding", "fs-fairshare-operator")
    account = one(defaults, "ServiceAccount")["metadata"]["name"]
    pod = one(defaults, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "fs-fairshare-operator"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]


def test_no_role_has_wildcards_or_privilege_escalating_verbs(tmp_path: Path) -> None:
    roles = [o for o in render(tmp_path, EVERYTHING_ON, *MONITORING) if o["kind"] in ("ClusterRole", "Role")]
    assert len(roles) == 5
    for role in roles:
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert not any("*" in item for item in rule[field]), f"{role['metadata']['name']}: {rule}"
            assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), rule
            assert "nonResourceURLs" not in rule, rule
            assert "resourceNames" not in rule or role["kind"] == "Role", "only the Lease is named"
        assert not {r for _, r in permissions(role)} & {"secrets", "configmaps", "serviceaccounts/token"}


def test_tenant_roles_write_trainingjobs_only_and_aggregate_into_the_default_roles(
        defaults: list[dict[str, Any]]) -> None:
    editor = one(defaults, "ClusterRole", "fairshare-trainingjob-editor")
    viewer = one(defaults, "ClusterRole", "fairshare-trainingjob-viewer")
    catalog = one(defaults, "ClusterRole", "fairshare-catalog-reader")
    assert permissions(editor) == EDITOR_PERMISSIONS
    assert permissions(viewer) == VIEWER_PERMISSIONS
    assert permissions(catalog) == CATALOG_PERMISSIONS
    aggregation = "rbac.authorization.k8s.io/aggregate-to-"
    assert {role: sorted(k.removeprefix(aggregation) for k in role_["metadata"]["labels"] if k.startswith(aggregation))
            for role, role_ in (("editor", editor), ("viewer", viewer), ("catalog", catalog))} == {
        "editor": ["admin", "edit"], "viewer": ["view"], "catalog": ["admin", "edit", "view"]}


@pytest.mark.parametrize(("readers", "subjects"), [
    pytest.param(None, [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}],
                 id="default: every authenticated user"),
    pytest.param([{"kind": "Group", "name": "ml-engineers"},
                  {"kind": "ServiceAccount", "name": "ci", "namespace": "ci"}],
                 [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "ml-engineers"},
                  {"apiGroup": "", "kind": "ServiceAccount", "name": "ci", "namespace": "ci"}],
                 id="named groups and service accounts"),
    pytest.param([], None, id="no one: no binding"),
])
def test_the_catalog_reader_is_bound_cluster_wide_to_the_configured_subjects(
        tmp_path: Path, readers: list[dict[str, str]] | None, subjects: list[dict[str, str]] | None) -> None:
    values = {} if readers is None else {"rbac": {"tenantRoles": {"catalogReaders": readers}}}
    bindings = [o for o in render(tmp_path, values) if o["kind"] == "ClusterRoleBinding"
                and o["roleRef"]["name"] == "fairshare-catalog-reader"]
    assert [b["subjects"] for b in bindings] == ([subjects] if subjects is not None else [])


@pytest.mark.parametrize(("values", "expected_roles", "aggregated"), [
    pytest.param({"rbac": {"tenantRoles": {"aggregateToDefaultRoles": False}}},
                 [*TENANT_ROLES, "fs-fairshare-operator"], False, id="tenant roles without aggregation"),
    pytest.param({"rbac": {"tenantRoles": {"create": False}}}, ["fs-fairshare-operator"], False,
                 id="no tenant roles"),
    pytest.param({"rbac": {"create": False}}, TENANT_ROLES, True,
                 id="operator RBAC managed elsewhere"),
])
def test_rbac_switches(tmp_path: Path, values: dict[str, Any], expected_roles: list[str], aggregated: bool) -> None:
    objects = render(tmp_path, values)
    roles = [o for o in objects if o["kind"] == "ClusterRole"]
    assert sorted(r["metadata"]["name"] for r in roles) == expected_roles
    aggregation = [k for r in roles for k in r["metadata"]["labels"] if k.startswith("rbac.authorization.k8s.io/")]
    assert bool(aggregation) == aggregated
    bindings = sorted(o["metadata"]["name"] for o in objects if o["kind"] == "ClusterRoleBinding")
    assert bindings == sorted((["fs-fairshare-operator"] if values["rbac"].get("create", True) else [])
                              + (["fairshare-catalog-readers"]
                                 if values["rbac"].get("tenantRoles", {}).get("create", True) else []))


def test_existing_service_account_is_used_when_the_chart_creates_none(tmp_path: Path) -> None:
    objects = render(tmp_path, {"serviceAccount": {"create": False, "name": "platform-fairshare"}})
    assert "ServiceAccount" not in kinds(objects)
    assert one(objects, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "platform-fairshare"
    assert one(objects, "ClusterRoleBinding", "fs-fairshare-operator")["subjects"][0]["name"] == "platform-fairshare"
    assert "serviceAccount.name is required" in render_error(tmp_path, {"serviceAccount": {"create": False}})


@pytest.mark.parametrize("key", ["serviceMonitor", "podMonitor", "prometheusRule"])
def test_prometheus_operator_objects_are_off_by_default_and_refused_without_their_api(tmp_path: Path,
                                                                                      key: str) -> None:
    assert not {"ServiceMonitor", "PodMonitor", "PrometheusRule"} & set(kinds(render(tmp_path)))
    error = render_error(tmp_path, {"metrics": {key: {"enabled": True}}})
    assert f"metrics.{key}.enabled=false" in error and "monitoring.coreos.com/v1" in error


def test_prometheus_operator_objects_render_when_the_api_is_served(tmp_path: Path) -> None:
    objects = render(tmp_path, EVERYTHING_ON, *MONITORING)
    monitor = one(objects, "ServiceMonitor")
    service = one(objects, "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True

    pods = one(objects, "PodMonitor")
    assert pods["spec"]["selector"] == {"matchLabels": {LABEL_MANAGED_BY: MANAGED_BY}}
    # Every metrics port the operator gives a worker with the most GPUs it allows, and no other port.
    worker_ports = [p["name"] for p in container_ports(DEFAULT_MASTER_PORT, DEFAULT_METRICS_PORT, 16)
                    if p["name"] != "master"]
    assert [e["port"] for e in pods["spec"]["podMetricsEndpoints"]] == worker_ports

    rule = one(objects, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(ALERTS_FILE.read_text()), "the PrometheusRule is files/alerts.yaml"


def test_service_monitor_needs_the_metrics_service(tmp_path: Path) -> None:
    error = render_error(tmp_path, {"metrics": {"serviceMonitor": {"enabled": True}, "service": {"enabled": False}}},
                         *MONITORING)
    assert "needs metrics.service.enabled" in error


def test_dashboards_ship_as_sidecar_configmaps_holding_the_json_files(defaults: list[dict[str, Any]]) -> None:
    maps = [o for o in defaults if o["kind"] == "ConfigMap"]
    files = {p.name: json.loads(p.read_text()) for p in DASHBOARD_DIR.glob("*.json")}
    assert len(maps) == len(files) == 5
    shipped: dict[str, Any] = {}
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((name, text),) = cm["data"].items()
        shipped[name] = json.loads(text)
    assert shipped == files


def test_dashboard_label_namespace_and_annotations_are_configurable(tmp_path: Path) -> None:
    objects = render(tmp_path, {"dashboards": {"label": "grafana.io/dashboard", "labelValue": "fairshare",
                                               "namespace": "monitoring",
                                               "annotations": {"grafana_folder": "Fairshare"}}})
    for cm in (o for o in objects if o["kind"] == "ConfigMap"):
        assert cm["metadata"]["labels"]["grafana.io/dashboard"] == "fairshare"
        assert "grafana_dashboard" not in cm["metadata"]["labels"]
        assert cm["metadata"]["namespace"] == "monitoring"
        assert cm["metadata"]["annotations"] == {"grafana_folder": "Fairshare"}
    assert "ConfigMap" not in kinds(render(tmp_path, {"dashboards": {"enabled": False}}))


@pytest.mark.parametrize(("values", "complaint"), [
    pytest.param({"replica": 2}, "'replica' not allowed", id="top-level typo"),
    pytest.param({"policy": {"halfLifeHour": 12}}, "'halfLifeHour' not allowed", id="policy typo"),
    pytest.param({"image": {"pulPolicy": "Always"}}, "'pulPolicy' not allowed", id="image typo"),
    pytest.param({"metrics": {"serviceMonitor": {"enable": True}}}, "'enable' not allowed", id="monitor typo"),
    pytest.param({"feedback": {"source": "push"}}, "/feedback/source", id="unknown feedback source"),
    pytest.param({"feedback": {"source": "prometheus"}}, "/feedback/prometheusUrl", id="prometheus without URL"),
    pytest.param({"securityContext": {"runAsUser": 0}}, "/securityContext/runAsUser", id="root user"),
    pytest.param({"policy": {"priceFloorFraction": 1.5}}, "/policy/priceFloorFraction", id="floor above 1"),
    pytest.param({"policy": {"migrationGain": 0.5}}, "/policy/migrationGain", id="migration gain below 1"),
    pytest.param({"policy": {"lookahead": 2.5}}, "/policy/lookahead", id="fractional lookahead"),
    pytest.param({"policy": {"cyclePeriodSeconds": 0}}, "/policy/cyclePeriodSeconds", id="zero period"),
    pytest.param({"policy": {"fairSharingMinGain": -0.1}}, "/policy/fairSharingMinGain", id="negative share margin"),
    pytest.param({"policy": {"priceMaxStep": -0.25}}, "/policy/priceMaxStep", id="negative price step"),
    pytest.param({"policy": {"fairSharingPreemption": "yes"}}, "/policy/fairSharingPreemption",
                 id="fair-sharing switch not a boolean"),
    pytest.param({"workerPod": {"toleration": []}}, "'toleration' not allowed", id="worker pod typo"),
    pytest.param({"workerPod": {"hostNetwork": True}}, "'hostNetwork' not allowed", id="worker pod host network"),
    pytest.param({"workerPod": {"containerSecurityContext": {"privileged": True}}},
                 "/workerPod/containerSecurityContext/privileged", id="privileged workers"),
    pytest.param({"workerPod": {"containerSecurityContext": {"allowPrivilegeEscalation": True}}},
                 "/workerPod/containerSecurityContext/allowPrivilegeEscalation", id="privilege escalation"),
    pytest.param({"workerPod": {"containerSecurityContext": {"readOnlyRootFilesystem": False}}},
                 "/workerPod/containerSecurityContext/readOnlyRootFilesystem", id="writable root"),
    pytest.param({"workerPod": {"containerSecurityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}},
                 "/workerPod/containerSecurityContext/capabilities/add/0", id="added capability"),
    pytest.param({"workerPod": {"podSecurityContext": {"runAsUser": 0}}}, "/workerPod/podSecurityContext/runAsUser",
                 id="root workers"),
    pytest.param({"workerPod": {"podSecurityContext": {"runAsNonRoot": False}}},
                 "/workerPod/podSecurityContext/runAsNonRoot", id="workers allowed to run as root"),
    pytest.param({"workerPod": {"podSecurityContext": {"seccompProfile": {"type": "Unconfined"}}}},
                 "/workerPod/podSecurityContext/seccompProfile/type", id="unconfined seccomp"),
    pytest.param({"workerPod": {"tolerations": [{"key": "dedicated", "effect": "NoScheduling"}]}},
                 "/workerPod/tolerations/0/effect", id="toleration effect"),
    pytest.param({"workerPod": {"imagePullSecrets": ["regcred"]}}, "/workerPod/imagePullSecrets/0",
                 id="pull secret not an object"),
    pytest.param({"workerPod": {"terminationGracePeriodSeconds": 0}},
                 "/workerPod/terminationGracePeriodSeconds", id="no time to checkpoint"),
    pytest.param({"protectedNamespaces": ["Kube_System"]}, "/protectedNamespaces/0", id="protected not a namespace"),
])
def test_schema_rejects_typos_and_out_of_range_values(tmp_path: Path, values: dict[str, Any], complaint: str) -> None:
    error = render_error(tmp_path, values)
    assert "values don't meet the specifications of the schema" in error
    assert complaint in error


@pytest.mark.parametrize("values", [
    pytest.param({"feedback": {"source": "prometheus", "prometheusUrl": "http://prometheus.monitoring:9090"}},
                 id="prometheus feedback"),
    pytest.param({"feedback": {"source": "off"}, "policy": {"migrationGain": 0}}, id="no feedback, no moves"),
    pytest.param({"image": {"digest": "sha256:" + "a" * 64}}, id="image by digest"),
    pytest.param({"policy": {"fairSharingPreemption": False, "fairSharingMinGain": 0.1, "priceMaxStep": 0}},
                 id="no fair-sharing preemption, undamped prices"),
    pytest.param({"workerPod": {"tolerations": [{"operator": "Exists"}], "imagePullSecrets": [{"name": "regcred"}],
                                "podSecurityContext": {"runAsUser": None, "seccompProfile": {
                                    "type": "Localhost", "localhostProfile": "train.json"}},
                                "containerSecurityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]},
                                                             "privileged": False}},
                  "protectedNamespaces": []}, id="site worker pod settings that keep the profile"),
])
def test_schema_accepts_valid_settings(tmp_path: Path, values: dict[str, Any]) -> None:
    assert one(render(tmp_path, values), "Deployment")


def test_image_digest_replaces_the_tag(tmp_path: Path) -> None:
    objects = render(tmp_path, {"image": {"repository": "registry.example/fairshare", "digest": "sha256:" + "b" * 64}})
    assert operator_container(objects)["image"] == "registry.example/fairshare@sha256:" + "b" * 64
