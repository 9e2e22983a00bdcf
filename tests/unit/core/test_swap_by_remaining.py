"""Swaps by remaining work (PolicyConfig.swap_by_remaining): a job with much left takes the fast class from a job of
the same gang shape that is nearly done, when that cuts the time the pair still needs by migration_gain."""

from __future__ import annotations

import dataclasses

import pytest

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Migrate
from fairshare.core.migration import time_saved
from fairshare.core.types import Job, Snapshot
from tests.builders import JobBuilder, cluster, job

NOW = 100_000.0
SWAP = PolicyConfig(swap_by_remaining=True)


@pytest.mark.parametrize(("h_a", "s_a", "h_b", "s_b", "want"), [
    pytest.param(10.0, 2.0, 10.0, 0.5, 20.0 / 25.0, id="equal work: the slow-down outweighs the speed-up"),
    pytest.param(100.0, 2.0, 1.0, 0.5, 101.0 / 52.0, id="much left on the slow class, nearly done on the fast"),
    pytest.param(1.0, 2.0, 100.0, 0.5, 101.0 / 200.5, id="the other way round: a loss"),
    pytest.param(10.0, 0.0, 1.0, 1.0, 0.0, id="a class where a job does not run at all: never"),
])
def test_time_saved(h_a: float, s_a: float, h_b: float, s_b: float, want: float) -> None:
    assert time_saved(h_a, s_a, h_b, s_b) == pytest.approx(want)


def left(builder: JobBuilder, gpu_hours: float | None) -> Job:
    """The job with a remaining-work estimate (None: unknown) made now."""
    return dataclasses.replace(builder.obj(), remaining_gpu_hours=gpu_hours, remaining_at=NOW)


def _pair(long_left: float | None, short_left: float | None) -> Snapshot:
    """a100 twice as fast as v100 (the prior, both jobs measured where they run), one 4-GPU node each, both full:
    "a/long" on v100, "b/short" on a100."""
    return (cluster().gpus("a100", nodes=1, per_node=4, speed=2).gpus("v100", nodes=1, per_node=4).tenants("a", "b")
            .jobs(left(job("a/long").gpus(4).running("v100", "v100-0", started=0.0), long_left),
                  left(job("b/short").gpus(4).running("a100", "a100-0", started=0.0), short_left))
            .throughput("a/long", "v100", 1, 100.0).throughput("b/short", "a100", 1, 200.0).obj())


def moves(snapshot: Snapshot, config: PolicyConfig) -> list[tuple[str, str]]:
    return sorted((d.job_key, d.gpu_class) for d in schedule(snapshot, NOW, config).decisions
                  if isinstance(d, Migrate))


@pytest.mark.parametrize(("snapshot", "config", "want"), [
    pytest.param(_pair(400.0, 4.0), SWAP, [("a/long", "a100"), ("b/short", "v100")],
                 id="much left on the slow class: the pair swaps"),
    pytest.param(_pair(400.0, 4.0), PolicyConfig(), [],
                 id="flag off: equal speed-ups either way, so no swap"),
    pytest.param(_pair(40.0, 40.0), SWAP, [], id="as much left on both: no swap"),
    pytest.param(_pair(400.0, None), SWAP, [], id="one side's work left unknown: no swap"),
])
def test_swaps_by_remaining_work(snapshot: Snapshot, config: PolicyConfig, want: list[tuple[str, str]]) -> None:
    assert moves(snapshot, config) == want
