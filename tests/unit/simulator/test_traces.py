"""Trace parsing on tiny inline fixtures: Gavel per-VC traces, Pollux philly.csv, Shockwave traces, PAI machines."""

from __future__ import annotations

import random

import pytest

from fairshare.simulator.cluster import sample_pai_fleet
from fairshare.simulator.traces import parse_gavel_trace, parse_pollux_csv, parse_shockwave_trace
from fairshare.simulator.workload import Phase
from tests.unit.simulator.builders import R18, R18_64, R18_128, tiny_matrix

# First rows of gavel/traces/philly_vc/0e4a51.trace (stanford-futuredata/gavel @ c4fa400, MIT), commands shortened.
GAVEL_ROWS = [
    "Transformer (batch size 128)\tcd translation && python3 train.py\t-step\t1\t95121\t0.000000\t1\n",
    "ResNet-18 (batch size 32)\tcd cifar10 && python3 main.py --batch_size 32 \t--num_steps\t1\t1104675\t6.000000\t4\n",
]
# Rows of pollux/philly.csv (petuum/adaptdl osdi21-artifact @ c793c70, Apache-2.0, from msr-fiddle/philly-traces).
POLLUX_ROWS = [
    "timestamp,duration,num_gpus,gpu_time,cluster\n",
    "2017-10-09 07:01:55,66.0,1,66.0,11cb48\n",
    "2017-10-09 06:13:03,2951.0,2,5902.0,6214e9\n",
    ",,,,\n",
]
# Rows of a shockwave/traces/*.trace (uw-mad-dash/shockwave @ 8a44f4a, MIT).
SHOCKWAVE_ROWS = [
    "ResNet-18 (batch size 32)\tpython3 main.py --batch_size 32\timage_classification/cifar10\t--num_steps\t1\t"
    "143450\t1\taccordion\t1\t-1.000000\t3338\t55\n",
    "ResNet-18 (batch size 32)\tpython3 main.py --batch_size 32\timage_classification/cifar10\t--num_steps\t1\t"
    "1000\t2\tstatic\t1\t-1.000000\t30\t0\n",
]


def test_gavel_rows_become_fixed_size_jobs_of_the_vc_tenant() -> None:
    jobs = parse_gavel_trace(GAVEL_ROWS, "0e4a51")
    assert [(j.key, j.tenant, j.arrival_s, j.min_workers, j.max_workers) for j in jobs] == [
        ("0e4a51/j00000", "0e4a51", 0.0, 1, 1), ("0e4a51/j00001", "0e4a51", 6.0, 4, 4)]
    assert jobs[1].phases == (Phase(0.0, R18),)
    assert jobs[1].work_samples == 1104675 * 32  # steps × batch size


def test_pollux_rows_use_cluster_as_tenant_and_duration_as_work_on_p100() -> None:
    matrix = tiny_matrix()
    jobs = parse_pollux_csv(POLLUX_ROWS, matrix, random.Random(1), reference_gpu="v100")
    assert [(j.tenant, j.arrival_s, j.gpus) for j in jobs] == [("11cb48", 2932.0, 1), ("6214e9", 0.0, 2)]
    for job, duration in zip(jobs, (66.0, 2951.0), strict=True):
        job_type = job.phases[0].job_type
        rate = matrix.steps_per_second(job_type, "v100", job.gpus) * job.phases[0].batch_size
        assert job.work_samples == pytest.approx(duration * rate)


def test_shockwave_rows_keep_mode_and_get_drifting_phases() -> None:
    jobs = parse_shockwave_trace(SHOCKWAVE_ROWS, tiny_matrix(), ("t0", "t1"), random.Random(0))
    assert [(j.mode, j.arrival_s, j.gpus) for j in jobs] == [("accordion", 55.0, 1), ("static", 0.0, 2)]
    assert jobs[0].phases == (Phase(0.0, R18), Phase(0.10, R18_128), Phase(0.5, R18), Phase(0.55, R18_128),
                              Phase(0.75, R18), Phase(0.80, R18_128))
    assert jobs[1].phases == (Phase(0.0, R18),)
    assert {j.tenant for j in jobs} <= {"t0", "t1"}


@pytest.mark.parametrize(("parse", "row"), [
    pytest.param(lambda rows: parse_gavel_trace(rows, "vc"), "a\tb\tc\n", id="gavel row with 3 fields"),
    pytest.param(lambda rows: parse_shockwave_trace(rows, tiny_matrix(), ("t",), random.Random(0)),
                 "a\tb\n", id="shockwave row with 2 fields"),
    pytest.param(lambda rows: parse_shockwave_trace(rows, tiny_matrix(), ("t",), random.Random(0)),
                 SHOCKWAVE_ROWS[1].replace("static", "bogus"), id="shockwave unknown mode"),
])
def test_malformed_rows_are_refused_with_the_line(parse, row) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="line 1"):
        parse([row])


def test_pai_fleet_samples_gpu_machines_only() -> None:
    rows = [["m1", "CPU", "96", "512", "0"], ["m2", "V100", "96", "512", "8"], ["m3", "T4", "96", "512", "2"],
            ["m4", "V100M32", "96", "512", "8"]]
    fleet = sample_pai_fleet(rows, 10, random.Random(0))
    assert fleet.capacity() == {"t4": 2, "v100": 8, "v100m32": 8}
    assert len(fleet.nodes) == 3


def test_gns_phases_climb_the_batch_ladder() -> None:
    from fairshare.simulator.drift import phases_for

    assert phases_for("gns", R18, tiny_matrix()) == (Phase(0.0, R18), Phase(0.25, R18_64), Phase(0.5, R18_128))
    assert phases_for("static", R18, tiny_matrix()) == (Phase(0.0, R18),)
