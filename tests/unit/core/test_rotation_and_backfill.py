"""Issue 21's two experimental rules, both off by default: share rotation (fair-sharing preemption in turns) and
backfilling idle GPUs with any waiting job."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fairshare.core.admission import backfills_any, held_back
from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.cycle import Cause
from fairshare.core.fairsharing import rotates_to, rotation_floor
from fairshare.core.types import Snapshot
from fairshare.simulator.replay import apply
from tests.builders import cluster, job, tenant
from tests.unit.core.test_fairsharing import LONG_AGO, NOW, carried, held

CONFIG = PolicyConfig(service_quantum_gpu_hours=0.0, migration_gain=0.0)
ROTATE = replace(CONFIG, share_rotation=True)


@pytest.mark.parametrize(("preemptor", "want"), [(0.0, 1.0), (0.5, 1.0), (1.0, 1.0), (1.4, 1.4)])
def test_rotation_floor_is_the_share_or_the_preemptors_ratio(preemptor: float, want: float) -> None:
    assert rotation_floor(preemptor) == want


@pytest.mark.parametrize(("victim", "floor", "want"), [
    (2.0, 1.0, True),   # above its share: gives up a gang, wherever the preemptor ends
    (1.0, 1.0, False),  # at its share: keeps it
    (0.5, 1.0, False),  # below its share: keeps it
    (1.2, 1.4, False),  # below the preemptor's own ratio: keeps it
])
def test_rotates_to(victim: float, floor: float, want: bool) -> None:
    assert rotates_to(victim, floor) is want


def one_gang_each(started: float = LONG_AGO) -> Snapshot:
    """Two equal tenants, one 8-GPU node: a runs an 8-GPU gang, c waits with one (a share of 4 GPUs each)."""
    return (cluster().gpus("gpu", nodes=1, per_node=8).tenants("a", "c")
            .jobs(job("a/run-0").gpus(8).classes("gpu").running("gpu", "gpu-0", started=started),
                  job("c/new-0").gpus(8).classes("gpu").submitted(NOW - 10)).obj())


@pytest.mark.parametrize(("snapshot", "config", "want"), [
    pytest.param(one_gang_each(), CONFIG, {"a": 8}, id="off: a gang would end c above a, so nothing moves"),
    pytest.param(one_gang_each(), ROTATE, {"c": 8}, id="on: a is above its share, so c takes its turn"),
    pytest.param(one_gang_each(started=NOW - 60), ROTATE, {"a": 8},
                 id="on: a gang younger than the minimum run time keeps its turn"),
    pytest.param(
        cluster().gpus("gpu", nodes=2, per_node=8).tenants("a", "c")
        .jobs(job("a/run-0").gpus(8).classes("gpu").running("gpu", "gpu-0", started=LONG_AGO),
              job("c/run-0").gpus(8).classes("gpu").running("gpu", "gpu-1", started=LONG_AGO),
              job("c/new-0").gpus(8).classes("gpu").submitted(NOW - 10)).obj(),
        ROTATE, {"a": 8, "c": 8}, id="on: a tenant at its share takes nothing from one at its share"),
    pytest.param(
        cluster().gpus("gpu", nodes=1, per_node=8).tenants("a", tenant("c").guarantee(gpu=0))
        .jobs(job("a/pinned").gpus(8).classes("gpu").non_preemptible().running("gpu", "gpu-0", started=LONG_AGO),
              job("c/new-0").gpus(8).classes("gpu").submitted(NOW - 10)).obj(),
        ROTATE, {"a": 8}, id="on: a non-preemptible gang is never taken"),
])
def test_share_rotation(snapshot: Snapshot, config: PolicyConfig, want: dict[str, int]) -> None:
    assert held(apply(snapshot, schedule(snapshot, NOW, config), NOW)) == want


def test_rotation_takes_turns_of_the_minimum_run_time() -> None:
    """With rotation the gang goes back to a once c's has run min_run_seconds, and not before."""
    snap, now, owners = one_gang_each(), NOW, []
    for step in (0.0, 60.0, ROTATE.min_run_seconds):
        now += step
        result = schedule(snap, now, ROTATE)
        snap = carried(snap, result, now)
        owners.append(sorted(held(snap)))
    assert owners == [["c"], ["c"], ["a"]]


def backlog(config: PolicyConfig) -> dict[str, int]:
    """Tenant a, its budget spent, waits with a 4-GPU job bidding below every floor, then a plain 4-GPU job; the
    8-GPU node is idle. Returns what runs after one cycle."""
    snap = (cluster().gpus("gpu", nodes=1, per_node=8).tenants(tenant("a").budget(10, spent=10))
            .jobs(job("a/cheap").gpus(4).classes("gpu").bid(0.01).submitted(NOW - 20),
                  job("a/plain").gpus(4).classes("gpu").submitted(NOW - 10)).obj())
    result = schedule(snap, NOW, config)
    return {d.job_key: d.workers for d in result.decisions if type(d).__name__ == "Admit"}


@pytest.mark.parametrize(("config", "want"), [
    pytest.param(replace(CONFIG, lookahead=1), {}, id="off: the lookahead stops at the job that cannot run"),
    pytest.param(replace(CONFIG, lookahead=1, idle_backfill_any=True), {"a/plain": 1},
                 id="on: any waiting job that fits takes the idle GPUs"),
    pytest.param(CONFIG, {"a/plain": 1}, id="off, default lookahead: the next job is reached too"),
])
def test_idle_backfill(config: PolicyConfig, want: dict[str, int]) -> None:
    assert backlog(config) == want


@pytest.mark.parametrize(("cause", "held_by_something_else", "any_backfill"), [
    (Cause.CAPACITY, True, True),
    (Cause.DEPTH, True, True),
    (Cause.SHARE, True, True),
    (Cause.ORDER, False, True),
    (None, False, True),
    (Cause.TOO_BIG, False, False),
    (Cause.NO_CLASS, False, False),
    (Cause.NO_TENANT, False, False),
    (Cause.NONPREEMPTIBLE, False, False),
])
def test_which_waiting_jobs_may_run_on_idle_capacity(cause: Cause | None, held_by_something_else: bool,
                                                      any_backfill: bool) -> None:
    snap = cluster().gpus("gpu").tenants("a").jobs(job("a/x").gpus(1).classes("gpu")).obj()
    from fairshare.core import index

    p = index.build(snap, NOW, CONFIG).pending[0]
    p.cause = cause
    assert held_back(p) is held_by_something_else
    assert backfills_any(p) is any_backfill
