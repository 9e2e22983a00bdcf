"""Least remaining work first within a tenant (PolicyConfig.service_by_remaining): bands of the work a job has left,
queue order, who gives way to whom, and the fall-back to attained service where the work left is unknown."""

from __future__ import annotations

import dataclasses
import math

import pytest

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.cycle import remaining_now, work_band
from fairshare.core.index import build
from fairshare.core.types import Job, Snapshot
from tests.builders import JobBuilder, cluster, job
from tests.unit.core.helpers import Row, summary

NOW = 100_000.0
HOUR = 3600.0
SRPT = PolicyConfig(service_by_remaining=True)


def left(builder: JobBuilder, gpu_hours: float, at: float = NOW) -> Job:
    """The job with a remaining-work estimate of `gpu_hours` made at `at`."""
    return dataclasses.replace(builder.obj(), remaining_gpu_hours=gpu_hours, remaining_at=at)


@pytest.mark.parametrize(("j", "now", "want"), [
    pytest.param(job("a/x").obj(), NOW, None, id="unknown stays unknown"),
    pytest.param(left(job("a/x"), 5.0), NOW + 10 * HOUR, 5.0, id="a waiting job's estimate does not run down"),
    pytest.param(left(job("a/x").gpus(2).running("a100", "n0", started=NOW - HOUR), 5.0), NOW + HOUR, 3.0,
                 id="a running job's estimate falls by the GPU-hours it held since the estimate"),
    pytest.param(left(job("a/x").running("a100", "n0", started=NOW + HOUR), 5.0), NOW + 2 * HOUR, 4.0,
                 id="only from the start of its allocation when that is later than the estimate"),
    pytest.param(left(job("a/x").gpus(4).running("a100", "n0", started=NOW), 5.0), NOW + 10 * HOUR, 0.0,
                 id="never below zero"),
])
def test_remaining_now(j: Job, now: float, want: float | None) -> None:
    assert remaining_now(j, now) == want


@pytest.mark.parametrize(("j", "attained", "config", "band"), [
    pytest.param(left(job("a/x"), 0.5), 50.0, PolicyConfig(), 2, id="flag off: attained service alone"),
    pytest.param(left(job("a/x"), 0.5), 50.0, SRPT, 0, id="flag on: little left, whatever it has held"),
    pytest.param(left(job("a/x"), 500.0), 0.0, SRPT, 3, id="flag on: much left, though it held nothing"),
    pytest.param(job("a/x").obj(), 50.0, SRPT, 2, id="flag on, work left unknown: attained service"),
    pytest.param(left(job("a/x").gpus(8).running("a100", "n0", started=NOW - HOUR), 12.0, NOW - HOUR), 0.0, SRPT,
                 1, id="flag on, running: the band of what is left now (12 - 8 = 4 GPU-hours)"),
])
def test_work_band(j: Job, attained: float, config: PolicyConfig, band: int) -> None:
    assert work_band(j, attained, NOW, config) == band


def test_a_tenant_queue_puts_the_least_work_left_first_within_a_priority() -> None:
    snapshot = cluster().gpus("a100", nodes=1, per_node=1).tenants("a").jobs(
        job("a/blocker").running("a100", "a100-0", started=NOW - 60),
        left(job("a/long").submitted(0), 500.0), left(job("a/nearly").attained(50).submitted(10), 0.5),
        job("a/unknown").attained(5).submitted(20), job("a/fresh").submitted(30),
        left(job("a/urgent").priority(1).submitted(40), 5000.0)).obj()
    queue = [p.job.key for p in build(snapshot, NOW, SRPT).tenants["a"].queue]
    assert queue == ["a/urgent", "a/nearly", "a/fresh", "a/unknown", "a/long"]


def _one_tenant(*jobs: Job | JobBuilder) -> Snapshot:
    return cluster().gpus("a100", nodes=1, per_node=8).tenants("a", "b").jobs(*jobs).obj()


@pytest.mark.parametrize(("snapshot", "config", "want"), [
    pytest.param(
        _one_tenant(left(job("a/nearly").gpus(8).running("a100", "a100-0", started=0).attained(100), 0.5),
                    job("a/fresh").gpus(8)),
        SRPT, [("wait", "a/fresh", 0)],
        id="a long-served job with little left keeps its GPUs"),
    pytest.param(
        _one_tenant(left(job("a/nearly").gpus(8).running("a100", "a100-0", started=0).attained(100), 0.5),
                    job("a/fresh").gpus(8)),
        PolicyConfig(), [("preempt", "a/nearly"), ("admit", "a/fresh", "a100", ("a100-0",))],
        id="the same with the flag off: least attained service displaces it"),
    pytest.param(
        _one_tenant(left(job("a/long").gpus(8).running("a100", "a100-0", started=NOW - 0.5 * HOUR), 400.0, NOW),
                    left(job("a/short").gpus(8).attained(3), 3.0)),
        SRPT, [("preempt", "a/long"), ("admit", "a/short", "a100", ("a100-0",))],
        id="a job with much left gives way to its tenant's job with less left"),
    pytest.param(
        _one_tenant(left(job("a/long").gpus(8).running("a100", "a100-0", started=NOW - 60), 400.0, NOW),
                    left(job("a/short").gpus(8).attained(3), 3.0)),
        SRPT, [("wait", "a/short", 0)],
        id="but only once it has run its minimum time"),
    pytest.param(
        _one_tenant(left(job("b/long").gpus(8).running("a100", "a100-0", started=NOW - 0.5 * HOUR), 400.0, NOW),
                    left(job("a/short").gpus(8), 3.0)),
        SRPT, [("wait", "a/short", 0)],
        id="never across tenants"),
])
def test_who_gives_way_by_remaining_work(snapshot: Snapshot, config: PolicyConfig, want: list[Row]) -> None:
    assert summary(schedule(snapshot, NOW, config)) == want


def test_a_gang_with_known_work_left_sets_no_service_wake() -> None:
    snapshot = _one_tenant(left(job("a/long").gpus(8).running("a100", "a100-0", started=NOW - 60), 0.5, NOW),
                           job("a/fresh").gpus(8))
    las, srpt = schedule(snapshot, NOW, PolicyConfig()), schedule(snapshot, NOW, SRPT)
    assert (las.wake_at is not None and las.wake_at < math.inf, srpt.wake_at) == (True, math.inf)
