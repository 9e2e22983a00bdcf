"""The operator on the real control plane: fair shares, borrowing and reclaim, restarts, terminal jobs."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from fairshare.localcluster.cluster import ClusterState
from tests.support.operator import OperatorProcess, operator_running
from tests.support.teams import GROUP, VERSION, Team, ensure_gpu_classes
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration



@pytest.fixture(scope="module")
def gpu_classes(kube_api_client: client.ApiClient, installed_crds: list[str]) -> dict[str, float]:
    return ensure_gpu_classes(kube_api_client)


def _settled(team_list: list[Team], expected_jobs: int) -> bool:
    phases = [p for t in team_list for p in t.phases().values()]
    return len(phases) == expected_jobs and all(p in ("Queued", "Running") for p in phases)


def test_three_tenants_on_two_classes_get_weighted_shares(kube_api_client: client.ApiClient,
                                                          local_cluster: ClusterState, gpu_classes: dict[str, float],
                                                          teams: list[Team], tmp_path: Path) -> None:
    """96 GPUs of a100+h100, weights 1:1:2, every tenant wants far more: 24 / 24 / 48 GPUs, one 8-GPU job of slack."""
    teams += [Team(kube_api_client, "w1a", {"weight": 1}), Team(kube_api_client, "w1b", {"weight": 1}),
              Team(kube_api_client, "w2", {"weight": 2})]
    for team in teams:
        for i in range(10):
            team.submit(f"job-{i}", gpus=8, classes=("a100", "h100"))
    # The demand arrives together: the operator starts once every job exists. (Shares of a cluster already full
    # change only as jobs finish, or by a guarantee's reclaim: in-share work is not preempted between tenants.)
    with operator_running(local_cluster.kubeconfig, tmp_path / "operator.log"):
        wait_for(lambda: _settled(teams, 30) and sum(t.gpus_held() for t in teams) == 96 or None, timeout=120,
                 what="all 96 a100+h100 GPUs allocated and every job Queued or Running")

    held = [t.gpus_held() for t in teams]
    assert abs(held[0] - 24) <= 8 and abs(held[1] - 24) <= 8 and abs(held[2] - 48) <= 8, held
    waiting = [j for t in teams for j in t.jobs().values() if j["status"]["phase"] == "Queued"]
    assert waiting and all(j["status"]["queue"]["reason"] for j in waiting), "every waiting job says why"

    # `fairshare explain` tells the same story in words, from the real objects.
    first = waiting[0]["metadata"]
    explained = subprocess.run(
        [sys.executable, "-m", "fairshare.cli.main", "explain", f"{first['namespace']}/{first['name']}",
         "--kubeconfig", local_cluster.kubeconfig], capture_output=True, text=True, timeout=60, check=True).stdout
    assert explained.splitlines()[0] == f"TrainingJob {first['namespace']}/{first['name']}: Queued"
    assert waiting[0]["status"]["queue"]["reason"] in explained and "tenant share" in explained


def test_idle_share_is_borrowed_then_reclaimed_by_preemption(kube_api_client: client.ApiClient,
                                                             operator: OperatorProcess, teams: list[Team]) -> None:
    owner = Team(kube_api_client, "owner", {"guaranteed": {"h100": 32}})
    borrower = Team(kube_api_client, "borrower", {"borrowingLimit": {"h100": 32}})
    teams += [owner, borrower]
    for i in range(4):
        borrower.submit(f"borrow-{i}", gpus=8, classes=("h100",))
    wait_for(lambda: borrower.gpus_held() == 32 or None, timeout=90, what="borrower holds all 32 idle h100 GPUs")

    owner.submit("reclaim-0", gpus=8, classes=("h100",))
    owner.submit("reclaim-1", gpus=8, classes=("h100",))

    wait_for(lambda: list(owner.phases().values()) == ["Running", "Running"] or None, timeout=90,
             what=lambda: f"the owner's two jobs running on its guarantee; {_describe(owner)}; {_describe(borrower)}")
    assert borrower.gpus_held() == 16
    # A preempted job requeues once drained: its Preempted condition then reads False / Requeued.
    preempted = [j for j in borrower.jobs().values()
                 if any(c["type"] == "Preempted" and c["reason"] in ("Preempted", "Requeued")
                        for c in j["status"].get("conditions", []))]
    assert len(preempted) == 2
    assert all(j["status"]["phase"] in ("Preempted", "Queued") for j in preempted)
    events = client.CoreV1Api(kube_api_client).list_namespaced_event(borrower.namespace).items
    reasons = [e.message for e in events if e.reason == "Preempted" and e.type == "Warning"]
    assert len(reasons) == 2
    assert all(owner.name in message and "guarantee" in message for message in reasons), reasons


def test_operator_killed_mid_run_double_admits_nothing_and_loses_no_job(
        kube_api_client: client.ApiClient, operator: OperatorProcess, teams: list[Team]) -> None:
    team = Team(kube_api_client, "restart", {"guaranteed": {"a100": 32}})
    teams.append(team)
    for i in range(3):
        team.submit(f"before-{i}", gpus=8, classes=("a100",))
    wait_for(lambda: list(team.phases().values()) == ["Running"] * 3 or None, timeout=90, what="3 jobs running")
    admitted = {n: j["status"]["allocation"]["admittedAt"] for n, j in team.jobs().items()}

    operator.kill()
    for i in range(3):
        team.submit(f"during-{i}", gpus=8, classes=("a100",))
    operator.start()

    wait_for(lambda: _settled([team], 6) and team.gpus_held() == 48 or None, timeout=120,
             what=lambda: f"all 6 jobs running after the restart; {_describe(team)}")
    jobs = team.jobs()
    assert {n: jobs[n]["status"]["allocation"]["admittedAt"] for n in admitted} == admitted, "no job re-admitted"
    assert all(jobs[n]["status"]["allocation"]["generation"] == 1 for n in jobs)
    pods = team.pods()
    assert sorted(p.metadata.name for p in pods) == sorted(f"{n}-worker-0" for n in jobs), "one pod per worker"


def test_terminal_job_is_never_relaunched_or_charged_again(kube_api_client: client.ApiClient,
                                                           operator: OperatorProcess, teams: list[Team]) -> None:
    team = Team(kube_api_client, "finite", {"guaranteed": {"l4": 8}})
    teams.append(team)
    team.submit("short", gpus=4, classes=("l4",),
                annotations={"localcluster.fairshare.dev/simulate-result": "Succeeded",
                             "localcluster.fairshare.dev/simulate-duration": "3s"})

    done = wait_for(lambda: (j := team.jobs().get("short")) and (j.get("status") or {}).get("phase") == "Succeeded"
                    and j,
                    timeout=90, what="short Succeeded")
    finished = done["status"]
    assert any(c["type"] == "Finished" and c["status"] == "True" for c in finished["conditions"])
    # A run shorter than one accrual interval is charged all the same, in the write that finishes it.
    assert finished["cost"]["gpuHours"] > 0 and finished["cost"]["credits"] > 0, finished.get("cost")

    # Several operator cycles later (period 2 s), nothing about the job has moved.
    first = team.jobs()["short"]["metadata"]["resourceVersion"]
    wait_for(lambda: operator.alive() and _cycles(operator) >= 4 or None, timeout=30, what="a few more cycles")
    again = team.jobs()["short"]
    assert again["status"].get("cost") == finished.get("cost")
    assert again["metadata"]["resourceVersion"] == first, "no status write after the job finished"
    assert [p.status.phase for p in team.pods()] == ["Succeeded"], "no new pod"


def _describe(team: Team) -> str:
    """Each job's phase and queue entry, for failure messages."""
    def one(name: str, job: dict[str, Any]) -> str:
        status = job.get("status") or {}
        return f"{name}: {status.get('phase')} {status.get('queue') or {}}"
    return f"{team.name}: " + "; ".join(one(n, j) for n, j in sorted(team.jobs().items()))


def _cycles(operator: OperatorProcess) -> float | None:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("fairshare_cycles_total"))


def test_worker_pods_pass_the_restricted_pod_security_profile(kube_api_client: client.ApiClient,
                                                              operator: OperatorProcess, teams: list[Team]) -> None:
    """The namespace enforces Pod Security "restricted": the operator's worker pods are admitted and run."""
    team = Team(kube_api_client, "restricted", {"guaranteed": {"a100": 8}})
    teams.append(team)
    core = client.CoreV1Api(kube_api_client)
    core.patch_namespace(team.namespace, {"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}}})
    with pytest.raises(ApiException) as refused:  # the profile is really enforced here
        core.create_namespaced_pod(team.namespace, {"metadata": {"name": "plain"}, "spec": {"containers": [
            {"name": "c", "image": "registry.invalid/x:0"}]}})
    assert refused.value.status == 403 and "restricted" in str(refused.value.body)

    team.submit("secure", gpus=4, workers=2, classes=("a100",))
    wait_for(lambda: team.phases().get("secure") == "Running" or None, timeout=90,
             what=lambda: f"the job's pods admitted under the restricted profile; {team.jobs()}")
    pods = team.pods()
    assert len(pods) == 2
    for pod in pods:
        [container] = pod.spec.containers
        assert not (container.security_context.privileged or container.security_context.allow_privilege_escalation)
        assert pod.spec.security_context.run_as_non_root


def _condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c["type"] == type_), {})


def test_a_deleted_tenants_running_job_is_stopped_charged_and_waits_for_a_tenant(
        kube_api_client: client.ApiClient, operator: OperatorProcess, teams: list[Team]) -> None:
    """Deleting a Tenant stops its running jobs (never left running uncharged): each is charged up to the stop, its
    pods go, and it waits with reason NoTenant until a Tenant owns its namespace again, then runs again."""
    team = Team(kube_api_client, "orphaned", {"guaranteed": {"a100": 8}})
    teams.append(team)
    team.submit("held", gpus=8, classes=("a100",))
    wait_for(lambda: team.phases().get("held") == "Running" or None, timeout=90,
             what=lambda: f"the job running; {_describe(team)}")

    team.custom.delete_cluster_custom_object(GROUP, VERSION, "tenants", team.name)
    wait_for(lambda: _condition(team.status("held"), "Admitted").get("reason") == "NoTenant"
             and team.status("held").get("phase") == "Queued" and team.status("held").get("queue")
             and not team.pods() or None, timeout=120,
             what=lambda: f"the job stopped and queued with NoTenant; {team.status('held')}; pods {len(team.pods())}")
    status = team.status("held")
    assert _condition(status, "Preempted")["status"] == "False", "drained and requeued"
    assert "namespace " + team.namespace + " belongs to no Tenant" in status["queue"]["reason"]
    assert "tenant" not in status and "allocation" not in status
    assert status["cost"]["gpuHours"] > 0 and status["cost"]["credits"] > 0, "charged up to the stop"
    reasons = [e.reason for e in client.CoreV1Api(kube_api_client).list_namespaced_event(team.namespace).items
               if e.involved_object.name == "held"]
    assert "NoTenant" in reasons, reasons

    team.custom.create_cluster_custom_object(GROUP, VERSION, "tenants", {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Tenant", "metadata": {"name": team.name},
        "spec": {"namespaces": [team.namespace]}})
    wait_for(lambda: team.phases().get("held") == "Running" or None, timeout=90,
             what=lambda: f"the job running again under the new Tenant; {_describe(team)}")
    assert team.status("held")["tenant"] == team.name


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_a_running_job_deleted_before_its_first_charge_is_charged_to_its_tenant_once(
        kube_api_client: client.ApiClient, operator: OperatorProcess, teams: list[Team]) -> None:
    """A running job deleted before its first periodic charge (30 s) is charged in its Tenant's ledger for the time it
    ran, at the price it last paid, up to the whole second after the operator saw it gone; the entry is final, and a
    restart of the operator charges nothing more."""
    team = Team(kube_api_client, "deleted", {"guaranteed": {"a100": 8}})
    teams.append(team)
    team.submit("brief", gpus=8, classes=("a100",))
    wait_for(lambda: team.phases().get("brief") == "Running" or None, timeout=90,
             what=lambda: f"the job running; {_describe(team)}")
    time.sleep(3)
    last = team.jobs()["brief"]
    uid, status = last["metadata"]["uid"], last["status"]
    assert not (status.get("cost") or {}).get("credits"), f"deleted before its first periodic charge: {status}"
    team.custom.delete_namespaced_custom_object(GROUP, VERSION, team.namespace, "trainingjobs", "brief")

    def booked() -> dict[str, Any] | None:
        tenant_status = team.tenant().get("status") or {}
        return tenant_status if uid in ((tenant_status.get("ledger") or {}).get("finalChargedThrough") or {}) else None

    charged = wait_for(booked, timeout=60, what=lambda: f"the deleted job's last charge; {team.tenant().get('status')}")
    alloc = status["allocation"]
    since = _seconds((status.get("cost") or {}).get("accruedAt") or alloc["admittedAt"])
    through = _seconds(charged["ledger"]["finalChargedThrough"][uid])
    per_second = alloc["gpus"] * alloc["pricePerGPUHour"] / 3600.0
    entry = charged["ledger"]["jobs"][uid]
    assert through - since >= 3 and per_second > 0, (since, through, alloc)
    assert entry == pytest.approx(per_second * (through - since), abs=per_second + 1e-6), "its run time x price x GPUs"
    assert charged["spendThisPeriod"] == pytest.approx(entry, abs=1e-6)

    operator.kill()
    operator.start()
    wait_for(lambda: operator.alive() and (_cycles(operator) or 0) >= 3 or None, timeout=120,
             what="a few cycles after the restart")
    again = team.tenant()["status"]
    assert (again["ledger"]["jobs"].get(uid), again["spendThisPeriod"]) == (entry, charged["spendThisPeriod"])
