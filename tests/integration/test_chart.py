"""The Helm chart on the real control plane: installed with helm, its ServiceAccount's RBAC is enough for the
operator to run a job and no more, the tenant roles work, and a real Prometheus evaluates every dashboard and
alert query against the operator's live metrics."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from fairshare.api.constants import GROUP, VERSION
from fairshare.localcluster import toolchain
from fairshare.localcluster.cluster import ClusterState
from fairshare.localcluster.processes import free_port, http_ok, tail
from tests.conftest import REPO_ROOT, Kubectl
from tests.support.teams import Team, delete_and_wait, ensure_gpu_classes, job_body
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

CHART = REPO_ROOT / "charts" / "fairshare-operator"
ALERTS = CHART / "files" / "alerts.yaml"
RELEASE = "fairshare"
# The same classes as tests/integration/test_operator.py creates, so either module may create them first.
CLASSES = {"h100": 4.0, "a100": 2.5, "l4": 0.8}
# Installed with a short period so cycles come quickly; everything else is the chart's default.
VALUES = {"policy": {"cyclePeriodSeconds": 2, "cycleDebounceSeconds": 0.1}}
# What the operator's log says when the API refuses it (the applier, the lister, or kopf's own requests).
REFUSED = re.compile(r"Forbidden|forbidden|Not enough permissions")
# Grafana's built-in interval variables, as the queries are sent for this test; every other variable is "All".
BUILTINS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
# What the scenario below makes the operator and the trainer export; a query reading only these must return data.
PRODUCED = {
    "up", "fairshare_gpu_capacity", "fairshare_gpus_idle", "fairshare_gpus_allocated", "fairshare_fair_share_gpus",
    "fairshare_guaranteed_gpus", "fairshare_price_credits_per_gpu_hour", "fairshare_pending_jobs",
    "fairshare_running_jobs", "fairshare_cycles_total", "fairshare_last_cycle_timestamp_seconds",
    "fairshare_cycle_duration_seconds_bucket", "fairshare_cycle_duration_seconds_sum",
    "fairshare_cycle_duration_seconds_count", "fairshare_api_request_duration_seconds_bucket",
    "fairshare_api_request_duration_seconds_count", "fairshare_admissions_total",
    "fairshare_queue_wait_seconds_bucket", "fairshare_trainer_samples_per_second",
    "fairshare_trainer_tokens_per_second", "fairshare_trainer_world_size", "fairshare_trainer_loss",
    "fairshare_trainer_step", "fairshare_trainer_checkpoint_age_seconds", "fairshare_tenant_share_ratio",
}
METRIC = re.compile(r"\b(fairshare_[a-z0-9_]+|up)\b(?!\s*\()")


def helm(kubeconfig: str, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(toolchain.binaries().helm), f"--kubeconfig={kubeconfig}", *args],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"helm {' '.join(args)} failed: {proc.stderr}"
    return proc


@dataclasses.dataclass
class Release:
    namespace: str
    deployment: dict[str, Any]
    service_account: str
    notes: str


@pytest.fixture(scope="module")
def release(local_cluster: ClusterState, kube_api_client: client.ApiClient, installed_crds: list[str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    """`helm install` of the chart into a namespace that enforces the restricted Pod Security Standard (CRDs are
    already served: helm leaves existing CRDs alone)."""
    namespace = f"fairshare-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api(kube_api_client).create_namespace({"metadata": {"name": namespace, "labels": {
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}}})
    values = tmp_path_factory.mktemp("helm") / "values.yaml"
    values.write_text(yaml.safe_dump(VALUES))
    installed = helm(local_cluster.kubeconfig, "install", RELEASE, str(CHART), "--namespace", namespace,
                     "-f", str(values))
    apps = client.AppsV1Api(kube_api_client)
    deployment = kube_api_client.sanitize_for_serialization(
        apps.read_namespaced_deployment(f"{RELEASE}-fairshare-operator", namespace))
    yield Release(namespace, deployment, deployment["spec"]["template"]["spec"]["serviceAccountName"],
                  installed.stdout.partition("NOTES:")[2])
    helm(local_cluster.kubeconfig, "uninstall", RELEASE, "--namespace", namespace, "--wait", "--timeout", "60s")
    client.CoreV1Api(kube_api_client).delete_namespace(namespace)


def service_account_kubeconfig(local_cluster: ClusterState, kubectl: Kubectl, release: Release, path: Path) -> str:
    """A kubeconfig that authenticates as the chart's ServiceAccount with a TokenRequest token, nothing else."""
    token = kubectl("create", "token", release.service_account, "-n", release.namespace,
                    "--duration=2h").stdout.strip()
    admin = yaml.safe_load(Path(local_cluster.kubeconfig).read_text())
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": admin["clusters"],
        "users": [{"name": "operator-sa", "user": {"token": token}}],
        "contexts": [{"name": "operator-sa", "context": {"cluster": admin["clusters"][0]["name"],
                                                         "user": "operator-sa"}}],
        "current-context": "operator-sa"}))
    path.chmod(0o600)
    return str(path)


class ChartOperator:
    """`fairshare operator` with the installed Deployment's own arguments and environment, as its ServiceAccount."""

    def __init__(self, release: Release, kubeconfig: str, log: Path) -> None:
        (container,) = release.deployment["spec"]["template"]["spec"]["containers"]
        self.metrics_port, self.health_port = free_port(), free_port()
        # The container's ports are the pod's; here they must be free loopback ports. Nothing else changes.
        args = [a for a in container["args"] if not a.startswith(("--metrics-port=", "--liveness-port="))]
        self.argv = [sys.executable, "-m", "fairshare.cli.main", *args, f"--metrics-port={self.metrics_port}",
                     f"--liveness-port={self.health_port}"]
        # KUBECONFIG, not --kubeconfig: the kubernetes client reads $KUBECONFIG once, when first imported, and
        # `fairshare operator` imports it (through kopf) before it exports --kubeconfig, so kopf's own login
        # would miss a path given only as a flag.
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("FAIRSHARE_")},
                    **{e["name"]: e["value"] for e in container.get("env", []) if "value" in e},
                    "KUBECONFIG": kubeconfig}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    def cycles(self) -> float:
        try:
            text = self.metrics()
        except OSError:
            return 0.0
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("fairshare_cycles_total"))


@pytest.fixture(scope="module")
def gpu_classes(kube_api_client: client.ApiClient, installed_crds: list[str]) -> dict[str, float]:
    return ensure_gpu_classes(kube_api_client, CLASSES)


@pytest.fixture(scope="module")
def operator(local_cluster: ClusterState, kubectl: Kubectl, release: Release, gpu_classes: dict[str, float],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChartOperator]:
    workdir = tmp_path_factory.mktemp("chart-operator")
    kubeconfig = service_account_kubeconfig(local_cluster, kubectl, release, workdir / "kubeconfig")
    proc = ChartOperator(release, kubeconfig, workdir / "operator.log")
    proc.start()
    try:
        wait_for(lambda: proc.cycles() >= 1 or None, timeout=90,
                 what=lambda: f"the operator's first cycle; log:\n{tail(proc.log, 30)}")
        yield proc
    finally:
        proc.stop()
        print(f"--- chart operator log tail ---\n{tail(proc.log, 40)}")


@pytest.fixture(scope="module")
def scenario(kube_api_client: client.ApiClient, operator: ChartOperator) -> Iterator[dict[str, Team]]:
    """One tenant running an 8-GPU h100 job of two workers (so it has a headless Service); another guaranteed 8 l4
    GPUs whose job fits no node (16 GPUs on 4-GPU nodes), so it waits below its guarantee while l4 GPUs stay idle."""
    teams = {"runner": Team(kube_api_client, "chart-run", {"weight": 1}),
             "starved": Team(kube_api_client, "chart-wait", {"guaranteed": {"l4": 8}})}
    try:
        teams["runner"].submit("train", gpus=4, workers=2, classes=("h100",))
        teams["starved"].submit("too-wide", gpus=16, classes=("l4",))
        wait_for(lambda: teams["runner"].status("train").get("phase") == "Running" or None, timeout=120,
                 what=lambda: f"train Running; status {teams['runner'].status('train')}; "
                              f"log:\n{tail(operator.log, 30)}")
        wait_for(lambda: teams["starved"].status("too-wide").get("phase") == "Queued" or None, timeout=60,
                 what=lambda: f"too-wide Queued; status {teams['starved'].status('too-wide')}")
        yield teams
    finally:
        delete_and_wait(kube_api_client, list(teams.values()))


def test_the_charts_service_account_can_run_the_operator_to_a_running_job(
        kube_api_client: client.ApiClient, operator: ChartOperator, scenario: dict[str, Team]) -> None:
    runner = scenario["runner"]
    status = runner.status("train")
    assert status["allocation"]["gpuClass"] == "h100" and status["allocation"]["gpus"] == 8
    core = client.CoreV1Api(kube_api_client)
    # Children it created (pods, the headless Service) and Events it posted, all under the chart's role.
    assert sorted(p.metadata.name for p in core.list_namespaced_pod(runner.namespace).items) == [
        "train-worker-0", "train-worker-1"]
    assert core.list_namespaced_service(runner.namespace).items, "the headless Service"
    events = {(e.reason, e.source.component) for e in core.list_namespaced_event(runner.namespace).items}
    assert ("Admitted", "fairshare-operator") in events
    # kopf's /healthz, which the chart's liveness probe calls, answers.
    assert http_ok(f"http://127.0.0.1:{operator.health_port}/healthz")
    refused = [line for line in operator.log.read_text(errors="replace").splitlines() if REFUSED.search(line)]
    assert not refused, "the API refused the operator:\n" + "\n".join(refused[:10])


def test_install_notes_name_the_release_and_how_to_grant_job_authors(release: Release) -> None:
    assert f"kubectl -n {release.namespace} rollout status deployment/{RELEASE}-fairshare-operator" in release.notes
    assert "--clusterrole=fairshare-trainingjob-editor" in release.notes
    assert f"{RELEASE}-fairshare-operator-metrics.{release.namespace}.svc:8080/metrics" in release.notes


def test_the_operator_pod_is_admitted_under_the_restricted_pod_security_standard(
        kube_api_client: client.ApiClient, release: Release) -> None:
    """The ReplicaSet's pod exists only if PodSecurity admission (restricted, enforced) accepted its spec."""
    core = client.CoreV1Api(kube_api_client)
    selector = ",".join(f"{k}={v}" for k, v in release.deployment["spec"]["selector"]["matchLabels"].items())

    def refusals() -> list[str]:
        return [e.message for e in core.list_namespaced_event(release.namespace).items if e.reason == "FailedCreate"]

    replicas = release.deployment["spec"]["replicas"]
    pods = wait_for(lambda: (p := core.list_namespaced_pod(release.namespace, label_selector=selector).items)
                    and len(p) == replicas and p, timeout=60,
                    what=lambda: f"the operator's {replicas} pods created; refusals: {refusals()}")
    assert replicas == 2 and {p.spec.service_account_name for p in pods} == {release.service_account}
    assert not refusals()
    # The control: the namespace really refuses a pod that is not hardened.
    bare = {"metadata": {"name": "bare"}, "spec": {"containers": [{"name": "c", "image": "registry.invalid/x:0"}]}}
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(release.namespace, bare, dry_run="All")
    assert refused.value.status == 403 and "violates PodSecurity" in str(refused.value.body)


@pytest.mark.parametrize(("verb", "resource", "allowed"), [
    pytest.param("list", "pods --all-namespaces", True, id="list pods everywhere"),
    pytest.param("create", "pods -n default", True, id="create pods"),
    pytest.param("patch", "trainingjobs.fairshare.dev --subresource=status -n default", True, id="patch job status"),
    pytest.param("watch", "customresourcedefinitions.apiextensions.k8s.io", True, id="watch CRDs"),
    pytest.param("delete", "nodes", False, id="delete nodes"),
    pytest.param("get", "secrets -n default", False, id="read secrets"),
    pytest.param("list", "secrets --all-namespaces", False, id="list secrets"),
    pytest.param("get", "configmaps -n kube-system", False, id="read configmaps"),
    pytest.param("patch", "trainingjobs.fairshare.dev -n default", False, id="patch a job's spec"),
    pytest.param("delete", "trainingjobs.fairshare.dev -n default", False, id="delete jobs"),
    pytest.param("create", "tenants.fairshare.dev", False, id="create tenants"),
    pytest.param("update", "customresourcedefinitions.apiextensions.k8s.io", False, id="change CRDs"),
    pytest.param("patch", "pods -n default", False, id="patch pods"),
    pytest.param("create", "clusterrolebindings.rbac.authorization.k8s.io", False, id="bind roles"),
    pytest.param("create", "serviceaccounts/token -n default", False, id="mint tokens"),
])
def test_the_service_account_is_allowed_exactly_its_role(
        local_cluster: ClusterState, kubectl: Kubectl, release: Release, tmp_path: Path,
        verb: str, resource: str, allowed: bool) -> None:
    """SelfSubjectAccessReviews made with the ServiceAccount's own token."""
    as_operator = Kubectl(kubectl.binary, service_account_kubeconfig(local_cluster, kubectl, release,
                                                                     tmp_path / "kubeconfig"))
    answer = as_operator("auth", "can-i", verb, *resource.split(), check=False)
    assert answer.stdout.strip() == ("yes" if allowed else "no"), answer.stdout + answer.stderr


def test_tenant_roles_bound_per_namespace_grant_trainingjobs_there_only(
        kube_api_client: client.ApiClient, kubectl: Kubectl, release: Release, namespace: str) -> None:
    rbac = client.RbacAuthorizationV1Api(kube_api_client)
    for user, role in (("alice", "fairshare-trainingjob-editor"), ("bob", "fairshare-trainingjob-viewer")):
        rbac.create_namespaced_role_binding(namespace, {
            "metadata": {"name": f"{user}-{role}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})

    def can(user: str, *args: str) -> bool:
        return kubectl("auth", "can-i", f"--as={user}", *args, check=False).stdout.strip() == "yes"

    assert can("alice", "create", "trainingjobs.fairshare.dev", "-n", namespace)
    assert can("alice", "delete", "trainingjobs.fairshare.dev", "-n", namespace)
    assert not can("alice", "create", "trainingjobs.fairshare.dev", "-n", "default"), "only where bound"
    assert not can("alice", "patch", "trainingjobs.fairshare.dev", "--subresource=status", "-n", namespace)
    assert not can("alice", "create", "tenants.fairshare.dev"), "tenants are admin-only"
    assert not can("alice", "create", "gpuclasses.fairshare.dev"), "GPU classes are admin-only"
    assert can("bob", "list", "trainingjobs.fairshare.dev", "-n", namespace)
    assert not can("bob", "create", "trainingjobs.fairshare.dev", "-n", namespace)
    # Aggregation: the controller-manager folds the editor role into the built-in edit role.
    wait_for(lambda: any("trainingjobs" in (r.resources or [])
                         for r in rbac.read_cluster_role("edit").rules or []) or None,
             timeout=60, what="trainingjobs aggregated into ClusterRole edit")
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "carol-edit"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "carol"}]})
    assert can("carol", "create", "trainingjobs.fairshare.dev", "-n", namespace)


def impersonating(api: client.ApiClient, user: str) -> client.ApiClient:
    """A client that sends every request as `user` (the admin's credentials, Impersonate-User header)."""
    return client.ApiClient(api.configuration, header_name="Impersonate-User", header_value=user)


def refused(call: Any) -> int | None:
    """The HTTP status with which the API refused `call`, or None if it was allowed."""
    try:
        call()
    except ApiException as exc:
        return int(exc.status)
    return None


def test_a_tenants_job_author_cannot_create_see_or_charge_another_tenants_jobs(
        kube_api_client: client.ApiClient, operator: ChartOperator, release: Release) -> None:
    """Real requests as two job authors, each bound to the chart's editor role in their own tenant's namespace,
    with the chart's operator running: each works in its own namespace and is refused (403) everywhere else."""
    teams = {"alice": Team(kube_api_client, "iso-a", {"weight": 1}),
             "bob": Team(kube_api_client, "iso-b", {"weight": 1})}
    try:
        rbac = client.RbacAuthorizationV1Api(kube_api_client)
        for user, team in teams.items():
            rbac.create_namespaced_role_binding(team.namespace, {
                "metadata": {"name": f"{user}-editor"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": "fairshare-trainingjob-editor"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
        alice = client.CustomObjectsApi(impersonating(kube_api_client, "alice"))
        bob = client.CustomObjectsApi(impersonating(kube_api_client, "bob"))
        mine, theirs = teams["alice"].namespace, teams["bob"].namespace
        # Each submits in its own namespace; alice's job also claims bob's tenant by label.
        claim = job_body("claims-bob", gpus=1, classes=("l4",))
        claim["metadata"]["labels"] = {"fairshare.dev/tenant": teams["bob"].name}
        alice.create_namespaced_custom_object(GROUP, VERSION, mine, "trainingjobs", claim)
        bob.create_namespaced_custom_object(GROUP, VERSION, theirs, "trainingjobs",
                                            job_body("bobs", gpus=1, classes=("l4",)))
        tj = (GROUP, VERSION)
        assert {
            "create in bob's namespace": refused(lambda: alice.create_namespaced_custom_object(
                *tj, theirs, "trainingjobs", job_body("intruder", gpus=1))),
            "list bob's jobs": refused(lambda: alice.list_namespaced_custom_object(*tj, theirs, "trainingjobs")),
            "read bob's job": refused(lambda: alice.get_namespaced_custom_object(*tj, theirs, "trainingjobs",
                                                                                 "bobs")),
            "delete bob's job": refused(lambda: alice.delete_namespaced_custom_object(*tj, theirs, "trainingjobs",
                                                                                      "bobs")),
            "list jobs in every namespace": refused(lambda: alice.list_cluster_custom_object(*tj, "trainingjobs")),
            "write her own job's status": refused(lambda: alice.patch_namespaced_custom_object_status(
                *tj, mine, "trainingjobs", "claims-bob", {"status": {"tenant": teams["bob"].name}})),
            "claim bob's namespace in a Tenant": refused(lambda: alice.patch_cluster_custom_object(
                *tj, "tenants", teams["alice"].name, {"spec": {"namespaces": [mine, theirs]}})),
            "create a Tenant": refused(lambda: alice.create_cluster_custom_object(*tj, "tenants", {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "Tenant", "metadata": {"name": "alice-own"},
                "spec": {"namespaces": [theirs]}})),
            "read bob's pods": refused(lambda: client.CoreV1Api(impersonating(kube_api_client, "alice"))
                                       .list_namespaced_pod(theirs)),
        } == dict.fromkeys(["create in bob's namespace", "list bob's jobs", "read bob's job", "delete bob's job",
                            "list jobs in every namespace", "write her own job's status",
                            "claim bob's namespace in a Tenant", "create a Tenant", "read bob's pods"], 403)
        # Both jobs run, each charged to the tenant that owns its namespace, whatever its labels say.
        for team, job in ((teams["alice"], "claims-bob"), (teams["bob"], "bobs")):
            wait_for(lambda t=team, j=job: t.status(j).get("phase") == "Running" or None, timeout=120,
                     what=lambda t=team, j=job: f"{j} Running; status {t.status(j)}")
        assert {team.status(job)["tenant"] for team, job in ((teams["alice"], "claims-bob"), (teams["bob"], "bobs"))
                } == {teams["alice"].name, teams["bob"].name}
        assert teams["alice"].status("claims-bob")["tenant"] == teams["alice"].name
        wait_for(lambda: all((t.tenant().get("status") or {}).get("allocatedGPUs") == 1 for t in teams.values())
                 or None, timeout=60, what="each tenant's status counting exactly its own job")
    finally:
        delete_and_wait(kube_api_client, list(teams.values()))


# ---------------------------------------------------------------------------------------------------------------
# A real Prometheus over the operator and a trainer.


class Prometheus:
    """/usr/bin/prometheus with a throwaway config and TSDB, scraping every second, evaluating rules every second."""

    def __init__(self, workdir: Path, targets: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [str(ALERTS)],
                  "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}
                                     for job, target in targets.items()]}
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = workdir / "prometheus.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                ["prometheus", f"--config.file={workdir / 'prometheus.yml'}",
                 f"--storage.tsdb.path={workdir / 'tsdb'}", f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def api(self, path: str, **params: str) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as resp:
                return dict(json.loads(resp.read()))
        except urllib.error.HTTPError as exc:  # a bad query answers 400 with the error in the body
            return dict(json.loads(exc.read()))

    def query(self, expr: str, at: float) -> dict[str, Any]:
        return self.api("query", query=expr, time=f"{at:.3f}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def trainer_metrics_port() -> Iterator[int]:
    """A trainer's real metrics endpoint (fairshare_trainer.metrics), as rank 0 of a running job serves it."""
    sys.path.insert(0, str(REPO_ROOT / "trainer_image"))
    import torch
    from fairshare_trainer.metrics import TrainerMetrics

    metrics = TrainerMetrics("chart/train", "h100", rank=0, device=torch.device("cpu"))
    metrics.observe_start(world_size=1, model_parameters=120_576, step=0)
    metrics.observe_step(step=1, samples=32, samples_per_second=64.0, tokens_per_second=4096.0, loss=5.5)
    port = free_port()
    metrics.serve(port, "127.0.0.1")
    yield port
    metrics.close()
    sys.path.remove(str(REPO_ROOT / "trainer_image"))


@pytest.fixture(scope="module")
def prometheus(operator: ChartOperator, scenario: dict[str, Team], trainer_metrics_port: int,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path_factory.mktemp("prometheus"),
                        {"fairshare-operator": f"127.0.0.1:{operator.metrics_port}",
                         "fairshare-trainer": f"127.0.0.1:{trainer_metrics_port}"})
    try:
        wait_for(lambda: http_ok(f"{server.url}/-/ready") or None, timeout=60,
                 what=lambda: f"Prometheus ready; log:\n{tail(server.log, 20)}")
        # Enough samples of every scraped series for a rate() over the 1m the queries use.
        wait_for(lambda: all(server.api("query", query=f"count_over_time({m}[1m]) >= 3")["data"]["result"]
                             for m in ("fairshare_admissions_total", "fairshare_trainer_step", "up"))
                 or None, timeout=60, what="three scrapes of the operator and the trainer")
        yield server
    finally:
        server.stop()


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expression with Grafana's variables substituted) for every panel query."""
    def substitute(expr: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: BUILTINS.get(m.group(1), ".*"), expr)

    queries = []
    for path in sorted((CHART / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                queries.append((path.name, panel["title"], substitute(target["expr"])))
    return queries


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_every_dashboard_query_is_valid_and_those_over_produced_series_show_data(prometheus: Prometheus) -> None:
    at = time.time()
    failed, empty = [], []
    for board, title, expr in dashboard_queries():
        answer = prometheus.query(expr, at)
        if answer.get("status") != "success":
            failed.append(f"{board} / {title}: {answer.get('error')} :: {expr}")
        elif set(METRIC.findall(expr)) <= PRODUCED and not answer["data"]["result"]:
            empty.append(f"{board} / {title} :: {expr}")
    assert not failed, "queries Prometheus refused:\n" + "\n".join(failed)
    assert not empty, "queries over exported series that returned nothing:\n" + "\n".join(empty)
    assert len(dashboard_queries()) > 60


def test_every_alert_expression_is_valid_and_every_rule_evaluates(prometheus: Prometheus) -> None:
    at = time.time()
    for rule in alert_rules():
        answer = prometheus.query(rule["expr"], at)
        assert answer.get("status") == "success", f"{rule['alert']}: {answer.get('error')}"

    def rule_health() -> dict[str, str]:
        groups = prometheus.api("rules")["data"]["groups"]
        return {r["name"]: r["health"] for g in groups for r in g["rules"]}

    health = wait_for(lambda: (h := rule_health()) and all(v != "unknown" for v in h.values()) and h, timeout=30,
                      what=lambda: f"every rule evaluated once: {rule_health()}")
    assert health == {rule["alert"]: "ok" for rule in alert_rules()}


def test_live_data_puts_the_starvation_and_idle_alerts_in_pending_and_nothing_else(prometheus: Prometheus,
                                                                                   scenario: dict[str, Team]) -> None:
    """too-wide waits below its tenant's l4 guarantee while l4 GPUs sit idle: both alerts' conditions hold (they
    stay pending, since their `for` is 15 minutes). The operator is healthy, so its own alerts stay quiet."""
    def active() -> dict[tuple[str, str], str]:
        result = prometheus.api("query", query="ALERTS")["data"]["result"]
        return {(r["metric"]["alertname"], r["metric"].get("tenant") or r["metric"].get("gpu_class", "")):
                r["metric"]["alertstate"] for r in result}

    starved = scenario["starved"].name
    expected = {("FairshareTenantStarved", starved): "pending", ("FairshareIdleGPUsWhileJobsWait", "l4"): "pending"}
    wait_for(lambda: expected.items() <= active().items() or None, timeout=30,
             what=lambda: f"alerts {expected}; active: {active()}")
    names = {name for name, _ in active()}
    assert not names & {"FairshareOperatorNotReconciling", "FairshareOperatorMetricsAbsent",
                        "FairshareReconcileErrors", "FairshareCycleSlow"}, active()


# ---------------------------------------------------------------------------------------------------------------
# High availability: last in the module, since it stops the module's operator.


def test_the_lease_is_the_only_thing_the_service_account_may_write_in_its_namespace(
        local_cluster: ClusterState, kubectl: Kubectl, release: Release, tmp_path: Path) -> None:
    as_operator = Kubectl(kubectl.binary, service_account_kubeconfig(local_cluster, kubectl, release,
                                                                     tmp_path / "kubeconfig"))

    def can(*args: str) -> bool:
        return as_operator("auth", "can-i", *args, check=False).stdout.strip() == "yes"

    ns = release.namespace
    assert can("update", "leases.coordination.k8s.io/fairshare-operator", "-n", ns)
    assert can("get", "leases.coordination.k8s.io/fairshare-operator", "-n", ns)
    assert can("create", "leases.coordination.k8s.io", "-n", ns)
    assert not can("update", "leases.coordination.k8s.io/kube-scheduler", "-n", ns), "only its own Lease"
    assert not can("update", "leases.coordination.k8s.io/fairshare-operator", "-n", "default"), "only its namespace"
    assert not can("create", "leases.coordination.k8s.io", "-n", "kube-system")


def test_of_two_replicas_one_leads_and_the_other_takes_over_when_it_stops(
        local_cluster: ClusterState, kube_api_client: client.ApiClient, kubectl: Kubectl, release: Release,
        operator: ChartOperator, tmp_path: Path) -> None:
    """A second replica with the Deployment's own arguments, environment and ServiceAccount stands by while the
    first leads; when the first stops (SIGTERM, as in a rolling update) it hands the Lease over and the second
    leads at its next attempt, well before the lease would have expired."""
    from tests.support.failover import FOLLOWER, LEADER, role

    second = ChartOperator(release, service_account_kubeconfig(local_cluster, kubectl, release,
                                                               tmp_path / "kubeconfig"), tmp_path / "second.log")
    second.start()
    try:
        wait_for(lambda: role(second.metrics_port) == FOLLOWER or None, timeout=60,
                 what=lambda: f"the second replica standing by; log:\n{tail(second.log, 20)}")
        assert role(operator.metrics_port) == LEADER
        lease = client.CoordinationV1Api(kube_api_client).read_namespaced_lease("fairshare-operator",
                                                                               release.namespace)
        assert f"leading as {lease.spec.holder_identity} " in operator.log.read_text(errors="replace")
        cycles_before = second.cycles()
        operator.stop()
        stopped = time.monotonic()
        wait_for(lambda: second.cycles() > cycles_before or None, timeout=30,
                 what=lambda: f"the second replica scheduling; log:\n{tail(second.log, 20)}")
        handover = time.monotonic() - stopped
        assert role(second.metrics_port) == LEADER
        assert handover < 10, f"took {handover:.1f} s: the Lease was not handed over, it expired"
        refused = [line for line in second.log.read_text(errors="replace").splitlines() if REFUSED.search(line)]
        assert not refused, "the API refused the second replica:\n" + "\n".join(refused[:10])
    finally:
        second.stop()
        print(f"--- second replica log tail ---\n{tail(second.log, 30)}")


def test_the_release_ships_a_network_policy_admitting_only_the_monitoring_namespace_to_metrics(
        kube_api_client: client.ApiClient, release: Release) -> None:
    """The API server accepted the chart's default NetworkPolicy: the operator's pods take ingress on the metrics port
    only from the namespace named monitoring, and on the health port (the kubelet's probes)."""
    policy = client.NetworkingV1Api(kube_api_client).read_namespaced_network_policy(
        f"{RELEASE}-fairshare-operator", release.namespace)
    assert policy.spec.pod_selector.match_labels == release.deployment["spec"]["selector"]["matchLabels"]
    rules = [([p.port for p in rule.ports], [(peer.namespace_selector.match_labels if peer.namespace_selector else None)
                                              for peer in (rule._from or [])]) for rule in policy.spec.ingress]
    assert rules == [(["metrics"], [{"kubernetes.io/metadata.name": "monitoring"}]), (["health"], [])]


def test_the_api_server_accepts_the_chart_with_metrics_auth_and_a_custom_policy(
        local_cluster: ClusterState, kubectl: Kubectl, tmp_path: Path) -> None:
    """helm lint, then a server-side dry run of every object the chart renders with a bearer token required and
    Prometheus's pods as the only scrapers: the real API server validates them (NetworkPolicy peers, the
    nonResourceURL role, the reviews' RBAC)."""
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"metrics": {
        "auth": {"enabled": True, "scrapers": [{"name": "prometheus-k8s", "namespace": "monitoring"}]},
        "networkPolicy": {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}]}}}))
    linted = helm(local_cluster.kubeconfig, "lint", "--strict", str(CHART), "-f", str(values))
    assert "0 chart(s) failed" in linted.stdout, linted.stdout
    namespace = f"dry-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    try:
        rendered = helm(local_cluster.kubeconfig, "template", "dry", str(CHART), "--namespace", namespace,
                        "-f", str(values)).stdout
        applied = kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=rendered)
        assert "networkpolicy.networking.k8s.io/dry-fairshare-operator created (server dry run)" in applied.stdout
        assert "clusterrole.rbac.authorization.k8s.io/dry-fairshare-operator-metrics-reader created" in applied.stdout
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false")
