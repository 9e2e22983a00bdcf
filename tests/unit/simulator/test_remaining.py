"""The remaining-work estimate the simulator hands the core: work left from progress, over measured throughput."""

from __future__ import annotations

import pytest

from fairshare.simulator.jobstate import JobState
from fairshare.simulator.remaining import remaining_gpu_hours
from tests.unit.simulator.builders import make_job

HOUR = 3600.0


def _state(done: float = 0.0, running: tuple[str, int, float] | None = None, gpus: int = 1) -> JobState:
    """A job of 3,600 samples on `gpus` GPUs, `done` of them done; `running`: (class, workers, samples/s) from 0."""
    state = JobState(make_job("a/j").gpus(gpus).steps(3600.0 / 32).obj())  # ResNet-18, batch size 32
    state.done = done
    if running is not None:
        state.gpu_class, state.workers, state.rate = running[0], running[1], running[2]
        state.since = state.ready_at = 0.0
    return state


@pytest.mark.parametrize(("state", "measured", "now", "want"), [
    pytest.param(_state(), {}, 0.0, None, id="never measured: unknown"),
    pytest.param(_state(done=1800.0), {("v100", 1): 1.0}, 0.0, 0.5,
                 id="waiting: work left over the measured rate, in GPU-hours"),
    pytest.param(_state(done=1800.0, gpus=2), {("v100", 2): 1.0}, 0.0, 1.0, id="a gang counts all its GPUs"),
    pytest.param(_state(), {("v100", 1): 2.0, ("k80", 1): 0.5}, 0.0, 0.5,
                 id="waiting: the pair that finishes it in the fewest GPU-hours"),
    pytest.param(_state(running=("k80", 1, 0.5)), {("v100", 1): 2.0, ("k80", 1): 0.5}, 0.0, 2.0,
                 id="running: the rate of the pair it runs on"),
    pytest.param(_state(running=("k80", 1, 0.5)), {("v100", 1): 2.0}, 0.0, 0.5,
                 id="running on a pair not yet measured: the best measured one"),
    pytest.param(_state(running=("v100", 1, 0.5)), {("v100", 1): 0.5}, HOUR, 1.0,
                 id="running: progress since the last event counts, as the trainer reports it"),
])
def test_remaining_gpu_hours(state: JobState, measured: dict[tuple[str, int], float], now: float,
                             want: float | None) -> None:
    assert remaining_gpu_hours(state, measured, now) == want
