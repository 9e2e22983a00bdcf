"""The JCT lower bound: exact where the optimum is known, never above a feasible schedule, never below the floor, and
valid (not above the relaxation's optimum) whatever duals it is given."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from fairshare.simulator.bound import BoundJob, _Problem, certify, fastest_runtime, lower_bound

HOUR = 3600.0


def job(arrival_h: float, hours_on_fastest: float, rates: tuple[float, ...] = (1.0,), gpus: int = 1) -> BoundJob:
    """A job of `hours_on_fastest` hours on its fastest class, with samples/s `rates` per class."""
    return BoundJob(arrival_h * HOUR, gpus, hours_on_fastest * HOUR * max(rates), rates)


@pytest.mark.parametrize(("jobs", "capacity", "optimum_h"), [
    pytest.param([job(0, 1)], [1], 1.0, id="one job alone runs its run time"),
    pytest.param([job(0, 1), job(5, 2)], [1], 1.5, id="jobs that never overlap: each its own run time"),
    pytest.param([job(0, 1), job(0, 1)], [2], 1.0, id="two GPUs for two one-GPU jobs: no waiting"),
    pytest.param([job(0, 1, gpus=2), job(0, 1, gpus=2)], [2], 1.5, id="two gangs that fill the class: one waits"),
    pytest.param([job(0, 1), job(0, 1)], [1], 1.5, id="two jobs, one GPU: the second waits an hour"),
    pytest.param([job(0, 1, (1.0, 0.5)), job(0, 1, (1.0, 0.5))], [1, 1], 1.25,
                 id="a slow class at half speed: one job starts there and moves over"),
])
def test_the_bound_is_at_most_the_optimum_and_close_to_it(jobs: list[BoundJob], capacity: list[float],
                                                          optimum_h: float) -> None:
    result = lower_bound(jobs, capacity, interval_s=0.05 * HOUR)
    assert result.average_jct_s <= optimum_h * HOUR + 1e-6
    assert result.average_jct_s >= result.floor_s - 1e-6
    # Within the relaxation's slack: an interval per job, and what the mean-busy-time row gives away on a slow class.
    assert result.average_jct_s >= (optimum_h - 0.1) * HOUR * (0.9 if len(capacity) > 1 else 1.0)


def fifo_schedule_average_jct(jobs: list[BoundJob], capacity: list[float], step: float) -> float:
    """A feasible schedule: in arrival order, each job waits for the class that finishes it first (no preemption)."""
    free_at = [[0.0] * int(c) for c in capacity]  # per class, when each GPU frees up
    total = 0.0
    for j in sorted(jobs, key=lambda x: x.arrival_s):
        best = math.inf
        choice = None
        for c, rate in enumerate(j.rates):
            if rate <= 0 or j.gpus > len(free_at[c]):
                continue
            gpus = sorted(free_at[c])[:j.gpus]
            start = max(j.arrival_s, max(gpus))
            finish = start + j.work / rate
            if finish < best:
                best, choice = finish, (c, start)
        assert choice is not None
        c, start = choice
        ordered = sorted(range(len(free_at[c])), key=lambda g: free_at[c][g])[:j.gpus]
        for g in ordered:
            free_at[c][g] = best
        total += best - j.arrival_s
    del step
    return total / len(jobs)


def random_jobs(seed: int, count: int) -> list[BoundJob]:
    rng = random.Random(seed)
    return [job(rng.uniform(0, 6), rng.uniform(0.2, 4), (rng.uniform(0.5, 1), 1.0, rng.uniform(0.1, 0.5)),
                gpus=rng.choice([1, 1, 2, 4])) for _ in range(count)]


@pytest.mark.parametrize("seed", range(4))
def test_never_above_a_feasible_schedule_nor_below_the_floor(seed: int) -> None:
    jobs, capacity = random_jobs(seed, 12), [4, 4, 4]
    result = lower_bound(jobs, capacity, interval_s=0.25 * HOUR)
    assert result.floor_s - 1e-6 <= result.average_jct_s <= fifo_schedule_average_jct(jobs, capacity, 0) + 1e-6
    assert result.average_jct_s <= result.lp_average_jct_s + 1e-6


@pytest.mark.parametrize("seed", range(4))
def test_certify_gives_a_valid_bound_from_any_duals(seed: int) -> None:
    """Whatever duals it is handed, certify's value never exceeds the relaxation's optimum (weak duality)."""
    jobs, capacity = random_jobs(seed, 8), [2, 2, 2]
    optimum = lower_bound(jobs, capacity, interval_s=0.5 * HOUR).lp_average_jct_s
    problem = _Problem(jobs, capacity, 0.5 * HOUR, None)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        beta = rng.exponential(1e-5, (len(capacity), problem.grid.count))
        omega = rng.uniform(0, 3 * HOUR, len(jobs)) / len(jobs)
        mu = rng.uniform(0, 1.0 / len(jobs), len(jobs))
        value, _ = certify(problem, beta, omega, mu)
        assert value <= optimum + 1e-6


def test_fastest_runtime_is_the_work_over_the_best_rate() -> None:
    assert fastest_runtime(BoundJob(0.0, 1, 100.0, (2.0, 5.0, 0.0))) == 20.0
    assert fastest_runtime(BoundJob(0.0, 1, 100.0, (0.0,))) == math.inf
