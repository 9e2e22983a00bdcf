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
from fairshare.localcluster.podrunner import METRICS_ENDPOINT, RUN_LOCALLY, LocalPodRunner, local_env
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


def test_metrics_port_is_rewritten_and_published(kube_api_client: client.ApiClient, namespace: str,
                                                 runner: LocalPodRunner) -> None:
    script = ("import http.server, os\n"
              "class H(http.server.BaseHTTPRequestHandler):\n"
              "    def do_GET(self):\n"
              "        self.send_response(200); self.end_headers()\n"
              "        self.wfile.write(os.environ['MASTER_ADDR'].encode())\n"
              "http.server.HTTPServer(('127.0.0.1', int(os.environ['FAIRSHARE_METRICS_PORT'])), H).serve_forever()\n")
    core = client.CoreV1Api(kube_api_client)
    core.create_namespaced_pod(namespace, local_pod("served", script, metrics=True, env={
        "FAIRSHARE_METRICS_PORT": "9400", "MASTER_ADDR": "demo-worker-0.demo.ns.svc", "MASTER_PORT": "29500"}))

    pod = wait_for(lambda: (p := read_pod(core, "served", namespace)) and (p.metadata.annotations or {}).get(
        METRICS_ENDPOINT) and p.status.phase == "Running" and p, timeout=60, what="metrics endpoint annotation")
    endpoint = pod.metadata.annotations[METRICS_ENDPOINT]

    body = wait_for(lambda: _fetch(f"http://{endpoint}/metrics"), timeout=30, what=f"http://{endpoint}")
    assert body == "127.0.0.1", "the cluster DNS name of rank 0 is rewritten to loopback"


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

    env = local_env(pod, job_port=41000, metrics_port=42000, workdir=tmp_path, base_env={})

    assert env["PET_MASTER_ADDR"] == "127.0.0.1"
    assert env["PET_MASTER_PORT"] == "41000"
    assert env["FAIRSHARE_METRICS_PORT"] == "42000"
    assert env["FAIRSHARE_CHECKPOINT_DIR"] == str(tmp_path / "checkpoints" / "team-a" / "demo")
    assert env["LR"] == "0.1"
