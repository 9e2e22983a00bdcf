"""The feedback task: every period, read the loop's current targets from a source and hand the readings over."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from fairshare.core.throughput import implausible_throughput
from fairshare.feedback.readings import Reading, Target
from fairshare.metrics import OperatorMetrics

log = logging.getLogger(__name__)


class Source(Protocol):
    name: str

    def read(self, targets: Sequence[Target]) -> tuple[list[Reading], int]: ...


@dataclasses.dataclass(frozen=True)
class FeedbackSettings:
    """How throughput is collected: `source` scrape|prometheus|off, how often, and how it is weighed."""

    source: str = "scrape"
    prometheus_url: str = ""
    period_seconds: float = 15.0
    warmup_seconds: float = 20.0  # readings taken this soon after an admission are start-up, not speed

    def __post_init__(self) -> None:
        if self.source not in ("scrape", "prometheus", "off"):
            raise ValueError(f"feedback source must be scrape, prometheus or off, got {self.source!r}")
        if self.source == "prometheus" and not self.prometheus_url:
            raise ValueError("feedback source prometheus needs a Prometheus URL (FAIRSHARE_PROMETHEUS_URL)")
        if self.period_seconds <= 0 or self.warmup_seconds < 0:
            raise ValueError("feedback period must be > 0 and warm-up >= 0")


class FeedbackCollector:
    """Reads in a worker thread; the loop takes what arrived since its last cycle (newest reading per job)."""

    def __init__(self, source: Source, targets: Callable[[], Sequence[Target]], metrics: OperatorMetrics,
                 period_seconds: float, on_readings: Callable[[], None] | None = None) -> None:
        self.source, self.targets, self.metrics = source, targets, metrics
        self.period, self.on_readings = period_seconds, on_readings
        self._fresh: dict[str, Reading] = {}

    def take(self) -> dict[str, Reading]:
        fresh, self._fresh = self._fresh, {}
        return fresh

    async def collect_once(self) -> int:
        targets = list(self.targets())
        if not targets:
            return 0
        try:
            readings, failures = await asyncio.to_thread(self.source.read, targets)
        except Exception as exc:  # noqa: BLE001 - Prometheus down: keep scheduling on what is already measured
            self.metrics.feedback_reads.labels(source=self.source.name, result="error").inc(len(targets))
            log.warning("reading throughput from %s failed: %s", self.source.name, exc)
            return 0
        self.metrics.feedback_reads.labels(source=self.source.name, result="ok").inc(len(readings))
        self.metrics.feedback_reads.labels(source=self.source.name, result="missing").inc(failures)
        by_job = {t.job_key: t for t in targets}
        for reading in readings:
            target = by_job.get(reading.job_key)
            why = implausible_throughput(reading.samples_per_second, target.smoothed if target else None,
                                         target.expected if target else None)
            if why is not None:
                self.metrics.feedback_dropped.labels(reason=why).inc()
                log.warning("throughput reading of %s dropped (%s): %s samples/s against %s smoothed, %s expected",
                            reading.job_key, why, reading.samples_per_second, target and target.smoothed,
                            target and target.expected)
                continue
            self._fresh[reading.job_key] = reading
        if readings and self.on_readings is not None:
            self.on_readings()
        return len(readings)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            await self.collect_once()
