"""The metrics endpoint behind a bearer token, on the real control plane: the operator (FAIRSHARE_METRICS_AUTH=
tokenreview) asks the API server a TokenReview and a SubjectAccessReview for each new token, as kube-rbac-proxy
does. A scrape without a token is refused (401), one with a tenant's ServiceAccount token too (403), and one with a
ServiceAccount bound to get on the nonResourceURL /metrics is served (200)."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from fairshare.localcluster.cluster import ClusterState
from fairshare.localcluster.processes import tail
from tests.support.operator import OperatorProcess
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration


def get(port: int, path: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def guarded(local_cluster: ClusterState, installed_crds: list[str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    log: Path = tmp_path_factory.mktemp("operator") / "operator.log"
    proc = OperatorProcess(local_cluster.kubeconfig, log, {"FAIRSHARE_METRICS_AUTH": "tokenreview"})
    proc.start()
    try:
        wait_for(lambda: _ready(proc.metrics_port), timeout=90,
                 what=lambda: f"the operator's metrics server; log:\n{tail(log, 30)}")
        yield proc
    finally:
        proc.stop()
        print(f"--- operator log tail ---\n{tail(log, 40)}")


def _ready(port: int) -> bool:
    try:
        return get(port, "/readyz")[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def tokens(kube_api_client: client.ApiClient) -> Iterator[dict[str, str]]:
    """A token of a tenant's ServiceAccount (no RBAC on /metrics) and of a scraper bound to get on /metrics."""
    core, rbac = client.CoreV1Api(kube_api_client), client.RbacAuthorizationV1Api(kube_api_client)
    namespace = f"scrape-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": namespace}})
    role = f"{namespace}-metrics-reader"
    rbac.create_cluster_role({"metadata": {"name": role},
                              "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]})
    rbac.create_cluster_role_binding({"metadata": {"name": role},
                                      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                  "name": role},
                                      "subjects": [{"kind": "ServiceAccount", "name": "prometheus",
                                                    "namespace": namespace}]})
    out = {}
    for name in ("tenant", "prometheus"):
        core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
        minted = core.create_namespaced_service_account_token(
            name, namespace, {"spec": {"expirationSeconds": 3600}})
        out[name] = minted.status.token
    yield out
    rbac.delete_cluster_role_binding(role)
    rbac.delete_cluster_role(role)
    core.delete_namespace(namespace)


@pytest.mark.timeout(300)
def test_no_token_is_401_an_unauthorized_service_account_403_and_the_scraper_200(
        guarded: OperatorProcess, tokens: dict[str, str]) -> None:
    port = guarded.metrics_port
    assert get(port, "/metrics")[0] == 401
    assert get(port, "/metrics", "not-a-token")[0] == 401
    status, body = get(port, "/metrics", tokens["tenant"])
    assert status == 403 and "may not get /metrics" in body, body
    status, body = get(port, "/metrics", tokens["prometheus"])
    assert status == 200 and "fairshare_replica_role" in body, body
    # Readiness needs no token (the chart's readiness probe reads it).
    assert get(port, "/readyz") == (200, "ok\n")
