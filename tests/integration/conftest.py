"""Fixtures the operator-driven integration suites share: one operator per module, and teams removed after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from fairshare.localcluster.cluster import ClusterState
from tests.support.operator import OperatorProcess, operator_running
from tests.support.teams import Team, delete_and_wait, ensure_gpu_classes


@pytest.fixture(scope="module")
def operator(local_cluster: ClusterState, kube_api_client: client.ApiClient, installed_crds: list[str],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """`fairshare operator` for the module's tests, past its first cycle, with the fleet's GPU classes defined."""
    ensure_gpu_classes(kube_api_client)
    with operator_running(local_cluster.kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log") as proc:
        yield proc


@pytest.fixture
def teams(kube_api_client: client.ApiClient) -> Iterator[list[Team]]:
    """Teams a test appends here are deleted after it, and their pods waited out, so the next test finds the fleet
    idle."""
    made: list[Team] = []
    yield made
    delete_and_wait(kube_api_client, made, timeout=600)
