"""Kueue's generator config expanded into queues and arrivals, and a workload's request split over nodes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from kueue_shape import Arrival, Queue, ShapeError, expand, nodes_for, scaled_count, split  # noqa: E402

# The baseline's shape, cut down: 2 cohorts x 2 queues, two workload sets.
CONFIG = {"cohorts": [{"className": "cohort", "count": 2, "queuesSets": [{
    "className": "cq", "count": 2, "nominalQuota": 20, "borrowingLimit": 100,
    "workloadsSets": [
        {"count": 3, "creationIntervalMs": 100,
         "workloads": [{"className": "small", "runtimeMs": 200, "priority": 50, "request": 1}]},
        {"count": 2, "creationIntervalMs": 1200,
         "workloads": [{"className": "large", "runtimeMs": 1000, "priority": 200, "request": 20}]}]}]}]}


def test_queues_map_one_to_one_with_cohort_and_quota() -> None:
    plan = expand(CONFIG)
    assert plan.queues == (Queue("cq-0-0-cohort-0", "cohort-0", "cq", 20, 100),
                           Queue("cq-0-1-cohort-0", "cohort-0", "cq", 20, 100),
                           Queue("cq-0-0-cohort-1", "cohort-1", "cq", 20, 100),
                           Queue("cq-0-1-cohort-1", "cohort-1", "cq", 20, 100))
    assert plan.cohorts() == {"cohort-0": 40, "cohort-1": 40}


def test_arrivals_follow_each_sets_interval() -> None:
    mine = [a for a in expand(CONFIG).arrivals if a.queue == "cq-0-0-cohort-0"]
    assert mine == [Arrival(0.1, "small-0-0-0", "cq-0-0-cohort-0", "small", 200, 50, 1),
                    Arrival(0.2, "small-0-1-0", "cq-0-0-cohort-0", "small", 200, 50, 1),
                    Arrival(0.3, "small-0-2-0", "cq-0-0-cohort-0", "small", 200, 50, 1),
                    Arrival(1.2, "large-1-0-0", "cq-0-0-cohort-0", "large", 1000, 200, 20),
                    Arrival(2.4, "large-1-1-0", "cq-0-0-cohort-0", "large", 1000, 200, 20)]


@pytest.mark.parametrize(("count", "scale", "want"), [
    pytest.param(350, 1.0, 350, id="full scale keeps the count"),
    pytest.param(350, 0.1, 35, id="a tenth"),
    pytest.param(50, 0.01, 1, id="never below one workload"),
])
def test_scaled_count(count: int, scale: float, want: int) -> None:
    assert scaled_count(count, scale) == want


def test_scale_cuts_arrivals_not_queues() -> None:
    plan = expand(CONFIG, 0.5)
    assert len(plan.queues) == 4
    assert len(plan.arrivals) == 4 * (2 + 1)


@pytest.mark.parametrize(("request_gpus", "per_node", "want"), [
    pytest.param(1, 10, (1, 1), id="fits one node: one worker"),
    pytest.param(10, 10, (1, 10), id="a whole node"),
    pytest.param(20, 10, (2, 10), id="two nodes: two workers, all or nothing"),
    pytest.param(20, 8, (4, 5), id="split evenly over more workers than nodes"),
    pytest.param(7, 4, (7, 1), id="a prime request: one GPU per worker"),
])
def test_split(request_gpus: int, per_node: int, want: tuple[int, int]) -> None:
    assert split(request_gpus, per_node) == want


@pytest.mark.parametrize(("make", "field"), [
    pytest.param(lambda: nodes_for(120, 7), "--gpus-per-node", id="pool that does not fill its nodes"),
    pytest.param(lambda: expand(CONFIG, 0), "scale", id="scale zero"),
    pytest.param(lambda: expand({"cohorts": []}), "cohorts", id="no cohorts"),
    pytest.param(lambda: expand({"cohorts": [{"className": "c", "queuesSets": [{
        "className": "q", "nominalQuota": "lots", "workloadsSets": []}]}]}), "nominalQuota", id="quota not a number"),
])
def test_bad_input_names_the_field(make, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ShapeError, match=field.replace("[", r"\[").replace("]", r"\]")):
        make()
