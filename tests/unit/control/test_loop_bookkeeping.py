"""SchedulingLoop with a background lane: a cycle's bookkeeping goes out while the loop waits, and the next cycle
stops it and waits for its writes before it plans."""

from __future__ import annotations

import asyncio
import threading

import pytest

from fairshare.control.actions import Action
from fairshare.control.loop import LoopSettings, SchedulingLoop
from fairshare.control.plan import default_scheduler
from fairshare.core import types as core
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import CycleResult
from fairshare.metrics import OperatorMetrics
from fairshare.render import DEFAULT_SETTINGS
from tests.unit.control.builders import NOW
from tests.unit.control.test_loop import Recorder, sample, world


class Lane:
    """A fake background apply: records its batch and its stop event; with `blocks`, returns only once stopped (a
    lane with more writes than time), else at once; with `fails`, raises."""

    def __init__(self, blocks: bool, fails: bool = False) -> None:
        self.blocks, self.fails = blocks, fails
        self.batches: list[tuple[Action, ...]] = []
        self.stops: list[threading.Event] = []
        self.returned = threading.Event()

    def __call__(self, actions: tuple[Action, ...], stop: threading.Event) -> None:
        self.batches.append(actions)
        self.stops.append(stop)
        if self.blocks:
            stop.wait(timeout=60)
        self.returned.set()
        if self.fails:
            raise RuntimeError("lane broke")


@pytest.mark.parametrize("lane", [
    pytest.param(Lane(blocks=False), id="bookkeeping done before the next cycle"),
    pytest.param(Lane(blocks=True), id="bookkeeping still going: stopped by the next cycle"),
    pytest.param(Lane(blocks=False, fails=True), id="bookkeeping failed: counted, the next cycle goes on"),
])
def test_the_next_cycle_plans_only_after_the_last_cycles_bookkeeping_returned(lane: Lane) -> None:
    store, metrics, apply = world(), OperatorMetrics(), Recorder()
    seen: list[tuple[bool, bool]] = []  # (lane returned, lane stopped or done) when each cycle plans

    def scheduler(snapshot: core.Snapshot, now: float, config: PolicyConfig) -> CycleResult:
        seen.append((lane.returned.is_set(), not lane.stops or lane.stops[-1].is_set() or not lane.blocks))
        return default_scheduler(snapshot, now, config)

    loop = SchedulingLoop(store, apply, metrics, PolicyConfig(), DEFAULT_SETTINGS, LoopSettings(),
                          clock=lambda: NOW, scheduler=scheduler, background=lane)

    async def two_cycles() -> None:
        first = await loop.run_cycle("event")
        assert first.bookkeeping, "the world has bookkeeping to write (queue entry, tenant and class status)"
        assert apply.batches == [first.releases, first.grants], "only releases and grants go out in the cycle"
        await loop.run_cycle("event")
        await loop.stop_bookkeeping()

    asyncio.run(two_cycles())
    assert seen[1] == (True, True)
    assert len(lane.batches) == 2, "each cycle hands its bookkeeping to the lane"
    failures = sample(metrics, "fairshare_reconcile_errors_total", operation="bookkeeping")
    assert failures == (2.0 if lane.fails else None), "each failed lane is counted"
