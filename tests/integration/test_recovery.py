"""Recovery on the real control plane: gangs that never start, a worker pod deleted by hand, a node deleted under a
running gang, and an operator stopped in the middle of each kind of release (the state forged while it is down).

The operator here runs with short graces (start 5 s, NotReady 10 s, back-off 2 s to 4 s) so that each story takes
seconds. Each test records what it measured in REPORT, printed at the end as one `recovery report:` line (run with -s).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client

from fairshare.localcluster.cluster import ClusterState
from fairshare.localcluster.shape import DEFAULT_POOLS, node_manifest
from tests.conftest import Kubectl
from tests.support.invariants import InvariantWatch, observe_cluster, unheld_pods
from tests.support.operator import OperatorProcess, operator_running
from tests.support.teams import GROUP, LABEL_JOB, VERSION, Team, cycles, describe, ensure_gpu_classes, metric
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

LIFECYCLE_ENV = {"FAIRSHARE_POD_START_GRACE_SECONDS": "5", "FAIRSHARE_NODE_LOST_GRACE_SECONDS": "10",
                 "FAIRSHARE_RESTART_BACKOFF_SECONDS": "2", "FAIRSHARE_RESTART_BACKOFF_MAX_SECONDS": "4"}
REPORT: dict[str, Any] = {}


@pytest.fixture(scope="module")
def recovering(local_cluster: ClusterState, kube_api_client: client.ApiClient, installed_crds: list[str],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """The operator with short graces, past its first cycle; the module's measurements printed at the end."""
    ensure_gpu_classes(kube_api_client)
    with operator_running(local_cluster.kubeconfig, tmp_path_factory.mktemp("recovery") / "operator.log",
                          env=LIFECYCLE_ENV) as proc:
        yield proc
    print("recovery report: " + json.dumps(REPORT, sort_keys=True))


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def live_pods(team: Team, job: str) -> list[client.V1Pod]:
    return [p for p in team.pods() if p.metadata.labels.get(LABEL_JOB) == job and not p.metadata.deletion_timestamp
            and p.status.phase in ("Pending", "Running")]


def running_gang(team: Team, job: str, workers: int) -> dict[str, Any] | None:
    """The job's status once it is Running with `workers` live pods of its current generation."""
    status = team.status(job)
    generation = str((status.get("allocation") or {}).get("generation"))
    pods = [p for p in live_pods(team, job) if p.metadata.labels.get("fairshare.dev/generation") == generation]
    return status if status.get("phase") == "Running" and len(pods) == workers else None


def events(api: client.ApiClient, team: Team, job: str) -> list[tuple[str, str]]:
    return [(e.reason, e.message) for e in client.CoreV1Api(api).list_namespaced_event(team.namespace).items
            if e.involved_object.name == job]


def explain(kubeconfig: str, team: Team, job: str) -> str:
    return subprocess.run([sys.executable, "-m", "fairshare.cli.main", "explain", f"{team.namespace}/{job}",
                           "--kubeconfig", kubeconfig], capture_output=True, text=True, timeout=60, check=True).stdout


def timed(probe: Callable[[], Any], *, timeout: float, what: str | Callable[[], str]) -> tuple[Any, float]:
    start = time.monotonic()
    value = wait_for(probe, timeout=timeout, what=what, interval=0.1)
    return value, round(time.monotonic() - start, 2)


# --- gangs that never start ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "reason", "said"), [
    pytest.param({"checkpoint": {"claimName": "nlp-checkpoints"}}, "PVCNotFound", "PVC nlp-checkpoints not found",
                 id="a missing PVC (kube-scheduler's words)"),
    pytest.param({"annotations": {
        "localcluster.fairshare.dev/simulate-waiting": "ImagePullBackOff",
        "localcluster.fairshare.dev/simulate-message": 'Back-off pulling image "registry.invalid/x:0"'}},
                 "ImagePullBackOff", 'ImagePullBackOff: Back-off pulling image "registry.invalid/x:0"',
                 id="an image that cannot be pulled (kwok's simulated kubelet)"),
])
def test_a_gang_that_never_starts_fails_after_its_backoff_limit_with_the_reason_shown(
        kube_api_client: client.ApiClient, local_cluster: ClusterState, kubectl: Kubectl,
        recovering: OperatorProcess, teams: list[Team], spec: dict[str, Any], reason: str, said: str) -> None:
    team = Team(kube_api_client, "nostart", {"guaranteed": {"l4": 8}})
    teams.append(team)
    team.submit("stuck", gpus=4, workers=2, classes=("l4",), runPolicy={"backoffLimit": 1}, **spec)

    backing_off, first = timed(lambda: (s := team.status("stuck")).get("restarts") == 1 and s, timeout=90,
                               what=lambda: describe(team))
    assert backing_off["lastFailure"]["reason"] == reason and said in backing_off["lastFailure"]["message"]
    failed, second = timed(lambda: (s := team.status("stuck")).get("phase") == "Failed" and s, timeout=90,
                           what=lambda: describe(team))
    REPORT[f"never starts ({reason}): submitted to restart / restart to Failed (s)"] = [first, second]

    finished = next(c for c in failed["conditions"] if c["type"] == "Finished")
    assert finished["reason"] == "BackoffLimitExceeded" and said in finished["message"], finished
    assert (failed["restarts"], failed["lastFailure"]["reason"]) == (1, reason)
    assert not (failed.get("cost") or {}).get("credits"), f"never ran, never charged: {failed.get('cost')}"
    told = wait_for(lambda: (e := events(kube_api_client, team, "stuck")) and any(
        r == "BackoffLimitExceeded" and said in m for r, m in e) and e, timeout=30,
        what="the BackoffLimitExceeded Event (Events are sent in the background)")
    assert any(r == "Restarting" and said in m for r, m in told), told
    assert f"last failure:     {reason}: " in explain(local_cluster.kubeconfig, team, "stuck")
    assert reason in kubectl("get", "tj", "-n", team.namespace).stdout, "the Failure column"
    wait_for(lambda: not live_pods(team, "stuck") or None, timeout=30, what="no worker left")


# --- a worker pod deleted by hand ---------------------------------------------------------------------------------

def test_a_worker_pod_deleted_by_hand_restarts_the_gang(kube_api_client: client.ApiClient,
                                                        recovering: OperatorProcess, teams: list[Team]) -> None:
    team = Team(kube_api_client, "lostpod", {"guaranteed": {"l4": 8}})
    teams.append(team)
    team.submit("gang", gpus=4, workers=2, classes=("l4",))
    wait_for(lambda: running_gang(team, "gang", 2), timeout=90, what=lambda: describe(team))

    client.CoreV1Api(kube_api_client).delete_namespaced_pod("gang-worker-1", team.namespace, grace_period_seconds=0)
    start = time.monotonic()
    short: list[float] = []  # when the job was seen Running with fewer live pods than workers

    def recovered() -> dict[str, Any] | None:
        status = team.status("gang")
        if status.get("phase") == "Running" and len(live_pods(team, "gang")) < 2:
            short.append(time.monotonic() - start)
        return status if status.get("restarts") == 1 and running_gang(team, "gang", 2) else None

    status = wait_for(recovered, timeout=90, interval=0.05, what=lambda: describe(team))
    REPORT["pod deleted: Running short of a worker for at most (s)"] = round(max(short, default=0.0), 2)
    REPORT["pod deleted: running again after (s)"] = round(time.monotonic() - start, 2)
    assert status["lastFailure"]["reason"] == "WorkerLost" and status["lastFailure"]["worker"] == "gang-worker-1"
    assert max(short, default=0.0) < 10, "restarted within a cycle or two"


# --- a node deleted under a running gang --------------------------------------------------------------------------

def test_a_node_deleted_under_a_running_gang_requeues_it_and_it_runs_elsewhere(
        kube_api_client: client.ApiClient, recovering: OperatorProcess, teams: list[Team]) -> None:
    team = Team(kube_api_client, "lostnode", {"guaranteed": {"a100": 16}})
    teams.append(team)
    team.submit("gang", gpus=8, workers=2, classes=("a100",))
    nodes = wait_for(lambda: running_gang(team, "gang", 2), timeout=90,
                     what=lambda: describe(team))["allocation"]["nodes"]
    lost = nodes[1]
    core, custom = client.CoreV1Api(kube_api_client), client.CustomObjectsApi(kube_api_client)
    losses_before = metric(recovering.metrics_port, "fairshare_preemptions_total", cause="node-loss") or 0.0
    watch = InvariantWatch(partial_grace_seconds=30)
    capacities: list[int] = []
    seen: dict[str, float] = {}
    core.delete_node(lost)
    start = time.monotonic()
    try:
        def elsewhere() -> dict[str, Any] | None:
            watch.observe(observe_cluster(kube_api_client))
            status = team.status("gang")
            capacities.append(int(((custom.get_cluster_custom_object(GROUP, VERSION, "gpuclasses", "a100")
                                    .get("status") or {}).get("capacity")) or 0))
            if status.get("phase") != "Running":
                seen.setdefault("stopped", time.monotonic() - start)
            running = running_gang(team, "gang", 2)
            return running if running and lost not in running["allocation"]["nodes"] else None

        status = wait_for(elsewhere, timeout=120, what=lambda: describe(team))
        settled = (cycles(recovering.metrics_port) or 0) + 5

        def five_more_cycles() -> bool:
            watch.observe(observe_cluster(kube_api_client))
            return (cycles(recovering.metrics_port) or 0) >= settled

        wait_for(five_more_cycles, timeout=60, what="five more cycles, the cluster read at each step")
    finally:
        manifest = node_manifest(next(p for p in DEFAULT_POOLS if p.gpu_class == "a100"), lost)
        core.create_node(manifest)
        wait_for(lambda: any(c.type == "Ready" and c.status == "True"
                             for c in (core.read_node(lost).status.conditions or [])) or None,
                 timeout=60, what=f"node {lost} back and Ready")
    REPORT["node deleted: stopped after / running elsewhere after (s)"] = [
        round(seen.get("stopped", -1), 2), round(time.monotonic() - start, 2)]
    REPORT["node deleted: invariant observations"] = watch.observations

    assert seen.get("stopped", 99) < 10, "requeued within a cycle or two of the node's deletion"
    assert watch.violations == [], [str(v) for v in watch.violations]
    assert (status.get("restarts") or 0) == 0 and status["lastFailure"]["reason"] == "NodeLost"
    assert lost in status["lastFailure"]["message"]
    assert any(r == "NodeLost" and lost in m for r, m in events(kube_api_client, team, "gang"))
    assert 56 in capacities, "the class lost the node's 8 GPUs from its capacity"
    assert (metric(recovering.metrics_port, "fairshare_preemptions_total", cause="node-loss") or 0) > losses_before


# --- an operator stopped in the middle of a release ---------------------------------------------------------------

def _patch_status(api: client.ApiClient, team: Team, job: str, status: dict[str, Any]) -> None:
    client.CustomObjectsApi(api).patch_namespaced_custom_object_status(GROUP, VERSION, team.namespace,
                                                                       "trainingjobs", job, {"status": status})


def _condition(type_: str, status: bool, reason: str) -> dict[str, Any]:
    return {"type": type_, "status": "True" if status else "False", "reason": reason,
            "message": "forged: the operator stopped right after this write", "lastTransitionTime": now_rfc3339()}


def _free_nodes(api: client.ApiClient, prefix: str, count: int) -> list[str]:
    busy = {p.spec.node_name for p in client.CoreV1Api(api).list_pod_for_all_namespaces().items
            if p.spec.node_name and p.status.phase in ("Pending", "Running")}
    free = [n.metadata.name for n in client.CoreV1Api(api).list_node().items
            if n.metadata.name.startswith(prefix) and n.metadata.name not in busy]
    assert len(free) >= count, f"need {count} free {prefix} nodes, have {free}"
    return sorted(free)[:count]


def forge(transition: str, api: client.ApiClient, team: Team, status: dict[str, Any]) -> int:
    """Write the status a release writes first (the operator is down, so its pod deletions and creations never come);
    returns how many workers the forged status holds."""
    alloc = status["allocation"]
    if transition == "preempt":
        _patch_status(api, team, "gang", {"phase": "Preempted", "conditions": [
            _condition("Admitted", False, "Preempted"), _condition("Preempted", True, "Preempted"),
            _condition("Running", False, "Preempted")]})
        return 2
    if transition == "restart":
        _patch_status(api, team, "gang", {"phase": "Queued", "restarts": 1, "allocation": None,
                                          "queue": {"reason": "forged restart"},
                                          "lastFailure": {"reason": "Error", "message": "forged", "at": now_rfc3339(),
                                                          "worker": "gang-worker-1", "retryAfter": now_rfc3339()},
                                          "conditions": [_condition("Admitted", False, "BackOff"),
                                                         _condition("Running", False, "Error")]})
        return 2
    if transition == "resize":  # a shrink to one worker, as if spec.workers had just been lowered
        team.custom.patch_namespaced_custom_object(GROUP, VERSION, team.namespace, "trainingjobs", "gang",
                                                   {"spec": {"workers": {"min": 1, "max": 1}}})
        _patch_status(api, team, "gang", {"phase": "Admitted", "allocation": {
            **alloc, "workers": 1, "gpus": 8, "nodes": alloc["nodes"][:1], "generation": alloc["generation"] + 1,
            "admittedAt": now_rfc3339()}, "conditions": [_condition("Running", False, "Resizing")]})
        return 1
    assert transition == "migrate"
    _patch_status(api, team, "gang", {"phase": "Admitted", "allocation": {
        **alloc, "gpuClass": "h100", "nodes": _free_nodes(api, "h100-", 2), "generation": alloc["generation"] + 1,
        "admittedAt": now_rfc3339()}, "conditions": [_condition("Running", False, "Moving")]})
    return 2


@pytest.mark.parametrize("transition", ["preempt", "restart", "resize", "migrate"])
def test_a_release_cut_short_by_a_crash_converges_at_the_restarted_operators_first_cycle(
        kube_api_client: client.ApiClient, recovering: OperatorProcess, teams: list[Team], transition: str) -> None:
    team = Team(kube_api_client, f"crash-{transition}", {"guaranteed": {"a100": 16, "h100": 16}})
    teams.append(team)
    team.submit("gang", gpus=8, workers=2, classes=("a100", "h100") if transition == "migrate" else ("a100",))
    status = wait_for(lambda: running_gang(team, "gang", 2), timeout=90, what=lambda: describe(team))

    recovering.kill()
    try:
        workers = forge(transition, kube_api_client, team, status)
        assert len(live_pods(team, "gang")) == 2, "the crash state: status moved on, the old pods still live"
        start = time.monotonic()
        recovering.start()
        _, first_cycle = timed(lambda: cycles(recovering.metrics_port), timeout=90, what="the first cycle")

        def converged() -> bool:
            obs = observe_cluster(kube_api_client)
            return not [p for p in unheld_pods(obs) if p.startswith(f"{team.namespace}/")]

        wait_for(converged, timeout=60, interval=0.1, what=lambda: f"no pod the status does not hold; {describe(team)}")
        converged_after = round(time.monotonic() - start, 2)
        wait_for(lambda: running_gang(team, "gang", workers), timeout=90, what=lambda: describe(team))
        REPORT[f"crash after the {transition} write: first cycle / converged / running (s)"] = [
            first_cycle, converged_after, round(time.monotonic() - start, 2)]
        cycle_count = cycles(recovering.metrics_port) or 0
        assert converged_after <= first_cycle + 10, "at the restarted operator's first cycles, well inside a resync"
        assert (metric(recovering.metrics_port, "fairshare_preemptions_total") or 0) == 0, "nobody preempted"
        assert cycle_count >= 1
    finally:
        if not recovering.alive():
            recovering.start()
        wait_for(lambda: cycles(recovering.metrics_port), timeout=90, what="the operator back")


def test_a_crash_mid_preemption_preempts_no_one_else(kube_api_client: client.ApiClient,
                                                     recovering: OperatorProcess, teams: list[Team]) -> None:
    """A borrower fills h100; the owner reclaims its guarantee. The operator stops right after the victim's status
    write: the victim's pod still runs and the owner's job is not admitted. Restarted, the operator must finish the
    preemption it began, not preempt another borrower for the same room."""
    borrower = Team(kube_api_client, "midb", {"weight": 1})
    owner = Team(kube_api_client, "mido", {"guaranteed": {"h100": 8}})
    teams += [borrower, owner]
    for i in range(4):
        borrower.submit(f"b-{i}", gpus=8, classes=("h100",))
    wait_for(lambda: all(running_gang(borrower, f"b-{i}", 1) for i in range(4)) or None, timeout=90,
             what=lambda: describe(borrower))

    recovering.kill()
    try:
        owner.submit("reclaim", gpus=8, classes=("h100",))
        _patch_status(kube_api_client, borrower, "b-0", {"phase": "Preempted", "conditions": [
            _condition("Admitted", False, "Preempted"), _condition("Preempted", True, "Preempted"),
            _condition("Running", False, "Preempted")]})
        start = time.monotonic()
        recovering.start()
        wait_for(lambda: running_gang(owner, "reclaim", 1), timeout=90,
                 what=lambda: f"{describe(owner)}; {describe(borrower)}")
        REPORT["crash mid-preemption: the owner running after (s)"] = round(time.monotonic() - start, 2)
        more = wait_for(lambda: (n := cycles(recovering.metrics_port)) and n >= 5 and n, timeout=60,
                        what="a few more cycles")
        assert more >= 5
        phases = borrower.phases()
        assert sorted(phases.values()) == ["Queued", "Running", "Running", "Running"], phases
        assert phases["b-0"] == "Queued", "the forged victim, drained and requeued"
        assert (metric(recovering.metrics_port, "fairshare_preemptions_total") or 0) == 0, "no second victim"
    finally:
        if not recovering.alive():
            recovering.start()
        wait_for(lambda: cycles(recovering.metrics_port), timeout=90, what="the operator back")


def test_a_pod_the_api_server_refuses_fails_its_job_with_the_servers_words(
        kube_api_client: client.ApiClient, recovering: OperatorProcess, teams: list[Team]) -> None:
    """Annotations of 5 x 60 KB pass the CRD but not the API server's 256 KiB limit on a pod's annotations."""
    team = Team(kube_api_client, "toolarge", {"guaranteed": {"l4": 8}})
    teams.append(team)
    team.submit("huge", gpus=4, classes=("l4",), annotations={f"note-{i}": "x" * 60_000 for i in range(5)})
    failed = wait_for(lambda: (s := team.status("huge")).get("phase") == "Failed" and s, timeout=60,
                      what=lambda: describe(team))
    finished = next(c for c in failed["conditions"] if c["type"] == "Finished")
    assert finished["reason"] == "PodRejected" and "Too long" in finished["message"], finished
    assert team.pods() == [], "no pod was ever created"
    assert not (failed.get("cost") or {}).get("credits"), "never ran, never charged"
    wait_for(lambda: (team.tenant().get("status") or {}).get("allocatedGPUs") == 0 or None, timeout=30,
             what=lambda: f"its GPUs released: {team.tenant().get('status')}")


def test_a_cordoned_node_keeps_its_gang_and_receives_no_new_one(
        kube_api_client: client.ApiClient, recovering: OperatorProcess, teams: list[Team]) -> None:
    team = Team(kube_api_client, "cordon", {"guaranteed": {"l4": 32}})
    teams.append(team)
    team.submit("old", gpus=4, workers=2, classes=("l4",))
    before = wait_for(lambda: running_gang(team, "old", 2), timeout=90, what=lambda: describe(team))
    core, custom = client.CoreV1Api(kube_api_client), client.CustomObjectsApi(kube_api_client)
    l4 = sorted(n.metadata.name for n in core.list_node().items if n.metadata.name.startswith("l4-"))
    free = [n for n in l4 if n not in before["allocation"]["nodes"]]
    cordoned = [*before["allocation"]["nodes"], *free[2:]]  # every l4 node but two idle ones
    for name in cordoned:
        core.patch_node(name, {"spec": {"unschedulable": True}})
    try:
        team.submit("wide", gpus=4, workers=3, classes=("l4",))
        team.submit("narrow", gpus=4, workers=2, classes=("l4",))
        narrow = wait_for(lambda: running_gang(team, "narrow", 2), timeout=90, what=lambda: describe(team))
        assert sorted(narrow["allocation"]["nodes"]) == sorted(free[:2]), "only uncordoned nodes take new gangs"
        wait_for(lambda: (cycles(recovering.metrics_port) or 0) >= 3 or None, timeout=30, what="cycles")
        assert team.phases()["wide"] == "Queued", "3 workers do not fit the two uncordoned nodes"
        after = running_gang(team, "old", 2)
        assert after is not None and after["allocation"] == before["allocation"], "the gang on cordoned nodes runs on"
        capacity = (custom.get_cluster_custom_object(GROUP, VERSION, "gpuclasses", "l4").get("status") or {})
        assert capacity.get("capacity") == 16, f"two uncordoned nodes, plus what the old gang holds: {capacity}"
    finally:
        for name in cordoned:
            core.patch_node(name, {"spec": {"unschedulable": None}})

