"""Fault injection: the operator SIGKILLed at random moments while tenants submit jobs that run, fail and finish,
with the invariant checker (tests/support/invariants.py) reading the cluster throughout.

The short version (default; marker `chaos`): 30 jobs of 3 tenants, 5 kills; and 3 rounds of a kill at a random
moment of a preemption. The long version (FAIRSHARE_CHAOS_FULL=1): 300 jobs, 24 kills, the API server SIGKILLed and
restarted twice, and etcd paused (SIGSTOP/SIGCONT) twice; and 50 rounds of a kill during a preemption.
FAIRSHARE_CHAOS_SEED picks another schedule of faults and jobs. Both report what they did
(run with -s to see it): kills survived, violations (there must be none), time to recover, jobs finished.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from fairshare.localcluster.cluster import ClusterState
from fairshare.localcluster.processes import tail
from tests.support import faults
from tests.support.invariants import (
    COST_DECREASED,
    DOUBLE_ADMISSION,
    LABEL_GENERATION,
    LABEL_JOB,
    LABEL_RANK,
    NODE_OVER_CAPACITY,
    PARTIAL_GANG,
    InvariantWatch,
    observe_cluster,
    unheld_pods,
)
from tests.support.operator import OperatorProcess, operator_running
from tests.support.teams import GROUP, VERSION, Team, cycles, describe, ensure_gpu_classes, job_body
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

FULL = os.environ.get("FAIRSHARE_CHAOS_FULL") == "1"
SEED = int(os.environ.get("FAIRSHARE_CHAOS_SEED", "8"))
TERMINAL = ("Succeeded", "Failed")


@dataclasses.dataclass(frozen=True)
class Scenario:
    """How much happens: jobs submitted over `submit_seconds`, kills spread over `fault_seconds`."""

    jobs: int
    kills: int
    apiserver_restarts: int
    etcd_pauses: int
    submit_seconds: float
    fault_seconds: float
    drain_timeout: float
    job_seconds: tuple[int, int]  # how long a job's workers run, drawn in this range
    grace_seconds: float  # how long a partial gang may last: the operator's downtime plus its first cycles


SHORT = Scenario(jobs=30, kills=5, apiserver_restarts=0, etcd_pauses=0, submit_seconds=40, fault_seconds=60,
                 drain_timeout=300, job_seconds=(3, 15), grace_seconds=30)
LONG = Scenario(jobs=300, kills=24, apiserver_restarts=2, etcd_pauses=2, submit_seconds=300, fault_seconds=360,
                drain_timeout=900, job_seconds=(3, 30), grace_seconds=45)
TENANTS = (  # name, weight, spec: one owns a guarantee it reclaims, one may borrow only a little, one is plain
    ("chaos-g", {"weight": 1, "guaranteed": {"a100": 32, "h100": 8}}),
    ("chaos-b", {"weight": 1, "borrowingLimit": {"h100": 24, "a100": 24}}),  # the largest gang is 3 x 8
    ("chaos-w", {"weight": 2}),
)


@dataclasses.dataclass
class Fault:
    at: float  # seconds after the start
    kind: str  # kill | apiserver | etcd


@dataclasses.dataclass
class Report:
    seed: int
    kills: int = 0
    apiserver_restarts: int = 0
    etcd_pauses: int = 0
    recovery_seconds: list[float] = dataclasses.field(default_factory=list)
    apiserver_ready_seconds: list[float] = dataclasses.field(default_factory=list)
    observations: int = 0
    failed_observations: int = 0
    transient_gang_states: int = 0
    longest_transient_seconds: float = 0.0
    violations: list[str] = dataclasses.field(default_factory=list)
    jobs: dict[str, int] = dataclasses.field(default_factory=dict)
    wall_seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        recovery = self.recovery_seconds or [0.0]
        return {**dataclasses.asdict(self), "recovery_seconds": {
            "max": round(max(recovery), 2), "median": round(statistics.median(recovery), 2),
            "all": [round(r, 2) for r in self.recovery_seconds]}}


def plan_faults(rnd: random.Random, scenario: Scenario) -> list[Fault]:
    faults_ = [Fault(rnd.uniform(3, scenario.fault_seconds), "kill") for _ in range(scenario.kills)]
    faults_ += [Fault(rnd.uniform(10, scenario.fault_seconds), "apiserver") for _ in range(scenario.apiserver_restarts)]
    faults_ += [Fault(rnd.uniform(10, scenario.fault_seconds), "etcd") for _ in range(scenario.etcd_pauses)]
    return sorted(faults_, key=lambda f: f.at)


def plan_jobs(rnd: random.Random, scenario: Scenario) -> list[tuple[float, int, dict[str, Any]]]:
    """(submit at, tenant index, submit kwargs): 8-GPU gangs of 1-3 workers and small 1-4 GPU jobs; one in ten fails
    (and is restarted once from its checkpoint before it is Failed)."""
    out = []
    for i in range(scenario.jobs):
        big = rnd.random() < 0.5
        result = "Failed" if rnd.random() < 0.1 else "Succeeded"
        kwargs: dict[str, Any] = {
            "name": f"job-{i:03d}", "gpus": 8 if big else rnd.choice((1, 2, 4)),
            "workers": rnd.randint(1, 3) if big else 1,
            "classes": rnd.choice(((), ("a100",), ("h100",), ("a100", "h100"), ("l4",))) if not big
            else rnd.choice(((), ("a100",), ("h100",), ("a100", "h100"))),
            "priority": rnd.choice((0, 0, 10)),
            "annotations": {"localcluster.fairshare.dev/simulate-result": result,
                            "localcluster.fairshare.dev/simulate-duration": f"{rnd.randint(*scenario.job_seconds)}s"},
            "runPolicy": {"backoffLimit": 1},
        }
        out.append((rnd.uniform(0, scenario.submit_seconds), rnd.randrange(len(TENANTS)), kwargs))
    return sorted(out, key=lambda j: j[0])


@pytest.fixture
def chaos_operator(local_cluster: ClusterState, kube_api_client: client.ApiClient, installed_crds: list[str],
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    ensure_gpu_classes(kube_api_client)
    with operator_running(local_cluster.kubeconfig, tmp_path_factory.mktemp("chaos") / "operator.log") as proc:
        yield proc


def api_ready(api: client.ApiClient) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            client.CoreV1Api(api).list_namespace(limit=1, _request_timeout=2)
            return True
        except (ApiException, OSError, HTTPError):  # refused, timed out, or 5xx while it starts
            return False
    return ready


class Restarts:
    """The operator's kill-and-restart cycle, driven from the test's loop so the checker keeps reading the cluster
    while the operator is down and while it catches up."""

    def __init__(self, operator: OperatorProcess, rnd: random.Random, report: Report) -> None:
        self.operator, self.rnd, self.report = operator, rnd, report
        self.restart_at: float | None = None  # down until then
        self.restarted_at: float | None = None  # started then, first cycle not done yet

    @property
    def settled(self) -> bool:
        return self.restart_at is None and self.restarted_at is None

    def kill(self) -> None:
        self.operator.kill()
        self.report.kills += 1
        self.restart_at = time.monotonic() + self.rnd.uniform(0, 2)  # down a moment, as when a pod is rescheduled

    def step(self) -> None:
        now = time.monotonic()
        if self.restart_at is not None and now >= self.restart_at:
            self.operator.start()
            self.restart_at, self.restarted_at = None, now
        elif self.restarted_at is not None:
            if cycles(self.operator.metrics_port):
                self.report.recovery_seconds.append(now - self.restarted_at)
                self.restarted_at = None
            else:
                assert self.operator.alive(), f"the operator exited: {tail(self.operator.log, 20)}"
                assert now - self.restarted_at < 120, "no cycle two minutes after a restart"


@pytest.mark.timeout(3600 if FULL else 900)
def test_operator_killed_at_random_moments_keeps_every_invariant(
        local_cluster: ClusterState, kube_api_client: client.ApiClient, chaos_operator: OperatorProcess,
        teams: list[Team]) -> None:
    scenario = LONG if FULL else SHORT
    rnd = random.Random(SEED)
    faults_todo = plan_faults(rnd, scenario)
    jobs_todo = plan_jobs(rnd, scenario)
    teams += [Team(kube_api_client, name, spec) for name, spec in TENANTS]
    report = Report(seed=SEED)
    watch = InvariantWatch(partial_grace_seconds=scenario.grace_seconds)
    submitted: dict[str, Team] = {}

    def observe() -> None:
        try:
            obs = observe_cluster(kube_api_client)
        except (ApiException, OSError, HTTPError) as exc:  # the API server is down or paused: try again later
            report.failed_observations += 1
            print(f"observation failed: {type(exc).__name__}")
            return
        watch.observe(obs)

    def phases() -> dict[str, str | None]:
        return {name: phase for team in teams for name, phase in team.phases().items()}

    restarts = Restarts(chaos_operator, rnd, report)
    start = time.monotonic()
    while faults_todo or jobs_todo or not restarts.settled:
        elapsed = time.monotonic() - start
        while jobs_todo and jobs_todo[0][0] <= elapsed:
            _, tenant, kwargs = jobs_todo.pop(0)
            submit(teams[tenant], kwargs)
            submitted[kwargs["name"]] = teams[tenant]
        restarts.step()
        if faults_todo and faults_todo[0].at <= elapsed and restarts.settled:
            fault = faults_todo.pop(0)
            if fault.kind == "kill":
                restarts.kill()
            else:
                inject(fault, local_cluster, kube_api_client, rnd, report)
        observe()
        time.sleep(0.5)

    def drained() -> bool:
        observe()
        now = phases()
        return len(now) == len(submitted) and all(p in TERMINAL for p in now.values())

    try:
        wait_for(lambda: drained() or None, timeout=scenario.drain_timeout, interval=1.0,
                 what=lambda: "every job Succeeded or Failed; " + "; ".join(describe(t) for t in teams))
    finally:
        final = phases()
        report.observations = watch.observations
        report.transient_gang_states = watch.transient_states
        report.longest_transient_seconds = round(watch.longest_transient_seconds, 2)
        report.violations = [str(v) for v in watch.violations]
        report.jobs = {str(p): sum(1 for v in final.values() if v == p)
                       for p in (*TERMINAL, None, "Queued", "Admitted", "Running")}
        report.wall_seconds = round(time.monotonic() - start, 1)
        print("chaos report: " + json.dumps(report.summary()))

    assert report.violations == []
    assert sorted(final) == sorted(submitted), "no job lost"
    assert report.kills == scenario.kills and chaos_operator.alive()
    assert report.apiserver_restarts == scenario.apiserver_restarts and report.etcd_pauses == scenario.etcd_pauses
    assert report.observations > 10 * (scenario.kills + 1)


def submit(team: Team, kwargs: dict[str, Any]) -> None:
    """Submit, retrying while the API server is away (a fault may be in progress)."""
    args = dict(kwargs)
    name = args.pop("name")
    wait_for(lambda: _try(lambda: team.submit(name, **args)), timeout=120, what=f"{name} submitted")


def _try(call: Callable[[], Any]) -> bool:
    try:
        call()
        return True
    except ApiException as exc:
        if exc.status == 409:  # created by an earlier try whose answer was lost
            return True
        if exc.status and exc.status < 500:
            raise
        return False
    except (OSError, HTTPError):  # no answer at all
        return False


def inject(fault: Fault, state: ClusterState, api: client.ApiClient, rnd: random.Random, report: Report) -> None:
    """A control-plane fault; the test's loop waits it out (nothing can be listed meanwhile)."""
    if fault.kind == "apiserver":
        report.apiserver_ready_seconds.append(round(faults.restart(state, "kube-apiserver", api_ready(api)), 2))
        report.apiserver_restarts += 1
    else:
        with faults.paused(state, "etcd"):
            time.sleep(rnd.uniform(2, 5))  # the fault is the pause itself
        report.etcd_pauses += 1


def test_the_checker_sees_violations_forged_in_real_objects(kube_api_client: client.ApiClient,
                                                             installed_crds: list[str], namespace: str) -> None:
    """The checker reads what the API server returns (no operator runs here): a job whose status claims generation 2
    on two a100 nodes, with a live pod of generation 2 and one left from generation 1, plus a pod that is not the
    operator's on a full node; then the job's credits go down."""
    ensure_gpu_classes(kube_api_client)
    custom, core = client.CustomObjectsApi(kube_api_client), client.CoreV1Api(kube_api_client)
    job = custom.create_namespaced_custom_object("fairshare.dev", "v1alpha1", namespace, "trainingjobs",
                                                 job_body("forged", gpus=8, workers=2, classes=("a100",)))
    owner = {"apiVersion": "fairshare.dev/v1alpha1", "kind": "TrainingJob", "name": "forged",
             "uid": job["metadata"]["uid"], "controller": True}

    def status(credits: float) -> None:
        custom.patch_namespaced_custom_object_status("fairshare.dev", "v1alpha1", namespace, "trainingjobs", "forged", {
            "status": {"phase": "Running", "allocation": {
                "gpuClass": "a100", "workers": 2, "gpus": 16, "nodes": ["a100-000", "a100-001"], "generation": 2,
                "admittedAt": "2020-01-01T00:00:00Z"}, "cost": {"credits": credits}}})

    def pod(name: str, node: str, labels: dict[str, str], owned: bool = True) -> None:
        """A GPU pod on `node`; `owned`: with the job's controller owner reference, as the operator's pods have
        (only that makes a pod a job's: labels alone never do)."""
        meta: dict[str, Any] = {"name": name, "labels": labels, **({"ownerReferences": [owner]} if owned else {})}
        core.create_namespaced_pod(namespace, {"metadata": meta, "spec": {
            "nodeName": node, "containers": [{"name": "c", "image": "registry.invalid/x:0", "resources": {
                "limits": {"nvidia.com/gpu": "8"}}}]}})

    status(5.0)
    forged = ("forged-worker-0", "forged-worker-1", "squatter")
    try:
        pod(forged[0], "a100-000", {LABEL_JOB: "forged", LABEL_GENERATION: "2", LABEL_RANK: "0"})
        pod(forged[1], "a100-001", {LABEL_JOB: "forged", LABEL_GENERATION: "1", LABEL_RANK: "1"})
        pod(forged[2], "a100-000", {}, owned=False)
        watch = InvariantWatch(partial_grace_seconds=0)
        watch.observe(observe_cluster(kube_api_client))
        status(4.0)
        watch.observe(observe_cluster(kube_api_client))
    finally:
        # The GPU pods it forged must not outlive it: later tests check every node's capacity, and no operator
        # removes a pod it did not create.
        for name in forged:
            try:
                core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
            except ApiException as e:
                if e.status != 404:
                    raise
        wait_for(lambda: not core.list_namespaced_pod(namespace).items or None, timeout=60,
                 what="the forged pods gone")

    ours = sorted((v.kind, v.subject) for v in watch.violations
                  if namespace in v.subject or v.subject == "node a100-000")
    assert ours == [(COST_DECREASED, f"job {namespace}/forged"), (DOUBLE_ADMISSION, f"job {namespace}/forged"),
                    (NODE_OVER_CAPACITY, "node a100-000"), (PARTIAL_GANG, f"job {namespace}/forged")]


PREEMPTION_ROUNDS = 50 if FULL else 3


@pytest.mark.timeout(3600 if FULL else 600)
def test_operator_killed_at_random_moments_of_a_preemption_finishes_it_once(
        kube_api_client: client.ApiClient, chaos_operator: OperatorProcess, teams: list[Team]) -> None:
    """A borrower fills h100 with four 8-GPU jobs; each round the owner submits a job within its guarantee, which
    preempts one of them, and the operator is SIGKILLed (every other round 0 to 0.8 s later, else as soon as a victim
    is seen stopped: before, during or after the preemption's writes) and started again at once. Every round must end
    with the owner running, exactly one borrower job stopped (never a second victim for the same room), every pod
    one its job's status holds, and no invariant broken. The owner's job is then deleted, the victim runs again, and
    the next round starts."""
    rnd = random.Random(SEED)
    borrower = Team(kube_api_client, "kb", {"weight": 1})
    owner = Team(kube_api_client, "ko", {"guaranteed": {"h100": 8}})
    teams += [borrower, owner]
    for i in range(4):
        borrower.submit(f"b-{i}", gpus=8, classes=("h100",))
    namespaces = (borrower.namespace, owner.namespace)

    def borrowers_running() -> int:
        return sum(1 for p in borrower.phases().values() if p == "Running")

    wait_for(lambda: borrowers_running() == 4 or None, timeout=120, what=lambda: describe(borrower))
    watch = InvariantWatch(partial_grace_seconds=30)
    moments: list[str] = []

    def moment(r: int) -> str:
        """Where the kill fell: before the preemption, in it (a victim stopped by status but its pod still live, or
        the owner not yet admitted or its pod not created), or after it."""
        stopped = [n for n, p in borrower.phases().items() if p != "Running"]
        if not stopped:
            return "before"
        owner_pods = [p for p in owner.pods() if p.metadata.labels.get("fairshare.dev/job") == f"r-{r}"]
        victim_live = [p for p in borrower.pods() if p.metadata.labels.get("fairshare.dev/job") in stopped
                       and not p.metadata.deletion_timestamp]
        admitted = owner.phases().get(f"r-{r}") in ("Admitted", "Running")
        return "during" if victim_live or not admitted or not owner_pods else "after"

    def one_round(r: int) -> dict[str, float]:
        owner.submit(f"r-{r}", gpus=8, classes=("h100",))
        if r % 2:  # at a random moment
            time.sleep(rnd.uniform(0.0, 0.8))  # the fault's moment, not a synchronisation
        else:  # as soon as a victim is seen stopped: its pod deletion or the owner's admission may not be done
            wait_for(lambda: borrowers_running() < 4 or None, timeout=30, interval=0.01, what="a victim")
        chaos_operator.kill()
        moments.append(moment(r))
        start = time.monotonic()
        chaos_operator.start()
        wait_for(lambda: cycles(chaos_operator.metrics_port), timeout=120, what="the restarted operator's cycle")
        first_cycle = time.monotonic() - start

        def settled() -> bool:
            obs = observe_cluster(kube_api_client)
            watch.observe(obs)
            unheld = [p for p in unheld_pods(obs) if p.split("/")[0] in namespaces]
            return owner.phases().get(f"r-{r}") == "Running" and borrowers_running() == 3 and not unheld

        wait_for(settled, timeout=120, interval=0.25,
                 what=lambda: f"round {r}: {describe(owner)}; {describe(borrower)}")
        took = {"first_cycle": round(first_cycle, 2), "settled": round(time.monotonic() - start, 2)}
        stopped = [n for n, p in borrower.phases().items() if p != "Running"]
        assert len(stopped) == 1, f"round {r}: one victim, not {stopped}"
        owner.custom.delete_namespaced_custom_object(GROUP, VERSION, owner.namespace, "trainingjobs", f"r-{r}")
        wait_for(lambda: borrowers_running() == 4 or None, timeout=120,
                 what=lambda: f"round {r}: the victim running again; {describe(borrower)}")
        return took

    rounds = [one_round(r) for r in range(PREEMPTION_ROUNDS)]
    settled_times = [x["settled"] for x in rounds]
    print("preemption chaos report: " + json.dumps({
        "seed": SEED, "rounds": len(rounds), "violations": [str(v) for v in watch.violations],
        "kills": {m: moments.count(m) for m in ("before", "during", "after")},
        "restart_to_first_cycle_max": max(x["first_cycle"] for x in rounds),
        "restart_to_settled": {"median": round(statistics.median(settled_times), 2), "max": max(settled_times)},
        "observations": watch.observations}))
    assert watch.violations == []
    assert len(rounds) == PREEMPTION_ROUNDS
