"""The cycle watchdog on an injected clock: liveness fails only for a replica expected to cycle, with work pending,
once no cycle has completed for N periods."""

from __future__ import annotations

import pytest

from fairshare.control.watchdog import CycleWatchdog, Stall, pending_jobs
from tests.unit.control.builders import training_job


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# Each step: (seconds to advance, what happens: "cycle" | "follow" | "lead", pending jobs, whether liveness fails).
Step = tuple[float, str, int, bool]


@pytest.mark.parametrize("steps", [
    pytest.param([(10, "lead", 3, False), (10, "cycle", 3, False), (29, "lead", 3, False)],
                 id="a cycle every period: healthy"),
    pytest.param([(30, "lead", 3, False), (0.5, "lead", 3, True)], id="leader, 3 periods and more without a cycle"),
    pytest.param([(25, "cycle", 3, False), (31, "lead", 3, True), (0, "cycle", 3, False), (1, "lead", 3, False)],
                 id="a completed cycle heals it"),
    pytest.param([(100, "lead", 0, False)], id="no work pending: no stall"),
    pytest.param([(100, "lead", 0, False), (1, "lead", 1, True)], id="work arrives at a hung loop: fails at once"),
    pytest.param([(100, "follow", 5, False), (20, "lead", 5, False), (11, "lead", 5, True)],
                 id="a follower never fails; once it leads, counted from when it last followed"),
])
def test_watchdog(steps: list[Step]) -> None:
    clock = Clock()
    watchdog = CycleWatchdog(period_seconds=10.0, missed_periods=3, clock=clock)
    for advance, event, pending, fails in steps:
        clock.now += advance
        if event == "cycle":
            watchdog.cycle_completed()
        stall = watchdog.check(expected_to_cycle=event != "follow", pending=pending)
        assert (stall is not None) == fails, (advance, event, pending, stall)


def test_off_never_fails() -> None:
    clock = Clock()
    watchdog = CycleWatchdog(period_seconds=10.0, missed_periods=0, clock=clock)
    clock.now += 10_000
    assert watchdog.check(expected_to_cycle=True, pending=10) is None


def test_the_stall_says_how_long_and_how_much_work() -> None:
    assert str(Stall(45.2, 30.0, 7)) == ("no scheduling cycle has completed for 45 s (allowed: 30 s) while 7 "
                                          "TrainingJob(s) are pending: the loop is hung")


def test_negative_periods_are_refused() -> None:
    with pytest.raises(ValueError, match="missed_periods must be >= 0"):
        CycleWatchdog(10.0, -1)


def test_pending_jobs_are_those_not_terminal_and_not_being_deleted() -> None:
    bodies = [training_job("a/new").body(), training_job("a/queued").phase("Queued").body(),
              training_job("a/running").phase("Running").body(), training_job("a/done").phase("Succeeded").body(),
              training_job("a/failed").phase("Failed").body(),
              training_job("a/going").phase("Queued").deleting().body()]
    assert pending_jobs(bodies) == 3
