"""Scrape mode (the default): GET each running job's rank-0 trainer /metrics directly, a few at a time."""

from __future__ import annotations

import concurrent.futures
import logging
import time
import urllib.request
from collections.abc import Callable, Sequence

from fairshare.feedback.readings import Reading, Target, rank_zero_values, reading_from_values

log = logging.getLogger(__name__)


class ScrapeSource:
    """Reads trainers over HTTP; a trainer that does not answer within `timeout_seconds` is skipped this round."""

    name = "scrape"

    def __init__(self, timeout_seconds: float = 2.0, parallelism: int = 16,
                 clock: Callable[[], float] = time.time) -> None:
        self.timeout, self.parallelism, self.clock = timeout_seconds, parallelism, clock

    def _fetch(self, target: Target) -> Reading | None:
        assert target.endpoint is not None
        with urllib.request.urlopen(f"http://{target.endpoint}/metrics", timeout=self.timeout) as response:
            text = response.read().decode("utf-8", errors="replace")
        return reading_from_values(target, rank_zero_values(text), self.clock())

    def read(self, targets: Sequence[Target]) -> tuple[list[Reading], int]:
        """Readings of the targets that answered with a throughput, and how many could not be read."""
        reachable = [t for t in targets if t.endpoint]
        readings: list[Reading] = []
        failures = len(targets) - len(reachable)
        if not reachable:
            return readings, failures
        with concurrent.futures.ThreadPoolExecutor(min(self.parallelism, len(reachable))) as pool:
            futures = {pool.submit(self._fetch, t): t for t in reachable}
            for future, target in futures.items():
                try:
                    reading = future.result()
                except Exception as exc:  # noqa: BLE001 - a dead or slow trainer is skipped, never fatal
                    log.debug("scrape of %s at %s failed: %s", target.job_key, target.endpoint, exc)
                    failures += 1
                    continue
                if reading is not None:
                    readings.append(reading)
        return readings, failures
