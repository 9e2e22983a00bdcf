"""A user's own training script as a TrainingJob: examples/byo-trainer/train.py, reporting with fairshare_report,
runs under torchrun on the local pod runner, and its throughput and progress reach the job's status and columns."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from fairshare.localcluster.cluster import ClusterState
from fairshare.localcluster.podrunner import RUN_LOCALLY, LocalPodRunner
from tests.conftest import REPO_ROOT, Kubectl
from tests.support.operator import OperatorProcess, operator_running
from tests.support.teams import Team, ensure_gpu_classes, job_body
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

EXAMPLE = REPO_ROOT / "examples" / "byo-trainer" / "train.py"
STEPS = 300
START = 240.0  # torch's import and the gloo group on a busy 2-core machine


@pytest.fixture(scope="module")
def operator(local_cluster: ClusterState, kube_api_client: client.ApiClient, installed_crds: list[str],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """The operator reading trainers every 2 s after a 4 s warm-up, so a short run is read several times."""
    ensure_gpu_classes(kube_api_client)
    env = {"FAIRSHARE_FEEDBACK_PERIOD_SECONDS": "2", "FAIRSHARE_FEEDBACK_WARMUP_SECONDS": "4"}
    with operator_running(local_cluster.kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log",
                          env=env) as proc:
        yield proc


@pytest.fixture(scope="module")
def runner(local_cluster: ClusterState, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPodRunner]:
    pods = LocalPodRunner(local_cluster.kubeconfig, tmp_path_factory.mktemp("runner"),
                          extra_env={"PYTHONPATH": str(REPO_ROOT / "trainer_image"), "OMP_NUM_THREADS": "1"})
    pods.start()
    yield pods
    pods.stop()


def byo_job(name: str) -> dict[str, Any]:
    """The example script as a user would submit it: torchrun runs it, with no size or rendezvous flags."""
    body = job_body(name, gpus=1, classes=("l4",))
    body["spec"]["podTemplate"] = {
        "metadata": {"annotations": {RUN_LOCALLY: "true"}},
        "spec": {"containers": [{
            "name": "trainer", "image": "registry.example.com/team/byo-trainer:0.1.0",
            "command": [sys.executable, "-m", "torch.distributed.run", str(EXAMPLE)],
            "args": ["--steps", str(STEPS), "--min-step-seconds", "0.1", "--checkpoint-every", "100"]}]}}
    return body


def columns(kubectl: Kubectl, namespace: str, name: str) -> dict[str, str]:
    """`kubectl get tj -o wide` as column -> cell; a cell is blank where the value is unset."""
    header, row = kubectl("get", "tj", name, "-n", namespace, "-o", "wide").stdout.splitlines()[:2]
    starts = [i for i, c in enumerate(header) if c != " " and (i == 0 or header[i - 1] == " ")]
    ends = [*starts[1:], max(len(row), len(header)) + 1]
    return {header[s:e].strip(): row[s:e].strip() for s, e in zip(starts, ends, strict=True)}


def test_a_users_own_script_reports_throughput_and_progress_to_the_job(
        kube_api_client: client.ApiClient, kubectl: Kubectl, operator: OperatorProcess, runner: LocalPodRunner,
        teams: list[Team], tmp_path: Path) -> None:
    team = Team(kube_api_client, "byo", {"weight": 1})
    teams.append(team)
    custom = client.CustomObjectsApi(kube_api_client)
    custom.create_namespaced_custom_object("fairshare.dev", "v1alpha1", team.namespace, "trainingjobs", byo_job("mine"))
    custom.create_namespaced_custom_object("fairshare.dev", "v1alpha1", team.namespace, "trainingjobs",
                                           job_body("nowhere", gpus=1, classes=("v100",)))

    # A job that can never run says why, by code, in the columns.
    waiting = wait_for(lambda: (team.status("nowhere").get("queue") or {}).get("reasonCode") and
                       columns(kubectl, team.namespace, "nowhere"), timeout=60,
                       what=lambda: f"nowhere waiting; status {team.status('nowhere')}")
    assert (waiting["PHASE"], waiting["POSITION"], waiting["REASON"]) == ("Queued", "0", "NoMatchingClass")
    assert "no GPU class in the cluster matches v100" in waiting["MESSAGE"]

    # The script's own metrics: throughput, then a progress with a measured rate and an ETA.
    progress = wait_for(lambda: (p := team.status("mine").get("progress") or {}).get("remaining") and p,
                        timeout=START, what=lambda: f"progress with an ETA; status {team.status('mine')}")
    assert progress["totalSteps"] == STEPS and 0 < progress["step"] < STEPS, progress
    assert progress["percent"] == round(100 * progress["step"] / STEPS, 1) and progress["stepsPerSecond"] > 0
    status = team.status("mine")
    assert status["samplesPerSecond"] > 0 and status["phase"] == "Running", status
    shown = columns(kubectl, team.namespace, "mine")
    assert float(shown["PROGRESS"]) > 0 and shown["ETA"], shown

    wait_for(lambda: team.status("mine").get("phase") == "Succeeded" or None, timeout=STEPS * 0.1 * 10 + 60,
             what=lambda: f"mine Succeeded; status {team.status('mine')}")
    assert team.status("mine")["progress"]["step"] <= STEPS
