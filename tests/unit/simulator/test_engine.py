"""The replay's physics: exact finish times, restart costs, drift, feedback of measured pairs only, refusals."""

from __future__ import annotations

import math
from typing import Any

import pytest

from fairshare.core.decisions import Admit, CycleResult
from fairshare.core.types import Snapshot
from fairshare.simulator.policies import POLICIES
from fairshare.simulator.workload import Phase
from tests.unit.simulator.builders import (
    R18,
    R18_64,
    ScriptedPolicy,
    admit_pending_on,
    make_cluster,
    make_job,
    make_workload,
    preempt_at,
    replay,
)

V100_NODE = {"v100-000": 4}


@pytest.mark.parametrize(("gpus", "steps", "rate"), [
    pytest.param(1, 3000, 30.0, id="1 GPU"),
    pytest.param(2, 5600, 56.0, id="2 GPUs on one server"),
    pytest.param(4, 11400, 114.0, id="4 GPUs on one server"),
])
def test_one_job_finishes_at_total_steps_over_throughput(gpus: int, steps: int, rate: float) -> None:
    job = make_job("a/j1").gpus(gpus).steps(steps).at(0.0).obj()
    result = replay(make_workload(job), make_cluster(("v100", 1, 4)), ScriptedPolicy(admit_pending_on("v100",
                                                                                                      V100_NODE)))
    assert result.jobs[0].finish_s == pytest.approx(steps / rate, rel=1e-12)


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_every_core_policy_runs_a_lone_job_at_its_throughput(policy: str) -> None:
    job = make_job("a/j1").steps(3000).at(0.0).obj()
    result = replay(make_workload(job), make_cluster(("v100", 1, 1)), POLICIES[policy])
    assert result.jobs[0].finish_s == pytest.approx(100.0, rel=1e-12)
    assert result.violations == ()


def test_a_gang_spread_over_servers_runs_at_the_unconsolidated_rate() -> None:
    job = make_job("a/j1").gpus(2).steps(4000).obj()

    def spread(snapshot, now):  # type: ignore[no-untyped-def]
        return [Admit("a/j1", "v100", 2, ("v100-000", "v100-001"), 1.0)] if now == 0 else []

    result = replay(make_workload(job), make_cluster(("v100", 2, 1)), ScriptedPolicy(spread))
    assert result.jobs[0].finish_s == pytest.approx(4000 / 40.0)


@pytest.mark.parametrize(("restart_s", "checkpoint_every_s", "want_finish"), [
    # Runs 0..360 (360 s of its 1000 s of work), preempted at 360, back at 720: 640 s of work left.
    pytest.param(0.0, 0.0, 720 + 640, id="no restart cost"),
    pytest.param(30.0, 0.0, 720 + 30 + 640, id="restart delay only (checkpoint on SIGTERM)"),
    pytest.param(120.0, 0.0, 720 + 120 + 640, id="longer restart delay"),
    pytest.param(30.0, 100.0, 720 + 30 + 640 + 60, id="periodic checkpoints lose 60 s of work"),
])
def test_preemption_costs_the_configured_restart(restart_s: float, checkpoint_every_s: float,
                                                 want_finish: float) -> None:
    job = make_job("a/j1").steps(30_000).obj()  # 1000 s on a V100
    policy = ScriptedPolicy(preempt_at([360.0], admit_pending_on("v100", V100_NODE)))
    # The script acts on time alone, so every tick must reach it.
    result = replay(make_workload(job), make_cluster(("v100", 1, 4)), policy, tick_s=360.0, restart_s=restart_s,
                    checkpoint_every_s=checkpoint_every_s, max_quiet_ticks=0)
    outcome = result.jobs[0]
    assert (outcome.finish_s, outcome.preemptions) == (pytest.approx(want_finish), 1)
    assert result.restart_gpu_seconds == pytest.approx(restart_s)


def test_drift_changes_the_rate_at_the_phase_boundary() -> None:
    # Half the samples at ResNet-18 bs32 (960 samples/s), half at bs64 (1536 samples/s).
    work = 2 * 960.0 * 100
    job = make_job("a/j1").phases(Phase(0.0, R18), Phase(0.5, R18_64)).obj()
    job = type(job)(**{**job.__dict__, "work_samples": work})
    result = replay(make_workload(job), make_cluster(("v100", 1, 4)),
                    ScriptedPolicy(admit_pending_on("v100", V100_NODE)))
    assert result.jobs[0].finish_s == pytest.approx(100.0 + work / 2 / 1536.0)


def _measured_pairs(policy: ScriptedPolicy) -> list[tuple[float, set[tuple[str, str, int]]]]:
    return [(now, {(t.job_key, t.gpu_class, t.workers) for t in snap.throughputs}) for now, snap in policy.seen]


def test_feedback_reveals_only_pairs_that_ran_after_their_restart_delay() -> None:
    job = make_job("a/j1").steps(30_000 * 10).obj()
    nodes = {"k80-000": 4}
    policy = ScriptedPolicy(preempt_at([20.0], lambda s, now: admit_pending_on(
        "v100" if now < 20 else "k80", V100_NODE if now < 20 else nodes)(s, now)))
    replay(make_workload(job), make_cluster(("v100", 1, 4), ("k80", 1, 4)), policy, tick_s=10.0, restart_s=15.0,
           max_quiet_ticks=0)
    seen = dict(_measured_pairs(policy))
    v100, k80 = ("a/j1", "v100", 1), ("a/j1", "k80", 1)
    assert seen[0.0] == set()            # admitted at 0: nothing measured yet
    assert seen[10.0] == {v100}          # ran 0..10 on a V100
    assert seen[30.0] == {v100}          # back at 30 on a K80, restarting until 45
    assert seen[40.0] == {v100}
    assert seen[50.0] == {v100, k80}     # trained on the K80 since 45
    values = {(t.gpu_class, t.workers): t.samples_per_second for t in policy.seen[-1][1].throughputs}
    assert values == {("v100", 1): pytest.approx(30.0 * 32), ("k80", 1): pytest.approx(7.0 * 32)}


def test_measurement_noise_perturbs_but_never_reveals_unrun_pairs() -> None:
    job = make_job("a/j1").steps(30_000 * 10).obj()
    policy = ScriptedPolicy(admit_pending_on("v100", V100_NODE))
    replay(make_workload(job), make_cluster(("v100", 1, 4), ("k80", 1, 4)), policy, tick_s=10.0,
           measurement_noise=0.1, max_quiet_ticks=0)
    values = [t.samples_per_second for _, snap in policy.seen for t in snap.throughputs]
    assert {(t.gpu_class, t.workers) for _, snap in policy.seen for t in snap.throughputs} == {("v100", 1)}
    assert any(v != pytest.approx(960.0, rel=1e-6) for v in values)
    assert sum(values) / len(values) == pytest.approx(960.0, rel=0.1)


@pytest.mark.parametrize(("decision", "violation"), [
    pytest.param(Admit("a/j1", "v100", 1, ("v100-000",), 1.0), None, id="valid admission"),
    pytest.param(Admit("a/j1", "v100", 2, ("v100-000", "v100-000"), 1.0), "exceeds free GPUs",
                 id="more GPUs than the node has"),
    pytest.param(Admit("a/j1", "k80", 1, ("v100-000",), 1.0), "not all on class", id="node of another class"),
    pytest.param(Admit("zz/j9", "v100", 1, ("v100-000",), 1.0), "unknown or finished", id="unknown job"),
])
def test_invalid_decisions_are_refused_and_recorded(decision: Admit, violation: str | None) -> None:
    job = make_job("a/j1").steps(300).obj()
    fallback = admit_pending_on("v100", {"v100-000": 1})
    policy = ScriptedPolicy(lambda s, now: [decision] if now == 0 else fallback(s, now))
    result = replay(make_workload(job), make_cluster(("v100", 1, 1), ("k80", 1, 1)), policy)
    assert result.jobs[0].finish_s is not None
    if violation is None:
        assert result.violations == ()
    else:
        assert len(result.violations) == 1 and violation in result.violations[0]


def test_a_seconds_long_job_late_in_a_long_replay_finishes() -> None:
    early = make_job("a/j0").steps(30).at(0.0).obj()
    late = make_job("a/j1").steps(3).at(360.0 * 194_445).obj()  # 0.1 s of work 19,000 h in, on a tick
    result = replay(make_workload(early, late), make_cluster(("v100", 1, 4)),
                    ScriptedPolicy(admit_pending_on("v100", V100_NODE)))
    assert result.jobs[1].finish_s == pytest.approx(360.0 * 194_445 + 0.1, abs=1e-6)


def _cycle_times(*jobs: object, gpus: int = 4, **engine: object) -> list[float]:
    policy = ScriptedPolicy(admit_pending_on("v100", {"v100-000": gpus}))
    replay(make_workload(*jobs), make_cluster(("v100", 1, gpus)), policy, tick_s=360.0, **engine)  # type: ignore[arg-type]
    return [now for now, _ in policy.seen]


@pytest.mark.parametrize(("jobs", "gpus", "want"), [
    pytest.param([make_job("a/j1").steps(30 * 36_000).obj()], 4, [0.0, 720.0],
                 id="one long job: its start, then its minimum run time; no first report, no idle refresh"),
    pytest.param([make_job("a/j1").steps(30 * 100).obj(), make_job("a/j2").steps(30 * 100).at(3600.0).obj()], 4,
                 [0.0, 360.0, 3600.0],
                 id="a job that finished before its minimum run time wakes nobody"),
    pytest.param([make_job("a/j1").steps(30 * 36_000).obj(), make_job("a/j2").steps(30 * 100).obj()], 1,
                 [0.0, 360.0, 720.0],
                 id="while a job waits, a cycle that acted is followed by another"),
])
def test_a_cycle_runs_only_when_something_changed(jobs: list, gpus: int, want: list[float]) -> None:
    assert _cycle_times(*jobs, gpus=gpus)[:len(want)] == want


def _cycle_times_with_wake(wake: Any, *jobs: object, gpus: int = 4) -> list[float]:
    policy = ScriptedPolicy(admit_pending_on("v100", {"v100-000": gpus}), wake=wake)
    replay(make_workload(*jobs), make_cluster(("v100", 1, gpus)), policy, tick_s=360.0)
    return [now for now, _ in policy.seen]


LONG = make_job("a/j1").steps(30 * 36_000).obj()
WAITS = make_job("a/j2").steps(30 * 100).obj()


@pytest.mark.parametrize(("wake", "jobs", "gpus", "want"), [
    pytest.param(lambda s, now: math.inf, [LONG], 4, [0.0],
                 id="a policy that wakes only for events: no cycle at the minimum run time"),
    pytest.param(lambda s, now: 1000.0 if now < 1000.0 else math.inf, [LONG], 4, [0.0, 1080.0],
                 id="a wake time: the first tick at or after it"),
    pytest.param(lambda s, now: math.inf, [LONG, WAITS], 1, [0.0, 10800.0],
                 id="a job waits: no follow-up after an admission, only the quiet-tick refresh"),
    pytest.param(lambda s, now: now, [LONG, WAITS], 1, [0.0, 360.0, 720.0],
                 id="a wake at the cycle's own time: the next tick"),
])
def test_a_policy_that_gives_its_wake_time_is_asked_then(wake: Any, jobs: list, gpus: int,
                                                         want: list[float]) -> None:
    assert _cycle_times_with_wake(wake, *jobs, gpus=gpus)[:len(want)] == want


def test_with_nobody_waiting_quiet_ticks_are_skipped_without_limit() -> None:
    long_job = make_job("a/j1").steps(30 * 36_100).obj()  # just over ten hours alone on a V100
    assert _cycle_times(long_job, max_quiet_ticks=2) == [0.0, 720.0]
    assert len(_cycle_times(long_job, max_quiet_ticks=0)) == 101  # every tick until it finishes


def test_snapshots_carry_attained_service_and_the_last_prices() -> None:
    job = make_job("a/j1").steps(30_000).obj()  # 1000 s on a V100
    policy = ScriptedPolicy(preempt_at([360.0], admit_pending_on("v100", V100_NODE)))
    replay(make_workload(job), make_cluster(("v100", 1, 4)), policy, tick_s=360.0, max_quiet_ticks=0)
    seen = dict(policy.seen)
    # Ran 0..360 on one GPU, then preempted: pending at 720 with 0.1 GPU-hours held, running again after.
    assert [j.attained_gpu_hours for j in seen[0.0].jobs] == [0.0]
    assert [j.attained_gpu_hours for j in seen[720.0].jobs] == [pytest.approx(0.1)]


def test_snapshots_carry_the_last_cycles_prices_and_fair_shares() -> None:
    seen: list[Snapshot] = []

    class Recording:
        name = "market"

        def schedule(self, snapshot: Snapshot, now: float, config: Any) -> CycleResult:
            seen.append(snapshot)
            return POLICIES["market"].schedule(snapshot, now, config)

    jobs = [make_job(f"a/j{i}").steps(30_000).at(360.0 * i).obj() for i in range(3)]
    replay(make_workload(*jobs), make_cluster(("v100", 1, 4), ("k80", 1, 4)), Recording(), tick_s=360.0)
    assert [c.current_price for c in seen[0].classes] == [None, None]
    assert all(c.current_price is not None for c in seen[1].classes)
    assert seen[0].tenants[0].fair_share is None and seen[1].tenants[0].fair_share is not None


def test_each_cycle_carries_its_prices_and_fair_shares_into_the_next_snapshot() -> None:
    # As the operator stores them in GPUClass status (a class the cycle gave no price: its list price) and Tenant
    # status; price damping steps from the carried price.
    prices = {0.0: {"v100": 2.5}, 360.0: {"v100": 3.0, "k80": 1.0}}
    shares = {0.0: {"a": {"v100": 1.5}}, 360.0: {}}
    policy = ScriptedPolicy(admit_pending_on("v100", V100_NODE), prices=lambda now: prices.get(now, {}),
                            fair_shares=lambda now: shares.get(now, {}))
    jobs = [make_job("a/j1").steps(30_000).obj(), make_job("b/j1").steps(30_000).obj()]
    result = replay(make_workload(*jobs), make_cluster(("v100", 1, 4), ("k80", 1, 4)), policy, tick_s=360.0,
                    max_quiet_ticks=0)
    seen = dict(policy.seen)

    def carried(now: float) -> tuple[dict[str, float | None], dict[str, Any]]:
        snap = seen[now]
        return ({c.name: c.current_price for c in snap.classes},
                {t.name: dict(t.fair_share) if t.fair_share is not None else None for t in snap.tenants})

    assert carried(0.0) == ({"v100": None, "k80": None}, {"a": None, "b": None})
    assert carried(360.0) == ({"v100": 2.5, "k80": 0.90}, {"a": {"v100": 1.5}, "b": None})
    assert carried(720.0) == ({"v100": 3.0, "k80": 1.0}, {"a": None, "b": None})
    assert [p for _, p in result.cycle_prices[:3]] == [{"v100": 2.5}, {"v100": 3.0, "k80": 1.0}, {}]


@pytest.mark.parametrize(("oracle", "first_seen"), [
    pytest.param(False, {}, id="measured: nothing before it runs"),
    pytest.param(True, {("v100", 1): 30.0 * 32, ("k80", 1): 7.0 * 32}, id="oracle: every class, from arrival"),
])
def test_oracle_throughput_reports_every_class_from_arrival(oracle: bool,
                                                            first_seen: dict[tuple[str, int], float]) -> None:
    job = make_job("a/j1").steps(30_000 * 10).obj()
    policy = ScriptedPolicy(admit_pending_on("v100", V100_NODE))
    replay(make_workload(job), make_cluster(("v100", 1, 4), ("k80", 1, 4)), policy, tick_s=10.0,
           max_quiet_ticks=0, oracle_throughput=oracle)
    first = {(t.gpu_class, t.workers): t.samples_per_second for t in policy.seen[0][1].throughputs}
    assert first == pytest.approx(first_seen)
    last = {(t.gpu_class, t.workers) for t in policy.seen[-1][1].throughputs}
    assert last == (set(first_seen) if oracle else {("v100", 1)})
