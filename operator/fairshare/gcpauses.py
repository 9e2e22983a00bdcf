"""The garbage collector's pauses, measured (a Prometheus histogram) and kept short (long-lived objects tenured): a
collection holds the interpreter lock, so it stops every thread of the process, the Lease renewals' included."""

from __future__ import annotations

import asyncio
import bisect
import gc
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# From a young generation's sub-millisecond pass to a full collection over millions of objects.
GC_PAUSE_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
GENERATIONS = (0, 1, 2)


class GcPauses(Collector):
    """Counts each generation's collections by duration. The `gc.callbacks` hook only adds to plain lists: taking a
    Prometheus metric's lock there could deadlock a thread that the collection interrupted inside that very metric.
    The figures are turned into metric families when scraped. Collections never overlap (the interpreter runs one at
    a time), so the hook needs no lock of its own."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter,
                 buckets: tuple[float, ...] = GC_PAUSE_BUCKETS) -> None:
        self.clock, self.buckets = clock, buckets
        self.counts = {g: [0] * (len(buckets) + 1) for g in GENERATIONS}  # per bucket; the last is +Inf
        self.sums = dict.fromkeys(GENERATIONS, 0.0)
        self.longest = dict.fromkeys(GENERATIONS, 0.0)
        self._started: float | None = None

    def record(self, generation: int, seconds: float) -> None:
        """One collection of `generation` that held the process for `seconds`."""
        self.counts[generation][bisect.bisect_left(self.buckets, seconds)] += 1
        self.sums[generation] += seconds
        self.longest[generation] = max(self.longest[generation], seconds)

    def hook(self, phase: str, info: dict[str, Any]) -> None:
        """The `gc.callbacks` entry: times from "start" to "stop"."""
        if phase == "start":
            self._started = self.clock()
        elif self._started is not None:
            self.record(int(info.get("generation", 2)), self.clock() - self._started)
            self._started = None

    def install(self) -> None:
        """Start timing this process's collections (once; the operator's start-up does it)."""
        if self.hook not in gc.callbacks:
            gc.callbacks.append(self.hook)

    def uninstall(self) -> None:
        if self.hook in gc.callbacks:
            gc.callbacks.remove(self.hook)

    def collect(self) -> Iterator[Metric]:
        pauses = HistogramMetricFamily(
            "fairshare_gc_pause_seconds", "Garbage collections of the operator process by generation (0, 1, 2; 2 is a "
            "full collection) and how long each held the whole process, Lease renewals included.",
            labels=["generation"])
        longest = GaugeMetricFamily(
            "fairshare_gc_pause_longest_seconds", "The longest garbage-collection pause of each generation since the "
            "process started.", labels=["generation"])
        for g in GENERATIONS:
            counts, running, cumulative = list(self.counts[g]), 0, []
            for bound, n in zip((*(str(b) for b in self.buckets), "+Inf"), counts, strict=True):
                running += n
                cumulative.append((bound, running))
            pauses.add_metric([str(g)], cumulative, self.sums[g])
            longest.add_metric([str(g)], self.longest[g])
        yield pauses
        yield longest
        yield GaugeMetricFamily("fairshare_gc_frozen_objects", "Objects tenured (gc.freeze) and so left out of every "
                                "garbage collection: the live store's bodies and whatever was alive with them. Its "
                                "steady growth with a steady store would be garbage kept "
                                "(FAIRSHARE_GC_TENURE_SECONDS).",
                                value=gc.get_freeze_count())


def tenure_survivors() -> int:
    """Rule: an object that survives a collection of the young generations has joined the long-lived heap (the
    store's bodies, parsed specs); it is moved to the permanent generation, which no collection scans. A full
    collection then scans only what was allocated since the last tenure, so its pause stays short however large the
    store grows (at 15,000 jobs untenured, single pauses reached seconds: docs/reliability.md). Frozen objects are
    still freed when their last reference goes; only reference cycles among them are never reclaimed. Returns how
    many objects are frozen."""
    gc.collect(1)
    gc.freeze()
    return gc.get_freeze_count()


async def keep_tenuring(period_seconds: float) -> None:
    """Tenure survivors every `period_seconds`, for as long as the process runs."""
    while True:
        await asyncio.sleep(period_seconds)
        frozen = tenure_survivors()
        log.debug("tenured: %d objects frozen", frozen)
