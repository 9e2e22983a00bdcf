"""The local pod runner executes run-locally pods as real processes: exit codes, SIGTERM on delete, rewritten env."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from fairshare.localcluster.cluster import ClusterState
from fairshare.localcluster.podrunner import RUN_LOCALLY, LocalPodRunner, local_env, loopback_address
from tests.support.kube import read_pod
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def runner(local_cluster: ClusterState, tmp_path: Path) -> Iterator[LocalPodRunner]:
    pod_runner = LocalPodRunner(local_cluster.kubeconfig, tmp_path)
    pod_runner.start()
    yield pod_runner
    pod_runner.stop()


def local_pod(name: str, script: str, env: dict[str, str] | None = None, metrics: bool = False,
              grace: int = 10) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main", "image": "registry.invalid/trainer:0", "command": [sys.executable, "-c", script],
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
        "resources": {"limits": {"nvidia.com/gpu": "1"}},
    }
    if metrics:
        container["ports"] = [{"name": "metrics", "containerPort": 9400}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "annotations": {RUN_LOCALLY: "true"}, "labels": {"fairshare.dev/job": "demo"}},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": grace,
                     "nodeSelector": {"fairshare.dev/gpu-class": "a100"}, "containers": [container]}}


@pytest.mark.parametrize(("exit_code", "phase"), [
    pytest.param(0, "Succeeded", id="exit 0 succeeds"),
    pytest.param(3, "Failed", id="exit 3 fails with its code"),
])
def test_process_exit_code_becomes_pod_phase(kube_api_client: client.ApiClient, namespace: str,
                                             runner: LocalPodRunner, exit_code: int, phase: str) -> None:
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_pod(namespace, local_pod("exits", f"import sys; sys.exit({exit_code})"))

    pod = wait_for(lambda: (p := read_pod(core, "exits", namespace)) and p.status.phase == phase and p,
                   timeout=60, what=f"pod {phase}")
    assert pod.status.container_statuses[0].state.terminated.exit_code == exit_code


def test_delete_sends_sigterm_and_waits_for_the_process(kube_api_client: client.ApiClient, namespace: str,
                                                        runner: LocalPodRunner, tmp_path: Path) -> None:
    marker = tmp_path / "got-sigterm"
    script = ("import signal, sys, time, pathlib\n"
              f"def bye(*_): pathlib.Path({str(marker)!r}).write_text('checkpointed'); sys.exit(0)\n"
              "signal.signal(signal.SIGTERM, bye)\n"
              "while True: time.sleep(0.1)\n")
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_pod(namespace, local_pod("long", script))
    wait_for(lambda: (p := read_pod(core, "long", namespace)) and p.status.phase == "Running", timeout=60,
             what="long Running")

    core.delete_namespaced_pod("long", namespace)

    wait_for(lambda: read_pod(core, "long", namespace) is None, timeout=60, what="long deleted")
    assert marker.read_text() == "checkpointed"


def test_each_pod_serves_metrics_at_its_own_pod_ip_and_port(kube_api_client: client.ApiClient, namespace: str,
                                                             runner: LocalPodRunner) -> None:
    """Two pods declare the same metrics port: each gets its own loopback pod IP, binds there (as a pod in a cluster
    would at its pod IP), and is read at status.podIP and the declared port; no annotation says where."""
    script = ("import http.server, os\n"
              "class H(http.server.BaseHTTPRequestHandler):\n"
              "    def do_GET(self):\n"
              "        self.send_response(200); self.end_headers()\n"
              "        self.wfile.write((os.environ['MASTER_ADDR'] + ' ' + os.environ['NAME']).encode())\n"
              "address = (os.environ['FAIRSHARE_METRICS_ADDR'], int(os.environ['FAIRSHARE_METRICS_PORT']))\n"
              "http.server.HTTPServer(address, H).serve_forever()\n")
    core = client.CoreV1Api(kube_api_client)
    for name in ("served-a", "served-b"):
        core.create_namespaced_pod(namespace, local_pod(name, script, metrics=True, env={
            "FAIRSHARE_METRICS_PORT": "9400", "MASTER_ADDR": "demo-worker-0.demo.ns.svc", "MASTER_PORT": "29500",
            "NAME": name}))

    bodies = {}
    ips = {}
    for name in ("served-a", "served-b"):
        pod = wait_for(lambda n=name: (p := read_pod(core, n, namespace)) and p.status.phase == "Running"
                       and p.status.pod_ip and p, timeout=60, what=f"{name} Running with a pod IP")
        ips[name] = pod.status.pod_ip
        url = f"http://{pod.status.pod_ip}:9400/metrics"
        bodies[name] = wait_for(lambda u=url: _fetch(u), timeout=30, what=url)
        assert not (pod.metadata.annotations or {}).keys() - {RUN_LOCALLY}, "no annotation names an endpoint"
    assert (bodies, ips["served-a"] != ips["served-b"], all(ip.startswith("127.") for ip in ips.values())) == (
        {"served-a": "127.0.0.1 served-a", "served-b": "127.0.0.1 served-b"}, True, True), \
        "rank 0's cluster DNS name is rewritten to loopback, and each pod has its own address"


def _fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return str(resp.read().decode())
    except OSError:
        return None


def test_local_env_rewrites_cluster_addresses_and_keeps_user_values(tmp_path: Path) -> None:
    pod = local_pod("p", "pass", env={"PET_MASTER_ADDR": "job-worker-0.job.ns.svc", "PET_MASTER_PORT": "29500",
                                      "FAIRSHARE_CHECKPOINT_DIR": "/checkpoints", "LR": "0.1"})
    pod["metadata"]["namespace"] = "team-a"

    env = local_env(pod, job_port=41000, pod_ip="127.1.0.7", workdir=tmp_path, base_env={})

    assert env["PET_MASTER_ADDR"] == "127.0.0.1"
    assert env["PET_MASTER_PORT"] == "41000"
    assert env["FAIRSHARE_METRICS_ADDR"] == "127.1.0.7"
    assert env["FAIRSHARE_CHECKPOINT_DIR"] == str(tmp_path / "checkpoints" / "team-a" / "demo")
    assert env["LR"] == "0.1"


@pytest.mark.parametrize(("index", "address"), [
    (0, "127.1.0.1"), (253, "127.1.0.254"), (254, "127.1.1.1"), (254 * 256, "127.2.0.1"),
    (253 * 256 * 254 - 1, "127.253.255.254"),
])
def test_loopback_addresses_skip_the_rendezvous_and_each_24s_ends(index: int, address: str) -> None:
    assert loopback_address(index) == address
