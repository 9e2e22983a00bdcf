"""Two operator replicas under leader election on the real control plane, with the invariant checker reading the
cluster throughout (marker `chaos`): the leader SIGKILLed while it admits and while it preempts, again and again;
the leader frozen (SIGSTOP) past its lease while the follower takes over, then thawed; and processes run without
election.

Short (default): lease 8 s / renew deadline 5 s / retry 1 s; 2 kills while admitting, 1 while preempting, one
freeze. Long (FAIRSHARE_CHAOS_FULL=1): the chart's defaults (12 / 8 / 2); 8 and 4 kills, 3 freezes. Each test
prints one `failover report:` line of JSON (run with -s): the time from each kill to the next admission by the new
leader, and what the checker saw.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from fairshare.localcluster.cluster import ClusterState
from fairshare.localcluster.processes import tail
from tests.support.failover import FOLLOWER, LEADER, Replicas, election_env, role, time_to_next_admission
from tests.support.invariants import InvariantWatch, observe_cluster
from tests.support.operator import OperatorProcess
from tests.support.teams import GROUP, VERSION, Team, cycles, ensure_gpu_classes, metric
from tests.support.wait import hold_for, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

FULL = os.environ.get("FAIRSHARE_CHAOS_FULL") == "1"
SEED = int(os.environ.get("FAIRSHARE_CHAOS_SEED", "8"))
TERMINAL = ("Succeeded", "Failed")


@dataclasses.dataclass(frozen=True)
class Scenario:
    durations: tuple[float, float, float]  # lease duration, renew deadline, retry period
    kills_admitting: int
    kills_preempting: int
    freezes: int


SHORT = Scenario((8, 5, 1), kills_admitting=2, kills_preempting=1, freezes=1)
LONG = Scenario((12, 8, 2), kills_admitting=8, kills_preempting=4, freezes=3)
SCENARIO = LONG if FULL else SHORT
LEASE = SCENARIO.durations[0]
GRACE = LEASE + 20  # a partial gang may last the leader's absence and the new leader's first cycles
H100_NODES = 4  # the fleet's h100 nodes, 8 GPUs each: the borrower fills them, the guaranteed tenant reclaims


class Cluster:
    """The checker over LISTs of the cluster, and the stream of small jobs that keeps the leader admitting."""

    def __init__(self, api: client.ApiClient, teams: list[Team], rnd: random.Random) -> None:
        self.api, self.rnd = api, rnd
        self.watch = InvariantWatch(partial_grace_seconds=GRACE)
        self.stream = [Team(api, "ha-s1", {"weight": 1}), Team(api, "ha-s2", {"weight": 2})]
        self.borrower = Team(api, "ha-b", {"weight": 1})
        self.owner = Team(api, "ha-g", {"weight": 1, "guaranteed": {"h100": 16}})
        teams += [*self.stream, self.borrower, self.owner]
        self.submitted: dict[str, Team] = {}
        self.next_submit = 0.0

    def observe(self) -> None:
        try:
            self.watch.observe(observe_cluster(self.api))
        except (ApiException, OSError) as exc:
            print(f"observation failed: {type(exc).__name__}")

    def submit_stream(self) -> None:
        """About one small job a second (1 to 4 GPUs of a100 or l4, 3 to 8 s of work), far below capacity."""
        now = time.monotonic()
        if now < self.next_submit:
            return
        self.next_submit = now + self.rnd.uniform(0.5, 1.5)
        team = self.rnd.choice(self.stream)
        name = f"s-{len(self.submitted):03d}"
        team.submit(name, gpus=self.rnd.choice((1, 2, 4)), classes=(self.rnd.choice(("a100", "l4")),),
                    annotations={"localcluster.fairshare.dev/simulate-result": "Succeeded",
                                 "localcluster.fairshare.dev/simulate-duration": f"{self.rnd.randint(3, 8)}s"})
        self.submitted[name] = team

    def burst(self, count: int) -> list[tuple[Team, str]]:
        """`count` one-GPU jobs at once: the leader's next cycle admits them all, and takes a while writing."""
        made = []
        for _ in range(count):
            team = self.rnd.choice(self.stream)
            name = f"s-{len(self.submitted):03d}"
            team.submit(name, gpus=1, classes=("a100",), annotations={
                "localcluster.fairshare.dev/simulate-result": "Succeeded",
                "localcluster.fairshare.dev/simulate-duration": "5s"})
            self.submitted[name] = team
            made.append((team, name))
        return made

    def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.submit_stream()
            self.observe()
            time.sleep(0.5)

    def phases(self, team: Team) -> dict[str, str | None]:
        return team.phases()

    def stream_done(self) -> bool:
        self.observe()
        phases = {n: p for t in self.stream for n, p in t.phases().items()}
        return len(phases) == len(self.submitted) and all(p in TERMINAL for p in phases.values())


LONG_JOB = {"localcluster.fairshare.dev/simulate-result": "Succeeded",
            "localcluster.fairshare.dev/simulate-duration": "3600s"}


def fill_h100(c: Cluster, round_: int) -> list[str]:
    """The borrower takes every h100 GPU with long 8-GPU jobs; returns their names once they run."""
    names = [c.borrower.submit(f"b{round_}-{i}", gpus=8, classes=("h100",), annotations=LONG_JOB)
             for i in range(H100_NODES)]
    wait_for(lambda: all(c.borrower.phases().get(n) == "Running" for n in names) or None, timeout=90,
             what=lambda: f"the borrower's h100 jobs running: {c.borrower.phases()}")
    return names


def clear_h100(c: Cluster) -> None:
    """Delete every job of the borrower and the owner and wait until their pods are gone."""
    for team in (c.borrower, c.owner):
        for name in team.jobs():
            team.custom.delete_namespaced_custom_object(GROUP, VERSION, team.namespace, "trainingjobs", name)
    wait_for(lambda: not c.borrower.pods() and not c.owner.pods() and not c.borrower.jobs() and not c.owner.jobs()
             or None, timeout=120, what="the h100 jobs and their pods gone")


@dataclasses.dataclass
class Report:
    seed: int
    durations: tuple[float, float, float]
    admitting: list[float] = dataclasses.field(default_factory=list)
    preempting: list[float] = dataclasses.field(default_factory=list)
    freezes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    violations: list[str] = dataclasses.field(default_factory=list)
    observations: int = 0
    preempted_events: dict[str, int] = dataclasses.field(default_factory=dict)
    jobs: int = 0

    def summary(self) -> dict[str, Any]:
        every = self.admitting + self.preempting
        return {**dataclasses.asdict(self), "kill_to_admission_seconds": {
            "median": round(statistics.median(every), 2) if every else None,
            "max": round(max(every), 2) if every else None}}


@pytest.fixture
def replicas(local_cluster: ClusterState, kube_api_client: client.ApiClient, installed_crds: list[str],
             tmp_path: Path) -> Iterator[Replicas]:
    ensure_gpu_classes(kube_api_client)
    pair = Replicas(local_cluster.kubeconfig, tmp_path, durations=SCENARIO.durations)
    try:
        yield pair
    finally:
        pair.stop()
        for proc in pair.procs:
            print(f"--- {proc.identity} log tail ---\n{tail(proc.log, 25)}")


def kill_leader(pair: Replicas) -> tuple[OperatorProcess, float]:
    leader = pair.leader()
    assert leader is not None, pair.describe()
    leader.kill()
    return leader, time.monotonic()


def fail_over(pair: Replicas, c: Cluster, dead: OperatorProcess, killed_at: float) -> float:
    """Seconds from the kill to the follower's first admission; then a new replica replaces the dead one."""
    seconds, _ = time_to_next_admission(killed_at, pair.others(dead), timeout=LEASE + 60,
                                        meanwhile=lambda: (c.submit_stream(), c.observe()))
    pair.replace(dead)
    pair.wait_warm()
    return seconds


@pytest.mark.timeout(3600 if FULL else 900)
def test_the_leader_killed_while_admitting_and_while_preempting_fails_over_cleanly(
        kube_api_client: client.ApiClient, replicas: Replicas, teams: list[Team]) -> None:
    rnd = random.Random(SEED)
    report = Report(SEED, SCENARIO.durations)
    replicas.start()
    c = Cluster(kube_api_client, teams, rnd)
    c.run_for(5)
    for kill in range(SCENARIO.kills_admitting + SCENARIO.kills_preempting):
        if kill % 3 == 2 and len(report.preempting) < SCENARIO.kills_preempting or \
                len(report.admitting) >= SCENARIO.kills_admitting:
            victims = fill_h100(c, kill)
            c.owner.submit(f"g{kill}-0", gpus=8, classes=("h100",), annotations=LONG_JOB)
            c.owner.submit(f"g{kill}-1", gpus=8, classes=("h100",), annotations=LONG_JOB)
            # Killed as soon as the first victim's preemption lands: the other's may be in flight.
            wait_for(lambda v=victims: any(c.borrower.phases().get(n) == "Preempted" for n in v) or None,
                     timeout=60, interval=0.05, what=lambda: f"a preemption: {c.borrower.phases()}")
            dead, at = kill_leader(replicas)
            report.preempting.append(round(fail_over(replicas, c, dead, at), 2))
            wait_for(lambda k=kill: all(c.owner.phases().get(f"g{k}-{i}") == "Running" for i in (0, 1)) or None,
                     timeout=120, what=lambda: f"the guarantee reclaimed: {c.owner.phases()} {c.borrower.phases()}")
            report.preempted_events.update(preempted_events(c.borrower))
            clear_h100(c)
        else:
            c.run_for(rnd.uniform(2, 5))
            dead, at = kill_leader(replicas)
            report.admitting.append(round(fail_over(replicas, c, dead, at), 2))
        c.run_for(2)

    try:
        wait_for(lambda: c.stream_done() or None, timeout=240, interval=1.0,
                 what=lambda: f"every stream job finished: {[t.phases() for t in c.stream]}")
    finally:
        report.violations = [str(v) for v in c.watch.violations]
        report.observations, report.jobs = c.watch.observations, len(c.submitted)
        print("failover report: " + json.dumps(report.summary()))
    assert report.violations == []
    assert len(report.admitting) == SCENARIO.kills_admitting and len(report.preempting) == SCENARIO.kills_preempting
    assert all(n <= 1 for n in report.preempted_events.values()), f"preempted again: {report.preempted_events}"


def preempted_events(team: Team) -> dict[str, int]:
    """Job -> Preempted Events recorded on it (Events are best effort: a leader killed before sending one loses it,
    so this can only undercount)."""
    counts = Counter(e.involved_object.name for e in team.core.list_namespaced_event(team.namespace).items
                     if e.reason == "Preempted" and e.involved_object.kind == "TrainingJob")
    return {f"{team.namespace}/{name}": n for name, n in counts.items()}


def operator_writes(api: client.ApiClient) -> dict[str, Any]:
    """What only the operator writes, as of now: every TrainingJob's, Tenant's and GPUClass's resourceVersion (the
    test writes none meanwhile), its pods and whether each is being deleted, and the number of its Events."""
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)

    def versions(plural: str) -> dict[str, str]:
        items = custom.list_cluster_custom_object(GROUP, VERSION, plural)["items"]
        return {f"{i['metadata'].get('namespace', '')}/{i['metadata']['name']}": i["metadata"]["resourceVersion"]
                for i in items}

    pods = {f"{p.metadata.namespace}/{p.metadata.name}/{p.metadata.uid}": p.metadata.deletion_timestamp is not None
            for p in core.list_pod_for_all_namespaces(label_selector="fairshare.dev/job").items}
    events = len(core.list_event_for_all_namespaces(field_selector="source=fairshare-operator").items)
    return {"trainingjobs": versions("trainingjobs"), "tenants": versions("tenants"),
            "gpuclasses": versions("gpuclasses"), "pods": pods, "events": events}


def written_since(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The operator's writes between two snapshots: statuses rewritten, pods created or marked for deletion, Events
    posted. (Pods that vanish are kwok finishing a deletion made earlier: not a write of the operator's.)"""
    changed = [f"{kind} {key}" for kind in ("trainingjobs", "tenants", "gpuclasses")
               for key, version in after[kind].items() if before[kind].get(key) != version]
    changed += [f"pod {key} {'deleted' if deleting else 'created'}" for key, deleting in after["pods"].items()
                if key not in before["pods"] or (deleting and not before["pods"][key])]
    if after["events"] > before["events"]:
        changed.append(f"{after['events'] - before['events']} Events")
    return changed


def quiet_snapshot(api: client.ApiClient) -> dict[str, Any]:
    """A snapshot once two taken a second apart agree: writes sent before the writer froze have landed."""
    last: list[dict[str, Any]] = []

    def settled() -> dict[str, Any] | None:
        now = operator_writes(api)
        same = bool(last) and not written_since(last[-1], now)
        last.append(now)
        return now if same else None
    return wait_for(settled, timeout=30, interval=1.0, what="the operator's objects unchanged for a second")


@pytest.mark.timeout(1800 if FULL else 600)
def test_a_leader_frozen_past_its_lease_finds_it_lost_the_lease_and_writes_nothing(
        kube_api_client: client.ApiClient, replicas: Replicas, teams: list[Team]) -> None:
    """SIGSTOP the leader while it admits a burst of jobs, for longer than the lease, while jobs keep coming; the
    follower takes over and admits them. To see the old leader's writes alone, the new one is frozen in turn just
    before the old one thaws: for the next seconds (less than the lease, so no takeover is due) nothing the operator
    writes may change, although the old leader wakes up in the middle of writing its burst's admissions (its gate
    refuses them, `old_leader_writes_refused`)."""
    rnd = random.Random(SEED)
    report = Report(SEED, SCENARIO.durations)
    replicas.start()
    c = Cluster(kube_api_client, teams, rnd)
    c.run_for(4)
    window = LEASE - 3
    for _ in range(SCENARIO.freezes):
        old = replicas.leader()
        assert old is not None
        (new,) = replicas.others(old)
        # Frozen in the middle of admitting a burst: the first admission is seen, the others' writes are under way.
        burst = {name for _, name in c.burst(16)}
        wait_for(lambda b=burst: any(p in ("Admitted", "Running") for t in c.stream for n, p in t.phases().items()
                                     if n in b) or None, timeout=30, interval=0.02, what="the burst's first admission")
        old.pause()
        paused_at = time.monotonic()
        takeover, _ = time_to_next_admission(paused_at, [new], timeout=LEASE + 60,
                                             meanwhile=lambda: (c.submit_stream(), c.observe()))
        c.run_for(max(0.0, LEASE + 1 - (time.monotonic() - paused_at)))  # frozen past its lease, in any case
        new.pause()
        before = quiet_snapshot(kube_api_client)
        old.resume()
        try:
            hold_for(lambda o=old: o.alive(), seconds=window, interval=0.5, what="the old leader alive")
            after = operator_writes(kube_api_client)
            old_role = role(old.metrics_port)
            refused = metric(old.metrics_port, "fairshare_leader_gate_writes_total", result="refused")
        finally:
            new.resume()
        report.freezes.append({"frozen_seconds": round(time.monotonic() - paused_at, 1),
                               "pause_to_admission_seconds": round(takeover, 2), "old_leader_role": old_role,
                               "old_leader_writes_refused": refused,
                               "written": written_since(before, after)})
        assert written_since(before, after) == [], f"written while the old leader thawed: {report.freezes[-1]}"
        assert old_role == FOLLOWER, replicas.describe()
        # It noticed it lost the Lease (whether it has read the new holder's name yet depends on timing).
        assert "no longer leading" in old.log.read_text(errors="replace")
        replicas.wait_warm()
        c.run_for(3)
    try:
        wait_for(lambda: c.stream_done() or None, timeout=240, interval=1.0,
                 what=lambda: f"every stream job finished: {[t.phases() for t in c.stream]}")
    finally:
        report.violations = [str(v) for v in c.watch.violations]
        report.observations, report.jobs = c.watch.observations, len(c.submitted)
        print("failover report: " + json.dumps(report.summary()))
    assert report.violations == []


def test_without_election_a_second_process_refuses_to_start_and_a_dead_ones_lease_is_waited_out(
        local_cluster: ClusterState, kube_api_client: client.ApiClient, installed_crds: list[str],
        tmp_path: Path) -> None:
    ensure_gpu_classes(kube_api_client)
    env = election_env(f"fs-{uuid.uuid4().hex[:8]}", SCENARIO.durations)
    first = OperatorProcess(local_cluster.kubeconfig, tmp_path / "first.log", env, ("--no-leader-election",))
    second = OperatorProcess(local_cluster.kubeconfig, tmp_path / "second.log", env, ("--no-leader-election",))
    standby = OperatorProcess(local_cluster.kubeconfig, tmp_path / "standby.log", env)
    try:
        first.start()
        wait_for(lambda: cycles(first.metrics_port), timeout=90, what=lambda: tail(first.log, 20))
        second.start()
        assert second.proc is not None and second.proc.wait(timeout=LEASE + 30) != 0
        refusal = second.log.read_text(errors="replace")
        assert f"another operator ({first.identity}) holds Lease default/{env['FAIRSHARE_LEASE_NAME']}" in refusal
        assert "not starting" in refusal
        # A process with election on beside it stands by, and never schedules.
        standby.start()
        wait_for(lambda: role(standby.metrics_port) == FOLLOWER or None, timeout=60, what=lambda: tail(standby.log))
        assert role(first.metrics_port) == LEADER
        standby.stop()
        # The first dies without handing the Lease over: a new process (a new pod) waits the Lease out, then runs.
        first.kill()
        killed = time.monotonic()
        second.start()
        wait_for(lambda: cycles(second.metrics_port), timeout=LEASE + 60, what=lambda: tail(second.log, 20))
        waited = time.monotonic() - killed
        print(f"failover report: {json.dumps({'no_election_restart_seconds': round(waited, 2)})}")
        assert waited < LEASE + 30
    finally:
        for proc in (first, second, standby):
            proc.stop()
