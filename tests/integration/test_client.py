"""The SDK and the light CLI on the real control plane with the operator: submit, read, wait, explain, delete,
the queue and shares views, and kubeconfig contexts as a user has them (a default ~/.kube/config, -n, --context)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from fairshare.client import Conflict, FairshareClient, InvalidJob, NotFound, jobtable, paths, views
from fairshare.localcluster.cluster import ClusterState
from fairshare.localcluster.podrunner import RUN_LOCALLY, LocalPodRunner
from tests.support.operator import OperatorProcess
from tests.support.teams import Team, job_body
from tests.support.wait import wait_for
from tests.unit.chart.chart import render

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
        fs.submit(job_body(name, gpus=4, workers=2, classes=("l4",), **({"maxPricePerGPUHour": 50.0}
                                                                        if name == "third" else {})))
    try:
        def settled() -> list[dict[str, Any]] | None:
            jobs = fs.list()
            queued = [j for j in jobs if (j.get("status") or {}).get("phase") == "Queued"
                      and (j["status"].get("queue") or {}).get("reason")]
            held = ((team.tenant().get("status") or {}).get("allocated") or {}).get("l4")
            return queued if len(jobs) == 3 and len(queued) == 2 and held == 8 else None

        waiting = wait_for(settled, timeout=60, what="one job holding the 8 l4 GPUs, two waiting")
        # What the queue view reads: the API server's Table of printer columns, only jobs not past Queued (the
        # running one is left out by the server), saying what the objects say.
        now = views.now_utc()
        columns, cells = fs.api.table(paths.training_jobs(team.namespace), {"fieldSelector": jobtable.WAITING_SELECTOR})
        assert len(cells) == 2
        from_table = views.in_queue_order(jobtable.rows_from_table(columns, cells, now))
        assert from_table == views.pending_rows(fs.list(), now) and len(from_table) == 2
        assert {r.ask for r in from_table} <= {"2x4 l4", "2x4 l4 bid 50"}
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


@pytest.fixture(scope="module")
def author_kubeconfig(tmp_path_factory: pytest.TempPathFactory, local_cluster: ClusterState,
                      kube_api_client: client.ApiClient, team: Team) -> Iterator[Path]:
    """A kubeconfig for a job author with the chart's roles alone: a ServiceAccount of the team's namespace bound
    there to the chart's editor role, and cluster-wide to its catalog reader role (as the chart binds every
    authenticated user by default). Copies of the rendered roles, renamed, without their aggregation labels."""
    tmp = tmp_path_factory.mktemp("author")
    rendered = {doc["metadata"]["name"]: doc for doc in render(tmp) if doc["kind"] == "ClusterRole"}
    rbac, core = client.RbacAuthorizationV1Api(kube_api_client), client.CoreV1Api(kube_api_client)
    suffix = team.name
    roles = {}
    for role in ("fairshare-trainingjob-editor", "fairshare-catalog-reader"):
        roles[role] = f"{role}-{suffix}"
        rbac.create_cluster_role({"metadata": {"name": roles[role]}, "rules": rendered[role]["rules"]})
    core.create_namespaced_service_account(team.namespace, {"metadata": {"name": "author"}})
    subject = {"kind": "ServiceAccount", "name": "author", "namespace": team.namespace}
    rbac.create_namespaced_role_binding(team.namespace, {
        "metadata": {"name": "author-editor"}, "subjects": [subject],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": roles["fairshare-trainingjob-editor"]}})
    rbac.create_cluster_role_binding({
        "metadata": {"name": f"author-catalog-{suffix}"}, "subjects": [subject],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": roles["fairshare-catalog-reader"]}})
    token = core.create_namespaced_service_account_token("author", team.namespace, {
        "spec": {"expirationSeconds": 3600}}).status.token
    admin = yaml.safe_load(Path(local_cluster.kubeconfig).read_text())
    config = {"apiVersion": "v1", "kind": "Config", "clusters": admin["clusters"], "current-context": "author",
              "users": [{"name": "author", "user": {"token": token}}],
              "contexts": [{"name": "author", "context": {"cluster": admin["clusters"][0]["name"], "user": "author",
                                                          "namespace": team.namespace}}]}
    path = tmp / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    yield path
    rbac.delete_cluster_role_binding(f"author-catalog-{suffix}")
    for name in roles.values():
        rbac.delete_cluster_role(name)


def as_author(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    proc = subprocess.run([sys.executable, "-m", "fairshare.cli.main", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO_ROOT, env=env)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_a_job_author_with_the_editor_role_alone_submits_and_sees_queue_shares_and_explain(
        author_kubeconfig: Path, team: Team) -> None:
    """The README's promise: with the chart's editor role (and the catalog reader every user gets), a job author
    submits, reads the queue of their namespace and tenant, the shares and why a job waits; not other namespaces."""
    fs = FairshareClient(kubeconfig=str(author_kubeconfig))
    assert fs.namespace == team.namespace
    for name in ("holds", "waits"):
        fs.submit(job_body(name, gpus=4, workers=2, classes=("l4",)))
    try:
        def settled() -> str | None:
            phases = {j["metadata"]["name"]: (j.get("status") or {}).get("phase") for j in fs.list()}
            queued = [n for n, p in phases.items() if p == "Queued"]
            return queued[0] if len(queued) == 1 and set(phases.values()) - {"Queued"} <= {"Admitted", "Running"} \
                and len(phases) == 2 else None

        waiting = wait_for(settled, timeout=60, what="one job holding the 8 l4 GPUs, one waiting")
        queue = as_author(author_kubeconfig, "queue").stdout.splitlines()
        assert queue[0].split() == ["NAME", "TENANT", "POSITION", "REASON", "ASK", "WAITING"]
        assert [line.split()[:3] for line in queue[1:]] == [[waiting, team.name, "0"]]
        by_tenant = as_author(author_kubeconfig, "queue", "--tenant", team.name).stdout.splitlines()
        assert [line.split()[:4] for line in by_tenant[1:]] == [[team.namespace, waiting, team.name, "0"]]
        shares = as_author(author_kubeconfig, "shares", "--tenant", team.name).stdout.splitlines()
        assert shares[1].split()[:2] == [team.name, "l4"] and shares[1].split()[5] == "8"
        explained = as_author(author_kubeconfig, "explain", waiting).stdout
        assert explained.splitlines()[0] == f"TrainingJob {team.namespace}/{waiting}: Queued"
        # Every namespace is not theirs to list: refused in words.
        refused = as_author(author_kubeconfig, "queue", "-A", check=False)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert refused.stderr.startswith("fairshare: ") and "forbidden" in refused.stderr
    finally:
        for name in ("holds", "waits"):
            fs.delete(name, wait=True, timeout=60)


@pytest.fixture(scope="module")
def runner(local_cluster: ClusterState, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPodRunner]:
    pods = LocalPodRunner(local_cluster.kubeconfig, tmp_path_factory.mktemp("runner"))
    pods.start()
    yield pods
    pods.stop()


# Prints a line, waits for the file the test writes once it follows the log, then prints three more and exits.
PRINTER = """
import pathlib, sys, time
print("started", flush=True)
print("waiting", flush=True)
go = pathlib.Path(sys.argv[1])
for _ in range(1200):
    if go.exists():
        break
    time.sleep(0.1)
for i in range(3):
    print(f"step {i}", flush=True)
print("done", flush=True)
"""


def test_logs_streams_a_worker_pods_lines_and_follows_new_ones(home: Path, team: Team, runner: LocalPodRunner,
                                                               tmp_path: Path) -> None:
    """The pod runs locally (the local pod runner); the API server's pods/log reaches its output through kwok."""
    fs = FairshareClient(kubeconfig=str(home / ".kube" / "config"), context="team")
    go = tmp_path / "go"
    body = job_body("talker", gpus=1, classes=("l4",))
    body["spec"]["podTemplate"] = {
        "metadata": {"annotations": {RUN_LOCALLY: "true"}},
        "spec": {"containers": [{"name": "trainer", "image": "registry.example.com/team/talker:1",
                                 "command": [sys.executable, "-c", PRINTER, str(go)]}]}}
    fs.submit(body)
    try:
        fs.wait("talker", phases={"Running"}, timeout=120)
        assert wait_for(lambda: list(fs.logs("talker")) == ["started", "waiting"] or None, timeout=60,
                        what="the worker's first lines in its log")
        assert list(fs.logs("talker", tail_lines=1)) == ["waiting"]
        followed: list[str] = []

        def follow() -> None:
            for line in fs.logs("talker", follow=True):
                followed.append(line)
                if line == "done":
                    return

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        wait_for(lambda: followed == ["started", "waiting"] or None, timeout=60, what="the followed log's lines")
        go.touch()  # the lines after this one are written while the log is followed
        reader.join(timeout=60)
        assert followed == ["started", "waiting", "step 0", "step 1", "step 2", "done"]
        # Its cost, charged when it released its GPUs, is the Cost column of `kubectl get tj -o wide`.
        assert fs.wait("talker", timeout=120)["status"]["phase"] == "Succeeded"
        credits = wait_for(lambda: (fs.get("talker")["status"].get("cost") or {}).get("credits") or None,
                           timeout=60, what="the finished job's cost")
        columns, cells = fs.api.table(paths.training_jobs(team.namespace), {"fieldSelector": "metadata.name=talker"})
        assert credits > 0 and cells[0][columns.index("Cost")] == credits
    finally:
        go.touch()
        fs.delete("talker", wait=True, timeout=60)
