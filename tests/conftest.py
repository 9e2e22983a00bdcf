"""Fixtures for every tier: one real local control plane per test session (started only if a test asks)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fairshare.localcluster import processes, toolchain
from fairshare.localcluster.cluster import ClusterState, LocalCluster
from tests.support.wait import wait_for

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterState]:
    """A real etcd + apiserver + controller-manager + scheduler + kwok with the default GPU fleet."""
    bins, _ = toolchain.ensure(verbose=False)
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"), binaries=bins)
    state = cluster.start(timeout=float(os.environ.get("FAIRSHARE_TEST_CLUSTER_TIMEOUT", "180")))
    started = list(state.processes)
    try:
        yield state
    finally:
        cluster.stop()
        leftover = [p.name for p in started if processes.is_alive(p)]
        assert not leftover, f"processes still running after stop: {leftover}"


@pytest.fixture(scope="session")
def kube_api_client(local_cluster: ClusterState):  # type: ignore[no-untyped-def]
    from kubernetes import config

    client = config.new_client_from_config(config_file=local_cluster.kubeconfig)
    yield client
    client.close()


class Kubectl:
    """The real kubectl (v1.34, built with the control plane) pointed at the test cluster."""

    def __init__(self, binary: Path, kubeconfig: str) -> None:
        self.binary, self.kubeconfig = binary, kubeconfig

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(self.binary), f"--kubeconfig={self.kubeconfig}", *args], input=stdin,
                              capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc


@pytest.fixture(scope="session")
def kubectl(local_cluster: ClusterState) -> Kubectl:
    return Kubectl(toolchain.binaries().kubectl, local_cluster.kubeconfig)


@pytest.fixture(scope="session")
def installed_crds(kubectl: Kubectl) -> list[str]:
    """The project's CRDs (crds/), applied and Established."""
    kubectl("apply", "-f", str(REPO_ROOT / "crds"))
    names = kubectl("get", "-f", str(REPO_ROOT / "crds"), "-o", "name").stdout.split()
    kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    return names


@pytest.fixture
def namespace(kube_api_client) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh namespace per test, deleted afterwards (without waiting: deletion is tested on its own)."""
    from kubernetes import client

    core = client.CoreV1Api(kube_api_client)
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace({"metadata": {"name": name, "labels": {"fairshare.dev/test": "true"}}})
    # Pods are refused until the controller-manager has created the namespace's default ServiceAccount.
    wait_for(lambda: any(sa.metadata.name == "default" for sa in core.list_namespaced_service_account(name).items),
             timeout=30, what=f"default ServiceAccount in {name}")
    yield name
    core.delete_namespace(name)
