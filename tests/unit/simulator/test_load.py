"""Offered load: work on each job's fastest class over the cluster's capacity in the same unit, overall and busiest."""

from __future__ import annotations

import pytest

from fairshare.simulator.load import offered_load
from tests.unit.simulator.builders import R18, REC, make_cluster, make_job, make_workload

HOUR = 3600.0
V100_R18_STEPS_PER_HOUR = 30.0 * HOUR  # the tiny matrix: ResNet-18 on one V100 at 30 steps/s, on a K80 at 7


@pytest.mark.parametrize(("jobs", "overall", "busiest", "capacity"), [
    pytest.param([("a/j0", R18, 0.0), ("a/j1", R18, 10.0)], 2 / 10 / (4 + 4 * 7 / 30), 1 / 1 / (4 + 4 * 7 / 30),
                 4 + 4 * 7 / 30, id="K80s count at the jobs' K80 speed; the busiest tenth holds one job"),
    pytest.param([("a/j0", REC, 0.0), ("a/j1", REC, 10.0)], 2 * 0.5 / 10 / 4, 0.5 / 1 / 4, 4.0,
                 id="a class the jobs cannot run on adds no capacity"),
    pytest.param([("a/j0", R18, 0.0), ("a/j1", R18, 0.5), ("a/j2", R18, 10.0)], 3 / 10 / (4 + 4 * 7 / 30),
                 2 / 1 / (4 + 4 * 7 / 30), 4 + 4 * 7 / 30, id="a burst makes the busiest window heavier than the mean"),
])
def test_offered_load(jobs: list[tuple[str, str, float]], overall: float, busiest: float, capacity: float) -> None:
    # One V100-hour of ResNet-18 each (REC runs at 60 steps/s on a V100: half an hour).
    workload = make_workload(*(make_job(key).steps(V100_R18_STEPS_PER_HOUR, job_type).at(at * HOUR).obj()
                               for key, job_type, at in jobs))
    load = offered_load(workload, make_cluster(("v100", 1, 4), ("k80", 1, 4)))
    assert (load.overall, load.busiest, load.capacity_gpus) == (pytest.approx(overall), pytest.approx(busiest),
                                                                pytest.approx(capacity))


def test_arrival_rate_scales_the_load() -> None:
    jobs = [make_job(f"a/j{i}").steps(V100_R18_STEPS_PER_HOUR).at(i * HOUR).obj() for i in range(5)]
    cluster = make_cluster(("v100", 1, 4))
    dense = offered_load(make_workload(*jobs), cluster)
    sparse = offered_load(make_workload(*(type(j)(**{**j.__dict__, "arrival_s": j.arrival_s * 10}) for j in jobs)),
                          cluster)
    assert sparse.overall == pytest.approx(dense.overall / 10)
