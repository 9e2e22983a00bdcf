"""What only the leader runs: for each term of leadership a fresh LIST, then the scheduling loop (every write gated on
the term) and the feedback collector, all stopped when the term ends. A follower only keeps its store warm."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fairshare.control.loop import SchedulingLoop
from fairshare.k8s.election import LeaderElector
from fairshare.k8s.lease import WriteGate
from fairshare.metrics import OperatorMetrics

log = logging.getLogger(__name__)

# A term's work: given its write gate, the loop (for the handlers to poke) and the coroutines to run.
TermWork = Callable[[WriteGate], tuple[SchedulingLoop, list[Coroutine[Any, Any, None]]]]
IN_FLIGHT_WAIT_SECONDS = 5.0  # on shutdown, how long writes already sent may take before the Lease is released


class Leadership:
    """The campaign's callbacks: `start(term)` and `stop()` start and stop a term's work; `shutdown()` ends it for
    good and hands the Lease over."""

    def __init__(self, elector: LeaderElector, metrics: OperatorMetrics, resync: Callable[[], None],
                 work: TermWork, request_exit: Callable[[], None] | None = None) -> None:
        self.elector, self.metrics, self.resync, self.work = elector, metrics, resync, work
        self.request_exit = request_exit or (lambda: os.kill(os.getpid(), signal.SIGTERM))
        self.loop: SchedulingLoop | None = None
        self.gate: WriteGate | None = None
        self.exit_code = 0
        self._task: asyncio.Task[None] | None = None
        self._synced_at: float | None = None  # our clock when the latest full LIST started

    def synced(self) -> None:
        """A full LIST, started now (the initial one at startup)."""
        started = self.elector.clock()
        self.resync()
        self._synced_at = started

    async def start(self, term: int) -> None:
        self.metrics.set_role(leader=True)
        self.gate = WriteGate(self.elector.gate(term), lambda result: self.metrics.gated_writes.labels(
            result=result).inc())
        self._task = asyncio.create_task(self._lead(term, self.gate), name=f"fairshare-leader-term-{term}")

    async def _lead(self, term: int, gate: WriteGate) -> None:
        # The first plan reads a LIST taken after this term began: by then the previous leader's gate had been shut
        # for leaseDuration - renewDeadline, so the LIST holds every write it made (docs/reliability.md).
        acquired = self.elector.acquired_at
        while self._synced_at is None or acquired is None or self._synced_at < acquired:
            try:
                await asyncio.to_thread(self.synced)
            except Exception as exc:  # noqa: BLE001 - the API is away: try again while still leading
                log.warning("LIST before leading failed: %s", exc)
                await asyncio.sleep(self.elector.settings.retry_period_seconds)
        loop, coroutines = self.work(gate)
        self.loop = loop
        log.info("term %d: store listed, scheduling", term)
        loop.poke()
        await asyncio.gather(*coroutines)

    async def stop(self) -> None:
        """The term ended (the gate is already shut): withdraw the loop and the collector, forget the cycle's
        figures. Without election, a process that finds another holding the Lease exits instead of standing by."""
        task, self._task, self.loop = self._task, None, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        self.metrics.set_role(leader=False)
        self.metrics.forget_cycle_state()
        holder = self.elector.held_by_another()
        log.warning("no longer leading%s; scheduling stopped", f": {holder} holds the Lease" if holder else "")
        if holder and not self.elector.settings.standby:
            log.error("leader election is off, so this process does not stand by: exiting")
            self.exit_code = 1
            self.request_exit()

    async def shutdown(self) -> None:
        """Shut the gate, stop the work, let writes already sent finish (bounded), then release the Lease so a
        follower takes over at its next attempt instead of after the lease duration."""
        self.elector.resign()
        await self.stop()
        if self.gate is not None:
            started = time.monotonic()
            if not await asyncio.to_thread(self.gate.wait_idle, IN_FLIGHT_WAIT_SECONDS):
                log.warning("writes still in flight after %.1f s: the Lease is left to expire rather than released",
                            time.monotonic() - started)
                return
        await asyncio.to_thread(self.elector.release)
