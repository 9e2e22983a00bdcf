"""The cycle watchdog: a replica that should be scheduling but has completed no cycle for N periods while work is
pending is hung (a call that never returns, a deadlock), and fails its liveness probe so that Kubernetes restarts it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


@dataclasses.dataclass(frozen=True)
class Stall:
    """Why liveness fails: how long no cycle has completed, against the allowance, with how much work pending."""

    seconds: float
    allowed_seconds: float
    pending: int

    def __str__(self) -> str:
        return (f"no scheduling cycle has completed for {self.seconds:.0f} s (allowed: {self.allowed_seconds:.0f} s) "
                f"while {self.pending} TrainingJob(s) are pending: the loop is hung")


def pending_jobs(bodies: Iterable[Mapping[str, Any]]) -> int:
    """Work pending: TrainingJobs not yet terminal and not being deleted (each needs the loop: to be admitted, run,
    charged or finished)."""
    return sum(1 for b in bodies if not (b.get("metadata") or {}).get("deletionTimestamp")
               and (b.get("status") or {}).get("phase") not in TERMINAL_PHASES)


class CycleWatchdog:
    """Counts from the last completed cycle, or from the last moment this replica was not expected to cycle (a
    follower while another replica holds the Lease), whichever is later. `missed_periods` 0 turns it off."""

    def __init__(self, period_seconds: float, missed_periods: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if missed_periods < 0:
            raise ValueError(f"missed_periods must be >= 0 (0 turns the watchdog off), got {missed_periods}")
        self.allowed_seconds = period_seconds * missed_periods
        self.clock = clock
        self._progress_at = clock()

    def cycle_completed(self) -> None:
        self._progress_at = self.clock()

    def check(self, expected_to_cycle: bool, pending: int) -> Stall | None:
        """The stall that should fail liveness, else None. Rule: only a replica expected to cycle (the leader, or one
        that sees no other holder of the Lease) fails, only with work pending, and only once no cycle has completed
        for `missed_periods` cycle periods."""
        now = self.clock()
        if not expected_to_cycle:
            self._progress_at = now
            return None
        stalled = now - self._progress_at
        if not self.allowed_seconds or not pending or stalled <= self.allowed_seconds:
            return None
        return Stall(stalled, self.allowed_seconds, pending)
