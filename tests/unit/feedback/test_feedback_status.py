"""Readings become smoothed per-(class, workers) throughput on the job's status, for its current allocation only."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.actions import PatchStatus
from fairshare.control.feedback import feedback_actions, feedback_targets, pod_metrics_endpoint
from fairshare.control.snapshot import build_world
from fairshare.feedback.readings import Reading
from tests.unit.control.builders import NOW, gpu_class, node, store_of, tenant, training_job, ts, worker
from tests.unit.control.helpers import plan

ALPHA, WARMUP = 0.3, 20.0
CLUSTER = [gpu_class("a100"), gpu_class("l4"), tenant("nlp").guaranteed(a100=8, l4=8),
           node("n0").gpu_class("a100").gpus(8), node("n1").gpu_class("a100").gpus(8),
           node("l0").gpu_class("l4").gpus(8)]


def running_job(generation: int = 2, admitted_ago: float = 600.0, pod_phase: str = "Running",
                pods: int = 2) -> list[Any]:
    job = (training_job("nlp/bert").workers(2).gpus(4).phase("Running")
           .allocation("a100", "n0", "n1", generation=generation, admitted_ago=admitted_ago))
    workers = [worker("nlp/bert", r, generation=generation, phase=pod_phase, node_name=f"n{r}", gpus=4)
               .status(podIP=f"10.0.0.{r}") for r in range(pods)]
    return [job, *workers]


def reading(samples_per_second: float = 100.0, generation: int = 2, gpu_class_label: str | None = "a100",
            observed_ago: float = 0.0, **more: Any) -> Reading:
    return Reading("nlp/bert", generation, gpu_class_label, samples_per_second, NOW - observed_ago, **more)


def patches(items: list[Any], readings: dict[str, Reading]) -> list[PatchStatus]:
    world = build_world(store_of(*items), NOW)
    return [a for a in feedback_actions(world, readings, ALPHA, WARMUP, skip=set()) if isinstance(a, PatchStatus)]


def test_first_reading_is_recorded_for_the_class_and_size_it_ran_at() -> None:
    [patch] = patches([*CLUSTER, *running_job()], {"nlp/bert": reading(120.0)})
    assert patch.status["throughput"] == [{"gpuClass": "a100", "workers": 2, "samplesPerSecond": 120.0,
                                           "measuredAt": ts(0)}]
    assert patch.status["samplesPerSecond"] == 120.0
    assert patch.resource_version == "1"


def test_later_reading_is_smoothed_into_the_same_entry_and_other_entries_are_kept() -> None:
    job, *pods = running_job()
    job = job.throughput("a100", 2, 100.0).throughput("l4", 1, 30.0)
    [patch] = patches([*CLUSTER, job, *pods], {"nlp/bert": reading(200.0)})
    assert [(s["gpuClass"], s["workers"], s["samplesPerSecond"]) for s in patch.status["throughput"]] == [
        ("a100", 2, pytest.approx(100.0 * (1 - ALPHA) + 200.0 * ALPHA)), ("l4", 1, 30.0)]


@pytest.mark.parametrize(("items", "one_reading"), [
    pytest.param(running_job(generation=3), reading(generation=2), id="reading of an earlier generation"),
    pytest.param(running_job(), reading(gpu_class_label="l4"), id="trainer reports another class"),
    pytest.param(running_job(admitted_ago=10.0), reading(), id="still warming up"),
    pytest.param(running_job(pod_phase="Pending"), reading(), id="gang not all running"),
    pytest.param(running_job(pods=1), reading(), id="a worker pod missing"),
    pytest.param([training_job("nlp/bert").phase("Queued")], reading(), id="job no longer running"),
])
def test_readings_that_do_not_describe_the_current_allocation_are_dropped(items: list[Any],
                                                                          one_reading: Reading) -> None:
    assert patches([*CLUSTER, *items], {"nlp/bert": one_reading}) == []


def test_a_reading_already_folded_in_is_not_applied_twice() -> None:
    job, *pods = running_job()
    job = job.throughput("a100", 2, 100.0)  # measured 60 s ago
    assert patches([*CLUSTER, job, *pods], {"nlp/bert": reading(observed_ago=61.0)}) == []


def test_checkpoint_time_is_derived_from_the_reported_age() -> None:
    [patch] = patches([*CLUSTER, *running_job()],
                      {"nlp/bert": reading(last_checkpoint_step=300.0, checkpoint_age_seconds=45.0)})
    assert patch.status["lastCheckpointTime"] == ts(45)
    [without] = patches([*CLUSTER, *running_job()],
                        {"nlp/bert": reading(last_checkpoint_step=-1.0, checkpoint_age_seconds=45.0)})
    assert "lastCheckpointTime" not in without.status


def test_targets_name_the_rank_zero_endpoint_of_running_gangs_only() -> None:
    world = build_world(store_of(*CLUSTER, *running_job()), NOW)
    [target] = feedback_targets(world)
    assert (target.job_key, target.generation, target.gpu_class, target.workers, target.endpoint) == (
        "nlp/bert", 2, "a100", 2, None)  # no metrics port on these pods
    pending = build_world(store_of(*CLUSTER, *running_job(pod_phase="Pending")), NOW)
    assert feedback_targets(pending) == []


@pytest.mark.parametrize(("pod_body", "endpoint"), [
    pytest.param({"metadata": {"annotations": {"fairshare.dev/metrics-endpoint": "169.254.169.254:80#/x"}},
                  "status": {"podIP": "10.1.2.3"}, "spec": {"containers": [{"ports": [
                      {"name": "metrics", "containerPort": 9400}]}]}},
                 "10.1.2.3:9400", id="an annotation naming a host is never read"),
    pytest.param({"metadata": {}, "status": {"podIP": "10.1.2.3"},
                  "spec": {"containers": [{"ports": [{"name": "rdzv", "containerPort": 29500},
                                                     {"name": "metrics", "containerPort": 9400}]}]}},
                 "10.1.2.3:9400", id="pod IP and the metrics port"),
    pytest.param({"metadata": {}, "status": {}, "spec": {"containers": [{"ports": [
        {"name": "metrics", "containerPort": 9400}]}]}}, None, id="no IP yet"),
])
def test_metrics_endpoint_of_a_pod(pod_body: dict[str, Any], endpoint: str | None) -> None:
    assert pod_metrics_endpoint(pod_body) == endpoint


def test_plan_cycle_folds_readings_into_bookkeeping_and_measured_throughput_reaches_the_core() -> None:
    from fairshare.control.plan import plan_cycle
    from fairshare.core.config import PolicyConfig
    from fairshare.render import DEFAULT_SETTINGS

    items = [*CLUSTER, *running_job()]
    result = plan_cycle(build_world(store_of(*items), NOW), NOW, PolicyConfig(), DEFAULT_SETTINGS,
                        readings={"nlp/bert": reading(150.0)}, warmup_seconds=WARMUP)
    [patch] = [a for a in result.bookkeeping if isinstance(a, PatchStatus) and "throughput" in a.status]
    job, *pods = running_job()
    after = build_world(store_of(*CLUSTER, job.status(**patch.status), *pods), NOW)
    assert [(t.gpu_class, t.workers, t.samples_per_second) for t in after.snapshot.throughputs] == [("a100", 2, 150.0)]
    assert plan(items).bookkeeping == plan(items).bookkeeping  # no readings: nothing about throughput is written
    assert not any("throughput" in a.status for a in plan(items).bookkeeping if isinstance(a, PatchStatus))


def test_targets_carry_what_a_reading_is_checked_against() -> None:
    """The stored value at the class and size (for jumps), and what the job's measurements predict there."""
    job, *pods = running_job()
    measured = job.throughput("a100", 2, 400.0).throughput("a100", 1, 250.0)
    [target] = feedback_targets(build_world(store_of(*CLUSTER, measured, *pods), NOW))
    assert (target.smoothed, target.expected) == (400.0, 400.0)
    [unmeasured] = feedback_targets(build_world(store_of(*CLUSTER, *running_job()), NOW))
    assert (unmeasured.smoothed, unmeasured.expected) == (None, None)
    job, *pods = running_job()
    [elsewhere] = feedback_targets(build_world(store_of(*CLUSTER, job.throughput("l4", 2, 100.0), *pods), NOW))
    assert (elsewhere.smoothed, elsewhere.expected) == (None, 100.0)  # l4 measured, same relative speed prior


class _Told:
    """A feedback source that returns the readings it was given."""

    name = "told"

    def __init__(self, readings: list[Reading]) -> None:
        self.readings = readings

    def read(self, targets: Any) -> tuple[list[Reading], int]:
        return self.readings, 0


def test_the_collector_drops_and_counts_readings_outside_physical_bounds() -> None:
    import asyncio

    from fairshare.feedback.collector import FeedbackCollector
    from fairshare.metrics import OperatorMetrics

    job, *pods = running_job()
    targets = feedback_targets(build_world(store_of(*CLUSTER, job.throughput("a100", 2, 400.0), *pods), NOW))
    metrics = OperatorMetrics()
    collector = FeedbackCollector(_Told([reading(999_999.0)]), lambda: targets, metrics, 15.0)
    asyncio.run(collector.collect_once())
    dropped = metrics.registry.get_sample_value("fairshare_feedback_readings_dropped_total",
                                             {"reason": "above-expected"})
    assert (collector.take(), dropped) == ({}, 1.0)
    collector = FeedbackCollector(_Told([reading(420.0)]), lambda: targets, metrics, 15.0)
    asyncio.run(collector.collect_once())
    assert list(collector.take()) == ["nlp/bert"]
