"""The SDK and the light CLI on the real control plane with the operator: submit, read, wait, explain, delete,
the queue and shares views, and kubeconfig contexts as a user has them (a default ~/.kube/config, -n, --context)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from fairshare.client import Conflict, FairshareClient, InvalidJob, NotFound
from fairshare.localcluster.cluster import ClusterState
from tests.support.operator import OperatorProcess
from tests.support.teams import Team, job_body
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]
FINISH_IN_2S = {"localcluster.fairshare.dev/simulate-result": "Succeeded",
                "localcluster.fairshare.dev/simulate-duration": "2s"}


@pytest.fixture(scope="module")
def team(kube_api_client: client.ApiClient, operator: OperatorProcess) -> Iterator[Team]:
    """A tenant guaranteed 8 l4 GPUs and allowed to borrow none, so its second 8-GPU job waits."""
    made = Team(kube_api_client, "sdk", {"weight": 1, "guaranteed": {"l4": 8}, "borrowingLimit": {"l4": 0}})
    yield made
    made.delete()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, local_cluster: ClusterState, team: Team) -> Path:
    """A HOME whose ~/.kube/config is the cluster's kubeconfig with a second context, `team`, that defaults to the
    team's namespace (the current context stays the admin one, namespace `default`)."""
    home = tmp_path_factory.mktemp("home")
    config = yaml.safe_load(Path(local_cluster.kubeconfig).read_text())
    base = config["contexts"][0]["context"]
    config["contexts"].append({"name": "team", "context": {**base, "namespace": team.namespace}})
    (home / ".kube").mkdir()
    (home / ".kube" / "config").write_text(yaml.safe_dump(config))
    return home


def cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`fairshare ...` as a user runs it: no KUBECONFIG, the kubeconfig in ~/.kube/config."""
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"} | {"HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "fairshare.cli.main", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO_ROOT, env=env)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_submit_wait_explain_list_delete_through_a_kubeconfig_context(home: Path, team: Team) -> None:
    fs = FairshareClient(kubeconfig=str(home / ".kube" / "config"), context="team")
    assert fs.namespace == team.namespace  # the context's namespace
    # From a dict, as in YAML; the SDK fills apiVersion, kind and the namespace.
    body = job_body("short", gpus=4, workers=2, classes=("l4",), annotations=FINISH_IN_2S)
    del body["apiVersion"], body["kind"]
    created = fs.submit(body)
    assert created["metadata"]["namespace"] == team.namespace and created["metadata"]["uid"]
    running = fs.wait("short", phases={"Running", "Succeeded"}, timeout=90)
    assert running["status"]["allocation"]["gpuClass"] == "l4"
    done = fs.wait("short", timeout=90)
    assert done["status"]["phase"] == "Succeeded"
    assert fs.explain("short").splitlines()[0] == f"TrainingJob {team.namespace}/short: Succeeded"
    assert [j["metadata"]["name"] for j in fs.list()] == ["short"]
    assert f"{team.namespace}/short" in {f"{j['metadata']['namespace']}/{j['metadata']['name']}"
                                         for j in fs.list(all_namespaces=True)}
    with pytest.raises(Conflict, match="already exists"):
        fs.submit(body)
    fs.delete("short", wait=True, timeout=60)
    with pytest.raises(NotFound, match=f"no TrainingJob {team.namespace}/short"):
        fs.get("short")
    with pytest.raises(NotFound, match="no TrainingJob .* to delete"):
        fs.delete("short")


def test_a_job_the_api_would_refuse_is_refused_before_it_is_sent(home: Path, team: Team) -> None:
    fs = FairshareClient(kubeconfig=str(home / ".kube" / "config"), context="team")
    bad = job_body("bad", gpus=8)
    bad["spec"]["workers"] = {"min": 3, "max": 2}
    with pytest.raises(InvalidJob, match="workers.min .3. must be <= workers.max .2.") as err:
        fs.submit(bad)
    assert err.value.field_path == "spec.workers.min"
    with pytest.raises(NotFound):
        fs.get("bad")


def test_wait_gives_up_after_its_timeout_in_words(home: Path, team: Team) -> None:
    fs = FairshareClient(kubeconfig=str(home / ".kube" / "config"), context="team")
    fs.submit(job_body("never", gpus=4, workers=2, classes=("l4",)))  # runs forever (no simulated result)
    try:
        with pytest.raises(RuntimeError, match=f"timed out after 2 s waiting for phase Succeeded of TrainingJob "
                                               f"{team.namespace}/never"):
            fs.wait("never", phases={"Succeeded"}, timeout=2)
    finally:
        fs.delete("never", wait=True, timeout=60)


def test_queue_shares_and_explain_from_the_cli(home: Path, team: Team, kube_api_client: client.ApiClient) -> None:
    fs = FairshareClient(kubeconfig=str(home / ".kube" / "config"), context="team")
    for name in ("first", "second", "third"):
        fs.submit(job_body(name, gpus=4, workers=2, classes=("l4",)))
    try:
        def settled() -> list[dict[str, Any]] | None:
            jobs = fs.list()
            queued = [j for j in jobs if (j.get("status") or {}).get("phase") == "Queued"
                      and (j["status"].get("queue") or {}).get("reason")]
            held = ((team.tenant().get("status") or {}).get("allocated") or {}).get("l4")
            return queued if len(jobs) == 3 and len(queued) == 2 and held == 8 else None

        waiting = wait_for(settled, timeout=60, what="one job holding the 8 l4 GPUs, two waiting")
        # -n NS with the default (admin) context; the same rows with --context team (its namespace) and --tenant.
        by_namespace = cli(home, "queue", "-n", team.namespace).stdout.splitlines()
        assert by_namespace[0].split()[:4] == ["NAME", "TENANT", "POSITION", "REASON"]
        assert sorted(line.split()[0] for line in by_namespace[1:]) == sorted(j["metadata"]["name"] for j in waiting)
        assert [line.split()[1] for line in by_namespace[1:]] == [team.name, team.name]
        positions = [line.split()[2] for line in by_namespace[1:]]
        assert positions == sorted(positions) and positions == [str(j["status"]["queue"].get("position"))
                                                                for j in sorted(waiting, key=_position)]
        # NAME, TENANT, POSITION (the reason's figures and WAITING move on between runs)
        rows = [line.split()[:3] for line in by_namespace]
        assert [line.split()[:3] for line in cli(home, "queue", "--context", "team").stdout.splitlines()] == rows
        by_tenant = cli(home, "queue", "--tenant", team.name).stdout.splitlines()
        assert [line.split()[1:4] for line in by_tenant[1:]] == rows[1:]
        everywhere = cli(home, "queue", "-A", "-o", "wide").stdout
        assert all(j["status"]["queue"]["reason"] in everywhere for j in waiting)
        assert "No waiting TrainingJobs in namespace default." in cli(home, "queue").stdout

        shares = cli(home, "shares", "-n", team.namespace).stdout.splitlines()
        tenant_status = team.tenant()["status"]
        assert shares[1].split()[:6] == [team.name, "l4", "1", "8", f"{tenant_status['fairShare']['l4']:.2f}", "8"]
        assert team.name in cli(home, "shares").stdout

        # A waiting job has no pods, so no logs; the API server's 404 comes back in words.
        with pytest.raises(NotFound, match=f"TrainingJob {team.namespace}/{waiting[0]['metadata']['name']} has no "
                                           "worker pod"):
            list(fs.logs(waiting[0]["metadata"]["name"]))

        explained = cli(home, "explain", "-n", team.namespace, waiting[0]["metadata"]["name"]).stdout
        assert explained.splitlines()[0] == f"TrainingJob {team.namespace}/{waiting[0]['metadata']['name']}: Queued"
        assert cli(home, "explain", "--context", "team", waiting[0]["metadata"]["name"]).stdout == explained
    finally:
        for name in ("first", "second", "third"):
            fs.delete(name, wait=True, timeout=60)


def _position(job: dict[str, Any]) -> int:
    return int(job["status"]["queue"].get("position") or 0)


@pytest.mark.parametrize(("args", "words"), [
    pytest.param(["explain", "default/nope"], "fairshare: no TrainingJob default/nope", id="no such job"),
    pytest.param(["explain", "--context", "nope", "x"], "fairshare: context 'nope' is not in kubeconfig",
                 id="no such context"),
    pytest.param(["queue", "--tenant", "nope"], "fairshare: no Tenant nope", id="no such tenant"),
    pytest.param(["shares", "-n", "nope"], "fairshare: no Tenant owns namespace nope", id="a namespace of no tenant"),
])
def test_errors_are_sentences_not_tracebacks(home: Path, args: list[str], words: str) -> None:
    proc = cli(home, *args, check=False)
    assert proc.returncode == 1 and proc.stderr.startswith(words) and "Traceback" not in proc.stderr


def test_without_any_kubeconfig_the_cli_says_what_to_do(tmp_path: Path) -> None:
    proc = cli(tmp_path, "explain", "default/x", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("fairshare: no kubeconfig: KUBECONFIG is unset and ~/.kube/config does not exist")
