"""Fair-sharing preemption on the real control plane: a tenant arriving at a full cluster takes GPUs from the tenants
above their shares until holdings follow the weights, and then nothing moves.

The fleet's 8 a100 nodes x 8 GPUs are the 64 GPUs of one class every job here asks for. Tenants of weights 2:1:1
each want more than the cluster holds (their list-price demand is above what their weight buys of the whole fleet,
so their entitlements are exactly 2:1:1 and equal share ratios mean 32/16/16 a100 GPUs). The operator runs as a real
subprocess with a 20 s minimum run time and a 2 s cycle period. Run with -s to see the measured times.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kubernetes import client

from fairshare.localcluster.cluster import ClusterState
from tests.support.invariants import InvariantWatch, observe_cluster, timestamp
from tests.support.operator import operator_running
from tests.support.teams import (
    Team,
    cycles,
    describe,
    ensure_gpu_classes,
    held_by_team,
    preemption_events,
)
from tests.support.wait import hold_for, wait_for

pytestmark = pytest.mark.integration

GPU_CLASS, CAPACITY = "a100", 64  # the default fleet: 8 nodes x 8 a100
GANG = 4  # GPUs per job: one worker of 4
PERIOD_SECONDS = 2.0  # the operator's timer cycle
MIN_RUN_SECONDS = 20  # FAIRSHARE_POLICY_MIN_RUN_SECONDS: victims must have run this long
CYCLES_TO_SHARE = 3  # the late tenant reaches its share within this many periods once victims may be taken
OBSERVE_SLACK_SECONDS = 1.0  # the probe's own lag: a LIST of every TrainingJob, every 0.25 s
HOLD_SECONDS = 120.0  # then no tenant's holding changes for this long
SAMPLE_SECONDS = 3.0
# kwok runs the pods for an hour: no job finishes during the test.
LONG_RUN = {"localcluster.fairshare.dev/simulate-result": "Succeeded",
            "localcluster.fairshare.dev/simulate-duration": "3600s"}
PREFIX = "preempted for fair share"


def submit(team: Team, count: int) -> None:
    for i in range(count):
        team.submit(f"job-{i:02d}", gpus=GANG, classes=(GPU_CLASS,), annotations=LONG_RUN)


def near(held: dict[str, int], want: dict[str, int]) -> bool:
    """Every tenant within one gang of what it should hold."""
    return all(abs(held[name] - gpus) <= GANG for name, gpus in want.items())


def holding_jobs_running(teams: list[Team]) -> bool:
    """Every job that holds GPUs by its status has its pods up (Running), and none is mid-preemption."""
    phases = [p for t in teams for p in t.phases().values()]
    return "Admitted" not in phases and "Preempted" not in phases


@pytest.mark.timeout(900)
def test_a_late_tenant_preempts_its_way_to_its_weighted_share_and_then_nothing_moves(
        kube_api_client: client.ApiClient, local_cluster: ClusterState, installed_crds: list[str],
        teams: list[Team], tmp_path: Path) -> None:
    ensure_gpu_classes(kube_api_client)
    big = Team(kube_api_client, "fs-w2", {"weight": 2})
    small = Team(kube_api_client, "fs-w1", {"weight": 1})
    late = Team(kube_api_client, "fs-late", {"weight": 1})
    teams += [big, small, late]
    want = {big.name: 32, small.name: 16, late.name: 16}
    # More than the cluster holds, and more than each weight buys of the fleet at list prices (a100 2.5 of 313.6
    # credits/h in all): 80, 48 and 48 GPUs.
    submit(big, 20)
    submit(small, 12)
    watch = InvariantWatch()

    def report(**numbers: object) -> None:
        print("fair-sharing report: " + json.dumps(numbers))

    # The first two tenants' demand arrives together: the operator starts once their jobs exist.
    env = {"FAIRSHARE_POLICY_MIN_RUN_SECONDS": str(MIN_RUN_SECONDS)}
    started = time.time()
    with operator_running(local_cluster.kubeconfig, tmp_path / "operator.log", env=env,
                          args=("--period", str(PERIOD_SECONDS))) as operator:
        wait_for(lambda: sum(held_by_team(kube_api_client, teams).values()) == CAPACITY or None, timeout=120,
                 what=lambda: f"all {CAPACITY} a100 GPUs held; {describe(big)}; {describe(small)}")
        before = wait_for(lambda: holding_jobs_running(teams) and held_by_team(kube_api_client, teams), timeout=60,
                          what="the first two tenants' jobs running")
        full_seconds = time.time() - started  # from the operator's start
        assert before[late.name] == 0 and before[big.name] > before[small.name], before
        watch.observe(observe_cluster(kube_api_client))

        # The late tenant arrives at a full cluster. Victims may be taken once they have run the minimum time
        # (from their admission, as the operator counts it, to the second).
        arrival = time.time()
        submit(late, 12)
        admitted = [timestamp(j["status"]["allocation"]["admittedAt"]) for t in (big, small)
                    for j in t.jobs().values() if j["status"].get("phase") == "Running"]
        eligible = max(arrival, max(a for a in admitted if a is not None) + MIN_RUN_SECONDS)
        deadline = eligible + CYCLES_TO_SHARE * PERIOD_SECONDS + OBSERVE_SLACK_SECONDS
        reached = wait_for(lambda: (h := held_by_team(kube_api_client, teams)) and near(h, want) and h,
                           timeout=deadline - time.time(), interval=0.25,
                           what=lambda: f"holdings within {GANG} GPUs of {want} by {CYCLES_TO_SHARE} cycles after "
                                        f"the minimum run time; {describe(late)}; {describe(big)}")
        reached_at = time.time()
        report(full_seconds=round(full_seconds, 1), before=before, reached=reached,
               arrival_to_share_seconds=round(reached_at - arrival, 1),
               eligible_to_share_seconds=round(reached_at - eligible, 1),
               min_run_seconds=MIN_RUN_SECONDS, period_seconds=PERIOD_SECONDS)

        # The holdings the hold is measured against: once the cycle that moved them has written everything and
        # the late tenant's pods are up.
        seen = cycles(operator.metrics_port) or 0.0
        wait_for(lambda: (cycles(operator.metrics_port) or 0.0) >= seen + 2, timeout=30, what="two more cycles")
        wait_for(lambda: holding_jobs_running(teams) or None, timeout=60,
                 what=lambda: f"every holding job Running; {describe(late)}; {describe(big)}; {describe(small)}")
        settled = held_by_team(kube_api_client, teams)
        assert near(settled, want) and sum(settled.values()) == CAPACITY, settled
        assert settled[big.name] > settled[small.name] and settled[big.name] > settled[late.name], \
            f"holdings in weight order (2:1:1): {settled}"
        preempted = {t.name: preemption_events(t) for t in (big, small, late)}

        def unchanged() -> dict[str, int] | None:
            watch.observe(observe_cluster(kube_api_client))
            now = held_by_team(kube_api_client, teams)
            return now if now == settled else None

        samples = hold_for(unchanged, seconds=HOLD_SECONDS, interval=SAMPLE_SECONDS,
                           what=lambda: f"holding {settled}; {describe(late)}; {describe(big)}; {describe(small)}")
        assert operator.alive()
        report(settled=settled, hold_seconds=HOLD_SECONDS, hold_samples=samples,
               preemptions={name: len(jobs) for name, jobs in preempted.items()})

    # Every preemption was for fair share, named the late tenant, and took from the tenants above their shares.
    assert not preempted[late.name], "nothing was taken from the late tenant"
    messages = [m for t in (big, small) for ms in preempted[t.name].values() for m in ms]
    assert messages, "the late tenant's GPUs came from preemptions"
    assert all(m.startswith(PREFIX) and f"tenant {late.name} at" in m for m in messages), messages
    moved = sum(before[t.name] - settled[t.name] for t in (big, small))
    assert len(messages) * GANG == moved == settled[late.name], (messages, before, settled)
    # Nothing was preempted during the hold either.
    assert {t.name: preemption_events(t) for t in (big, small, late)} == preempted
    # Preempted jobs went back to the queue (their condition now reads Requeued) and wait with a reason.
    for team in (big, small):
        jobs = team.jobs()
        for name in preempted[team.name]:
            status = jobs[name]["status"]
            assert status["phase"] == "Queued" and status["queue"]["reason"], (name, status)

    watch.observe(observe_cluster(kube_api_client))
    assert watch.violations == [], [str(v) for v in watch.violations]
    assert watch.observations >= HOLD_SECONDS / SAMPLE_SECONDS
